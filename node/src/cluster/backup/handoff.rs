//! Graceful stop in backup mode: once the node's requests are done, and before it says
//! goodbye, every session it serves moves to the member that ranks first for it among the
//! others (usually its backup, which re-binds its copy), shipped whole to the new holders;
//! for every session it holds a copy of, the member that will replace it as a holder gets a
//! copy. So a planned stop never leaves a session with a single copy.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fetch::rebind;
use super::placement::{holders, primary, rank};
use super::replace::{full_copy, moved_meanwhile, pass, routes_of};
use super::{backups, drained, send, send_drops, ship, wait_acks, Live};
use crate::cluster::message::{Delta, Message};
use crate::cluster::Inner;

/// The longest a stop waits for in-flight requests before handing off anyway.
const DRAIN_BOUND: Duration = Duration::from_secs(30);

pub(crate) async fn run(inner: &Arc<Inner>) {
    drained(inner, DRAIN_BOUND).await;
    let t0 = Instant::now();
    // Copies must sit where the current membership puts them before we compute who takes
    // over (a member that joined a moment ago may not be placed for yet).
    let placed = inner
        .backup
        .as_ref()
        .and_then(|b| super::lock(&b.placed_for).clone());
    if placed != Some(routes_of(&Live::now(inner))) {
        pass(inner).await;
    }
    let live = Live::now(inner);
    if live.members.is_empty() {
        return;
    }
    let n = backups(inner);
    let me = live.me.clone();
    let all = live
        .routes()
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let rest = live.without_me();
    let others = rest.routes_without_me();
    let mut moved = Vec::new();
    let mut copies: HashMap<String, Vec<Delta>> = HashMap::new();
    for (id, e) in inner.sessions.entries() {
        if primary(&id) == me {
            if let Some(s) = rank(&id, &others).first() {
                moved.extend(rebind(inner, &id, s));
            }
        } else {
            let old_h = holders(&id, &all, n);
            for h in holders(&id, &others, n) {
                if !old_h.contains(&h) {
                    let d = full_copy(&id, &crate::session::manager::lock(&e));
                    copies.entry(h.to_string()).or_default().push(d);
                }
            }
        }
    }
    let handed = moved.len();
    // Old holders (computed with us) that are not new holders drop their copies once the
    // new ones acknowledged.
    let mut gone = Vec::new();
    for d in &moved {
        let (Some(prev), new_h) = (&d.previous_id, holders(&d.id, &others, n)) else {
            continue;
        };
        for old in holders(prev, &all, n) {
            if old != me && !new_h.contains(&old) {
                gone.push((old.to_string(), prev.clone(), d.id.clone()));
            }
        }
    }
    ship(inner, moved, &rest, true).await;
    // With the version the move was shipped at.
    let drops = gone
        .into_iter()
        .filter_map(|(old, prev, new)| {
            let e = inner.sessions.entry(&new)?;
            let v = crate::session::manager::lock(&e).version;
            Some((old, vec![(prev, v), (new, v)]))
        })
        .collect();
    send_drops(inner, &rest, drops);
    let deadline = tokio::time::Instant::now() + inner.cfg.replication_timeout.max(DRAIN_BOUND / 6);
    let mut waits = Vec::new();
    let mut sent = Vec::new();
    for (route, ds) in copies {
        let Some(m) = rest.members.get(&route) else {
            continue;
        };
        for d in ds {
            inner.metrics.copies_sent.fetch_add(1, Ordering::Relaxed);
            sent.push((route.clone(), d.id.clone(), d.version));
            if let Some(rx) = send(inner, m, Message::Delta(d), deadline).await {
                waits.push((m.peer.clone(), rx));
            }
        }
    }
    let copied = waits.len();
    wait_acks(inner, waits, deadline).await;
    send_drops(inner, &rest, moved_meanwhile(inner, sent));
    inner
        .metrics
        .handoffs
        .fetch_add(handed as u64, Ordering::Relaxed);
    log::info!(
        "cluster: handed {handed} session(s) off and placed {copied} copies in {} ms",
        t0.elapsed().as_millis()
    );
}
