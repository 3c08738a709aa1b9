//! The AJP server driven by the `ajp` crate's proxy-side exchange: keep-alive, CPing, body
//! streaming both ways, Tomcat's rejections, timeouts and graceful shutdown.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ajp::{ContainerConfig, PacketSize};
use common::*;
use rjk_node::demo::pattern_byte;

fn with_secret(s: &str) -> impl FnOnce(&mut rjk_node::NodeConfig) + '_ {
    move |c| {
        c.container = Arc::new(ContainerConfig {
            secret: Some(s.as_bytes().to_vec()),
            ..ContainerConfig::default()
        })
    }
}

#[tokio::test]
async fn keep_alive_serves_1000_requests_on_one_connection() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    for i in 0..1000 {
        let r = c.request(&get(&format!("/echo?i={i}"))).await;
        assert_eq!(r.status, 200);
        assert!(r.reuse, "request {i} must leave the connection reusable");
        assert_eq!(json_field(&r.text(), "query").unwrap(), format!("i={i}"));
    }
    node.stop().await;
}

#[tokio::test]
async fn pipelined_cpings_are_answered_in_order_before_the_request() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let mut burst = Vec::new();
    for _ in 0..3 {
        burst.extend_from_slice(ajp::CPING);
    }
    c.send_raw(&burst).await;
    for _ in 0..3 {
        c.read_cpong().await;
    }
    assert_eq!(c.request(&get("/1k")).await.body.len(), 1024);
    // And between requests, one at a time.
    c.cping().await;
    assert_eq!(c.request(&get("/1k")).await.status, 200);
    node.stop().await;
}

#[tokio::test]
async fn request_body_streams_with_content_length_and_chunked() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    for len in [1usize, 8186, 8187, 100_000, 1 << 20] {
        let data = body(len);
        let r = c.request(&post("/upload", data.clone())).await;
        assert_eq!(r.status, 200, "len {len}");
        assert_eq!(json_field(&r.text(), "length").unwrap(), len.to_string());
        assert_eq!(json_field(&r.text(), "sha256").unwrap(), sha256(&data));
        // The first packet comes unasked; every further one is asked for (plus one last ask
        // that reads end of body).
        let per = 8192 - 6;
        assert_eq!(r.body_requests, len.div_ceil(per), "len {len}");
        assert!(r.reuse);
    }
    // Chunked: no Content-Length, every packet asked for, an empty packet ends it.
    let data = body(50_000);
    let mut req = get("/upload");
    req.method = "POST".into();
    req.body = data.clone();
    req.chunked = true;
    let r = c.request(&req).await;
    assert_eq!(json_field(&r.text(), "sha256").unwrap(), sha256(&data));
    assert_eq!(r.body_requests, 50_000usize.div_ceil(8186) + 1);
    // A body the application never reads: the unasked first packet is dropped and the
    // connection stays in step.
    let r = c.request(&post("/1k", body(3000))).await;
    assert_eq!(r.status, 200);
    assert_eq!(c.request(&get("/1k")).await.status, 200);
    node.stop().await;
}

#[tokio::test]
async fn response_body_streams_in_packets_and_flushes() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let r = c
        .request(&get("/download?bytes=100000&chunk=10000&flush=1"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("100000"));
    let want: Vec<u8> = (0..100_000u64).map(pattern_byte).collect();
    assert!(r.body == want, "pattern differs");
    assert_eq!(r.flushes, 10, "one empty body chunk per flush");
    // 10 chunks of 10000 bytes: each splits into packets of at most 8184 bytes.
    assert_eq!(r.chunks, 20);
    let r = c.request(&get("/download?bytes=1000000&chunk=65536")).await;
    assert_eq!(r.body.len(), 1_000_000);
    assert_eq!(r.flushes, 0);
    // HEAD: the head only.
    let mut head = get("/download?bytes=5000");
    head.method = "HEAD".into();
    let r = c.request(&head).await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("Content-Length"), Some("5000"));
    assert!(r.reuse);
    node.stop().await;
}

