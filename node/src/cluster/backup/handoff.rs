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
use super::replace::full_copy;
use super::{backups, drained, send, ship, wait_acks, Live};
use crate::cluster::message::{Delta, Message};
use crate::cluster::Inner;

/// The longest a stop waits for in-flight requests before handing off anyway.
const DRAIN_BOUND: Duration = Duration::from_secs(30);

pub(crate) async fn run(inner: &Arc<Inner>) {
    drained(inner, DRAIN_BOUND).await;
    let t0 = Instant::now();
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
    ship(inner, moved, &rest, true).await;
    let deadline = tokio::time::Instant::now() + inner.cfg.replication_timeout.max(DRAIN_BOUND / 6);
    let mut waits = Vec::new();
    for (route, ds) in copies {
        let Some(m) = rest.members.get(&route) else {
            continue;
        };
        for d in ds {
            inner.metrics.copies_sent.fetch_add(1, Ordering::Relaxed);
            if let Some(rx) = send(inner, m, Message::Delta(d), deadline).await {
                waits.push((m.peer.clone(), rx));
            }
        }
    }
    let copied = waits.len();
    wait_acks(inner, waits, deadline).await;
    inner
        .metrics
        .handoffs
        .fetch_add(handed as u64, Ordering::Relaxed);
    log::info!(
        "cluster: handed {handed} session(s) off and placed {copied} copies in {} ms",
        t0.elapsed().as_millis()
    );
}
