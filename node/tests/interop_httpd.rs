//! rjk-node behind real clients: Debian's mod_jk and httpd's mod_proxy_ajp in a private
//! apache2 on loopback, with curl as the browser.

mod common;

use common::procs::*;
use common::{body, json_field, sha256};

const SECRET: &str = "s3cr3t";

fn jk_worker(name: &str, port: u16, secret: Option<&str>, packet: usize) -> String {
    let mut s = format!(
        "JkWorkerProperty worker.{name}.type=ajp13\n\
         JkWorkerProperty worker.{name}.host=127.0.0.1\n\
         JkWorkerProperty worker.{name}.port={port}\n\
         JkWorkerProperty worker.{name}.max_packet_size={packet}\n"
    );
    if let Some(sec) = secret {
        s.push_str(&format!("JkWorkerProperty worker.{name}.secret={sec}\n"));
    }
    s
}

fn mod_jk_conf(dir: &std::path::Path, workers: &str, list: &str, mounts: &str) -> String {
    require(&format!("{MODULES}/mod_jk.so"), "libapache2-mod-jk");
    format!(
        "LoadModule jk_module {MODULES}/mod_jk.so\nJkShmFile {d}/run/jk.shm\n\
         JkLogFile {d}/logs/mod_jk.log\nJkLogLevel info\n{workers}\
         JkWorkerProperty worker.list={list}\n{mounts}",
        d = dir.display()
    )
}

/// Write `len` deterministic bytes to a file for curl to send; returns path and digest.
fn payload(dir: &std::path::Path, len: usize) -> (String, String) {
    let data = body(len);
    let p = dir.join(format!("body-{len}"));
    std::fs::write(&p, &data).unwrap();
    (p.to_string_lossy().into_owned(), sha256(&data))
}

