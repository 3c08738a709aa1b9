//! Fetch on a miss: a request names a session this node does not serve (after a failover, or
//! behind a non-sticky balancer). The node asks the member that answers for it (its primary,
//! or the first-ranked live member when the primary is gone), then the other members by rank.
//! The member that hands the session over moves its own copy to the requester's route under
//! its session-map lock before answering, so from then on only the requester serves it: a
//! second fetch finds the moved id and is sent on (`Moved`). The requester re-binds the
//! session to its route (new version epoch, whole state) and ships it to the new holders,
//! and old holders that are no longer holders drop their copies.
//!
//! Two members asking at once: only the answer whose move succeeds hands the copy over; a
//! member refuses a copy under its own route no newer than what it handed on from that id
//! (a backup's, from before the handover). Not covered: a request still running on the old primary while the session is
//! handed over (two requests of one session at once on two nodes) may lose that request's
//! change.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::placement::{authority, base, primary, rank};
use super::{drop_copy, lock, ship, Live, Member};
use crate::cluster::delta;
use crate::cluster::link::Outgoing;
use crate::cluster::message::{Fetched, Image, Message};
use crate::cluster::Inner;
use crate::session::id::is_plausible;
use crate::session::manager::Published;
use crate::session::SessionDelta;

/// How many times a fetch follows `Moved` (a session moving while we chase it).
const HOPS: usize = 6;
/// How long two members' views of the membership may differ after a death, about (the
/// first wait; it doubles).
const VIEWS_AGREE: std::time::Duration = std::time::Duration::from_millis(25);

/// The fetch a request needs before it binds its session, if any.
pub(crate) fn missing(inner: &Arc<Inner>, requested: &[String]) -> Option<Published> {
    let id = requested
        .iter()
        .find(|id| is_plausible(id) && !inner.sessions.is_tombstoned(id))?;
    if let Some((cur, _)) = find(inner, id) {
        if primary(&cur) == inner.route {
            link(inner, id, &cur);
            return None;
        }
    }
    let (inner, id) = (inner.clone(), id.clone());
    Some(Box::pin(async move { fetch(&inner, id).await }))
}

async fn fetch(inner: &Arc<Inner>, requested: String) {
    let key = base(&requested).to_string();
    if let Some(b) = &inner.backup {
        lock(&b.fetching).insert(key.clone());
    }
    fetch_once(inner, requested).await;
    if let Some(b) = &inner.backup {
        lock(&b.fetching).remove(&key);
    }
}

