//! The axum example's router served over AJP, driven by the `ajp` proxy-side exchange.

mod common;

#[path = "../examples/axum.rs"]
mod example;

use common::{get, post, Client};

#[tokio::test]
async fn an_axum_router_serves_over_ajp_with_sessions_and_ajp_data() {
    let mut cfg = rjk_node::NodeConfig::new("n1");
    cfg.ajp = "127.0.0.1:0".parse().unwrap();
    let node = rjk_node::Node::start(cfg, example::router()).await.unwrap();
    let mut c = Client::connect(node.ajp_addr()).await;

    let r = c.request(&get("/")).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "hello from axum over AJP\n")
    );
    let r = c.request(&get("/hello/ann")).await;
    assert_eq!(r.text(), "hello ann, you came from 10.1.2.3\n");

    let r = c.request(&get("/visits")).await;
    assert_eq!(r.text(), "visit 1\n");
    let cookie = r.header("Set-Cookie").unwrap().to_string();
    assert!(
        cookie.starts_with("JSESSIONID=") && cookie.contains(".n1;"),
        "{cookie}"
    );
    let id = cookie["JSESSIONID=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = c
        .request(&get("/visits").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(r.text(), "visit 2\n");

    // A body larger than one packet reaches the handler whole.
    let r = c.request(&post("/size", common::body(100_000))).await;
    assert_eq!(r.text(), "100000 bytes\n");
    assert_eq!(c.request(&get("/missing")).await.status, 404);
    node.stop().await;
}
