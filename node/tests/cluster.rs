//! The replication cluster in process: three nodes on loopback, sync replication checked the
//! moment a response arrives (no polling: sync means the members already have it), route
//! re-binding, invalidation, state transfer, and the channel refusing a wrong secret and a
//! replayed conversation.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rjk_node::cluster::{ClusterConfig, Replication};
use rjk_node::{demo::Demo, Node, NodeConfig};
use rjk_tests::free_port;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn member(route: &str, listen: SocketAddr, members: &[SocketAddr], secret: &str) -> Node {
    member_with(route, listen, members, secret, |_| {}).await
}

async fn member_with(
    route: &str,
    listen: SocketAddr,
    members: &[SocketAddr],
    secret: &str,
    f: impl FnOnce(&mut NodeConfig),
) -> Node {
    let mut cfg = NodeConfig::new(route);
    f(&mut cfg);
    cfg.ajp = "127.0.0.1:0".parse().unwrap();
    let mut c = ClusterConfig::new(listen);
    c.members = members.to_vec();
    c.secret = Some(secret.as_bytes().to_vec());
    c.replication = Replication::Sync;
    c.state_transfer_timeout = Duration::from_secs(10);
    cfg.cluster = Some(c);
    tokio::time::timeout(T, Node::start(cfg, Demo::new(route)))
        .await
        .expect("node start within the deadline")
        .unwrap()
}

/// Three members that know each other, started one after the other.
async fn three() -> (Vec<Node>, Vec<SocketAddr>) {
    let addrs: Vec<SocketAddr> = (0..3).map(|_| addr(free_port())).collect();
    let mut nodes = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        nodes.push(member(&format!("n{}", i + 1), *a, &addrs, "k").await);
    }
    // Everyone live with everyone (the later ones joined; the first learned of them).
    for n in &nodes {
        let c = n.cluster().unwrap();
        wait_for("all members live", || {
            c.view()
                .members
                .iter()
                .filter(|m| m.state == "live")
                .count()
                == 2
        })
        .await;
    }
    (nodes, addrs)
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn cookie_id(r: &Resp) -> Option<String> {
    let v = r.header("set-cookie")?;
    let v = v.strip_prefix("JSESSIONID=")?;
    Some(v.split(';').next()?.to_string())
}

