//! `--cluster backup`: each session lives on its primary (the member whose route its id
//! carries) and `--backups` more members chosen by rendezvous hashing ([`placement`]), instead
//! of on every member. The channel, membership, authentication, version stamping and sync/async
//! rules are those of `--cluster delta`; what differs:
//!
//! - `ship` (here): a request's deltas go to the session's holders only, and a move tells the
//!   old holders that are no longer holders to drop their copies;
//! - [`fetch`]: a request for a session this node does not serve fetches it from the member
//!   that answers for it (which hands it over atomically: its copy moves to our route), so
//!   exactly one member serves a session;
//! - [`replace`]: after a membership change each session's answering member gives new holders
//!   a copy and tells old ones to drop theirs, and takes over the sessions of a dead primary;
//! - [`handoff`]: a graceful stop passes every session on before saying goodbye;
//! - a joining node copies nothing at start: the others' re-placement brings its share.

pub mod fetch;
pub mod handoff;
pub mod placement;
pub mod replace;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::delta;
use super::link::{Link, Outgoing};
use super::membership::{self, Peer};
use super::message::{Fetched, Message};
use super::{Inner, Replication};
use crate::session::manager::{lock, Published, Replicator};
use crate::session::SessionDelta;
use crate::shutdown::{Shutdown, Trigger};

/// Backup-mode state shared by the cluster tasks.
pub(crate) struct State {
    /// Copies besides the primary.
    pub backups: usize,
    /// Fetches waiting for their answer, by member and id.
    waiting: Mutex<HashMap<(SocketAddr, String), oneshot::Sender<Fetched>>>,
    /// Sessions (random parts) this node is fetching now: asked for one meanwhile, it says
    /// "ask again" rather than "not here".
    pub fetching: Mutex<std::collections::HashSet<String>>,
    /// Sessions we handed over from our own route: the id and the version handed, and when.
    /// A copy under that id no newer than it is a backup's stale one (see `fetch`).
    pub handed: Mutex<HashMap<String, (u64, Instant)>>,
    /// The routes the last re-placement placed copies for (`None` before the first).
    placed_for: Mutex<Option<Vec<String>>>,
    /// Fired once the node's requests are done (graceful stop).
    pub drained: Trigger,
    drained_rx: Shutdown,
}

impl State {
    pub fn new(backups: usize) -> State {
        let (drained, drained_rx) = crate::shutdown::channel();
        State {
            backups,
            waiting: Mutex::new(HashMap::new()),
            fetching: Mutex::new(Default::default()),
            handed: Mutex::new(HashMap::new()),
            placed_for: Mutex::new(None),
            drained,
            drained_rx,
        }
    }
}

/// One live member we can send to.
#[derive(Clone)]
pub(crate) struct Member {
    pub peer: Arc<Peer>,
    pub link: Link,
}

/// The live members by route, and us.
pub(crate) struct Live {
    pub me: String,
    pub members: HashMap<String, Member>,
}

impl Live {
    pub fn now(inner: &Inner) -> Live {
        let members = inner
            .members
            .live()
            .into_iter()
            .filter_map(|m| {
                let route = lock(&m.peer.state).route.clone()?;
                Some((
                    route,
                    Member {
                        peer: m.peer,
                        link: m.link,
                    },
                ))
            })
            .collect();
        Live {
            me: inner.route.clone(),
            members,
        }
    }

    /// Every live route, ours included.
    pub fn routes(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.members.keys().map(String::as_str).collect();
        v.push(&self.me);
        v
    }

    /// Without us (for a node that is leaving).
    pub fn without_me(mut self) -> Live {
        self.me.clear();
        self
    }

    pub fn routes_without_me(&self) -> Vec<&str> {
        self.members.keys().map(String::as_str).collect()
    }

    pub fn is_live(&self, route: &str) -> bool {
        route == self.me || self.members.contains_key(route)
    }