/// Send one request line (plus Host, Connection: close) and read the whole answer.
fn raw_http(port: u16, line: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(s, "{line}\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// The requests every front end must carry unchanged; `base` is the URL prefix.
fn common_requests(h: &Httpd, base: &str, dir: &std::path::Path) {
    let url = |p: &str| h.url(&format!("{base}{p}"));
    // GET with a query string and a custom header.
    let r = curl(&url("/echo?a=1&b=two"), &["-H", "X-Probe: yes"]);
    assert_eq!(r.status, 200, "{}", h.error_log());
    let t = r.text();
    assert_eq!(json_field(&t, "method").as_deref(), Some("GET"));
    assert_eq!(json_field(&t, "query").as_deref(), Some("a=1&b=two"));
    assert!(t.contains(r#"["x-probe","yes"]"#), "{t}");
    assert_eq!(json_field(&t, "remote_addr").as_deref(), Some("127.0.0.1"));
    // The client's port travels as the AJP_REMOTE_PORT request attribute.
    let port = json_field(&t, "remote_port").unwrap();
    assert!(
        port.parse::<u16>().is_ok_and(|p| p > 0),
        "remote_port {port}: {t}"
    );
    // HEAD: the head only (read raw, so a stray body would show).
    let raw = raw_http(
        h.port(),
        &format!("HEAD {base}/download?bytes=5000 HTTP/1.1"),
    );
    assert!(raw.starts_with("HTTP/1.1 200 "), "{raw}");
    assert!(
        raw.ends_with("\r\n\r\n"),
        "HEAD answered with a body: {raw}"
    );
    if base.is_empty() {
        // mod_jk passes the length a GET would have (mod_proxy_ajp drops it for HEAD).
        assert!(
            raw.to_ascii_lowercase()
                .contains("content-length: 5000\r\n"),
            "{raw}"
        );
    }
    // Streamed download with flushes.
    let r = curl(&url("/download?bytes=300000&chunk=7000&flush=1"), &[]);
    assert_eq!(r.body.len(), 300_000);
    assert!(r
        .body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == rjk_node::demo::pattern_byte(i as u64)));
    // Uploads of 1 MiB and 10 MiB with Content-Length, and a chunked one.
    for len in [1 << 20, 10 << 20] {
        let (file, digest) = payload(dir, len);
        let r = curl(
            &url("/upload"),
            &["--data-binary", &format!("@{file}"), "-H", "Expect:"],
        );
        assert_eq!(r.status, 200, "{}", h.error_log());
        assert_eq!(json_field(&r.text(), "length").unwrap(), len.to_string());
        assert_eq!(json_field(&r.text(), "sha256").unwrap(), digest);
    }
    let (file, digest) = payload(dir, 300_000);
    let r = curl(
        &url("/upload"),
        &[
            "--data-binary",
            &format!("@{file}"),
            "-H",
            "Transfer-Encoding: chunked",
        ],
    );
    assert_eq!(
        json_field(&r.text(), "length").as_deref(),
        Some("300000"),
        "{}",
        r.text()
    );
    assert_eq!(json_field(&r.text(), "sha256").unwrap(), digest);
    // 100 request headers.
    let hs: Vec<String> = (0..100).map(|i| format!("X-H{i}: v{i}")).collect();
    let mut args = Vec::new();
    for h in &hs {
        args.extend(["-H", h.as_str()]);
    }
    let r = curl(&url("/echo"), &args);
    assert_eq!(r.status, 200);
    for i in [0, 57, 99] {
        assert!(
            r.text().contains(&format!(r#"["x-h{i}","v{i}"]"#)),
            "header {i}"
        );
    }
    // Status codes and many response headers pass through.
    assert_eq!(curl(&url("/status/404"), &[]).status, 404);
    assert_eq!(curl(&url("/nope"), &[]).status, 404);
    let r = curl(&url("/headers?count=50&size=40"), &[]);
    assert_eq!(
        r.headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-test-"))
            .count(),
        50
    );
}

#[test]
fn mod_jk_with_64k_packets_and_secrets() {
    let dir = TempDir::new("jk");
    let n1 = rjk_node("n1", &["--secret", SECRET, "--packet-size", "65536"]);
    let p = n1.ajp.port();
    let workers = jk_worker("n1", p, Some(SECRET), 65536)
        + &jk_worker("wrong", p, Some("not-it"), 65536)
        + &jk_worker("missing", p, None, 65536);
    let conf = mod_jk_conf(
        dir.path(),
        &workers,
        "n1,wrong,missing",
        "JkMount /* n1\nJkMount /wrong/* wrong\nJkMount /missing/* missing\n",
    );
    let h = Httpd::start(dir.path(), &conf);
    common_requests(&h, "", dir.path());
    // 64 KiB packets: one chunk of 65528 bytes is a single AJP packet.
    let r = curl(&h.url("/download?bytes=1048576&chunk=65528"), &[]);
    assert_eq!(r.body.len(), 1 << 20);
    // The secret: right passes (above), wrong and missing are refused by the node.
    assert_eq!(curl(&h.url("/wrong/echo"), &[]).status, 403);
    assert_eq!(curl(&h.url("/missing/echo"), &[]).status, 403);
    assert_eq!(curl(&h.url("/echo"), &[]).status, 200, "still serving");
}

#[test]
fn mod_jk_keeps_sessions_on_their_node() {
    let dir = TempDir::new("jk-sticky");
    let n1 = rjk_node("n1", &["--no-secret"]);
    let n2 = rjk_node("n2", &["--no-secret"]);
    let workers = jk_worker("n1", n1.ajp.port(), None, 8192)
        + &jk_worker("n2", n2.ajp.port(), None, 8192)
        + "JkWorkerProperty worker.lb.type=lb\nJkWorkerProperty worker.lb.balance_workers=n1,n2\n";
    let conf = mod_jk_conf(dir.path(), &workers, "lb", "JkMount /* lb\n");
    let h = Httpd::start(dir.path(), &conf);
    let mut routes = std::collections::BTreeSet::new();
    for _ in 0..3 {
        // A new client lands anywhere; with its cookie it stays on that node.
        let r = curl(&h.url("/session"), &[]);
        assert_eq!(r.status, 200, "{}", h.error_log());
        let id = json_field(&r.text(), "id").unwrap();
        let route = id.rsplit('.').next().unwrap().to_string();
        assert_eq!(json_field(&r.text(), "route").unwrap(), route);
        let cookie = format!("JSESSIONID={id}");
        for n in 2..=5 {
            let r = curl(&h.url("/session"), &["-H", &format!("Cookie: {cookie}")]);
            assert_eq!(json_field(&r.text(), "route").unwrap(), route, "sticky");
            assert_eq!(json_field(&r.text(), "counter").unwrap(), n.to_string());
        }
        // The path parameter is sticky too.
        let r = curl(&h.url(&format!("/session;jsessionid={id}")), &[]);
        assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("6"));
        routes.insert(route);
    }
    assert_eq!(
        routes.len(),
        2,
        "new sessions are balanced over both nodes: {routes:?}"
    );
}

#[test]
fn mod_proxy_ajp_with_secrets() {
    let dir = TempDir::new("proxy-ajp");
    let n = rjk_node("n3", &["--secret", SECRET]);
    let p = n.ajp.port();
    let conf = format!(
        "LoadModule proxy_module {MODULES}/mod_proxy.so\n\
         LoadModule proxy_ajp_module {MODULES}/mod_proxy_ajp.so\n\
         ProxyPass /pa ajp://127.0.0.1:{p} secret={SECRET}\n\
         ProxyPass /wrong ajp://localhost:{p} secret=not-it\n\
         ProxyPass /missing ajp://[::ffff:127.0.0.1]:{p}\n"
    );
    let h = Httpd::start(dir.path(), &conf);
    common_requests(&h, "/pa", dir.path());
    assert_eq!(curl(&h.url("/wrong/echo"), &[]).status, 403);
    assert_eq!(curl(&h.url("/missing/echo"), &[]).status, 403);
    // Sessions work through mod_proxy_ajp as well.
    let r = curl(&h.url("/pa/session"), &[]);
    let id = json_field(&r.text(), "id").unwrap();
    assert!(id.ends_with(".n3"));
    let r = curl(
        &h.url("/pa/session"),
        &["-H", &format!("Cookie: JSESSIONID={id}")],
    );
    assert_eq!(json_field(&r.text(), "counter").as_deref(), Some("2"));
}
