//! `--idle-timeout` and `--max-connections` hold for the `--http` listener as for AJP.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{node, T};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn http_addr(n: &rjk_node::Node) -> SocketAddr {
    n.http_addr().expect("--http is on")
}

async fn connect(a: SocketAddr) -> TcpStream {
    tokio::time::timeout(T, TcpStream::connect(a))
        .await
        .unwrap()
        .unwrap()
}

/// Send `GET path` and read one whole response (the demo always sends Content-Length):
/// its status line.
async fn get(s: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .expect("Content-Length");
            if buf.len() >= end + 4 + len {
                return head.lines().next().unwrap().to_string();
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(T, s.read(&mut chunk))
            .await
            .expect("read timed out")
            .unwrap();
        assert!(n > 0, "closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// EOF (or a reset) with nothing sent.
async fn expect_closed(s: &mut TcpStream) {
    let mut b = [0u8; 64];
    match tokio::time::timeout(T, s.read(&mut b))
        .await
        .expect("still open")
    {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!(
            "expected a close, got {:?}",
            String::from_utf8_lossy(&b[..n])
        ),
    }
}

#[tokio::test]
async fn idle_http_connections_close_after_the_idle_timeout() {
    let n = node(|c| {
        c.http = Some("127.0.0.1:0".parse().unwrap());
        c.idle_timeout = Some(Duration::from_millis(300));
    })
    .await;
    let mut s = connect(http_addr(&n)).await;
    assert_eq!(get(&mut s, "/1k").await, "HTTP/1.1 200 OK");
    let t0 = Instant::now();
    expect_closed(&mut s).await;
    let idle = t0.elapsed();
    assert!(idle >= Duration::from_millis(250), "closed after {idle:?}");
    // A response that takes longer than the idle timeout is not cut off, and the
    // connection stays usable after it.
    let mut s = connect(http_addr(&n)).await;
    assert_eq!(get(&mut s, "/slow?ms=600").await, "HTTP/1.1 200 OK");
    assert_eq!(get(&mut s, "/1k").await, "HTTP/1.1 200 OK");
    n.stop().await;
}

#[tokio::test]
async fn max_connections_holds_http_newcomers_until_a_slot_frees() {
    let n = node(|c| {
        c.http = Some("127.0.0.1:0".parse().unwrap());
        c.max_connections = 1;
    })
    .await;
    let mut first = connect(http_addr(&n)).await;
    assert_eq!(get(&mut first, "/1k").await, "HTTP/1.1 200 OK");
    // Accepted by the kernel, not served while the first is open.
    let mut second = connect(http_addr(&n)).await;
    second
        .write_all(b"GET /1k HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut b = [0u8; 16];
    let waiting = tokio::time::timeout(Duration::from_millis(300), second.read(&mut b)).await;
    assert!(waiting.is_err(), "served beyond --max-connections");
    drop(first);
    let got = tokio::time::timeout(T, second.read(&mut b))
        .await
        .unwrap()
        .unwrap();
    assert!(b[..got].starts_with(b"HTTP/1.1 200"), "{:?}", &b[..got]);
    n.stop().await;
}