    pub fn holders(&self, id: &str, backups: usize) -> Vec<String> {
        let routes: Vec<&str> = if self.me.is_empty() {
            self.routes_without_me()
        } else {
            self.routes()
        };
        placement::holders(id, &routes, backups)
            .into_iter()
            .map(str::to_string)
            .collect()
    }
}

/// The cluster as the session manager's [`Replicator`] in backup mode.
pub(crate) struct Replicate(pub Arc<Inner>);

impl Replicator for Replicate {
    fn publish(&self, deltas: Vec<SessionDelta>) -> Published {
        let inner = self.0.clone();
        Box::pin(async move {
            let live = Live::now(&inner);
            let sync = inner.cfg.replication == Replication::Sync;
            ship(&inner, deltas, &live, sync).await;
        })
    }

    fn accessed(&self, id: &str) {
        lock(&self.0.accessed).insert(id.to_string());
    }

    // Ownership moves only through `fetch_missing` (the member that answers for the session
    // hands it over): a request that finds the session here under another node's route,
    // because it moved on while the request waited, is served without taking it back.
    fn may_take_over(&self) -> bool {
        false
    }

    fn fetch_missing(&self, requested: &[String]) -> Option<Published> {
        fetch::missing(&self.0, requested)
    }
}

fn backups(inner: &Inner) -> usize {
    inner.backup.as_ref().map_or(1, |b| b.backups)
}

/// Stamp `deltas` and send each to its session's holders in `live` (not us); a delta that
/// moved a session (`previous_id`) also tells the old holders that are no longer holders to
/// drop their copy, after the new ones acknowledged. With `wait` (sync replication, and
/// every move) it returns once acknowledged.
pub(crate) async fn ship(inner: &Arc<Inner>, deltas: Vec<SessionDelta>, live: &Live, wait: bool) {
    let t0 = Instant::now();
    let deadline = tokio::time::Instant::now() + inner.cfg.replication_timeout;
    let n = backups(inner);
    let mut waits = Vec::new();
    let mut drops: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    {
        let _order = inner.publish.lock().await;
        for d in deltas {
            let Some(d) = delta::stamp(&inner.sessions, d) else {
                continue;
            };
            let targets = live.holders(&d.id, n);
            if let Some(prev) = &d.previous_id {
                for old in live.holders(prev, n) {
                    if !targets.contains(&old) && old != live.me && !live.me.is_empty() {
                        let v = d.version;
                        drops.push((old, vec![(prev.clone(), v), (d.id.clone(), v)]));
                    }
                }
            }
            let msg = Message::Delta(d);
            for t in targets.iter().filter(|t| **t != live.me) {
                if let Some(m) = live.members.get(t) {
                    if let Some(rx) = send(inner, m, msg.clone(), deadline).await {
                        waits.push((m.peer.clone(), rx));
                    }
                }
            }
        }
    }
    if wait || !drops.is_empty() {
        wait_acks(inner, waits, deadline).await;
        inner.metrics.ack_latency.observe(t0.elapsed());
    }
    send_drops(inner, live, drops);
}

/// Queue `msg` to `m`; the receiver fires on its acknowledgement.
pub(crate) async fn send(
    inner: &Arc<Inner>,
    m: &Member,
    msg: Message,
    deadline: tokio::time::Instant,
) -> Option<oneshot::Receiver<()>> {
    let (tx, rx) = oneshot::channel();
    let is_delta = matches!(msg, Message::Delta(_));
    let queued = tokio::time::timeout_at(
        deadline,
        m.link.tx.send(Outgoing {
            msg,
            done: Some(tx),
        }),
    )
    .await;
    match queued {
        Ok(Ok(())) => {
            if is_delta {
                inner.metrics.deltas_sent.fetch_add(1, Ordering::Relaxed);
            }
            Some(rx)
        }
        Ok(Err(_)) => None,
        Err(_) => {
            membership::suspect(inner, &m.peer, "its replication queue is full");
            None
        }
    }
}

