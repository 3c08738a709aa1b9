//! Re-placement: whenever the live membership changes, each node walks the sessions it
//! answers for — those it serves, and those of a dead primary it ranks first for — and
//!
//! - gives every holder a whole copy (at the session's current version, so a copy a
//!   holder already has is not touched), waiting for the acknowledgements — not only the
//!   holders that are new by the last placed view: a member that restarted between two
//!   passes lost its copies without the view showing it;
//! - then tells the old holders that are no longer holders to drop theirs;
//! - takes over the sessions of a dead primary (moves them to its route and ships them), so
//!   every session again has a live primary and `--backups` copies.
//!
//! When the pass is done the node reports itself converged (metric and log).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::fetch::rebind;
use super::placement::{authority, holders, primary};
use super::{backups, lock, send, send_drops, ship, wait_acks, Live};
use crate::cluster::message::{Delta, Message};
use crate::cluster::Inner;
use crate::session::manager::SessionData;

/// How long the view must stay unchanged before a pass (members see a death at slightly
/// different moments; one pass for one event).
const SETTLE: Duration = Duration::from_millis(100);

/// How long a pass waits for the new holders' acknowledgements.
fn ack_bound(inner: &Inner) -> Duration {
    inner.cfg.replication_timeout.max(Duration::from_secs(5))
}

pub(crate) fn routes_of(live: &Live) -> Vec<String> {
    let mut v: Vec<String> = live.routes().into_iter().map(str::to_string).collect();
    v.sort();
    v
}

pub(crate) async fn run(inner: Arc<Inner>) {
    let mut sd = inner.shutdown.clone();
    let Some(b) = inner.backup.as_ref() else {
        return;
    };
    loop {
        let differs = |inner: &Inner| {
            let now = routes_of(&Live::now(inner));
            lock(&b.placed_for).as_ref() != Some(&now)
        };
        let changed = tokio::select! {
            c = inner.members.wait_for(Duration::from_secs(1), |_| differs(&inner)) => c,
            () = sd.wait() => return,
        };
        if !changed {
            continue;
        }
        inner.metrics.converged.store(0, Ordering::Relaxed);
        // Settle: until the view has been the same for SETTLE.
        let mut seen = routes_of(&Live::now(&inner));
        loop {
            tokio::select! {
                () = tokio::time::sleep(SETTLE) => {}
                () = sd.wait() => return,
            }
            let now = routes_of(&Live::now(&inner));
            if now == seen {
                break;
            }
            seen = now;
        }
        pass(&inner).await;
    }
}

/// Copies sent of sessions that were handed over while the copies travelled: the new owner
/// places its own copies (under the new id) and its drop may have overtaken ours, so the
/// copies under the old id go (an exact id: a copy the receiver already moved is untouched).
pub(crate) fn moved_meanwhile(
    inner: &Inner,
    sent: Vec<(String, String, u64)>,
) -> Vec<(String, Vec<(String, u64)>)> {
    sent.into_iter()
        .filter(|(_, id, _)| inner.sessions.entry(id).is_none())
        .map(|(route, id, v)| (route, vec![(id, v)]))
        .collect()
}

/// A whole copy of a session at its current version.
pub(crate) fn full_copy(id: &str, d: &SessionData) -> Delta {
    Delta {
        id: id.to_string(),
        version: d.version,
        full: true,
        max_inactive_ms: Some(u64::try_from(d.max_inactive.as_millis()).unwrap_or(u64::MAX)),
        changes: d
            .attributes
            .iter()
            .map(|(k, v): (&String, &Bytes)| (k.clone(), Some(v.clone())))
            .collect(),
        ..Delta::default()
    }
}

pub(crate) async fn pass(inner: &Arc<Inner>) {
    let t0 = Instant::now();
    let Some(b) = inner.backup.as_ref() else {
        return;
    };
    let n = backups(inner);
    let live = Live::now(inner);
    let routes = routes_of(&live);
    let now_routes = live.routes();
    let prev = lock(&b.placed_for).clone();
    let prev_routes: Option<Vec<&str>> = prev
        .as_ref()
        .map(|p| p.iter().map(String::as_str).collect());
    let mut copies: HashMap<String, Vec<Delta>> = HashMap::new();
    let mut drops: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    let mut orphans = Vec::new();
    let mut waits = Vec::new();
    let mut sent = Vec::new();
    let deadline = tokio::time::Instant::now() + ack_bound(inner);
    {
        // Under the publish lock: no request's delta can overtake a copy to a new holder.
        let _order = inner.publish.lock().await;
        for (id, e) in inner.sessions.entries() {
            let p = primary(&id);
            if p == live.me {
                let new_h = live.holders(&id, n);
                let old_h: Vec<&str> = prev_routes
                    .as_ref()
                    .map(|r| holders(&id, r, n))
                    .unwrap_or_default();
                // Every holder gets a whole copy, also one the last placed view says has it:
                // a member may have restarted between two passes, or the session moved while
                // the view changed, so that view is not where the copies are. A holder that
                // has this version already acknowledges and keeps its own.
                for h in new_h.iter().filter(|h| **h != live.me) {
                    let d = full_copy(&id, &crate::session::manager::lock(&e));
                    copies.entry(h.clone()).or_default().push(d);
                }
                for o in old_h {
                    if o != live.me && !new_h.iter().any(|h| h == o) && live.is_live(o) {
                        let v = crate::session::manager::lock(&e).version;
                        drops.push((o.to_string(), vec![(id.clone(), v)]));
                    }
                }
            } else if !live.is_live(p) && authority(&id, &now_routes) == Some(live.me.as_str()) {
                orphans.push(id);
            }
        }
        let queued: usize = copies.values().map(Vec::len).sum();
        inner
            .metrics
            .replacing
            .store((queued + orphans.len()) as u64, Ordering::Relaxed);
        for (route, ds) in copies.iter_mut() {
            let Some(m) = live.members.get(route) else {
                continue;
            };
            for d in ds.drain(..) {
                inner.metrics.copies_sent.fetch_add(1, Ordering::Relaxed);
                sent.push((route.clone(), d.id.clone(), d.version));
                if let Some(rx) = send(inner, m, Message::Delta(d), deadline).await {
                    waits.push((m.peer.clone(), rx));
                }
            }
        }
    }
    let copied = waits.len();
    wait_acks(inner, waits, deadline).await;
    drops.extend(moved_meanwhile(inner, sent));
    let dropped: usize = drops.iter().map(|(_, ids)| ids.len()).sum();
    send_drops(inner, &live, drops);
    // Sessions whose primary died: we hold the surviving copy and now serve them.
    let moved: Vec<_> = orphans
        .iter()
        .filter_map(|id| rebind(inner, id, &live.me))
        .collect();
    let taken = moved.len();
    if taken > 0 {
        inner
            .metrics
            .takeovers
            .fetch_add(taken as u64, Ordering::Relaxed);
        ship(inner, moved, &live, true).await;
    }
    inner.metrics.replacing.store(0, Ordering::Relaxed);
    *lock(&b.placed_for) = Some(routes.clone());
    let ms = t0.elapsed().as_millis() as u64;
    inner.metrics.replace_ms.store(ms, Ordering::Relaxed);
    inner.metrics.converged.store(1, Ordering::Relaxed);
    if copied + dropped + taken > 0 || prev.is_some() {
        log::info!(
            "cluster: re-placement for members {}: {copied} copies placed, {dropped} dropped, \
             {taken} session(s) of a lost primary taken over, in {ms} ms; converged",
            routes.join(",")
        );
    }
}