#[tokio::test]
async fn large_packets_carry_large_chunks() {
    let size = PacketSize::new(65536).unwrap();
    let node = node(|c| {
        c.container = Arc::new(ContainerConfig {
            packet_size: size,
            ..ContainerConfig::default()
        })
    })
    .await;
    let mut c = Client::connect_sized(node.ajp_addr(), size).await;
    let data = body(200_000);
    let r = c.request(&post("/upload", data.clone())).await;
    assert_eq!(json_field(&r.text(), "sha256").unwrap(), sha256(&data));
    assert_eq!(r.body_requests, 200_000usize.div_ceil(65530));
    let r = c.request(&get("/download?bytes=65528&chunk=65528")).await;
    assert_eq!((r.body.len(), r.chunks), (65528, 1));
    node.stop().await;
}

#[tokio::test]
async fn secret_right_passes_wrong_or_missing_is_403_and_close() {
    let node = node(with_secret("s3cr3t")).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let r = c.request(&get("/echo").secret("s3cr3t")).await;
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("s3cr3t"), "the secret is never echoed");
    for req in [get("/echo").secret("wrong"), get("/echo")] {
        let mut c = Client::connect(node.ajp_addr()).await;
        let r = c.request(&req).await;
        assert_eq!(r.status, 403);
        assert!(!r.reuse);
        c.expect_closed().await;
    }
    node.stop().await;
}

