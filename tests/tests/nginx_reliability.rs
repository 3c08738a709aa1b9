//! The nginx module against backends that misbehave: garbage instead of AJP, a response cut
//! off mid-body, a backend that accepts and never answers, a node killed with SIGKILL under
//! load. nginx's worker processes must stay up, the client gets an error status (or a cut
//! connection once the head went out), and the other members keep serving.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rjk_tests::cluster::{member_lines, Node};
use rjk_tests::http;
use rjk_tests::nginx::Nginx;

/// A fake backend on loopback: each connection gets `answer` once its request has arrived.
/// Stops when dropped.
struct Fake {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Fake {
    fn start(answer: fn(&mut TcpStream)) -> Fake {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let mut buf = [0u8; 8192];
                        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                        if matches!(s.read(&mut buf), Ok(n) if n > 0) {
                            answer(&mut s);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Fake { port, stop }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An AJP string: length, bytes, NUL.
fn ajp_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
    out.push(0);
}

/// A container-to-server packet.
fn packet(payload: &[u8]) -> Vec<u8> {
    let mut p = b"AB".to_vec();
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn garbage(s: &mut TcpStream) {
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

/// Send Headers (200, Content-Length 1000) and 100 body bytes, then hang up.
fn truncated(s: &mut TcpStream) {
    let mut head = vec![4];
    head.extend_from_slice(&200u16.to_be_bytes());
    ajp_str(&mut head, b"OK");
    head.extend_from_slice(&1u16.to_be_bytes());
    head.extend_from_slice(&[0xA0, 0x08]);
    ajp_str(&mut head, b"1000");
    let mut body = vec![3];
    body.extend_from_slice(&100u16.to_be_bytes());
    body.extend_from_slice(&[b'x'; 100]);
    body.push(0);
    let _ = s.write_all(&packet(&head));
    let _ = s.write_all(&packet(&body));
}

/// A response with every hop-by-hop header a backend might wrongly send, beside the headers
/// nginx keeps apart (Content-Type, Content-Length, Server) and one of its own.
fn hop_headers(s: &mut TcpStream) {
    let headers: [(&[u8], &[u8]); 10] = [
        (b"Content-Type", b"text/x-test"),
        (b"Content-Length", b"2"),
        (b"Keep-Alive", b"timeout=99"),
        (b"Proxy-Connection", b"keep-alive"),
        (b"Upgrade", b"h2c"),
        (b"Trailer", b"X-T"),
        (b"TE", b"trailers"),
        (b"Connection", b"x-private"),
        (b"Server", b"fake-backend"),
        (b"X-Kept", b"yes"),
    ];
    let mut head = vec![4];
    head.extend_from_slice(&200u16.to_be_bytes());
    ajp_str(&mut head, b"OK");
    head.extend_from_slice(&(headers.len() as u16).to_be_bytes());
    for (n, v) in headers {
        ajp_str(&mut head, n);
        ajp_str(&mut head, v);
    }
    let body = [3, 0, 2, b'o', b'k', 0];
    let _ = s.write_all(&packet(&head));
    let _ = s.write_all(&packet(&body));
    let _ = s.write_all(&packet(&[5, 0]));
}

fn silent(s: &mut TcpStream) {
    let mut buf = [0u8; 1];
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.read(&mut buf);
}

/// nginx with one ajp13 worker per fake and an lb over rjk-nodes.
fn start(dir: &std::path::Path, fakes: &[(&str, u16)], nodes: &[Node]) -> Nginx {
    let mut workers = String::from("worker.list=lb");
    for (name, _) in fakes {
        workers.push_str(&format!(",{name}"));
    }
    let routes: Vec<&str> = nodes.iter().map(|n| n.route.as_str()).collect();
    workers.push_str(&format!(
        "\nworker.lb.type=lb\nworker.lb.balance_workers={}\n{}",
        routes.join(","),
        member_lines(nodes, |_| String::new())
    ));
    let mut locations = String::from("    location / { rjk_pass lb; }\n");
    for (name, port) in fakes {
        workers.push_str(&format!(
            "worker.{name}.type=ajp13\nworker.{name}.host=127.0.0.1\nworker.{name}.port={port}\nworker.{name}.reply_timeout=500\n"
        ));
        locations.push_str(&format!("    location /{name}/ {{ rjk_pass {name}; }}\n"));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("workers.properties"), workers).unwrap();
    Nginx::start(
        dir,
        2,
        &format!("  rjk_workers_file {}/workers.properties;", dir.display()),
        &locations,
    )
    .unwrap()
}

fn no_crash(n: &Nginx) {
    let log = n.error_log();
    for bad in ["exited on signal", "[alert]", "[crit]"] {
        assert!(!log.contains(bad), "{bad} in error.log:\n{log}");
    }
}

#[test]
fn misbehaving_backends_get_error_statuses_and_nothing_breaks() {
    let dir = std::env::temp_dir().join(format!("rjk-ngx-rel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (g, t, s) = (
        Fake::start(garbage),
        Fake::start(truncated),
        Fake::start(silent),
    );
    let nodes = vec![Node::start("n1", None, &[]).unwrap()];
    let nginx = start(
        &dir,
        &[
            ("garbage", g.port),
            ("truncated", t.port),
            ("silent", s.port),
        ],
        &nodes,
    );
    let a = nginx.addr();
    for _ in 0..3 {
        let r = http::get(a, "/garbage/x", &[]).unwrap();
        assert!(r.status >= 500, "garbage: {}", r.status);
        // The head went out, then the backend hung up: the client sees a cut response.
        let started = Instant::now();
        if let Ok(r) = http::get(a, "/truncated/x", &[]) {
            assert!(r.body.len() < 1000, "a cut body cannot be whole");
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the cut response must end at once, not at the client's timeout"
        );
        let started = Instant::now();
        let r = http::get(a, "/silent/x", &[]).unwrap();
        assert_eq!(r.status, 504);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(http::get(a, "/1k", &[]).unwrap().status, 200);
    }
    // Path tricks are refused before any backend sees them.
    let r = http::get(a, "/%2e%2e/%2e%2e/etc/passwd", &[]).unwrap();
    assert!(r.status == 400 || r.status == 404, "{}", r.status);
    no_crash(&nginx);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The backend's connection headers stay on the backend's hop; Content-Type, Content-Length
/// and Server become nginx's own fields, the rest go through.
#[test]
fn hop_by_hop_headers_of_the_backend_do_not_reach_the_client() {
    let dir = std::env::temp_dir().join(format!("rjk-ngx-hop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let h = Fake::start(hop_headers);
    let nodes = vec![Node::start("n1", None, &[]).unwrap()];
    let nginx = start(&dir, &[("hop", h.port)], &nodes);
    let r = http::get(nginx.addr(), "/hop/x", &[]).unwrap();
    assert_eq!((r.status, r.text()), (200, "ok".to_string()));
    assert_eq!(r.header("Content-Type"), Some("text/x-test"));
    assert_eq!(r.header("Content-Length"), Some("2"));
    assert_eq!(r.header("Server"), Some("fake-backend"));
    assert_eq!(r.header("X-Kept"), Some("yes"));
    for gone in ["Keep-Alive", "Proxy-Connection", "Upgrade", "Trailer", "TE"] {
        assert_eq!(r.header(gone), None, "{gone}: {:?}", r.headers);
    }
    assert_ne!(r.header("Connection"), Some("x-private"));
    no_crash(&nginx);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_node_killed_under_load_loses_no_request() {
    let dir = std::env::temp_dir().join(format!("rjk-ngx-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut nodes = vec![
        Node::start("n1", None, &[]).unwrap(),
        Node::start("n2", None, &[]).unwrap(),
    ];
    let nginx = start(&dir, &[], &nodes);
    let a: SocketAddr = nginx.addr();
    let load: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut failed = Vec::new();
                for _ in 0..150 {
                    match http::get(a, "/1k", &[]) {
                        Ok(r) if r.status == 200 && r.body.len() == 1024 => {}
                        Ok(r) => failed.push(r.status.to_string()),
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                failed
            })
        })
        .collect();
    rjk_tests::wait_until("traffic on n1", Duration::from_secs(10), || {
        let log = std::fs::read_to_string(dir.join("access.log")).ok()?;
        (log.lines().count() > 50).then_some(())
    })
    .unwrap();
    nodes[0].kill();
    for t in load {
        let failed = t.join().unwrap();
        assert!(failed.is_empty(), "failed: {failed:?}");
    }
    no_crash(&nginx);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small AJP container on loopback: answers every Forward Request with "ok" (reuse), every
/// CPing with a CPong, and counts connections and CPings.
struct Pinged {
    port: u16,
    connections: Arc<std::sync::atomic::AtomicUsize>,
    pings: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Pinged {
    fn start() -> Pinged {
        use std::sync::atomic::AtomicUsize;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let (connections, pings, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (c2, p2, s2) = (connections.clone(), pings.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                let Ok((s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                c2.fetch_add(1, Ordering::Relaxed);
                let (p3, s3) = (p2.clone(), s2.clone());
                std::thread::spawn(move || Pinged::serve(s, &p3, &s3));
            }
        });
        Pinged {
            port,
            connections,
            pings,
            stop,
        }
    }

    fn serve(mut s: TcpStream, pings: &std::sync::atomic::AtomicUsize, stop: &AtomicBool) {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut head = vec![4];
        head.extend_from_slice(&200u16.to_be_bytes());
        ajp_str(&mut head, b"OK");
        head.extend_from_slice(&1u16.to_be_bytes());
        head.extend_from_slice(&[0xA0, 0x08]);
        ajp_str(&mut head, b"2");
        let mut answer = packet(&head);
        answer.extend_from_slice(&packet(&[3, 0, 2, b'o', b'k', 0]));
        answer.extend_from_slice(&packet(&[5, 1]));
        while !stop.load(Ordering::Relaxed) {
            let mut hdr = [0u8; 4];
            match s.read_exact(&mut hdr) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => return,
            }
            let mut payload = vec![0u8; u16::from_be_bytes([hdr[2], hdr[3]]) as usize];
            if s.read_exact(&mut payload).is_err() {
                return;
            }
            let reply = match payload.first() {
                Some(10) => {
                    pings.fetch_add(1, Ordering::Relaxed);
                    packet(&[9])
                }
                Some(2) => answer.clone(),
                _ => return,
            };
            if s.write_all(&reply).is_err() {
                return;
            }
        }
    }
}

impl Drop for Pinged {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn idle_connections_are_cpinged_and_kept_per_connection_ping_interval() {
    let dir = std::env::temp_dir().join(format!("rjk-ngx-ping-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let backend = Pinged::start();
    std::fs::write(
        dir.join("workers.properties"),
        format!(
            "worker.list=p\nworker.p.type=ajp13\nworker.p.host=127.0.0.1\nworker.p.port={}\n\
             worker.p.ping_mode=I\nworker.p.connection_ping_interval=1\nworker.p.ping_timeout=2000\n",
            backend.port
        ),
    )
    .unwrap();
    let nginx = Nginx::start(
        &dir,
        1,
        &format!("  rjk_workers_file {}/workers.properties;", dir.display()),
        "    location / { rjk_pass p; }",
    )
    .unwrap();
    let a = nginx.addr();
    let r = http::get(a, "/x", &[]).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    // The pooled connection is CPinged while idle, at least twice...
    rjk_tests::wait_until("two CPings", Duration::from_secs(10), || {
        (backend.pings.load(Ordering::Relaxed) >= 2).then_some(())
    })
    .unwrap();
    // ...and stays in the pool: the next request uses it, no new connection.
    let r = http::get(a, "/x", &[]).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    assert_eq!(backend.connections.load(Ordering::Relaxed), 1);
    no_crash(&nginx);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_retry_pause_for_a_client_that_left() {
    let dir = std::env::temp_dir().join(format!("rjk-ngx-left-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Nothing listens on the member's port: each attempt fails at once and the next one waits
    // retry_interval (3 s): 12 s for the five attempts when nobody checks the client.
    let closed = rjk_tests::free_port();
    std::fs::write(
        dir.join("workers.properties"),
        format!(
            "worker.list=d\nworker.d.type=ajp13\nworker.d.host=127.0.0.1\nworker.d.port={closed}\n\
             worker.d.retries=5\nworker.d.retry_interval=3000\n"
        ),
    )
    .unwrap();
    let nginx = Nginx::start(
        &dir,
        1,
        &format!(
            "  rjk_workers_file {}/workers.properties;\n  log_format took '$request_uri $request_time';",
            dir.display()
        ),
        "    access_log took.log took;\n    location / { rjk_pass d; }",
    )
    .unwrap();
    // A client that sends its request and leaves at once.
    let mut s = TcpStream::connect(nginx.addr()).unwrap();
    s.write_all(b"GET /left HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    drop(s);
    let line = rjk_tests::wait_until("the request to end", Duration::from_secs(20), || {
        std::fs::read_to_string(dir.join("took.log"))
            .ok()
            .and_then(|l| {
                l.lines()
                    .find(|l| l.starts_with("/left "))
                    .map(str::to_owned)
            })
    })
    .unwrap();
    let took: f64 = line.split(' ').nth(1).unwrap().parse().unwrap();
    // Checked before each pause: at most the one pause under way when the client's end
    // arrived is waited out.
    assert!(took < 4.0, "the pauses were waited out for nobody: {line}");
    no_crash(&nginx);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
