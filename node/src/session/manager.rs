//! The session store: live sessions by id, their attributes and last access, expiry by a
//! periodic sweep, and listeners told of every change. Replication (`crate::cluster`) plugs in
//! as a [`Replicator`] and uses the crate-private operations at the end of this file (insert a
//! session under another node's id, rename, tombstone) that applications never see.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::handle::SessionDelta;
use super::id;
use crate::shutdown::Shutdown;

/// What happened to sessions, as listeners see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// A request ended having created, changed, re-keyed or invalidated a session.
    Changed(SessionDelta),
    /// A session timed out and was removed.
    Expired(String),
}

type Listener = Arc<dyn Fn(&SessionEvent) + Send + Sync>;

/// Resolves when the deltas handed to [`Replicator::publish`] are safe (sync replication: every
/// live member acknowledged them).
pub(crate) type Published = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the cluster needs from the request path: every finished request's deltas, and which
/// sessions were used without a change (so replicas do not expire them).
pub(crate) trait Replicator: Send + Sync {
    fn publish(&self, deltas: Vec<SessionDelta>) -> Published;
    fn accessed(&self, id: &str);
    /// Whether this node may take sessions over (re-bind them to its route) now: not while
    /// it is catching up with members it lost touch with, when its replicas may be old.
    fn may_take_over(&self) -> bool;
    /// Before a request binds its session: bring the session it names here from another
    /// node when this one does not serve it (`--cluster backup`); `None` when nothing to do.
    fn fetch_missing(&self, _requested: &[String]) -> Option<Published> {
        None
    }
}

/// One session's state.
#[derive(Debug)]
pub(crate) struct SessionData {
    pub attributes: HashMap<String, Bytes>,
    pub last_access: Instant,
    pub max_inactive: Duration,
    /// Bumped by every replicated change: replicas apply a delta only if it is newer.
    pub version: u64,
}

pub(crate) type Entry = Arc<Mutex<SessionData>>;

struct Shared {
    route: String,
    max_inactive: Duration,
    sessions: RwLock<HashMap<String, Entry>>,
    listeners: RwLock<Vec<Listener>>,
    /// Old id → new id after a re-key, so a request still carrying the old id (in flight during
    /// a failover re-binding) finds the session.
    aliases: RwLock<HashMap<String, String>>,
    /// Invalidated ids and when: a late delta never brings them back.
    tombstones: Mutex<HashMap<String, Instant>>,
    replicator: OnceLock<Arc<dyn Replicator>>,
    /// `--session-store`: sessions live there, not in `sessions`.
    store: OnceLock<Arc<dyn crate::store::Store>>,
}

