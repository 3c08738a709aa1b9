//! Serve an axum `Router` over AJP with rjk-node: the router is used as is, and the AJP extras
//! (`AjpInfo`) and the session (`Session`) are request extensions.
//!
//! ```text
//! cargo run -p rjk-node --example axum -- 127.0.0.1:8009 n1
//! ```
//! then put mod_jk (or mod_proxy_ajp) in front: `worker.n1.port=8009`, `JkMount /* n1`.
//! This example runs without a secret to stay short; a real deployment sets
//! `NodeConfig::container.secret` (what `--secret` does).

use axum::body::Bytes;
use axum::extract::{Extension, Path};
use axum::routing::{get, post};
use axum::Router;
use rjk_node::{AjpInfo, Node, NodeConfig, Session};

/// The application: plain axum handlers.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "hello from axum over AJP\n" }))
        .route("/hello/{name}", get(hello))
        .route("/visits", get(visits))
        .route("/size", post(size))
}

async fn hello(Path(name): Path<String>, Extension(info): Extension<AjpInfo>) -> String {
    format!("hello {name}, you came from {}\n", info.remote_addr)
}

/// A per-visitor counter kept in the rjk-node session (created on first visit).
async fn visits(Extension(session): Extension<Session>) -> String {
    let n: u64 = session
        .get("visits")
        .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
        .unwrap_or(0)
        + 1;
    session.set("visits", n.to_string());
    format!("visit {n}\n")
}

async fn size(body: Bytes) -> String {
    format!("{} bytes\n", body.len())
}

#[allow(dead_code)] // the tests include this file for `router` only
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8009".into());
    let route = args.next().unwrap_or_else(|| "n1".into());
    rjk_node::logger::init(log::LevelFilter::Info);
    let mut cfg = NodeConfig::new(&route);
    cfg.ajp = addr
        .parse()
        .map_err(|e| std::io::Error::other(format!("{addr}: {e}")))?;
    let node = Node::start(cfg, router()).await?;
    tokio::signal::ctrl_c().await?;
    node.stop().await;
    Ok(())
}