fn counter(n: &Node, id: &str) -> Option<String> {
    n.sessions()
        .attributes(id)
        .map(|a| String::from_utf8_lossy(&a["counter"]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_replication_rebinding_and_invalidation_reach_every_member() {
    let (nodes, _) = three().await;
    let mut c1 = Client::connect(nodes[0].ajp_addr()).await;
    let r = c1.request(&get("/session")).await;
    let id = cookie_id(&r).expect("new session cookie");
    assert!(id.ends_with(".n1"));
    // Sync: the response left only after the members acknowledged, so they have it now.
    for n in &nodes {
        assert_eq!(
            counter(n, &id).as_deref(),
            Some("1"),
            "{:?}",
            n.cluster().unwrap().view().route
        );
    }
    let r = c1
        .request(&get("/session").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("2"));
    for n in &nodes {
        assert_eq!(counter(n, &id).as_deref(), Some("2"));
    }

    // Failover: the balancer sends the n1 session to n2, which re-binds it to its route.
    let mut c2 = Client::connect(nodes[1].ajp_addr()).await;
    let r = c2
        .request(&get("/session").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("3"));
    let new = cookie_id(&r).expect("a re-bound session gets a new cookie");
    let base = id.split_once('.').unwrap().0;
    assert_eq!(new, format!("{base}.n2"));
    for n in &nodes {
        assert_eq!(
            counter(n, &new).as_deref(),
            Some("3"),
            "the id change is replicated"
        );
        assert!(n.sessions().attributes(&id).is_none(), "the old id is gone");
    }
    // A straggler still carrying the old id continues the same session.
    let r = c2
        .request(&get("/session").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("4"));
    assert_eq!(cookie_id(&r).as_deref(), Some(new.as_str()));

    // Invalidate on n3: gone everywhere, and a late change does not bring it back.
    let mut c3 = Client::connect(nodes[2].ajp_addr()).await;
    let r = c3
        .request(&get("/invalidate").header("Cookie", &format!("JSESSIONID={new}")))
        .await;
    assert!(r.text().contains("\"invalidated\":true"), "{}", r.text());
    for n in &nodes {
        assert!(n.sessions().attributes(&new).is_none());
    }
    let m = nodes[0].cluster().unwrap().metrics();
    assert!(m.acks.load(Ordering::Relaxed) >= 4);
    assert_eq!(m.ack_timeouts.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_has_every_session_before_it_serves() {
    let (nodes, addrs) = three().await;
    let mut ids = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let mut c = Client::connect(n.ajp_addr()).await;
        for _ in 0..400 {
            let r = c.request(&get(&format!("/set?who=n{}", i + 1))).await;
            ids.push(cookie_id(&r).unwrap());
        }
    }
    // 1200 sessions: three state-transfer batches at least.
    let mut all = addrs.clone();
    let a4 = addr(free_port());
    all.push(a4);
    let n4 = member("n4", a4, &all, "k").await;
    // Node::start returned: the AJP listener is open only now, and every session is here.
    assert_eq!(n4.sessions().len(), 1200);
    for id in &ids {
        assert!(n4.sessions().attributes(id).is_some(), "{id}");
    }
    let m = n4.cluster().unwrap().metrics();
    assert_eq!(m.transfer_sessions.load(Ordering::Relaxed), 1200);
    // And it is a full member: a change on n1 reaches it before n1 answers.
    let mut c = Client::connect(nodes[0].ajp_addr()).await;
    let r = c.request(&get("/session")).await;
    let id = cookie_id(&r).unwrap();
    assert_eq!(counter(&n4, &id).as_deref(), Some("1"));
}

/// `--session-file` in a cluster: a live member's sessions are the truth (the file may be
/// older than what the cluster did meanwhile); the file is read only when nobody answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_members_win_over_the_session_file() {
    let dir = common::procs::TempDir::new("cluster-sessfile");
    let file = dir.path().join("sessions");
    // The file holds one session, written by a lone node's graceful stop.
    let lone = node(|c| c.session_file = Some(file.clone())).await;
    let r = Client::connect(lone.ajp_addr())
        .await
        .request(&get("/session"))
        .await;
    let from_file = cookie_id(&r).unwrap();
    lone.stop().await;

    let (a1, a2, a3) = (addr(free_port()), addr(free_port()), addr(free_port()));
    let n1 = member("n1", a1, &[a1, a2], "k").await;
    let r = Client::connect(n1.ajp_addr())
        .await
        .request(&get("/session"))
        .await;
    let live = cookie_id(&r).unwrap();
    let with_file = |c: &mut NodeConfig| c.session_file = Some(file.clone());
    let n2 = member_with("n2", a2, &[a1, a2], "k", with_file).await;
    assert!(n2.cluster().unwrap().state_received());
    assert_eq!(counter(&n2, &live).as_deref(), Some("1"));
    assert!(
        n2.sessions().attributes(&from_file).is_none(),
        "file ignored"
    );
    // Nobody answers a3 (a lone member): it starts from the file.
    let n3 = member_with("n3", a3, &[a3], "k", with_file).await;
    assert!(!n3.cluster().unwrap().state_received());
    assert_eq!(counter(&n3, &from_file).as_deref(), Some("1"));
    assert!(n3.sessions().attributes(&live).is_none());
}

/// A TCP relay that keeps a copy of what the client side sent.
async fn recording_relay(to: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        // Only the first connection is recorded; later ones are relayed as they are.
        let mut first = true;
        while let Ok((mut inb, _)) = l.accept().await {
            let mut out = TcpStream::connect(to).await.unwrap();
            let record = std::mem::take(&mut first).then(|| s2.clone());
            tokio::spawn(async move {
                let (mut ir, mut iw) = inb.split();
                let (mut or, mut ow) = out.split();
                let up = async {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = ir.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if let Some(r) = &record {
                            r.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                        if ow.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = tokio::io::copy(&mut or, &mut iw);
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    (at, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secrets_and_replayed_conversations_are_refused() {
    let (a, b, c, x) = (
        addr(free_port()),
        addr(free_port()),
        addr(free_port()),
        addr(free_port()),
    );
    let na = member("na", a, &[], "right").await;
    // nb reaches na through a relay that records nb's side of the conversation.
    let (relay, recorded) = recording_relay(a).await;
    let nb = member("nb", b, &[relay], "right").await;
    let mut cb = Client::connect(nb.ajp_addr()).await;
    let r = cb.request(&get("/session")).await;
    let id = cookie_id(&r).unwrap();
    assert_eq!(
        counter(&na, &id).as_deref(),
        Some("1"),
        "replicated through the relay"
    );

    // A node with another secret is refused by na and changes nothing there.
    let nx = member("nx", x, &[a], "wrong").await;
    let mut cx = Client::connect(nx.ajp_addr()).await;
    let r = cx.request(&get("/session")).await;
    let xid = cookie_id(&r).unwrap();
    let ma = na.cluster().unwrap().metrics();
    wait_for("na refused nx", || {
        ma.rejected_peers.load(Ordering::Relaxed) >= 1
    })
    .await;
    assert!(na.sessions().attributes(&xid).is_none());
    assert!(nx.sessions().attributes(&id).is_none());
    assert!(nx
        .cluster()
        .unwrap()
        .view()
        .members
        .iter()
        .all(|m| m.state == "down"));

    // Replaying nb's recorded conversation (hello, ready, the delta) to a fresh member with
    // the right secret: refused at the first signed frame, nothing applied.
    let nc = member("nc", c, &[], "right").await;
    let bytes = recorded.lock().unwrap().clone();
    assert!(bytes.len() > 100, "the relay saw the conversation");
    let mut s = TcpStream::connect(c).await.unwrap();
    s.write_all(&bytes).await.unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(T, s.read_to_end(&mut sink)).await;
    let mc = nc.cluster().unwrap().metrics();
    wait_for("nc refused the replay", || {
        mc.rejected_peers.load(Ordering::Relaxed) == 1
    })
    .await;
    assert!(nc.sessions().is_empty());

    // The same frames replayed inside a live connection are refused by sequence number.
    let (mut tap, mut conn) = handshake(c, "right").await;
    let frame = tap.seal(&delta_set(&id, 1));
    conn.write_all(&frame).await.unwrap();
    wait_for("the first delta applied", || {
        nc.sessions().attributes(&id).is_some()
    })
    .await;
    conn.write_all(&frame).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(T, conn.read_to_end(&mut rest)).await;
    assert_eq!(mc.rejected_messages.load(Ordering::Relaxed), 1);
}

fn delta_set(id: &str, version: u64) -> rjk_node::cluster::message::Message {
    rjk_node::cluster::message::Message::Delta(rjk_node::cluster::message::Delta {
        id: id.into(),
        version,
        created: true,
        changes: vec![("counter".into(), Some("7".into()))],
        ..Default::default()
    })
}

/// A hand-made member connection (the library's own handshake).
async fn handshake(
    to: SocketAddr,
    secret: &str,
) -> (rjk_node::cluster::channel::Sealer, TcpStream) {
    use rjk_node::cluster::{channel, message::Hello};
    let mut s = TcpStream::connect(to).await.unwrap();
    let me = Hello {
        cluster: "rjk".into(),
        listen: "127.0.0.1:9".into(),
        route: "tool".into(),
        nonce: [0; 16],
    };
    let a = channel::connect(&mut s, secret.as_bytes(), me, T)
        .await
        .unwrap();
    (a.sealer, s)
}

/// A body that changes the session after its first chunk, while it streams.
struct LateChange {
    session: rjk_node::Session,
    sent: bool,
}

impl http_body::Body for LateChange {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        if std::mem::replace(&mut self.sent, true) {
            self.session.set("late", "after the first chunk");
            return std::task::Poll::Ready(None);
        }
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data("first chunk".into()))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_the_body_streams_are_replicated_before_end_response() {
    use axum::extract::Extension;
    let (a, b) = (addr(free_port()), addr(free_port()));
    let app = axum::Router::new().route(
        "/stream",
        axum::routing::get(|Extension(s): Extension<rjk_node::Session>| async move {
            s.set("early", "before the head");
            axum::body::Body::new(LateChange {
                session: s,
                sent: false,
            })
        }),
    );
    let start = |route: &'static str, listen, members: Vec<SocketAddr>, app| async move {
        let mut cfg = NodeConfig::new(route);
        cfg.ajp = "127.0.0.1:0".parse().unwrap();
        let mut c = ClusterConfig::new(listen);
        c.members = members;
        c.secret = Some(b"k".to_vec());
        cfg.cluster = Some(c);
        Node::start(cfg, app).await.unwrap()
    };
    let na = start("na", a, vec![b], app.clone()).await;
    let nb = start("nb", b, vec![a], app).await;
    let ca = na.cluster().unwrap();
    wait_for("na sees nb", || {
        ca.view().members.iter().any(|m| m.state == "live")
    })
    .await;
    let mut c = Client::connect(na.ajp_addr()).await;
    let r = c.request(&get("/stream")).await;
    assert_eq!(r.text(), "first chunk");
    let id = cookie_id(&r).unwrap();
    // End Response came after nb acknowledged the change made during the body.
    let attrs = nb.sessions().attributes(&id).expect("replicated");
    assert_eq!(attrs["early"], "before the head");
    assert_eq!(attrs["late"], "after the first chunk");
}

async fn http_get(to: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(to).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(T, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_members_replication_and_acks() {
    let (a, b) = (addr(free_port()), addr(free_port()));
    let na = {
        let mut cfg = NodeConfig::new("na");
        cfg.ajp = "127.0.0.1:0".parse().unwrap();
        cfg.metrics = Some("127.0.0.1:0".parse().unwrap());
        let mut c = ClusterConfig::new(a);
        c.members = vec![b];
        c.secret = Some(b"k".to_vec());
        cfg.cluster = Some(c);
        Node::start(cfg, Demo::new("na")).await.unwrap()
    };
    let _nb = member("nb", b, &[a], "k").await;
    let ca = na.cluster().unwrap();
    wait_for("na sees nb", || {
        ca.view().members.iter().any(|m| m.state == "live")
    })
    .await;
    let mut c = Client::connect(na.ajp_addr()).await;
    c.request(&get("/session")).await;
    let m = na.metrics_addr().unwrap();
    let text = http_get(m, "/metrics").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for line in [
        "rjk_cluster_members 1\n",
        "rjk_cluster_members_live 1\n",
        "rjk_cluster_sessions 1\n",
        "rjk_cluster_deltas_sent_total 1\n",
        "rjk_cluster_acks_total 1\n",
        "rjk_cluster_rejected_peers_total 0\n",
        "rjk_cluster_ack_latency_seconds_count 1\n",
        "rjk_cluster_ack_latency_seconds_bucket{le=\"+Inf\"} 1\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let json = http_get(m, "/cluster").await;
    assert!(
        json.contains(&format!(
            "\"members\":[{{\"addr\":\"{b}\",\"route\":\"nb\",\"state\":\"live\",\"inbound\":1}}]"
        )),
        "{json}"
    );
    assert!(json.contains("\"replication\":\"sync\""), "{json}");
    assert!(http_get(m, "/nope").await.starts_with("HTTP/1.1 404"));
}
