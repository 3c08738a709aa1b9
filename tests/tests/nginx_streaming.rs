//! The nginx module's streaming: `rjk_options +FlushPackets` passes each AJP body chunk on as it
//! arrives (without it nginx holds a small first chunk like any output), 64 KiB AJP packets both
//! ways, and a response head of 100 headers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rjk_tests::cluster::{member_lines, Node};
use rjk_tests::http;
use rjk_tests::nginx::Nginx;

/// How long the node holds back everything after the first chunk.
const PAUSE: Duration = Duration::from_secs(2);
/// Below nginx's postpone_output: without a flush nginx keeps it.
const FIRST: usize = 1000;

fn start(
    name: &str,
    node_args: &[&str],
    props: &str,
    http: &str,
) -> (Node, Nginx, std::path::PathBuf) {
    let node = Node::start("n1", None, node_args).unwrap();
    let dir = std::env::temp_dir().join(format!("rjk-ngx-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let workers = format!(
        "worker.list=n1\nworker.n1.type=ajp13\n{}{props}",
        member_lines(std::slice::from_ref(&node), |_| String::new())
    );
    std::fs::write(dir.join("workers.properties"), workers).unwrap();
    let http = format!(
        "  rjk_workers_file {}/workers.properties;\n{http}",
        dir.display()
    );
    let nginx = Nginx::start(&dir, 1, &http, "    location / { rjk_pass n1; }").unwrap();
    (node, nginx, dir)
}

/// When the client first held `FIRST` body bytes, and when the whole body was in (HTTP/1.0,
/// so the body is the bytes after the head).
fn arrival(addr: SocketAddr, path: &str) -> (Duration, Duration, usize) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let sent = Instant::now();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let (mut raw, mut first) = (Vec::new(), None);
    let mut buf = [0u8; 65536];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            if first.is_none() && raw.len() - end - 4 >= FIRST {
                first = Some(sent.elapsed());
            }
        }
    }
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (
        first.unwrap_or(Duration::MAX),
        sent.elapsed(),
        raw.len() - end,
    )
}

#[test]
fn flush_packets_delivers_each_chunk_as_it_arrives() {
    // The node sends no AJP flush of its own (flush=0): only FlushPackets flushes.
    let path = |flush: u8| {
        format!(
            "/download?bytes={}&chunk={FIRST}&pause_ms={}&flush={flush}",
            2 * FIRST,
            PAUSE.as_millis()
        )
    };
    let (_n, nginx, dir) = start("flush", &[], "", "  rjk_options +FlushPackets;");
    let (first, done, len) = arrival(nginx.addr(), &path(0));
    assert_eq!(len, 2 * FIRST);
    assert!(first < PAUSE / 2, "the first chunk came at {first:?}");
    assert!(done >= PAUSE, "the rest waits for the node: {done:?}");
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
    // The counter-test: without FlushPackets nginx holds the small first chunk.
    let (_n, nginx, dir) = start("noflush", &[], "", "");
    let (first, _, len) = arrival(nginx.addr(), &path(0));
    assert_eq!(len, 2 * FIRST);
    assert!(first >= PAUSE, "held until the rest: {first:?}");
    // The backend's own AJP flush is passed on without the option.
    let (first, _, _) = arrival(nginx.addr(), &path(1));
    assert!(first < PAUSE / 2, "the node's flush: {first:?}");
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn large_packets_and_a_hundred_headers() {
    let (_n, nginx, dir) = start(
        "packets",
        &["--packet-size", "65536"],
        "worker.n1.max_packet_size=65536\n",
        "  client_max_body_size 8m;",
    );
    let a = nginx.addr();
    let r = http::get(a, "/headers?count=100&size=100", &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    for i in [0, 50, 99] {
        assert_eq!(
            r.header(&format!("x-test-{i}")),
            Some("v".repeat(100).as_str())
        );
    }
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let r = http::request(a, "POST", "/echo", &[], &body).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"body_length\":3000000"), "{}", r.text());
    let r = http::get(a, "/download?bytes=3000000&chunk=65000", &[]).unwrap();
    let want: Vec<u8> = (0..3_000_000u64)
        .map(rjk_node::demo::pattern_byte)
        .collect();
    assert!(r.body == want);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Read one HTTP/1.1 response with a Content-Length from `s`, `step` bytes at a time with a
/// pause after each read: a client slower than the backend, so nginx's socket fills and it
/// holds body bytes between the module's passes.
fn read_slowly(s: &mut TcpStream, step: usize, pause: Duration) -> (String, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = vec![0u8; step];
    let (head, length) = loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the connection closed in the head");
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a Content-Length");
            raw.drain(..end + 4);
            break (head, length);
        }
    };
    while raw.len() < length {
        std::thread::sleep(pause);
        let n = s.read(&mut buf[..step.min(length - raw.len())]).unwrap();
        assert!(
            n > 0,
            "the connection closed after {} of {length} bytes",
            raw.len()
        );
        raw.extend_from_slice(&buf[..n]);
    }
    (head, raw)
}

#[test]
fn a_slow_reader_gets_every_byte_while_other_requests_reuse_the_buffers() {
    // The module lends nginx the body's bytes where the backend's packets arrived; whatever
    // nginx has not sent when the module reads the backend again, or when the request ends
    // and its buffers go to the next request, must be copied first. A client that reads
    // slowly (its receive buffer kept above loopback's segment size, or TCP waits on its
    // persist timer) keeps nginx's socket full, while other requests in the same worker
    // process take the buffers its request used.
    let (_n, nginx, dir) = start("slow", &[], "", "");
    let addr = nginx.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let others = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let want: Vec<u8> = (0..300_000u64).map(rjk_node::demo::pattern_byte).collect();
            let mut served = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = http::get(addr, "/download?bytes=300000&chunk=1000", &[]).unwrap();
                assert_eq!(r.status, 200);
                assert!(r.body == want, "a concurrent body differs");
                served += 1;
            }
            served
        })
    };
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let small: libc::c_int = 128 * 1024;
    // SAFETY: setsockopt with a c_int on our own socket.
    let rc = unsafe {
        use std::os::fd::AsRawFd;
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &small as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    let bytes = 12 << 20;
    let want: Vec<u8> = (0..bytes as u64)
        .map(rjk_node::demo::pattern_byte)
        .collect();
    // Two responses on the connection, each read slowly to its end.
    for chunk in [8192, 65536] {
        write!(
            s,
            "GET /download?bytes={bytes}&chunk={chunk} HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .unwrap();
        let (head, body) = read_slowly(&mut s, 16384, Duration::from_millis(1));
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(body == want, "the body with {chunk}-byte chunks differs");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        others.join().unwrap() > 0,
        "no concurrent request was served"
    );
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