/// The node's sessions. Cheap to clone; all clones share one store.
#[derive(Clone)]
pub struct SessionManager {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("route", &self.shared.route)
            .field("sessions", &self.len())
            .finish()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a session lock leaves plain data behind: keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SessionManager {
    /// Sessions for a node with this route, expiring after `max_inactive` without a request.
    pub fn new(route: &str, max_inactive: Duration) -> SessionManager {
        SessionManager {
            shared: Arc::new(Shared {
                route: route.to_string(),
                max_inactive,
                sessions: RwLock::new(HashMap::new()),
                listeners: RwLock::new(Vec::new()),
                aliases: RwLock::new(HashMap::new()),
                tombstones: Mutex::new(HashMap::new()),
                replicator: OnceLock::new(),
                store: OnceLock::new(),
            }),
        }
    }

    pub fn route(&self) -> &str {
        &self.shared.route
    }

    pub fn max_inactive(&self) -> Duration {
        self.shared.max_inactive
    }

    /// Number of live sessions (expired ones count until the next sweep).
    pub fn len(&self) -> usize {
        self.shared
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Call `f` for every [`SessionEvent`], on the thread where it happens: keep it short.
    pub fn subscribe(&self, f: impl Fn(&SessionEvent) + Send + Sync + 'static) {
        self.shared
            .listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(f));
    }

    pub(crate) fn emit(&self, ev: SessionEvent) {
        let ls = self
            .shared
            .listeners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for l in ls {
            l(&ev);
        }
    }

    /// A copy of a live session's attributes (for tests, tools and replication).
    pub fn attributes(&self, id: &str) -> Option<HashMap<String, Bytes>> {
        self.find(id, Instant::now())
            .map(|e| lock(&e).attributes.clone())
    }

    /// The live session `id`, if it exists and has not timed out by `now`.
    pub(crate) fn find(&self, id: &str, now: Instant) -> Option<Entry> {
        if !id::is_plausible(id) {
            return None;
        }
        let e = self.entry(id)?;
        let live = {
            let d = lock(&e);
            now.saturating_duration_since(d.last_access) < d.max_inactive
        };
        live.then_some(e)
    }

    /// Like [`SessionManager::find`], following a re-key: the id the session has now and it.
    pub(crate) fn find_current(&self, id: &str, now: Instant) -> Option<(String, Entry)> {
        if let Some(e) = self.find(id, now) {
            return Some((id.to_string(), e));
        }
        // A session can move more than once (n1 → n2 → n3): follow a few hops. The alias
        // lock is never held while the session map is locked (see forget_old_names).
        let next = |from: &str| {
            self.shared
                .aliases
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(from)
                .cloned()
        };
        let mut cur = next(id)?;
        for _ in 0..8 {
            if let Some(e) = self.find(&cur, now) {
                return Some((cur, e));
            }
            cur = next(&cur)?;
        }
        None
    }

    /// The session stored under `id`, live or not.
    pub(crate) fn entry(&self, id: &str) -> Option<Entry> {
        self.shared
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// A new empty session; its id is returned with it.
    pub(crate) fn create(&self, now: Instant) -> (String, Entry) {
        let entry = Arc::new(Mutex::new(SessionData {
            attributes: HashMap::new(),
            last_access: now,
            max_inactive: self.shared.max_inactive,
            version: 0,
        }));
        let mut map = self
            .shared
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            // 128 random bits: a collision is practically impossible, but never overwrite.
            let id = id::new_id(&self.shared.route);
            if !map.contains_key(&id) {
                map.insert(id.clone(), entry.clone());
                return (id, entry);
            }
        }
    }

    /// Invalidate: remove the session and remember the id, so no replica message revives it.
    pub(crate) fn remove(&self, id: &str) -> Option<Entry> {
        lock(&self.shared.tombstones).insert(id.to_string(), Instant::now());
        self.shared
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }

    /// Move a session to a fresh id (session fixation protection); returns the new id.
    pub(crate) fn rekey(&self, old: &str) -> Option<String> {
        let mut map = self
            .shared
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let entry = map.remove(old)?;
        loop {
            let id = id::new_id(&self.shared.route);
            if !map.contains_key(&id) {
                map.insert(id.clone(), entry);
                return Some(id);
            }
        }
    }

    /// Move a session to `new` (route re-binding, or a replica following a re-key), leaving
    /// an alias behind. False when `old` is gone or `new` is taken.
    pub(crate) fn rename(&self, old: &str, new: &str) -> bool {
        let mut map = self
            .shared
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if map.contains_key(new) {
            return false;
        }
        let Some(entry) = map.remove(old) else {
            return false;
        };
        map.insert(new.to_string(), entry);
        drop(map);
        self.shared
            .aliases
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(old.to_string(), new.to_string());
        true
    }

    /// The newest name the session `id` was moved to from here (following the alias chain a
    /// few hops), whether or not it is still held here; `None` if it never moved from `id`.
    pub(crate) fn moved_to(&self, id: &str) -> Option<String> {
        let aliases = self
            .shared
            .aliases
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut cur = aliases.get(id)?;
        for _ in 0..8 {
            match aliases.get(cur.as_str()) {
                Some(next) if next != id => cur = next,
                _ => break,
            }
        }
        Some(cur.clone())
    }

    /// Let requests naming `old` find the session `new` (a cluster found it by its random
    /// part after the alias chain broke).
    pub(crate) fn alias(&self, old: &str, new: &str) {
        self.shared
            .aliases
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(old.to_string(), new.to_string());
    }

    /// Store a session under an id another node issued (a replica). Refused for an invalidated
    /// id; an existing entry is kept (the caller merges by version).
    pub(crate) fn insert_replica(&self, id: &str, data: SessionData) -> Option<Entry> {
        if self.is_tombstoned(id) {
            return None;
        }
        let mut map = self
            .shared
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        Some(
            map.entry(id.to_string())
                .or_insert_with(|| Arc::new(Mutex::new(data)))
                .clone(),
        )
    }

    /// Ids invalidated recently (for a state-transfer copy).
    pub(crate) fn tombstones(&self) -> Vec<String> {
        lock(&self.shared.tombstones).keys().cloned().collect()
    }

    pub(crate) fn is_tombstoned(&self, id: &str) -> bool {
        lock(&self.shared.tombstones).contains_key(id)
    }

    /// Every session (id and entry), for state transfer.
    pub(crate) fn entries(&self) -> Vec<(String, Entry)> {
        self.shared
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Remove a replica the cluster says expired, unless it was used here since: returns
    /// whether it went. `slack` allows for access news still on its way.
    pub(crate) fn expire_replica(&self, id: &str, now: Instant, slack: Duration) -> bool {
        let mut map = self
            .shared
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let idle = |e: &Entry| {
            let d = lock(e);
            now.saturating_duration_since(d.last_access) + slack >= d.max_inactive
        };
        match map.get(id) {
            Some(e) if idle(e) => {
                map.remove(id);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn set_replicator(&self, r: Arc<dyn Replicator>) {
        let _ = self.shared.replicator.set(r);
    }

    pub(crate) fn replicator(&self) -> Option<&Arc<dyn Replicator>> {
        self.shared.replicator.get()
    }

    pub(crate) fn set_store(&self, s: Arc<dyn crate::store::Store>) {
        let _ = self.shared.store.set(s);
    }

    pub(crate) fn store(&self) -> Option<&Arc<dyn crate::store::Store>> {
        self.shared.store.get()
    }

    /// Remove every session that has timed out by `now`; returns their ids.
    pub fn expire(&self, now: Instant) -> Vec<String> {
        let mut gone = Vec::new();
        self.shared
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, e| {
                let d = lock(e);
                let live = now.saturating_duration_since(d.last_access) < d.max_inactive;
                if !live {
                    gone.push(id.clone());
                }
                live
            });
        for id in &gone {
            log::debug!("session {id} expired");
            self.emit(SessionEvent::Expired(id.clone()));
        }
        self.forget_old_names(now);
        gone
    }

    /// Drop aliases whose session is gone and tombstones older than a session's lifetime (no
    /// delta for them can still be on its way).
    fn forget_old_names(&self, now: Instant) {
        let keep = self.shared.max_inactive.max(Duration::from_secs(60));
        lock(&self.shared.tombstones).retain(|_, at| now.saturating_duration_since(*at) < keep);
        // An alias stays while its target is a session or another alias (a chain: n1 → n2 →
        // n3); a broken chain shrinks by one hop per sweep.
        let (targets, moved): (Vec<String>, std::collections::HashSet<String>) = {
            let a = self
                .shared
                .aliases
                .read()
                .unwrap_or_else(|p| p.into_inner());
            (a.values().cloned().collect(), a.keys().cloned().collect())
        };
        let gone: std::collections::HashSet<String> = targets
            .into_iter()
            .filter(|new| self.entry(new).is_none() && !moved.contains(new))
            .collect();
        if !gone.is_empty() {
            self.shared
                .aliases
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, new| !gone.contains(new));
        }
    }

    /// The expiry sweeper: runs until shutdown.
    pub(crate) async fn sweep(self, every: Duration, mut shutdown: Shutdown) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    self.expire(Instant::now());
                }
                () = shutdown.wait() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_removes_only_idle_sessions_and_tells_listeners() {
        let m = SessionManager::new("n1", Duration::from_secs(10));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        m.subscribe(move |e| s2.lock().unwrap().push(e.clone()));
        let t0 = Instant::now();
        let (old, _) = m.create(t0);
        let (young, e) = m.create(t0);
        lock(&e).last_access = t0 + Duration::from_secs(8);
        assert!(m.find(&old, t0 + Duration::from_secs(9)).is_some());
        assert!(
            m.find(&old, t0 + Duration::from_secs(10)).is_none(),
            "timed out"
        );
        assert_eq!(m.expire(t0 + Duration::from_secs(11)), vec![old.clone()]);
        assert_eq!(m.len(), 1);
        assert!(m.find(&young, t0 + Duration::from_secs(11)).is_some());
        assert_eq!(*seen.lock().unwrap(), vec![SessionEvent::Expired(old)]);
    }

    #[test]
    fn rekey_keeps_the_data_under_a_new_id() {
        let m = SessionManager::new("n1", Duration::from_secs(10));
        let now = Instant::now();
        let (id, e) = m.create(now);
        lock(&e)
            .attributes
            .insert("k".into(), Bytes::from_static(b"v"));
        let new = m.rekey(&id).unwrap();
        assert_ne!(new, id);
        assert!(new.ends_with(".n1"));
        assert!(m.find(&id, now).is_none());
        assert_eq!(m.attributes(&new).unwrap()["k"], "v");
        assert!(m.rekey("nope").is_none());
    }

    #[test]
    fn aliases_follow_several_moves_and_outlive_a_sweep() {
        let m = SessionManager::new("n3", Duration::from_secs(10));
        let now = Instant::now();
        let (id, _) = m.create(now);
        let base = &id[..32];
        let (n1, n2) = (format!("{base}.n1"), format!("{base}.n2"));
        assert!(m.rename(&id, &n1) && m.rename(&n1, &n2));
        assert!(!m.rename(&n1, &n2), "gone from the old id");
        m.expire(now);
        assert_eq!(m.find_current(&id, now).unwrap().0, n2);
        assert_eq!(m.find_current(&n1, now).unwrap().0, n2);
        m.remove(&n2);
        m.expire(now);
        m.expire(now);
        assert!(m.find_current(&id, now).is_none());
        assert!(lock(&m.shared.tombstones).contains_key(&n2));
    }

    #[test]
    fn implausible_ids_are_never_looked_up() {
        let m = SessionManager::new("n1", Duration::from_secs(10));
        assert!(m.find("../../etc", Instant::now()).is_none());
    }
}