#[tokio::test]
async fn unknown_request_attributes_are_403_unless_allowed() {
    let node = node(|c| {
        let f: ajp::AttributeFilter = Arc::new(|n: &[u8]| n.starts_with(b"MY_"));
        c.container = Arc::new(ContainerConfig {
            allowed_attributes: Some(f),
            ..ContainerConfig::default()
        })
    })
    .await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let mut req = get("/echo")
        .req_attribute("AJP_REMOTE_PORT", "4711")
        .req_attribute("MY_ATTR", "v1");
    req.route = Some("n1".into());
    req.is_ssl = true;
    let r = c.request(&req).await;
    assert_eq!(r.status, 200);
    let t = r.text();
    assert!(t.contains(r#"["MY_ATTR","v1"]"#), "{t}");
    assert_eq!(json_field(&t, "remote_port").as_deref(), Some("4711"));
    assert_eq!(json_field(&t, "route").as_deref(), Some("n1"));
    assert_eq!(json_field(&t, "is_ssl").as_deref(), Some("true"));
    assert_eq!(json_field(&t, "remote_addr").as_deref(), Some("10.1.2.3"));
    let r = c
        .request(&get("/echo").req_attribute("javax.servlet.include.request_uri", "/x"))
        .await;
    assert_eq!(r.status, 403);
    c.expect_closed().await;
    node.stop().await;
}

#[tokio::test]
async fn oversize_packet_gets_an_error_response_and_close() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    // Declares 9000 bytes of payload on an 8 KiB connection.
    let mut pkt = vec![0x12, 0x34, (9000u16 >> 8) as u8, (9000u16 & 0xff) as u8];
    pkt.extend(std::iter::repeat_n(0u8, 9000));
    c.send_raw(&pkt).await;
    let mut ex = ajp::ProxyExchange::new(PacketSize::default());
    ex.start_encoded(ajp::BodyMode::None).unwrap();
    let mut status = 0;
    let mut ended = None;
    let mut buf = Vec::new();
    use tokio::io::AsyncReadExt;
    while ended.is_none() {
        let n = tokio::time::timeout(T, c.stream.read_buf(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before the error response ended");
        while let Some((ev, used)) = ex.receive(&buf).unwrap() {
            match ev {
                ajp::ProxyEvent::Headers(h) => status = h.status(),
                ajp::ProxyEvent::End { reuse } => ended = Some(reuse),
                _ => {}
            }
            buf.drain(..used);
            if ended.is_some() {
                break;
            }
        }
    }
    assert_eq!((status, ended), (400, Some(false)));
    c.expect_closed().await;
    node.stop().await;
}

#[tokio::test]
async fn bad_magic_and_unknown_message_types_close_without_reply() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    c.expect_closed().await;
    for kind in [7u8, 8, 99] {
        let mut c = Client::connect(node.ajp_addr()).await;
        c.send_raw(&[0x12, 0x34, 0, 1, kind]).await;
        c.expect_closed().await;
    }
    // The node itself is unharmed.
    let mut c = Client::connect(node.ajp_addr()).await;
    assert_eq!(c.request(&get("/1k")).await.status, 200);
    node.stop().await;
}

#[tokio::test]
async fn idle_connections_close_after_the_idle_timeout() {
    let node = node(|c| c.idle_timeout = Some(Duration::from_millis(300))).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    assert_eq!(c.request(&get("/1k")).await.status, 200);
    let t0 = Instant::now();
    c.expect_closed().await;
    let idle = t0.elapsed();
    assert!(idle >= Duration::from_millis(250), "closed after {idle:?}");
    // A request that takes longer than the idle timeout is not cut off.
    let mut c = Client::connect(node.ajp_addr()).await;
    assert_eq!(c.request(&get("/slow?ms=600")).await.status, 200);
    node.stop().await;
}

/// An application whose requests announce that they started, then wait to be released.
#[derive(Clone)]
struct Gate {
    entered: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

impl tower_service::Service<http::Request<rjk_node::Body>> for Gate {
    type Response = http::Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: http::Request<rjk_node::Body>) -> Self::Future {
        let g = self.clone();
        Box::pin(async move {
            g.entered.notify_one();
            g.release.notified().await;
            Ok(http::Response::new("released".to_string()))
        })
    }
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let gate = Gate {
        entered: Arc::new(tokio::sync::Notify::new()),
        release: Arc::new(tokio::sync::Notify::new()),
    };
    let mut cfg = rjk_node::NodeConfig::new("n1");
    cfg.ajp = "127.0.0.1:0".parse().unwrap();
    let node = rjk_node::Node::start(cfg, gate.clone()).await.unwrap();
    let addr = node.ajp_addr();
    let mut idle = Client::connect(addr).await;
    idle.cping().await;
    let mut busy = Client::connect(addr).await;
    let in_flight = tokio::spawn(async move { busy.request(&get("/")).await });
    tokio::time::timeout(T, gate.entered.notified())
        .await
        .unwrap();
    let stopping = tokio::spawn(node.stop());
    // Idle connections close at once; the listener stops accepting.
    idle.expect_closed().await;
    rjk_tests::wait_until("the listener to close", T, || {
        std::net::TcpStream::connect(addr).is_err().then_some(())
    })
    .unwrap();
    assert!(!stopping.is_finished(), "a request is still in flight");
    gate.release.notify_one();
    let r = tokio::time::timeout(T, in_flight).await.unwrap().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "released"));
    assert!(
        !r.reuse,
        "in-flight requests end with reuse=0 during shutdown"
    );
    tokio::time::timeout(T, stopping).await.unwrap().unwrap();
}

