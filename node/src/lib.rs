//! rjk-node: an AJP/1.3 backend that serves a Rust application to httpd (mod_jk, mod_rjk,
//! mod_proxy_ajp) or nginx, with Tomcat-style sessions whose ids carry the node's route.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let mut cfg = rjk_node::NodeConfig::new("n1");
//! cfg.ajp = "127.0.0.1:8009".parse().unwrap();
//! let node = rjk_node::Node::start(cfg, rjk_node::demo::Demo::new("n1")).await?;
//! node.wait().await;
//! # Ok(()) }
//! ```
//!
//! Layout: [`config`] (flags), [`node`] (listeners, shutdown), `connection` (one AJP connection
//! driving the `ajp` crate's container exchange), [`context`] (where the application is
//! mounted), [`body`] (streaming request body),
//! [`request_info`] (the AJP extras as a request extension), [`session`], [`cluster`]
//! (replication between nodes), [`store`] (sessions in Redis), [`demo`].

pub mod app;
pub mod body;
pub mod cluster;
pub mod config;
mod connection;
pub mod context;
pub mod demo;
mod head;
mod http_server;
pub mod logger;
pub mod node;
pub mod request_info;
pub mod session;
mod shutdown;
pub mod store;

pub use app::App;
pub use body::{Body, BoxError};
pub use config::{Args, NodeConfig};
pub use context::ContextPath;
pub use node::Node;
pub use request_info::{AjpInfo, TlsInfo};
pub use session::{Session, SessionDelta, SessionEvent, SessionManager};
