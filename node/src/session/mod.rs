//! HTTP sessions, Tomcat style and local to this node for now.
//!
//! - [`id`]: the id format (`<32 hex>.<route>`), which is what keeps a balancer sticky;
//! - [`cookie`]: where a request names its session (`JSESSIONID` cookie, `;jsessionid=`);
//! - [`manager`]: the store, expiry and the change listeners;
//! - [`handle`]: the [`Session`] an application finds in its request extensions, which records
//!   each request's attribute changes as a [`SessionDelta`] — exactly what replication ships;
//! - [`service`]: the wrapper that binds a request to its session and sets the cookie;
//! - [`persist`]: `--session-file`, the sessions kept across a restart;
//! - `stored`: the request path with `--session-store` (sessions in Redis).

pub mod cookie;
pub mod handle;
pub mod id;
pub mod manager;
pub mod persist;
pub mod service;
mod stored;

pub use handle::{Session, SessionDelta};
pub use manager::{SessionEvent, SessionManager};
pub use service::Sessions;
