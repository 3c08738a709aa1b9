//! The session API against a real Redis (`NodeConfig::session_store`), through an axum app
//! that changes ids and invalidates: what the demo application cannot do. Debian's
//! redis-server on a loopback port.

use axum::extract::Extension;
use axum::routing::get;
use axum::Router;
use rjk_node::store::redis::RedisConfig;
use rjk_node::{Node, NodeConfig, Session};
use rjk_tests::http;
use rjk_tests::redis::Redis;
use rjk_tests::replicated::set_cookie_id;

fn router() -> Router {
    Router::new()
        .route(
            "/set",
            get(|Extension(s): Extension<Session>| async move {
                s.set("k", "v");
                s.id().unwrap_or_default()
            }),
        )
        .route(
            "/get",
            get(|Extension(s): Extension<Session>| async move {
                s.get("k")
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                    .unwrap_or_else(|| "none".into())
            }),
        )
        .route(
            "/rekey",
            get(
                |Extension(s): Extension<Session>| async move { s.change_id().unwrap_or_default() },
            ),
        )
        .route(
            "/invalidate",
            get(|Extension(s): Extension<Session>| async move { s.invalidate().to_string() }),
        )
}

fn key(id: &str) -> String {
    format!("rjk:s:{{{}}}", id.split('.').next().unwrap())
}

#[test]
fn id_changes_rename_and_invalidation_deletes_in_redis() {
    let dir = std::env::temp_dir().join(format!("rjk-node-redis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let redis = Redis::start(&dir, &[]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = NodeConfig::new("n1");
    cfg.ajp = "127.0.0.1:0".parse().unwrap();
    cfg.http = Some("127.0.0.1:0".parse().unwrap());
    cfg.session_store = Some(RedisConfig::parse(&redis.url()).unwrap());
    let node = rt.block_on(Node::start(cfg, router())).unwrap();
    let addr = node.http_addr().unwrap();
    let ask = |path: &str, id: &str| {
        let r = http::get(addr, path, &[("Cookie", &format!("JSESSIONID={id}"))]).unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        (r.text(), set_cookie_id(&r))
    };

    let (first, cookie) = ask("/set", "");
    assert_eq!(cookie.as_deref(), Some(first.as_str()));
    assert_eq!(
        redis.cli(&["HGET", &key(&first), "a:k"]).unwrap().trim(),
        "v"
    );

    // Session fixation protection: one atomic RENAME, the data follows, the old id is dead.
    let (second, cookie) = ask("/rekey", &first);
    assert_ne!(second, first);
    assert_eq!(cookie.as_deref(), Some(second.as_str()));
    assert_eq!(redis.cli(&["EXISTS", &key(&first)]).unwrap().trim(), "0");
    assert_eq!(
        redis.cli(&["HGET", &key(&second), "a:k"]).unwrap().trim(),
        "v"
    );
    assert_eq!(ask("/get", &second).0, "v");
    assert_eq!(ask("/get", &first).0, "none");

    // Re-binding a session that carries another node's route changes only the cookie: the
    // key ignores the route.
    let foreign = format!("{}.n9", second.split('.').next().unwrap());
    let (v, cookie) = ask("/get", &foreign);
    assert_eq!(v, "v");
    assert_eq!(cookie.as_deref(), Some(second.as_str()), "re-bound to n1");

    // Invalidate deletes the key; the id then names no session.
    assert_eq!(ask("/invalidate", &second).0, "true");
    assert_eq!(redis.cli(&["EXISTS", &key(&second)]).unwrap().trim(), "0");
    assert_eq!(ask("/get", &second).0, "none");
    assert_eq!(
        redis.cli(&["DBSIZE"]).unwrap().trim(),
        "0",
        "nothing left behind"
    );

    rt.block_on(node.stop());
    let _ = std::fs::remove_dir_all(&dir);
}
