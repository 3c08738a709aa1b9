//! Delta replication, both ends.
//!
//! Sending: when a request ends, each of its session deltas is stamped with the session's next
//! version and queued to every live member (under one lock, so every member receives one
//! session's deltas in version order). A delta carries the *current* value of each attribute
//! the request touched, read when it is stamped, so two overlapping requests on one session
//! converge to what the session holds here. In sync mode the request then waits for every
//! non-suspect member's acknowledgement, until `--replication-timeout`.
//!
//! Receiving: a delta applies only if its version is newer than the replica's; an invalidated
//! id is remembered (tombstone) and never comes back; a re-key (`previous_id`) moves the
//! replica. Access news refreshes replicas' last access; an expiry removes a replica only if it
//! was not used here either.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::link::Outgoing;
use super::membership;
use super::message::{Delta, Image, Message};
use super::{Inner, Replication};
use crate::session::manager::{lock, Published, Replicator, SessionData};
use crate::session::{SessionDelta, SessionEvent, SessionManager};

/// The cluster as the session manager's [`Replicator`].
pub(crate) struct Replicate(pub Arc<Inner>);

impl Replicator for Replicate {
    fn publish(&self, deltas: Vec<SessionDelta>) -> Published {
        Box::pin(publish(self.0.clone(), deltas))
    }

    fn accessed(&self, id: &str) {
        lock(&self.0.accessed).insert(id.to_string());
    }

    fn may_take_over(&self) -> bool {
        self.0.catching_up.load(Ordering::SeqCst) == 0
    }
}

async fn publish(inner: Arc<Inner>, deltas: Vec<SessionDelta>) {
    let t0 = Instant::now();
    let deadline = tokio::time::Instant::now() + inner.cfg.replication_timeout;
    let sync = inner.cfg.replication == Replication::Sync;
    let mut waits = Vec::new();
    {
        let _order = inner.publish.lock().await;
        let msgs: Vec<Message> = deltas
            .into_iter()
            .filter_map(|d| stamp(&inner.sessions, d))
            .map(Message::Delta)
            .collect();
        if msgs.is_empty() {
            return;
        }
        for m in inner.members.live() {
            let last = msgs.len() - 1;
            for (i, msg) in msgs.iter().enumerate() {
                let (done, rx) = if sync && i == last && !m.suspect {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    (Some(tx), Some(rx))
                } else {
                    (None, None)
                };
                let queued = tokio::time::timeout_at(
                    deadline,
                    m.link.tx.send(Outgoing {
                        msg: msg.clone(),
                        done,
                    }),
                )
                .await;
                match queued {
                    Ok(Ok(())) => {
                        inner.metrics.deltas_sent.fetch_add(1, Ordering::Relaxed);
                        if let Some(rx) = rx {
                            waits.push((m.peer.clone(), rx));
                        }
                    }
                    // The connection just ended: the member is gone, nothing to wait for.
                    Ok(Err(_)) => break,
                    Err(_) => {
                        membership::suspect(&inner, &m.peer, "its replication queue is full");
                        break;
                    }
                }
            }
        }
    }
    if !sync {
        return;
    }
    for (peer, rx) in waits {
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(())) => {
                inner.metrics.acks.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(_)) => {}
            Err(_) => {
                inner.metrics.ack_timeouts.fetch_add(1, Ordering::Relaxed);
                let why = format!(
                    "no acknowledgement within {:?}; the request completed without it",
                    inner.cfg.replication_timeout
                );
                membership::suspect(&inner, &peer, &why);
            }
        }
    }
    inner.metrics.ack_latency.observe(t0.elapsed());
}

