//! The application's view of its session during one request, and the record of what that
//! request changed.
//!
//! Nothing is created until the application asks (`create`, or `set` on a request without a
//! session), as with Tomcat's `getSession(true)`. Every change is written to the store at once
//! (a parallel request sees it) and also noted in the request's [`SessionDelta`], which the
//! replication issue ships to the other nodes when the request ends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::manager::{Entry, SessionData, SessionManager};

/// What one request did to one session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionDelta {
    /// The session's id at the end of the request (before invalidation, if invalidated).
    pub id: String,
    /// The request created the session.
    pub created: bool,
    /// The request moved the session from this id (`change_id`).
    pub previous_id: Option<String>,
    /// The request invalidated the session.
    pub invalidated: bool,
    /// Attribute changes in order, last one per name: `Some` = set, `None` = removed.
    pub changes: Vec<(String, Option<Bytes>)>,
    /// The max inactive interval, when the request changed it.
    pub max_inactive: Option<Duration>,
}

impl SessionDelta {
    fn record(&mut self, key: &str, value: Option<Bytes>) {
        // Keep one entry per name (the last value), in order of first change.
        match self.changes.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.changes.push((key.to_string(), value)),
        }
    }

    fn is_empty(&self) -> bool {
        !self.created
            && self.previous_id.is_none()
            && !self.invalidated
            && self.changes.is_empty()
            && self.max_inactive.is_none()
    }
}

struct State {
    manager: SessionManager,
    now: Instant,
    /// The id the request named (cookie or path parameter), live or not.
    requested: Option<String>,
    current: Option<(String, Entry)>,
    delta: SessionDelta,
    /// Deltas of sessions this request already invalidated.
    finished: Vec<SessionDelta>,
    /// The client must be told a new id.
    cookie: bool,
    /// The id the session had before this request re-bound it to this node's route.
    rebound_from: Option<String>,
    /// With a session store: the session was loaded for this request only and is not in the
    /// manager's map (the store applies creation, removal and id changes from the delta).
    stored: bool,
    /// The store could not be read: the request named a session it cannot have.
    unreachable: bool,
    /// The application used the session anyway (its answer must not go out).
    used_unreachable: bool,
}

/// Tomcat's JvmRouteBinderValve: a session carrying another node's route that this node holds
/// (it took over after a failover) moves to this node's route, keeping the random part, so the
/// balancer stays sticky here. Only with a cluster: without one there are no such sessions.
fn rebind_target(manager: &SessionManager, id: &str) -> Option<String> {
    let (base, route) = id.split_once('.')?;
    (route != manager.route() && !manager.route().is_empty())
        .then(|| format!("{base}.{}", manager.route()))
}