pub(crate) async fn wait_acks(
    inner: &Arc<Inner>,
    waits: Vec<(Arc<Peer>, oneshot::Receiver<()>)>,
    deadline: tokio::time::Instant,
) {
    for (peer, rx) in waits {
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(())) => {
                inner.metrics.acks.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(_)) => {}
            Err(_) => {
                inner.metrics.ack_timeouts.fetch_add(1, Ordering::Relaxed);
                let why = format!(
                    "no acknowledgement within {:?}",
                    inner.cfg.replication_timeout
                );
                membership::suspect(inner, &peer, &why);
            }
        }
    }
}

/// Tell members they no longer hold these sessions (grouped per member).
pub(crate) fn send_drops(inner: &Inner, live: &Live, drops: Vec<(String, Vec<(String, u64)>)>) {
    let mut by: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    for (route, ids) in drops {
        by.entry(route).or_default().extend(ids);
    }
    for (route, ids) in by {
        if let Some(m) = live.members.get(&route) {
            inner
                .metrics
                .drops_sent
                .fetch_add(ids.len() as u64, Ordering::Relaxed);
            for chunk in ids.chunks(1000) {
                let _ = m.link.tx.try_send(Outgoing {
                    msg: Message::Drop(chunk.to_vec()),
                    done: None,
                });
            }
        }
    }
}

/// What a member sent on its connection to us, in backup mode: the reply to send back.
pub(crate) fn receive(inner: &Arc<Inner>, msg: Message, from_route: &str) -> Option<Message> {
    match msg {
        Message::Fetch(id) => Some(fetch::answer(inner, id, from_route)),
        Message::Drop(ids) => {
            for (id, v) in ids {
                // Not a copy newer than the sender knew of: ids recur (a session that moves
                // away and back gets its old id again).
                let newer = inner
                    .sessions
                    .entry(&id)
                    .is_some_and(|e| crate::session::manager::lock(&e).version > v);
                if !newer && drop_copy(&inner.sessions, &id) {
                    inner.metrics.drops_applied.fetch_add(1, Ordering::Relaxed);
                }
            }
            None
        }
        Message::Delta(d)
            if !d.full
                && !d.created
                && !d.invalidated
                && d.previous_id.is_none()
                && inner.sessions.entry(&d.id).is_none() =>
        {
            // A change to a session we hold no copy of yet (we just became a holder): the
            // full copy re-placement sends is on its way; a partial one would shadow it.
            inner.metrics.deltas_stale.fetch_add(1, Ordering::Relaxed);
            None
        }
        Message::Delta(d)
            if d.previous_id.as_ref().is_some_and(|p| {
                inner
                    .sessions
                    .entry(p)
                    .is_some_and(|e| crate::session::manager::lock(&e).version >= d.version)
            }) =>
        {
            // A move older than what we hold under its old id (the session moved away and
            // back since): applying it would rename our newer copy.
            inner.metrics.deltas_stale.fetch_add(1, Ordering::Relaxed);
            None
        }
        Message::Delta(d)
            if !d.invalidated
                && inner.sessions.entry(&d.id).is_none()
                && d.previous_id
                    .as_ref()
                    .is_none_or(|p| inner.sessions.entry(p).is_none())
                && inner.sessions.find_current(&d.id, Instant::now()).is_some() =>
        {
            // The session moved on from that id here (we took it over): a late word about
            // the old id must not bring a second copy back. (A move from an id we hold is
            // news, even back to an id it had before.)
            inner.metrics.deltas_stale.fetch_add(1, Ordering::Relaxed);
            None
        }
        m => {
            delta::receive(inner, m);
            None
        }
    }
}

/// Remove our copy of `id` (no tombstone: the session lives on elsewhere).
pub(crate) fn drop_copy(sessions: &crate::session::SessionManager, id: &str) -> bool {
    // An expiry check with a slack longer than any lifetime always finds it idle.
    sessions.expire_replica(id, Instant::now(), Duration::from_secs(1 << 40))
}

