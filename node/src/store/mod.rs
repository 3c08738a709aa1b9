//! Sessions kept outside the node (`--session-store`): the node holds nothing between
//! requests, so any node can serve any session and a node's crash loses nothing.
//!
//! The session layer talks to a `Store`: before the application runs, the request's session
//! is loaded (one round trip); after it, what the request changed is saved (one more, only when
//! something changed). A store that cannot be reached is an [`Unavailable`], which the session
//! layer answers with 503 for the requests that need a session.
//!
//! - [`redis`]: Redis or Redis Cluster, one hash per session.

pub mod redis;

use std::future::Future;
use std::pin::Pin;

use crate::session::manager::SessionData;
use crate::session::SessionDelta;

pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, Unavailable>> + Send + 'a>>;

/// The store could not be asked (down, timed out, refused): the cause, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where sessions live when they live outside the node.
pub(crate) trait Store: Send + Sync {
    /// The session `id` names (its route suffix aside), if it exists; refreshes its lifetime.
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionData>>;
    /// Apply one finished request's deltas, in order. Returns once the store has them: a
    /// response that waited for this loses nothing when the node dies. `after` is the
    /// session as the request left it (id, attributes, the version it was loaded at), for a
    /// store that keeps copies.
    fn save(
        &self,
        deltas: Vec<SessionDelta>,
        after: Option<(String, SessionData)>,
    ) -> StoreFuture<'_, ()>;
    /// A fresh id for a session moving away from `old` (session fixation protection) that
    /// the store can rename to atomically.
    fn new_id_for(&self, old: &str, route: &str) -> String;
}