async fn fetch_once(inner: &Arc<Inner>, requested: String) {
    let t0 = Instant::now();
    inner.metrics.fetches.fetch_add(1, Ordering::Relaxed);
    let mut cur = requested.clone();
    let mut asked: HashSet<(String, String)> = HashSet::new();
    for hop in 0..HOPS {
        let live = Live::now(inner);
        let routes = live.routes();
        if let Some((have, _)) = find(inner, &cur) {
            if primary(&have) == live.me {
                link(inner, &requested, &have);
                return;
            }
            // Its primary is gone and we answer for it: ours is the copy to serve.
            if !live.is_live(primary(&have)) && authority(&have, &routes) == Some(&live.me) {
                takeover(inner, &have, &live).await;
                return;
            }
            cur = have;
        } else if let Some(newer) = inner.sessions.moved_to(&cur) {
            // We handed it on and no longer hold a copy: ask where it went, not the holders
            // of a name it no longer has (one of them may still keep a stale copy).
            cur = newer;
        }
        let mut order: Vec<&str> = authority(&cur, &routes).into_iter().collect();
        order.extend(rank(&cur, &routes));
        let mut next = None;
        let mut again = false;
        for r in order {
            if r == live.me {
                continue;
            }
            if !asked.insert((r.to_string(), cur.clone())) {
                again = true;
                continue;
            }
            let Some(m) = live.members.get(r) else {
                continue;
            };
            match ask(inner, m, &cur).await {
                Some(Fetched::Image(img)) if stale(inner, &img, &live.me) => {
                    // A copy from before we handed the session on (a backup's, or the one we
                    // handed it to, still installing it): taking it would make two owners.
                    // The member we handed it to serves it in a moment: ask again then.
                    inner.metrics.fetch_stale.fetch_add(1, Ordering::Relaxed);
                    log::debug!("cluster: session {}: refused a stale copy from {r}", img.id);
                    next = Some(cur.clone());
                    break;
                }
                Some(Fetched::Image(img)) => {
                    log::debug!(
                        "cluster: session {} (v{}) fetched from {r} for {requested}",
                        img.id,
                        img.version
                    );
                    let had = install(inner, &requested, img);
                    takeover(inner, &had, &live).await;
                    inner.metrics.fetch_latency.observe(t0.elapsed());
                    return;
                }
                Some(Fetched::Moved(to)) => {
                    next = Some(to);
                    break;
                }
                Some(Fetched::NotHere) | None => {}
            }
        }
        match next {
            Some(to) => {
                // Going in circles (a member is still installing what it fetched), or views
                // that disagree about who is live: ask again in a moment.
                if again || to == cur || !live.is_live(primary(&to)) {
                    // It thinks a member is live that we saw go (or the reverse): views
                    // agree again within moments, ask again then.
                    tokio::time::sleep(VIEWS_AGREE * (1 << hop)).await;
                    asked.clear();
                }
                cur = to;
            }
            None => break,
        }
    }
    inner.metrics.fetch_misses.fetch_add(1, Ordering::Relaxed);
    log::debug!("cluster: session {requested}: no member holds it");
}

/// How long a handover is remembered: far longer than a stale backup copy can outlive it
/// (re-placement and drops follow within moments).
const HANDED_KEPT: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether `img` is a copy under our route, not newer than the version we handed over from
/// that id (a backup's copy from before the handover). A newer one is news: e.g. a member
/// that took over from a dead primary moved the session to our route.
fn stale(inner: &Inner, img: &Image, me: &str) -> bool {
    primary(&img.id) == me
        && inner.sessions.entry(&img.id).is_none()
        && inner.backup.as_ref().is_some_and(|b| {
            lock(&b.handed)
                .get(&img.id)
                .is_some_and(|&(v, _)| img.version <= v)
        })
}

/// Remember that we handed `id` over at `version` (only ids under our own route matter).
fn handed(inner: &Inner, id: &str, version: u64, me: &str) {
    let Some(b) = inner.backup.as_ref().filter(|_| primary(id) == me) else {
        return;
    };
    let now = Instant::now();
    let mut h = lock(&b.handed);
    if h.len() >= 4096 {
        h.retain(|_, (_, at)| now.duration_since(*at) < HANDED_KEPT);
    }
    h.insert(id.to_string(), (version, now));
}

/// The session `id` names, here: under that id or where its aliases lead, or else under
/// the same random part with any member's route (an alias chain breaks when a member that
/// held one restarts; the random part is the session's identity).
fn find(inner: &Inner, id: &str) -> Option<(String, crate::session::manager::Entry)> {
    let now = Instant::now();
    if let Some(found) = inner.sessions.find_current(id, now) {
        return Some(found);
    }
    let b = base(id);
    let routes = inner
        .members
        .all()
        .into_iter()
        .filter_map(|p| lock(&p.state).route.clone());
    std::iter::once(inner.route.clone())
        .chain(routes)
        .map(|r| format!("{b}.{r}"))
        .filter(|other| other != id)
        .find_map(|other| inner.sessions.find_current(&other, now))
}

/// Make `requested` lead to `cur` here, if it does not already.
fn link(inner: &Inner, requested: &str, cur: &str) {
    if requested != cur
        && inner
            .sessions
            .find_current(requested, Instant::now())
            .is_none()
    {
        inner.sessions.alias(requested, cur);
    }
}