/// Every access interval, tell each session's holders that it was used (the copies' expiry
/// follows the primary's), one message per member.
pub(crate) async fn send_accessed(inner: Arc<Inner>) {
    let mut sd = inner.shutdown.clone();
    let mut tick = tokio::time::interval(inner.access_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let n = backups(&inner);
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
        let live = Live::now(&inner);
        let mut by: HashMap<&str, Vec<String>> = HashMap::new();
        for id in ids {
            // The id used may have moved since (re-bound): tell the holders of the current one.
            let cur = inner
                .sessions
                .find_current(&id, Instant::now())
                .map_or(id, |(c, _)| c);
            for h in live.holders(&cur, n) {
                if let Some((route, _)) = live.members.get_key_value(&h) {
                    by.entry(route.as_str()).or_default().push(cur.clone());
                }
            }
        }
        for (route, ids) in by {
            let m = &live.members[route];
            for chunk in ids.chunks(1000) {
                let _ = m.link.tx.try_send(Outgoing {
                    msg: Message::Accessed(chunk.to_vec()),
                    done: None,
                });
            }
        }
    }
}

/// Join in backup mode: wait until the members we know of were tried (so placement starts
/// from the real membership); copy nothing — the others' re-placement sends our share.
pub(crate) async fn join(inner: &Arc<Inner>) -> bool {
    let members = &inner.members;
    if let Some(m) = &inner.cfg.multicast {
        members
            .wait_for(m.drop_time, |ms| !ms.all().is_empty())
            .await;
    }
    members
        .wait_for(
            Duration::from_secs(5).min(inner.cfg.state_transfer_timeout),
            |m| m.all().iter().all(|p| p.tried.load(Ordering::SeqCst)),
        )
        .await;
    // Until now deltas were held back; none can be for us yet, but apply them by the rules.
    let held = lock(&inner.pending).take().unwrap_or_default();
    for m in held {
        delta::apply(inner, m);
    }
    tokio::spawn(replace::run(inner.clone()));
    false
}

/// Waits for the node's requests to be done, at most `bound`.
pub(crate) async fn drained(inner: &Inner, bound: Duration) {
    if let Some(b) = &inner.backup {
        let mut rx = b.drained_rx.clone();
        let _ = tokio::time::timeout(bound, rx.wait()).await;
    }
}

/// A fetch answered by `from`.
pub(crate) fn answered(inner: &Inner, from: SocketAddr, id: String, answer: Fetched) {
    if let Some(b) = &inner.backup {
        if let Some(tx) = lock(&b.waiting).remove(&(from, id)) {
            let _ = tx.send(answer);
        }
    }
}

/// Sessions held here as primary (our route) and as backup.
pub(crate) fn roles(inner: &Inner) -> (usize, usize) {
    let me = inner.route.as_str();
    let mut primary = 0;
    let mut total = 0;
    for (id, _) in inner.sessions.entries() {
        total += 1;
        if placement::primary(&id) == me {
            primary += 1;
        }
    }
    (primary, total - primary)
}

/// How this node holds the session `id` names, by its random part (for checks):
/// `primary ID` when under its own route (two nodes answering `primary` for one session would
/// be two owners), `backup ID` when under another route, else `none`.
pub(crate) fn role_of(inner: &Inner, id: &str) -> String {
    let b = placement::base(id);
    let mine = format!("{b}.{}", inner.route);
    if inner.sessions.entry(&mine).is_some() {
        return format!("primary {mine}");
    }
    let routes = inner
        .members
        .all()
        .into_iter()
        .filter_map(|p| lock(&p.state).route.clone());
    std::iter::once(placement::primary(id).to_string())
        .chain(routes)
        .map(|r| format!("{b}.{r}"))
        .find(|other| inner.sessions.entry(other).is_some())
        .map_or_else(|| "none".to_string(), |held| format!("backup {held}"))
}
