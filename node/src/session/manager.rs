//! The session store: live sessions by id, their attributes and last access, expiry by a
//! periodic sweep, and listeners told of every change (the hook replication will use).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
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

/// One session's state.
#[derive(Debug)]
pub(crate) struct SessionData {
    pub attributes: HashMap<String, Bytes>,
    pub last_access: Instant,
    pub max_inactive: Duration,
}

pub(crate) type Entry = Arc<Mutex<SessionData>>;

struct Shared {
    route: String,
    max_inactive: Duration,
    sessions: RwLock<HashMap<String, Entry>>,
    listeners: RwLock<Vec<Listener>>,
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
        let e = self
            .shared
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()?;
        let live = {
            let d = lock(&e);
            now.saturating_duration_since(d.last_access) < d.max_inactive
        };
        live.then_some(e)
    }

    /// A new empty session; its id is returned with it.
    pub(crate) fn create(&self, now: Instant) -> (String, Entry) {
        let entry = Arc::new(Mutex::new(SessionData {
            attributes: HashMap::new(),
            last_access: now,
            max_inactive: self.shared.max_inactive,
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

    pub(crate) fn remove(&self, id: &str) -> Option<Entry> {
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
        gone
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
    fn implausible_ids_are_never_looked_up() {
        let m = SessionManager::new("n1", Duration::from_secs(10));
        assert!(m.find("../../etc", Instant::now()).is_none());
    }
}