/// Ask `m` for `id`; `None` when it did not answer in time or is gone.
async fn ask(inner: &Inner, m: &Member, id: &str) -> Option<Fetched> {
    let b = inner.backup.as_ref()?;
    let key = (m.peer.addr, id.to_string());
    let (tx, rx) = oneshot::channel();
    lock(&b.waiting).insert(key.clone(), tx);
    let t = inner.cfg.replication_timeout;
    let out = Outgoing {
        msg: Message::Fetch(id.to_string()),
        done: None,
    };
    let answer = async {
        m.link.tx.send(out).await.ok()?;
        rx.await.ok()
    };
    let got = tokio::time::timeout(t, answer).await.ok().flatten();
    if got.is_none() {
        lock(&b.waiting).remove(&key);
    }
    got
}

/// Store a fetched session so that `requested` leads to it; returns the id it had on the
/// member that handed it over.
fn install(inner: &Inner, requested: &str, img: Image) -> String {
    let had = img.id.clone();
    let sessions = &inner.sessions;
    if had != requested {
        // Stale copies of ours under either name would shadow the fetched one, which is
        // the newest (its owner handed it over): under `had` it would block the move, under
        // `requested` a request would find it before the alias.
        drop_copy(sessions, &had);
        drop_copy(sessions, requested);
    }
    delta::apply_image(sessions, img, Instant::now());
    if had != requested {
        sessions.alias(requested, &had);
    }
    had
}

/// Serve `had` from here: move it to our route and ship the whole state to its new holders
/// (old holders that are no longer holders drop their copies).
pub(crate) async fn takeover(inner: &Arc<Inner>, had: &str, live: &Live) {
    let Some(d) = rebind(inner, had, &live.me) else {
        return;
    };
    inner.metrics.takeovers.fetch_add(1, Ordering::Relaxed);
    ship(inner, vec![d], live, true).await;
}

/// Move our copy of `had` to `route` (ours, or a successor's); the delta that tells the
/// holders (whole state, new epoch). `None` when there is nothing to move.
pub(crate) fn rebind(inner: &Inner, had: &str, route: &str) -> Option<SessionDelta> {
    let new = format!("{}.{route}", base(had));
    if had == new {
        return None;
    }
    // Fails when `had` moved meanwhile (a fetch and a re-placement pass may both try) or
    // `new` is taken: either way the session is served under `new` already.
    inner.sessions.rename(had, &new).then(|| SessionDelta {
        id: new,
        previous_id: Some(had.to_string()),
        ..SessionDelta::default()
    })
}

/// Answer `Fetch(id)` from the member with route `from`.
pub(crate) fn answer(inner: &Inner, id: String, from: &str) -> Message {
    // Two members' fetches are answered at once (one task per link): the move to the
    // requester's route is what makes a handover exclusive, so a copy is handed over only by
    // the answer whose rename succeeded; the other finds it moved and says so.
    for _ in 0..4 {
        let live = Live::now(inner);
        let Some((cur, e)) = find(inner, &id) else {
            let arriving = inner
                .backup
                .as_ref()
                .is_some_and(|b| lock(&b.fetching).contains(base(&id)));
            let answer = if arriving {
                Fetched::Moved(id.clone())
            } else {
                Fetched::NotHere
            };
            return Message::Fetched(id, answer);
        };
        let p = primary(&cur);
        if p != live.me && p != from && live.is_live(p) {
            return Message::Fetched(id, Fetched::Moved(cur));
        }
        let new = format!("{}.{from}", base(&cur));
        if cur != new {
            if inner.sessions.entry(&new).is_some() {
                drop_copy(&inner.sessions, &new);
            }
            if !inner.sessions.rename(&cur, &new) {
                continue; // moved meanwhile: look again
            }
        }
        // From here on a request or a fetch here finds it under the requester's route.
        let img = delta::image(cur.clone(), &lock(&e), Instant::now());
        handed(inner, &cur, img.version, &live.me);
        inner.metrics.handovers.fetch_add(1, Ordering::Relaxed);
        log::debug!("cluster: session {cur} handed over to {from}");
        return Message::Fetched(id, Fetched::Image(img));
    }
    Message::Fetched(id.clone(), Fetched::Moved(id))
}
