//! The nginx module forwarding through an lb worker to rjk-node backends: configuration errors
//! at `nginx -t`, balancing across worker processes over the shared table, bodies both ways,
//! and requests that wait never holding up the event loop. The balancing scenarios every front
//! end runs (sessions, failover, timeouts, domains, activation, the mod_jk differential) are in
//! `scenarios.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rjk_tests::cluster::{member_lines, Node};
use rjk_tests::http;
use rjk_tests::nginx::{config_test, Nginx};
use rjk_tests::served::{tally, who};

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-ngx-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// rjk-nodes named by `routes` behind nginx (`processes` workers), an lb `lb` over them with
/// `extra` workers.properties lines, `/` passed to it.
struct Setup {
    /// Kept running as long as the setup.
    _nodes: Vec<Node>,
    nginx: Nginx,
    dir: std::path::PathBuf,
}

impl Setup {
    fn start(name: &str, processes: usize, routes: &[&str], extra: &str) -> Setup {
        let nodes: Vec<Node> = routes
            .iter()
            .map(|r| Node::start(r, None, &[]).unwrap())
            .collect();
        let workers = format!(
            "worker.list=lb,jkstatus\nworker.jkstatus.type=status\nworker.lb.type=lb\n\
             worker.lb.balance_workers={}\n{}{extra}",
            routes.join(","),
            member_lines(&nodes, |_| String::new())
        );
        let dir = tmp(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("workers.properties"), workers).unwrap();
        let http = format!(
            "  rjk_workers_file {}/workers.properties;\n  client_max_body_size 64m;",
            dir.display()
        );
        let nginx = Nginx::start(
            &dir,
            processes,
            &http,
            "    location / { rjk_pass lb; }\n    location /jkstatus { rjk_pass jkstatus; }",
        )
        .unwrap();
        Setup {
            _nodes: nodes,
            nginx,
            dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.nginx.addr()
    }

    /// No worker process crashed or complained.
    fn stop(self) {
        let log = self.nginx.error_log();
        for bad in [
            "[alert]",
            "[crit]",
            "[emerg]",
            "signal 11",
            "exited on signal",
        ] {
            assert!(!log.contains(bad), "{bad} in error.log:\n{log}");
        }
        self.nginx.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The line of `file` that holds `text` (1-based).
fn line_of(file: &std::path::Path, text: &str) -> usize {
    let all = std::fs::read_to_string(file).unwrap();
    1 + all.lines().position(|l| l.contains(text)).unwrap()
}

#[test]
fn config_errors_stop_nginx_t_with_file_line_and_a_suggestion() {
    let dir = tmp("conf");
    let (ok, text) = config_test(
        &dir,
        "  rjk_worker_property \"worker.list=lb\";\n  rjk_worker_property \"worker.lb.type=lb\";\n  \
         rjk_worker_property \"worker.lb.balance_workers=n1\";\n  rjk_worker_property \"worker.n1.port=8009\";\n  \
         rjk_worker_property \"worker.lb.sticky_sesion=true\";",
        "    location / { rjk_pass lb; }",
    )
    .unwrap();
    assert!(!ok, "nginx -t must fail:\n{text}");
    let conf = dir.join("nginx.conf");
    assert!(
        text.contains(&format!(
            "{}:{}: error: worker `lb`: unknown attribute `sticky_sesion` (did you mean `sticky_session`?)",
            conf.display(),
            line_of(&conf, "sticky_sesion")
        )),
        "{text}"
    );
    let (ok, text) = config_test(
        &dir,
        "  rjk_worker_property \"worker.list=lb\";\n  rjk_worker_property \"worker.lb.type=lb\";\n  \
         rjk_worker_property \"worker.lb.balance_workers=n1\";\n  rjk_worker_property \"worker.n1.port=8009\";",
        "    location / { rjk_pass lbb; }",
    )
    .unwrap();
    assert!(!ok, "nginx -t must fail:\n{text}");
    assert!(
        text.contains(&format!(
            "{}:{}: error: rjk_pass: no worker `lbb` in worker.list; did you mean `lb`?",
            conf.display(),
            line_of(&conf, "rjk_pass lbb")
        )),
        "{text}"
    );
    let (ok, text) = config_test(
        &dir,
        "  rjk_worker_property \"worker.list=lb\";\n  rjk_worker_property \"worker.lb.type=lb\";\n  \
         rjk_worker_property \"worker.lb.balance_workers=n1\";\n  rjk_worker_property \"worker.n1.port=8009\";",
        "    location / { rjk_pass lb; }",
    )
    .unwrap();
    assert!(ok, "a good configuration passes:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lbfactor_distribution_is_exact_across_two_worker_processes() {
    let s = Setup::start(
        "spread",
        2,
        &["a", "b"],
        "worker.a.lbfactor=1\nworker.b.lbfactor=3\n",
    );
    assert_eq!(
        tally(s.addr(), 400, None),
        BTreeMap::from([("a".to_owned(), 100), ("b".to_owned(), 300)])
    );
    // Both worker processes served (each balancing on the same shared counters).
    let log = std::fs::read_to_string(s.dir.join("access.log")).unwrap();
    let pids: std::collections::BTreeSet<&str> =
        log.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(pids.len(), 2, "{log}");
    s.stop();
}

/// The node's download pattern, as the client must receive it.
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64).map(rjk_node::demo::pattern_byte).collect()
}

fn sha256_of(json: &str) -> String {
    let at = json.find("\"body_sha256\":\"").expect("sha in echo") + 15;
    json[at..at + 64].to_owned()
}

/// SHA-256 of `data` in hex (Debian's sha256sum).
fn sha256(data: &[u8]) -> String {
    use std::io::Write;
    let mut c = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = c.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_owned()
}

#[test]
fn bodies_both_ways_keep_every_byte() {
    let s = Setup::start("bodies", 2, &["n1"], "");
    let body: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let want = sha256(&body);
    // Content-Length.
    let r = http::request(s.addr(), "POST", "/echo", &[], &body).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(sha256_of(&r.text()), want);
    // Chunked, in uneven chunks.
    let mut raw = b"POST /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in body.chunks(70_001) {
        raw.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        raw.extend_from_slice(part);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = http::raw(s.addr(), &raw).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sha256_of(&r.text()), want);
    // 10 MiB up, streamed through (nginx never holds it whole: client_max_body_size is all
    // that limits it).
    let big: Vec<u8> = body.iter().cycle().take(10 << 20).copied().collect();
    let r = http::request(s.addr(), "POST", "/echo", &[], &big).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sha256_of(&r.text()), sha256(&big));
    // Downloads, 1 and 10 MiB in 64 KiB chunks.
    for bytes in [1 << 20, 10 << 20] {
        let r = http::get(
            s.addr(),
            &format!("/download?bytes={bytes}&chunk=65536"),
            &[],
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert!(r.body == pattern(bytes), "{bytes} bytes differ");
    }
    s.stop();
}

#[test]
fn fifty_slow_requests_do_not_hold_up_one_worker_process() {
    let s = Setup::start("nonblocking", 1, &["n1"], "");
    let addr = s.addr();
    let started = Instant::now();
    let slow: Vec<_> = (0..50)
        .map(|_| std::thread::spawn(move || http::get(addr, "/slow?ms=1000", &[]).unwrap().status))
        .collect();
    // Once all 50 are at the backend (the shared table counts them busy), a fast request
    // answers at once.
    let busy = rjk_tests::wait_until("50 requests in flight", Duration::from_secs(5), || {
        let t = http::get(addr, "/jkstatus?mime=txt", &[]).ok()?.text();
        t.lines()
            .find(|l| l.starts_with("Member: name=n1 "))
            .filter(|l| l.contains(" busy=50 "))
            .map(|_| ())
    });
    assert!(busy.is_ok(), "{busy:?}");
    let fast = Instant::now();
    assert_eq!(who(addr, "/1k", None), "n1");
    let fast = fast.elapsed();
    let statuses: Vec<u16> = slow.into_iter().map(|t| t.join().unwrap()).collect();
    let all = started.elapsed();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert!(
        fast < Duration::from_millis(300),
        "the fast request took {fast:?}"
    );
    assert!(all < Duration::from_millis(2500), "50 × 1 s took {all:?}");
    s.stop();
}