#[tokio::test]
async fn sessions_over_ajp_cookie_path_parameter_and_secure_flag() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let r = c.request(&get("/session")).await;
    let cookie = r
        .header("Set-Cookie")
        .expect("a new session sets a cookie")
        .to_string();
    assert!(cookie.ends_with("; Path=/; HttpOnly"), "{cookie}");
    let id = json_field(&r.text(), "id").unwrap();
    assert!(id.ends_with(".n1") && id.len() == 35, "{id}");
    assert!(cookie.starts_with(&format!("JSESSIONID={id};")));
    let r = c
        .request(&get("/session").header("Cookie", &format!("a=b; JSESSIONID={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("2"));
    assert!(r.header("Set-Cookie").is_none());
    let r = c.request(&get(&format!("/session;jsessionid={id}"))).await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("3"));
    let r = c
        .request(&get(&format!("/set;jsessionid={id}?colour=blue")))
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .request(&get("/get?colour").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "colour").as_deref(), Some("blue"));
    let r = c
        .request(&get("/invalidate").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(
        json_field(&r.text(), "invalidated").as_deref(),
        Some("true")
    );
    let r = c
        .request(&get("/session").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("1"));
    assert_ne!(json_field(&r.text(), "id").unwrap(), id);
    // Over TLS the cookie is Secure.
    let mut tls = get("/session");
    tls.is_ssl = true;
    let r = c.request(&tls).await;
    assert!(r.header("Set-Cookie").unwrap().contains("; Secure"));
    assert_eq!(node.sessions().len(), 2);
    node.stop().await;
}

/// Mounted under `/app` (JkMount /app/*), the cookie is scoped to it, as Tomcat scopes it to
/// a context; requests outside it do not reach the application.
#[tokio::test]
async fn the_session_cookie_path_is_the_context_path() {
    let node = node(|c| c.context_path = rjk_node::ContextPath::new("/app").unwrap()).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let r = c.request(&get("/app/session")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = r.header("Set-Cookie").unwrap().to_string();
    let id = json_field(&r.text(), "id").unwrap();
    assert_eq!(cookie, format!("JSESSIONID={id}; Path=/app; HttpOnly"));
    let r = c
        .request(&get("/app/session").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("2"));
    let r = c
        .request(&get(&format!("/app/session;jsessionid={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("3"));
    // The application sees the whole URI, as getRequestURI.
    let r = c.request(&get("/app/echo")).await;
    assert_eq!(json_field(&r.text(), "path").as_deref(), Some("/app/echo"));
    for outside in ["/session", "/apple/session"] {
        let r = c.request(&get(outside)).await;
        assert_eq!(r.status, 404, "{outside}");
        assert!(r.header("Set-Cookie").is_none());
    }
}

#[tokio::test]
async fn max_connections_holds_newcomers_until_a_slot_frees() {
    let node = node(|c| c.max_connections = 1).await;
    let mut first = Client::connect(node.ajp_addr()).await;
    first.cping().await;
    // The second connection is accepted by the kernel but not served yet.
    let mut second = Client::connect(node.ajp_addr()).await;
    second.send_raw(ajp::CPING).await;
    let waiting = tokio::time::timeout(Duration::from_millis(300), second.read_cpong()).await;
    assert!(waiting.is_err(), "served beyond --max-connections");
    drop(first);
    second.read_cpong().await;
    node.stop().await;
}

#[tokio::test]
async fn status_and_header_pages() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    for code in [200u16, 201, 302, 404, 500, 503] {
        let r = c.request(&get(&format!("/status/{code}"))).await;
        assert_eq!(r.status, code);
    }
    let r = c.request(&get("/status/404?empty=1")).await;
    assert_eq!((r.status, r.body.len()), (404, 0));
    let r = c.request(&get("/status/204")).await;
    assert_eq!((r.status, r.body.len()), (204, 0));
    // Every answer names the node, so a balancer's choice is visible without a session.
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("x-rjk-node") && !v.is_empty()),
        "{:?}",
        r.headers
    );
    let r = c.request(&get("/headers?count=100&size=20")).await;
    assert_eq!(
        r.headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-test-"))
            .count(),
        100
    );
    // 100 request headers reach the application.
    let mut req = get("/echo");
    for i in 0..100 {
        req = req.header(&format!("X-H{i}"), "v");
    }
    let r = c.request(&req).await;
    assert!(r.text().contains(r#"["x-h99","v"]"#));
    node.stop().await;
}

#[tokio::test]
async fn an_unusable_request_head_is_400_and_close() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let r = c.request(&get("/a b")).await;
    assert_eq!((r.status, r.reuse), (400, false));
    c.expect_closed().await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let r = c.request(&get("/echo").header("X-Bad", "a\u{1}b")).await;
    assert_eq!(r.status, 400);
    node.stop().await;
}

#[tokio::test]
async fn a_web_server_that_vanishes_mid_body_does_not_hurt_the_node() {
    let node = node(|_| {}).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    // Promise 100000 bytes, send the first packet, then go away.
    let data = body(100_000);
    let mut ex = ajp::ProxyExchange::new(PacketSize::default());
    let mut out = Vec::new();
    let headers: [(&[u8], &[u8]); 1] = [(b"Content-Length", b"100000")];
    let head = ajp::ForwardRequest {
        method: b"POST",
        protocol: b"HTTP/1.1",
        uri: b"/upload",
        remote_addr: b"127.0.0.1",
        remote_host: None,
        server_name: b"localhost",
        server_port: 80,
        is_ssl: false,
        headers: &headers,
        attributes: &[],
    };
    ex.start(&head, ajp::BodyMode::ContentLength(100_000), &mut out)
        .unwrap();
    ex.send_body(&data[..8186], &mut out).unwrap();
    c.send_raw(&out).await;
    drop(c);
    // The node goes on serving others.
    let mut c = Client::connect(node.ajp_addr()).await;
    assert_eq!(c.request(&get("/1k")).await.status, 200);
    node.stop().await;
}

#[tokio::test]
async fn session_deltas_are_published_when_requests_end() {
    let sessions = rjk_node::SessionManager::new("n1", Duration::from_secs(60));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    sessions.subscribe(move |e| s2.lock().unwrap().push(e.clone()));
    let mut cfg = rjk_node::NodeConfig::new("n1");
    cfg.ajp = "127.0.0.1:0".parse().unwrap();
    let node = rjk_node::Node::start_with_sessions(cfg, rjk_node::demo::Demo::new("n1"), sessions)
        .await
        .unwrap();
    let mut c = Client::connect(node.ajp_addr()).await;
    let r = c.request(&get("/set?a=1&b=2")).await;
    let id = json_field(&r.text(), "id").unwrap();
    let cookie = format!("JSESSIONID={id}");
    c.request(&get("/get?a").header("Cookie", &cookie)).await;
    c.request(&get("/set?a=3").header("Cookie", &cookie)).await;
    c.request(&get("/invalidate").header("Cookie", &cookie))
        .await;
    let got = seen.lock().unwrap().clone();
    let changed = |d: rjk_node::SessionDelta| rjk_node::SessionEvent::Changed(d);
    assert_eq!(
        got,
        vec![
            changed(rjk_node::SessionDelta {
                id: id.clone(),
                created: true,
                changes: vec![
                    ("a".into(), Some("1".into())),
                    ("b".into(), Some("2".into()))
                ],
                ..Default::default()
            }),
            // The read-only request published nothing.
            changed(rjk_node::SessionDelta {
                id: id.clone(),
                changes: vec![("a".into(), Some("3".into()))],
                ..Default::default()
            }),
            changed(rjk_node::SessionDelta {
                id: id.clone(),
                invalidated: true,
                ..Default::default()
            }),
        ]
    );
    node.stop().await;
}

#[tokio::test]
async fn expired_sessions_are_swept_and_not_resumed() {
    let node = node(|c| c.session_timeout = Duration::from_secs(60)).await;
    let mut c = Client::connect(node.ajp_addr()).await;
    let r = c.request(&get("/session")).await;
    let id = json_field(&r.text(), "id").unwrap();
    // Sweep as if 61 s had passed (the sweeper runs the same code on its interval).
    let gone = node
        .sessions()
        .expire(Instant::now() + Duration::from_secs(61));
    assert_eq!(gone, vec![id.clone()]);
    let r = c
        .request(&get("/session").header("Cookie", &format!("JSESSIONID={id}")))
        .await;
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("1"));
    assert_ne!(json_field(&r.text(), "id").unwrap(), id);
    node.stop().await;
}
