//! The nginx module forwarding through an lb worker to rjk-node backends: configuration errors
//! at `nginx -t`, balancing across worker processes over the shared table, sessions, failover,
//! timeouts, bodies both ways, and requests that wait never holding up the event loop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rjk_tests::cluster::{member_lines, Node};
use rjk_tests::http;
use rjk_tests::nginx::{config_test, Nginx};
use rjk_tests::served::{only, tally, who};

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-ngx-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// rjk-nodes named by `routes` behind nginx (`processes` workers), an lb `lb` over them with
/// `extra` workers.properties lines, `/` passed to it.
struct Setup {
    nodes: Vec<Node>,
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
        Setup { nodes, nginx, dir }
    }

    fn addr(&self) -> SocketAddr {
        self.nginx.addr()
    }

    fn node(&mut self, route: &str) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.route == route).unwrap()
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

#[test]
fn sessions_stick_by_cookie_and_by_path_parameter() {
    let s = Setup::start("sticky", 2, &["n1", "n2", "n3"], "");
    let r = http::get(s.addr(), "/session", &[]).unwrap();
    let node = r.header("X-Rjk-Node").unwrap().to_owned();
    let cookie = r
        .header("Set-Cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(cookie.ends_with(&format!(".{node}")), "{cookie}");
    for i in 0..30 {
        let r = http::get(s.addr(), "/session", &[("Cookie", &cookie)]).unwrap();
        assert_eq!(r.header("X-Rjk-Node"), Some(node.as_str()), "request {i}");
        assert!(
            r.text().contains(&format!("\"counter\":{}", i + 2)),
            "the session lives on: {}",
            r.text()
        );
    }
    let id = cookie.split_once('=').unwrap().1;
    assert_eq!(who(s.addr(), &format!("/1k;jsessionid={id}"), None), node);
    s.stop();
}

#[test]
fn a_dead_node_loses_no_request_and_comes_back_after_recover_time() {
    let mut s = Setup::start(
        "failover",
        2,
        &["n1", "n2"],
        "worker.lb.recover_time=1\nworker.maintain=1\n",
    );
    assert_eq!(tally(s.addr(), 20, None).len(), 2);
    s.node("n1").kill();
    assert_eq!(tally(s.addr(), 30, None), only("n2", 30));
    assert_eq!(tally(s.addr(), 5, Some("JSESSIONID=X.n1")), only("n2", 5));
    s.node("n1").restart().unwrap();
    let back = rjk_tests::wait_until("n1 to be used again", Duration::from_secs(20), || {
        (who(s.addr(), "/1k", None) == "n1").then_some(())
    });
    assert!(back.is_ok(), "{back:?}");
    s.stop();
}

#[test]
fn sticky_session_force_answers_503_when_the_node_is_down() {
    let mut s = Setup::start(
        "force",
        2,
        &["n1", "n2"],
        "worker.lb.sticky_session_force=true\n",
    );
    s.node("n1").kill();
    assert_eq!(who(s.addr(), "/1k", Some("JSESSIONID=X.n1")), "503");
    assert_eq!(who(s.addr(), "/1k", Some("JSESSIONID=X.n2")), "n2");
    s.stop();
}

#[test]
fn reply_timeout_is_504_and_fail_on_status_fails_over() {
    let s = Setup::start(
        "timeouts",
        2,
        &["n1", "n2"],
        "worker.n1.reply_timeout=300\nworker.n2.reply_timeout=300\nworker.lb.retries=1\n",
    );
    let started = Instant::now();
    let r = http::get(s.addr(), "/slow?ms=3000", &[]).unwrap();
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    s.stop();
    let s = Setup::start(
        "fos",
        2,
        &["n1", "n2"],
        "worker.n1.fail_on_status=-500\nworker.n2.fail_on_status=-500\n",
    );
    // Both members answer 500: each is tried, the client gets 503, and normal requests still
    // work afterwards.
    let r = http::get(s.addr(), "/status/500", &[]).unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    let after = tally(s.addr(), 4, None);
    assert!(
        after.keys().all(|k| k == "n1" || k == "n2"),
        "members still serve normal requests: {after:?}"
    );
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

/// The members hit, in order, by a mixed sequence (non-sticky, sticky to each node, a session
/// of a node that does not exist). One process on each side: the tie-break offset is per
/// process in mod_jk, mod_rjk and here.
fn member_sequence(a: SocketAddr) -> Vec<String> {
    (0..300)
        .map(|i| {
            let cookie = match i % 7 {
                1 => Some("JSESSIONID=A.n1"),
                3 => Some("JSESSIONID=B.n3"),
                5 => Some("JSESSIONID=C.gone"),
                _ => None,
            };
            who(a, "/1k", cookie)
        })
        .collect()
}

#[test]
fn the_same_request_sequence_hits_the_same_members_as_mod_jk() {
    use rjk_tests::cluster::{front, Connector};
    use rjk_tests::httpd::Mpm;
    let factors = "worker.n1.lbfactor=1\nworker.n2.lbfactor=2\nworker.n3.lbfactor=3\n";
    let jk = {
        let nodes: Vec<Node> = ["n1", "n2", "n3"]
            .iter()
            .map(|r| Node::start(r, None, &[]).unwrap())
            .collect();
        let workers = format!(
            "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2,n3\n{}{factors}",
            member_lines(&nodes, |_| String::new())
        );
        let dir = tmp("sequence-jk");
        let httpd = front(
            &dir,
            Connector::ModJk,
            Mpm::Event,
            &workers,
            "JkMount /* lb\nServerLimit 1\nStartServers 1\nMaxRequestWorkers 16\n",
        )
        .unwrap();
        let seq = member_sequence(httpd.addr());
        httpd.stop();
        let _ = std::fs::remove_dir_all(&dir);
        seq
    };
    let s = Setup::start("sequence", 1, &["n1", "n2", "n3"], factors);
    let ours = member_sequence(s.addr());
    s.stop();
    let first_diff = jk.iter().zip(&ours).position(|(a, b)| a != b);
    assert_eq!(
        first_diff,
        None,
        "mod_jk {:?}\nnginx {:?}",
        &jk[..30],
        &ours[..30]
    );
}

/// With no traffic at all, a failed member is recovered by the worker processes' maintenance
/// timer (the status page itself runs no maintenance).
#[test]
fn maintenance_recovers_members_without_traffic() {
    let mut s = Setup::start(
        "maintain",
        2,
        &["n1", "n2"],
        "worker.lb.recover_time=1\nworker.maintain=1\n",
    );
    s.node("n1").kill();
    assert_eq!(tally(s.addr(), 6, None), only("n2", 6));
    let state = |a| {
        let p = http::get(a, "/jkstatus?mime=prop", &[]).unwrap().text();
        p.lines()
            .find(|l| l.starts_with("worker.n1.state="))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(state(s.addr()), "worker.n1.state=ERR");
    let recovered = rjk_tests::wait_until(
        "maintenance to move n1 out of ERR",
        Duration::from_secs(15),
        || (state(s.addr()) != "worker.n1.state=ERR").then_some(()),
    );
    assert!(recovered.is_ok(), "{}", state(s.addr()));
    s.stop();
}

#[test]
fn distance_and_domain_choose_the_failover_member() {
    // a1, a2 in domain A; b1 in B at distance 1 (used only when A is gone).
    let extra =
        "worker.a1.route=A.a1\nworker.a2.route=A.a2\nworker.b1.route=B.b1\nworker.b1.distance=1\n";
    let mut s = Setup::start("domain", 2, &["a1", "a2", "b1"], extra);
    let t = tally(s.addr(), 40, None);
    assert!(
        !t.contains_key("b1"),
        "distance 1 idles while distance 0 works: {t:?}"
    );
    s.node("a1").kill();
    // a1's session goes to its domain peer a2 first.
    assert_eq!(who(s.addr(), "/1k", Some("JSESSIONID=X.A.a1")), "a2");
    s.node("a2").kill();
    assert_eq!(tally(s.addr(), 10, None), only("b1", 10));
    s.stop();
}

#[test]
fn activation_and_redirect_decide_as_in_mod_jk() {
    // n1 disabled: keeps its sessions, takes no new ones; n3 stopped: takes nothing, not even
    // its own sessions; n2 redirects its sessions to n4 when it is down.
    let extra = "worker.n1.activation=D\nworker.n3.activation=S\nworker.n2.redirect=n4\n";
    let mut s = Setup::start("activation", 2, &["n1", "n2", "n3", "n4"], extra);
    let t = tally(s.addr(), 40, None);
    assert!(
        !t.contains_key("n1") && !t.contains_key("n3"),
        "new sessions avoid disabled and stopped members: {t:?}"
    );
    assert_eq!(tally(s.addr(), 5, Some("JSESSIONID=X.n1")), only("n1", 5));
    let stopped = tally(s.addr(), 10, Some("JSESSIONID=X.n3"));
    assert!(!stopped.contains_key("n3"), "{stopped:?}");
    s.node("n2").kill();
    assert_eq!(tally(s.addr(), 5, Some("JSESSIONID=X.n2")), only("n4", 5));
    s.stop();
}