/// The session of the current request, from `req.extensions().get::<Session>()`. Cloning
/// shares it.
#[derive(Clone)]
pub struct Session {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = lock(&self.state).current.as_ref().map(|(id, _)| id.clone());
        f.debug_struct("Session").field("id", &id).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    /// Bind a request to the first of `requested` ids that names a live session.
    pub(crate) fn bind<'a>(
        manager: &SessionManager,
        requested: impl IntoIterator<Item = &'a str>,
        now: Instant,
    ) -> Session {
        let mut first = None;
        let mut current = None;
        let mut cookie = false;
        for id in requested {
            first.get_or_insert_with(|| id.to_string());
            if let Some((now_id, e)) = manager.find_current(id, now) {
                lock(&e).last_access = now;
                // The session was re-keyed (re-bound) by a parallel request: tell the client.
                cookie = now_id != id;
                current = Some((now_id, e));
                first = Some(id.to_string());
                break;
            }
        }
        let mut delta = SessionDelta {
            id: current
                .as_ref()
                .map(|(id, _)| id.clone())
                .unwrap_or_default(),
            ..SessionDelta::default()
        };
        let mut rebound_from = None;
        if let (Some(r), Some((id, e))) = (manager.replicator(), current.as_mut()) {
            if let Some(new) = rebind_target(manager, id).filter(|_| r.may_take_over()) {
                if manager.rename(id, &new) {
                    delta.previous_id = Some(id.clone());
                    delta.id = new.clone();
                    rebound_from = Some(std::mem::replace(id, new));
                    cookie = true;
                } else if let Some((now_id, now_e)) = manager.find_current(&new, now) {
                    (*id, *e) = (now_id, now_e);
                    cookie = true;
                }
            }
            r.accessed(id);
        }
        Session {
            state: Arc::new(Mutex::new(State {
                manager: manager.clone(),
                now,
                requested: first,
                current,
                delta,
                finished: Vec::new(),
                cookie,
                rebound_from,
                stored: false,
                unreachable: false,
                used_unreachable: false,
            })),
        }
    }

    /// Bind a request to a session loaded from the store (`--session-store`): `loaded` is the
    /// id it was found under and its data; `requested` the first id the request named.
    /// `unreachable`: the store could not be read (see [`Session::used_unreachable`]).
    pub(crate) fn bind_stored(
        manager: &SessionManager,
        requested: Option<String>,
        loaded: Option<(String, SessionData)>,
        unreachable: bool,
        now: Instant,
    ) -> Session {
        let mut delta = SessionDelta::default();
        let (mut cookie, mut rebound_from, mut current) = (false, None, None);
        if let Some((id, data)) = loaded {
            delta.id = id.clone();
            // Re-binding as with replication: the store's key ignores the route, so only the
            // cookie changes and the balancer sticks to this node from now on.
            let id = match rebind_target(manager, &id) {
                Some(new) => {
                    delta.previous_id = Some(id.clone());
                    delta.id = new.clone();
                    rebound_from = Some(id);
                    cookie = true;
                    new
                }
                None => id,
            };
            current = Some((id, Arc::new(Mutex::new(data))));
        }
        Session {
            state: Arc::new(Mutex::new(State {
                manager: manager.clone(),
                now,
                requested,
                current,
                delta,
                finished: Vec::new(),
                cookie,
                rebound_from,
                stored: true,
                unreachable,
                used_unreachable: false,
            })),
        }
    }

    /// The state, for the application: a use of a session the store could not read is noted.
    fn using(&self) -> std::sync::MutexGuard<'_, State> {
        let mut s = lock(&self.state);
        s.used_unreachable |= s.unreachable;
        s
    }

    /// The store could not be read and the application used the session anyway: it ran
    /// without the session it named, so its answer must be replaced by a 503.
    pub(crate) fn used_unreachable(&self) -> bool {
        lock(&self.state).used_unreachable
    }

    /// The session id, if the request has a session.
    pub fn id(&self) -> Option<String> {
        self.using().current.as_ref().map(|(id, _)| id.clone())
    }

    /// The id the request asked for (even if that session no longer exists).
    pub fn requested_id(&self) -> Option<String> {
        lock(&self.state).requested.clone()
    }

    /// The id this request found the session under, when it re-bound it to this node's route
    /// (the node took the session over after a failover).
    pub(crate) fn rebound_from(&self) -> Option<String> {
        lock(&self.state).rebound_from.clone()
    }

    /// The session was created by this request.
    pub fn is_new(&self) -> bool {
        let s = self.using();
        s.current.is_some() && s.delta.created
    }

    /// The session's id, creating the session if there is none.
    pub fn create(&self) -> String {
        let mut s = self.using();
        s.ensure().0
    }

    /// An attribute's value, if the request has a session and it holds `key`.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let s = self.using();
        let (_, e) = s.current.as_ref()?;
        let v = lock(e).attributes.get(key).cloned();
        v
    }

    /// Every attribute name, sorted.
    pub fn attribute_names(&self) -> Vec<String> {
        let s = self.using();
        let Some((_, e)) = s.current.as_ref() else {
            return Vec::new();
        };
        let mut names: Vec<String> = lock(e).attributes.keys().cloned().collect();
        names.sort();
        names
    }

    /// Set an attribute, creating the session if needed.
    pub fn set(&self, key: &str, value: impl Into<Bytes>) {
        let value = value.into();
        let mut s = self.using();
        let (_, e) = s.ensure();
        lock(&e).attributes.insert(key.to_string(), value.clone());
        s.delta.record(key, Some(value));
    }

    /// Remove an attribute; returns its old value.
    pub fn remove(&self, key: &str) -> Option<Bytes> {
        let mut s = self.using();
        let (_, e) = s.current.as_ref()?;
        let old = lock(e).attributes.remove(key);
        if old.is_some() {
            s.delta.record(key, None);
        }
        old
    }

    /// Change how long the session lives without requests.
    pub fn set_max_inactive(&self, d: Duration) {
        let mut s = self.using();
        let (_, e) = s.ensure();
        lock(&e).max_inactive = d;
        s.delta.max_inactive = Some(d);
    }

    /// End the session now. A later `set` or `create` in the same request starts a new one.
    pub fn invalidate(&self) -> bool {
        let mut s = self.using();
        let Some((id, _)) = s.current.take() else {
            return false;
        };
        if !s.stored {
            s.manager.remove(&id);
        }
        let mut d = std::mem::take(&mut s.delta);
        d.id = id;
        d.invalidated = true;
        s.finished.push(d);
        s.cookie = false;
        true
    }

    /// Give the session a fresh id, keeping its data (session fixation protection, as
    /// Tomcat's `changeSessionId`); returns the new id.
    pub fn change_id(&self) -> Option<String> {
        let mut s = self.using();
        let (old, e) = s.current.take()?;
        let renamed = match s.manager.store() {
            Some(store) if s.stored => Some(store.new_id_for(&old, s.manager.route())),
            _ => s.manager.rekey(&old),
        };
        let Some(new) = renamed else {
            // Invalidated or expired meanwhile.
            return None;
        };
        if s.delta.previous_id.is_none() && !s.delta.created {
            s.delta.previous_id = Some(old);
        }
        s.delta.id = new.clone();
        s.current = Some((new.clone(), e));
        s.cookie = true;
        Some(new)
    }

    /// The session as it stands (a copy), with the version it was loaded at.
    pub(crate) fn snapshot(&self) -> Option<(String, SessionData)> {
        let s = lock(&self.state);
        let (id, e) = s.current.as_ref()?;
        let d = lock(e);
        Some((
            id.clone(),
            SessionData {
                attributes: d.attributes.clone(),
                last_access: d.last_access,
                max_inactive: d.max_inactive,
                version: d.version,
            },
        ))
    }

    /// What this request has changed so far.
    pub fn delta(&self) -> SessionDelta {
        lock(&self.state).delta.clone()
    }

    /// End of request: record the access and hand back the id to put in a cookie (if new or
    /// changed) and the deltas to publish.
    pub(crate) fn finish(&self) -> (Option<String>, Vec<SessionDelta>) {
        let mut s = lock(&self.state);
        let now = s.now;
        let mut out = std::mem::take(&mut s.finished);
        let Some((id, e)) = s.current.clone() else {
            s.cookie = false;
            return (None, out);
        };
        {
            let mut data = lock(&e);
            data.last_access = data.last_access.max(now);
        }
        let d = std::mem::replace(
            &mut s.delta,
            SessionDelta {
                id: id.clone(),
                ..SessionDelta::default()
            },
        );
        if !d.is_empty() {
            out.push(d);
        }
        let cookie = s.cookie.then_some(id);
        s.cookie = false;
        (cookie, out)
    }
}