/// The wire form of a request's delta, with the session's next version; `None` when the
/// session is already gone (its invalidation travels on its own).
pub(crate) fn stamp(sessions: &SessionManager, d: SessionDelta) -> Option<Delta> {
    if d.invalidated {
        return Some(Delta {
            id: d.id,
            previous_id: d.previous_id,
            invalidated: true,
            ..Delta::default()
        });
    }
    let e = sessions.entry(&d.id)?;
    let mut data = lock(&e);
    // A re-key after a failover starts a new epoch (high 32 bits): whatever the old owner
    // shipped that we never saw is older than anything the new owner ships, and the re-key
    // carries the whole state, so every replica converges on the new owner's.
    let full = d.previous_id.is_some();
    data.version = if full {
        ((data.version >> 32) + 1) << 32 | 1
    } else {
        data.version + 1
    };
    let changes = if full {
        data.attributes
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect()
    } else {
        d.changes
            .into_iter()
            .map(|(k, _)| {
                let v = data.attributes.get(&k).cloned();
                (k, v)
            })
            .collect()
    };
    Some(Delta {
        changes,
        full,
        max_inactive_ms: d.max_inactive.map(|_| millis(data.max_inactive)),
        version: data.version,
        id: d.id,
        created: d.created,
        previous_id: d.previous_id,
        invalidated: false,
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Apply what a member sent, or keep it for after state transfer.
pub(crate) fn receive(inner: &Inner, msg: Message) {
    {
        let mut pending = lock(&inner.pending);
        if let Some(q) = pending.as_mut() {
            q.push(msg);
            return;
        }
    }
    apply(inner, msg);
}

pub(crate) fn apply(inner: &Inner, msg: Message) {
    let now = Instant::now();
    match msg {
        Message::Delta(d) => {
            log::trace!(
                "cluster: delta {} v{} (from {:?}, full {})",
                d.id,
                d.version,
                d.previous_id,
                d.full
            );
            let counter = match apply_delta(&inner.sessions, d, now) {
                Applied::Yes => &inner.metrics.deltas_applied,
                Applied::Stale => &inner.metrics.deltas_stale,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Message::Accessed(ids) => {
            for id in ids {
                if let Some(e) = inner.sessions.entry(&id) {
                    let mut d = lock(&e);
                    d.last_access = d.last_access.max(now);
                }
            }
        }
        // Access news from here may still be on its way: allow two intervals of it.
        Message::Expired(id)
            if inner
                .sessions
                .expire_replica(&id, now, inner.access_interval() * 2) =>
        {
            log::debug!("session {id} expired on another member");
        }
        _ => {}
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Yes,
    /// Not newer than what we hold (a duplicate, or the session was invalidated).
    Stale,
}

/// Apply one delta to the replicas in `sessions`.
pub fn apply_delta(sessions: &SessionManager, d: Delta, now: Instant) -> Applied {
    if d.invalidated {
        // Re-bound and invalidated in one request: the replicas still have the old id.
        if let Some(prev) = &d.previous_id {
            sessions.remove(prev);
        }
        sessions.remove(&d.id);
        log::debug!("session {} invalidated on another member", d.id);
        return Applied::Yes;
    }
    if sessions.is_tombstoned(&d.id) {
        return Applied::Stale;
    }
    let entry = match (sessions.entry(&d.id), &d.previous_id) {
        (Some(e), _) => Some(e),
        (None, Some(prev)) if sessions.rename(prev, &d.id) => sessions.entry(&d.id),
        (None, _) => None,
    };
    let entry = match entry {
        Some(e) => e,
        None => {
            let fresh = SessionData {
                attributes: Default::default(),
                last_access: now,
                max_inactive: sessions.max_inactive(),
                version: 0,
            };
            match sessions.insert_replica(&d.id, fresh) {
                Some(e) => e,
                None => return Applied::Stale,
            }
        }
    };
    let mut data = lock(&entry);
    if d.version <= data.version {
        return Applied::Stale;
    }
    data.version = d.version;
    data.last_access = data.last_access.max(now);
    if let Some(ms) = d.max_inactive_ms {
        data.max_inactive = Duration::from_millis(ms);
    }
    if d.full {
        data.attributes.clear();
    }
    for (k, v) in d.changes {
        match v {
            Some(v) => data.attributes.insert(k, v),
            None => data.attributes.remove(&k),
        };
    }
    Applied::Yes
}

/// Store a transferred session unless we hold a newer version of it.
pub fn apply_image(sessions: &SessionManager, img: Image, now: Instant) -> Applied {
    let last_access = now
        .checked_sub(Duration::from_millis(img.idle_ms))
        .unwrap_or(now);
    let data = SessionData {
        attributes: img.attributes.iter().cloned().collect(),
        last_access,
        max_inactive: Duration::from_millis(img.max_inactive_ms),
        version: img.version,
    };
    let Some(e) = sessions.insert_replica(&img.id, data) else {
        return Applied::Stale;
    };
    let mut d = lock(&e);
    if d.version >= img.version {
        // Either the entry we just inserted, or ours is as new.
        return if d.version == img.version {
            Applied::Yes
        } else {
            Applied::Stale
        };
    }
    d.attributes = img.attributes.into_iter().collect();
    d.version = img.version;
    d.max_inactive = Duration::from_millis(img.max_inactive_ms);
    d.last_access = d.last_access.max(last_access);
    Applied::Yes
}

/// The wire form of one stored session.
pub(crate) fn image(id: String, d: &SessionData, now: Instant) -> Image {
    Image {
        id,
        version: d.version,
        max_inactive_ms: millis(d.max_inactive),
        idle_ms: millis(now.saturating_duration_since(d.last_access)),
        attributes: d
            .attributes
            .iter()
            .map(|(k, v): (&String, &Bytes)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Tell the members when a session expires here.
pub(crate) fn watch_expiry(inner: &Arc<Inner>) {
    let i = inner.clone();
    inner.sessions.subscribe(move |ev| {
        if let SessionEvent::Expired(id) = ev {
            for m in i.members.live() {
                let _ = m.link.tx.try_send(Outgoing {
                    msg: Message::Expired(id.clone()),
                    done: None,
                });
            }
        }
    });
}

/// Every access interval, tell the members which sessions were used (one message per member).
pub(crate) async fn send_accessed(inner: Arc<Inner>) {
    let mut sd = inner.shutdown.clone();
    let mut tick = tokio::time::interval(inner.access_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = sd.wait() => return,
        }
        let ids: Vec<String> = std::mem::take(&mut *lock(&inner.accessed))
            .into_iter()
            .collect();
        if ids.is_empty() {
            continue;
        }
        for chunk in ids.chunks(1000) {
            for m in inner.members.live() {
                let _ = m.link.tx.try_send(Outgoing {
                    msg: Message::Accessed(chunk.to_vec()),
                    done: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(id: &str, version: u64, k: &str, v: Option<&str>) -> Delta {
        Delta {
            id: id.into(),
            version,
            changes: vec![(k.into(), v.map(|v| Bytes::from(v.to_string())))],
            ..Delta::default()
        }
    }

    const ID: &str = "0123456789ABCDEF0123456789ABCDEF.n2";
    const ID1: &str = "FEDCBA9876543210FEDCBA9876543210.n1";
    const ID2: &str = "FEDCBA9876543210FEDCBA9876543210.n2";

    #[test]
    fn deltas_apply_in_version_order_only() {
        let m = SessionManager::new("n1", Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(
            apply_delta(&m, delta(ID, 1, "a", Some("1")), now),
            Applied::Yes
        );
        assert_eq!(
            apply_delta(&m, delta(ID, 3, "a", Some("3")), now),
            Applied::Yes
        );
        assert_eq!(
            apply_delta(&m, delta(ID, 2, "a", Some("2")), now),
            Applied::Stale
        );
        assert_eq!(
            apply_delta(&m, delta(ID, 3, "a", Some("x")), now),
            Applied::Stale
        );
        assert_eq!(m.attributes(ID).unwrap()["a"], "3");
        apply_delta(&m, delta(ID, 4, "a", None), now);
        assert!(!m.attributes(ID).unwrap().contains_key("a"));
    }

    #[test]
    fn an_invalidated_session_never_comes_back() {
        let m = SessionManager::new("n1", Duration::from_secs(60));
        let now = Instant::now();
        apply_delta(&m, delta(ID, 1, "a", Some("1")), now);
        let inv = Delta {
            id: ID.into(),
            invalidated: true,
            ..Delta::default()
        };
        assert_eq!(apply_delta(&m, inv, now), Applied::Yes);
        assert!(m.attributes(ID).is_none());
        assert_eq!(
            apply_delta(&m, delta(ID, 9, "a", Some("late")), now),
            Applied::Stale
        );
        let img = Image {
            id: ID.into(),
            version: 10,
            max_inactive_ms: 60_000,
            idle_ms: 0,
            attributes: vec![],
        };
        assert_eq!(apply_image(&m, img, now), Applied::Stale);
        assert!(m.attributes(ID).is_none());
    }

    #[test]
    fn a_rekey_moves_the_replica() {
        let m = SessionManager::new("n3", Duration::from_secs(60));
        let now = Instant::now();
        apply_delta(&m, delta(ID, 1, "a", Some("1")), now);
        let new = "0123456789ABCDEF0123456789ABCDEF.n1";
        let mut d = delta(new, 2, "b", Some("2"));
        d.previous_id = Some(ID.into());
        assert_eq!(apply_delta(&m, d, now), Applied::Yes);
        let a = m.attributes(new).unwrap();
        assert_eq!((&a["a"][..], &a["b"][..]), (&b"1"[..], &b"2"[..]));
        assert!(m.entry(ID).is_none());
        // A request still naming the old id finds it through the alias.
        assert_eq!(m.find_current(ID, now).unwrap().0, new);
    }

    #[test]
    fn a_rebinding_new_owner_wins_over_what_the_old_one_shipped() {
        // n1 shipped v6 and v7 to us (n3) but n2 saw only v5, then n1 died and n2 took over.
        let on_n2 = SessionManager::new("n2", Duration::from_secs(60));
        let n3 = SessionManager::new("n3", Duration::from_secs(60));
        let now = Instant::now();
        for v in 1..=5 {
            apply_delta(&on_n2, delta(ID1, v, "a", Some("5")), now);
        }
        for v in 1..=7 {
            apply_delta(&n3, delta(ID1, v, "a", Some(&v.to_string())), now);
        }
        apply_delta(&n3, delta(ID1, 7, "lost", Some("only n3")), now);
        assert!(on_n2.rename(ID1, ID2));
        let d = SessionDelta {
            id: ID2.into(),
            previous_id: Some(ID1.into()),
            ..SessionDelta::default()
        };
        let shipped = stamp(&on_n2, d).unwrap();
        assert!(shipped.full && shipped.version > 7, "{shipped:?}");
        assert_eq!(apply_delta(&n3, shipped, now), Applied::Yes);
        let a = n3.attributes(ID2).unwrap();
        assert_eq!(a["a"], "5");
        assert!(!a.contains_key("lost"), "the new owner's state, all of it");
        // And its next ordinary delta applies on top.
        let e = on_n2.entry(ID2).unwrap();
        lock(&e).attributes.insert("a".into(), Bytes::from("6"));
        let next = SessionDelta {
            id: ID2.into(),
            changes: vec![("a".into(), Some(Bytes::from("6")))],
            ..SessionDelta::default()
        };
        assert_eq!(
            apply_delta(&n3, stamp(&on_n2, next).unwrap(), now),
            Applied::Yes
        );
        assert_eq!(n3.attributes(ID2).unwrap()["a"], "6");
    }

    #[test]
    fn images_do_not_overwrite_newer_replicas() {
        let m = SessionManager::new("n1", Duration::from_secs(60));
        let now = Instant::now();
        apply_delta(&m, delta(ID, 5, "a", Some("new")), now);
        let img = |version, v: &str| Image {
            id: ID.into(),
            version,
            max_inactive_ms: 60_000,
            idle_ms: 5,
            attributes: vec![("a".into(), Bytes::from(v.to_string()))],
        };
        assert_eq!(apply_image(&m, img(4, "old"), now), Applied::Stale);
        assert_eq!(m.attributes(ID).unwrap()["a"], "new");
        assert_eq!(apply_image(&m, img(6, "newer"), now), Applied::Yes);
        assert_eq!(m.attributes(ID).unwrap()["a"], "newer");
    }
}
