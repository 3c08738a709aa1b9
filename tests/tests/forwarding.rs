//! Requests through mod_rjk in a real apache2 to rjk-node backends: bodies, headers, statuses,
//! and what the client sees when the backend is gone.

use rjk_tests::cluster::{front, Connector, Node};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-fwd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn sha256_hex(data: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut c = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(data).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn an_ajp13_worker_serves_gets_posts_heads_and_headers() {
    let node = Node::start("n1", Some("s3cret"), &[]).unwrap();
    let workers = format!("worker.list=app\nworker.app.host=127.0.0.1\nworker.app.port={}\nworker.app.secret=s3cret\n", node.port);
    let dir = tmp("ajp13");
    let httpd = front(
        &dir,
        Connector::ModRjk,
        Mpm::Event,
        &workers,
        "JkMount /* app\n",
    )
    .unwrap();
    let a = httpd.addr();

    let r = http::get(a, "/1k", &[]).unwrap();
    assert_eq!((r.status, r.body.len()), (200, 1024), "{}", r.text());
    assert_eq!(r.header("X-Rjk-Node"), Some("n1"));

    let body: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    let r = http::request(a, "POST", "/upload", &[], &body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&sha256_hex(&body)), "{}", r.text());

    let r = http::request(a, "HEAD", "/1k", &[], &[]).unwrap();
    assert_eq!((r.status, r.body.len()), (200, 0));

    // httpd allows 100 request header fields by default (LimitRequestFields); with Host and
    // Connection this sends 98.
    let names: Vec<String> = (0..96).map(|i| format!("X-H{i}")).collect();
    let hs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let r = http::get(a, "/echo?x=1", &hs).unwrap();
    assert!(r.text().contains(r#"["x-h95","v"]"#), "{}", r.text());
    assert!(r.text().contains(r#""query":"x=1""#), "{}", r.text());

    for code in [201u16, 404, 500, 503] {
        assert_eq!(
            http::get(a, &format!("/status/{code}"), &[])
                .unwrap()
                .status,
            code
        );
    }
    // A path that is not UTF-8 once decoded is forwarded (re-encoded), as mod_jk does.
    let r = http::get(a, "/caf%E9", &[]).unwrap();
    assert_eq!(
        r.header("X-Rjk-Node"),
        Some("n1"),
        "{} {}",
        r.status,
        r.text()
    );
    let r = http::get(a, "/download?bytes=300000&chunk=7000", &[]).unwrap();
    assert_eq!(r.body.len(), 300_000);

    drop(node);
    let r = http::get(a, "/1k", &[]).unwrap();
    assert_eq!(r.status, 503, "a dead backend is a 503: {}", r.text());
    httpd.stop();
    // JkLogFile (JkLogLevel error): the failure, in mod_jk's line shape, with the request id slot.
    let log = std::fs::read_to_string(dir.join("logs/jk.log")).unwrap_or_default();
    assert!(
        log.lines()
            .any(|l| l.contains("] [error] [NO-ID] GET /1k → worker app member app:")),
        "{log}"
    );
    assert!(
        !log.contains("/upload"),
        "successes are not logged at level error: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn big_bodies_chunked_uploads_64k_packets_and_client_aborts() {
    let node = Node::start("n1", None, &["--packet-size", "65536"]).unwrap();
    // One pooled connection per child: the request after the abort reuses the aborted one's
    // slot, so a connection left half-read would be caught.
    let workers = format!(
        "worker.list=app\nworker.app.host=127.0.0.1\nworker.app.port={}\nworker.app.max_packet_size=65536\nworker.app.connection_pool_size=1\n",
        node.port
    );
    let dir = tmp("bodies");
    let httpd = front(
        &dir,
        Connector::ModRjk,
        Mpm::Event,
        &workers,
        "JkMount /* app\n",
    )
    .unwrap();
    let a = httpd.addr();

    // 10 MiB up and down, with checksums.
    let body: Vec<u8> = (0..10 * 1_048_576u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let r = http::request(a, "POST", "/upload", &[], &body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&sha256_hex(&body)), "{}", r.text());
    let r = http::get(a, "/download?bytes=10485760&chunk=65536", &[]).unwrap();
    assert_eq!(r.body.len(), 10_485_760);

    // A chunked upload: the backend asks for the body chunk by chunk.
    let mut req = b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut sent = Vec::new();
    for i in 0..40u8 {
        let chunk = vec![b'a' + (i % 26); 3000 + i as usize];
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(&chunk);
        req.extend_from_slice(b"\r\n");
        sent.extend_from_slice(&chunk);
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = http::raw(a, &req).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains(&format!("\"length\":{}", sent.len())),
        "{}",
        r.text()
    );
    assert!(r.text().contains(&sha256_hex(&sent)), "{}", r.text());

    // A client that goes away mid-download does not poison the next requests.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(a).unwrap();
        s.write_all(b"GET /download?bytes=50000000&chunk=65536 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = vec![0u8; 200_000];
        let mut got = 0;
        while got < buf.len() {
            let n = s.read(&mut buf[got..]).unwrap();
            assert!(n > 0);
            got += n;
        }
    }
    for i in 0..20 {
        let r = http::get(a, "/1k", &[]).unwrap();
        assert_eq!(
            (r.status, r.body.len()),
            (200, 1024),
            "request {i} after the abort"
        );
    }
    httpd.stop();
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