impl State {
    fn ensure(&mut self) -> (String, Entry) {
        if let Some((id, e)) = &self.current {
            return (id.clone(), e.clone());
        }
        let (id, e) = if self.stored {
            let id = super::id::new_id(self.manager.route());
            let data = SessionData {
                attributes: Default::default(),
                last_access: self.now,
                max_inactive: self.manager.max_inactive(),
                version: 0,
            };
            (id, Arc::new(Mutex::new(data)))
        } else {
            self.manager.create(self.now)
        };
        self.delta = SessionDelta {
            id: id.clone(),
            created: true,
            ..SessionDelta::default()
        };
        self.current = Some((id.clone(), e.clone()));
        self.cookie = true;
        (id, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager() -> SessionManager {
        SessionManager::new("n1", Duration::from_secs(60))
    }

    #[test]
    fn nothing_is_created_until_asked() {
        let m = manager();
        let s = Session::bind(&m, None, Instant::now());
        assert_eq!(s.get("a"), None);
        assert_eq!(s.remove("a"), None);
        assert!(!s.invalidate());
        assert_eq!(s.finish(), (None, vec![]));
        assert!(m.is_empty());
    }

    #[test]
    fn set_creates_and_the_delta_lists_last_values() {
        let m = manager();
        let s = Session::bind(&m, None, Instant::now());
        s.set("a", "1");
        s.set("b", "2");
        s.set("a", "3");
        s.remove("b");
        let id = s.id().unwrap();
        assert!(s.is_new());
        let (cookie, deltas) = s.finish();
        assert_eq!(cookie.as_deref(), Some(id.as_str()));
        assert_eq!(
            deltas,
            vec![SessionDelta {
                id: id.clone(),
                created: true,
                changes: vec![("a".into(), Some(Bytes::from("3"))), ("b".into(), None)],
                ..SessionDelta::default()
            }]
        );
        // The next request finds it, sets no cookie, and reports only its own change.
        let s = Session::bind(&m, ["bogus", id.as_str()], Instant::now());
        assert_eq!(s.id().as_deref(), Some(id.as_str()));
        assert_eq!(s.get("a").unwrap(), "3");
        assert!(!s.is_new());
        s.set("c", "x");
        let (cookie, deltas) = s.finish();
        assert_eq!(cookie, None);
        assert_eq!(
            deltas[0].changes,
            vec![("c".into(), Some(Bytes::from("x")))]
        );
        assert!(!deltas[0].created);
        // A read-only request publishes nothing.
        let s = Session::bind(&m, [id.as_str()], Instant::now());
        let _ = s.get("a");
        assert_eq!(s.finish(), (None, vec![]));
    }

    #[test]
    fn invalidate_then_set_starts_a_new_session() {
        let m = manager();
        let (old, _) = m.create(Instant::now());
        let s = Session::bind(&m, [old.as_str()], Instant::now());
        assert!(s.invalidate());
        assert_eq!(s.id(), None);
        assert_eq!(s.requested_id().as_deref(), Some(old.as_str()));
        s.set("k", "v");
        let new = s.id().unwrap();
        assert_ne!(new, old);
        let (cookie, deltas) = s.finish();
        assert_eq!(cookie.as_deref(), Some(new.as_str()));
        assert!(deltas[0].invalidated && deltas[0].id == old);
        assert!(deltas[1].created && deltas[1].id == new);
        assert!(m.attributes(&old).is_none());
    }

    #[test]
    fn change_id_keeps_data_and_reissues_the_cookie() {
        let m = manager();
        let s = Session::bind(&m, None, Instant::now());
        s.set("k", "v");
        let (first, _) = s.finish();
        let first = first.unwrap();
        let s = Session::bind(&m, [first.as_str()], Instant::now());
        let new = s.change_id().unwrap();
        assert_ne!(new, first);
        assert_eq!(s.get("k").unwrap(), "v");
        let (cookie, deltas) = s.finish();
        assert_eq!(cookie.as_deref(), Some(new.as_str()));
        assert_eq!(deltas[0].previous_id.as_deref(), Some(first.as_str()));
        assert!(m.attributes(&first).is_none());
    }

    #[test]
    fn expired_ids_are_not_bound() {
        let m = SessionManager::new("n1", Duration::from_secs(1));
        let t0 = Instant::now();
        let (id, _) = m.create(t0);
        let s = Session::bind(&m, [id.as_str()], t0 + Duration::from_secs(2));
        assert_eq!(s.id(), None);
        assert_eq!(s.requested_id().as_deref(), Some(id.as_str()));
    }
}
