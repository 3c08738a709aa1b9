//! What mod_jk reports about a request that needed a retry, differential against Debian's
//! mod_jk: the route forwarded to the member that finally served (the AJP route attribute its
//! `/echo` shows), the notes `JK_WORKER_ROUTE`, `JK_LB_FIRST_*` and `JK_LB_LAST_*`, and the
//! status and sizes `JkRequestLogFormat` writes against the final status, also for a client that
//! went away mid-response (both log 200, as mod_jk does).
//!
//! Each balancer has a dead member (nothing listens on its port) before a live rjk-node: a
//! session of the dead member, a fresh request, a redirect and a domain all fail over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rjk_tests::cluster::{front, Connector, Node};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-notes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// (virtual host, path, cookie) per case; the host picks the balancer.
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("sticky", "/echo", Some("JSESSIONID=abc.d1")),
    ("fresh", "/echo", None),
    ("redirect", "/echo", Some("JSESSIONID=abc.d3")),
    ("domain", "/echo", Some("JSESSIONID=abc.A.d4")),
    // Nobody alive: the error page's status against what the request log says.
    ("alldead", "/echo", None),
    // The backend's own error status and body.
    ("notfound", "/status/404", None),
    // fail_on_status turns the live member's 404 into a failure: the error page's status.
    ("failstatus", "/status/404", None),
];

fn workers(live: &Node) -> String {
    let mut w = String::from("worker.list=lb1,lb2,lb3,lb4,lb5,lb6,lb7\n");
    for n in 1..=7 {
        w.push_str(&format!(
            "worker.d{n}.host=127.0.0.1\nworker.d{n}.port=1\nworker.d{n}.retries=1\n\
             worker.l{n}.host=127.0.0.1\nworker.l{n}.port={p}\n\
             worker.lb{n}.type=lb\nworker.lb{n}.balance_workers=d{n},l{n}\n",
            p = live.port
        ));
    }
    w.push_str(
        "worker.d3.redirect=l3\nworker.d4.route=A.d4\nworker.l4.route=A.l4\nworker.l5.port=1\nworker.l7.fail_on_status=404\n",
    );
    w
}

fn jk(dir: &Path) -> String {
    let d = dir.display();
    let mut c = format!(
        "LogFormat \"%{{X-Case}}i|%{{JK_WORKER_ROUTE}}n|%{{JK_LB_FIRST_NAME}}n|%{{JK_LB_FIRST_STATE}}n|\
         %{{JK_LB_LAST_NAME}}n|%{{JK_LB_LAST_STATE}}n|%>s\" notes\nCustomLog {d}/notes.log notes\n\
         JkRequestLogFormat \"%w %R %s %b\"\n"
    );
    for (n, (host, _, _)) in CASES.iter().enumerate() {
        c.push_str(&format!(
            "<VirtualHost *:*>\n  ServerName {host}\n  JkMount /* lb{}\n</VirtualHost>\n",
            n + 1
        ));
    }
    c
}

/// Per case: the route the live member saw, and the access log's notes.
fn observe(c: Connector, live: &Node) -> BTreeMap<String, (String, String)> {
    let dir = tmp(c.name());
    let httpd = front(&dir, c, Mpm::Event, &workers(live), &jk(&dir))
        .unwrap_or_else(|e| panic!("{}: {e}", c.name()));
    let mut seen = BTreeMap::new();
    for (host, path, cookie) in CASES {
        let cookie = cookie
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Case: {host}\r\n{cookie}Connection: close\r\n\r\n"
        );
        let r = http::raw(httpd.addr(), req.as_bytes()).unwrap();
        let body = r.text();
        let route = body
            .split("\"route\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("-")
            .to_owned();
        seen.insert(host.to_string(), (route, String::new()));
    }
    let log = rjk_tests::wait_until("the access log", Duration::from_secs(10), || {
        std::fs::read_to_string(dir.join("notes.log"))
            .ok()
            .filter(|t| t.lines().count() >= CASES.len())
    })
    .unwrap();
    for line in log.lines() {
        let (case, notes) = line.split_once('|').unwrap();
        seen.get_mut(case).unwrap().1 = notes.to_owned();
    }
    // mod_jk's domain route is not always text (see the test).
    let jk_log =
        String::from_utf8_lossy(&std::fs::read(dir.join("logs/jk.log")).unwrap_or_default())
            .into_owned();
    seen.insert(
        "request log".into(),
        (request_log_lines(&jk_log), String::new()),
    );
    httpd.stop();
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

/// The JkRequestLogFormat lines (`worker route status bytes`), without timestamps, in order.
fn request_log_lines(log: &str) -> String {
    log.lines()
        .filter_map(|l| l.rsplit_once("] ").map(|(_, rest)| rest))
        .filter(|l| l.starts_with("lb"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// mod_jk keeps the route of the first member it tried (`if (!s->route)` in its service loop)
/// unless a sticky failover decides again (a redirect: the target's route; a domain: the domain,
/// which 1.2.48 sends from a stale buffer, garbage bytes). rjk forwards and notes the route of
/// the member it is trying — the one that served, or the last one tried — and the domain when
/// the session went by it (README, "stricter than mod_jk"). Everything else is mod_jk's.
#[test]
fn route_and_notes_after_a_retry_are_mod_jk_s() {
    let live = Node::start("live", None, &[]).unwrap();
    let jk = observe(Connector::ModJk, &live);
    let rjk = observe(Connector::ModRjk, &live);
    let field = |m: &BTreeMap<String, (String, String)>, case: &str, i: usize| {
        m[case].1.split('|').nth(i).unwrap_or_default().to_owned()
    };
    let mut diffs = Vec::new();
    for (case, _, _) in CASES {
        // FIRST name/state, LAST name/state, final status.
        for i in 1..6 {
            if field(&jk, case, i) != field(&rjk, case, i) {
                diffs.push(format!("{case}: {:?} vs {:?}", jk[*case].1, rjk[*case].1));
                break;
            }
        }
        // rjk: the route noted is the one the serving member saw, the last member's.
        let (seen, notes) = &rjk[*case];
        let last = field(&rjk, case, 3);
        let expected = match *case {
            "domain" => "A".to_owned(),
            _ => last.clone(),
        };
        assert_eq!(field(&rjk, case, 0), expected, "rjk {case}: {notes}");
        if matches!(*case, "sticky" | "fresh" | "redirect" | "domain") {
            assert_eq!(seen, &expected, "rjk {case}: the route forwarded");
        }
        // mod_jk: the first member's route, unless the sticky failover decided again.
        let first = field(&jk, case, 1);
        let theirs = field(&jk, case, 0);
        match *case {
            "redirect" => assert_eq!(theirs, last, "mod_jk {case}"),
            "domain" => {}
            _ => assert_eq!(theirs, first, "mod_jk {case}"),
        }
    }
    assert!(diffs.is_empty(), "notes differ:\n{}", diffs.join("\n"));
    // JkRequestLogFormat "%w %R %s %b": the same worker, final status and body size as mod_jk
    // for every case (the error page's too); %R follows the route rule above.
    let lines = |m: &BTreeMap<String, (String, String)>| -> Vec<(String, String, String)> {
        m["request log"]
            .0
            .split("; ")
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let n = f.len();
                (f[0].to_owned(), f[n - 2].to_owned(), f[n - 1].to_owned())
            })
            .collect()
    };
    let (jk_lines, rjk_lines) = (lines(&jk), lines(&rjk));
    assert_eq!(jk_lines.len(), CASES.len(), "{:?}", jk["request log"]);
    // The domain case's body echoes the route: its size follows the route's length.
    let no_domain = |v: Vec<(String, String, String)>| -> Vec<_> {
        v.into_iter().filter(|(w, _, _)| w != "lb4").collect()
    };
    assert_eq!(no_domain(jk_lines), no_domain(rjk_lines));
    assert!(
        rjk["request log"].0.contains("lb5 l5 503 "),
        "{:?}",
        rjk["request log"]
    );
}

/// A client that goes away in the middle of a large answer: the status JkRequestLogFormat and
/// the access log write for it are mod_jk's (the sizes depend on when the connection broke).
#[test]
fn a_client_gone_mid_response_is_logged_as_mod_jk_logs_it() {
    use std::io::{Read, Write};
    let live = Node::start("live", None, &[]).unwrap();
    let mut seen = Vec::new();
    for c in [Connector::ModJk, Connector::ModRjk] {
        let dir = tmp(&format!("gone-{}", c.name()));
        let workers = format!(
            // Named lb… only so that request_log_lines finds its lines.
            "worker.list=lbw\nworker.lbw.host=127.0.0.1\nworker.lbw.port={}\n",
            live.port
        );
        let jk = format!(
            "LogFormat \"%>s %{{JK_WORKER_NAME}}n\" st\nCustomLog {}/st.log st\n\
             JkRequestLogFormat \"%w %s\"\nJkMount /download lbw\n",
            dir.display()
        );
        let httpd = front(&dir, c, Mpm::Event, &workers, &jk).unwrap();
        {
            let mut s = std::net::TcpStream::connect(httpd.addr()).unwrap();
            s.write_all(
                b"GET /download?bytes=200000000&chunk=65536 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
            let mut buf = vec![0u8; 65536];
            let mut got = 0;
            while got < 200_000 {
                got += s.read(&mut buf).unwrap();
            }
            // Closed with unread data: the server's next writes fail.
        }
        let access = rjk_tests::wait_until("the access log", Duration::from_secs(20), || {
            std::fs::read_to_string(dir.join("st.log"))
                .ok()
                .filter(|t| !t.is_empty())
        })
        .unwrap();
        let jk_log = rjk_tests::wait_until("the request log", Duration::from_secs(5), || {
            let t =
                String::from_utf8_lossy(&std::fs::read(dir.join("logs/jk.log")).ok()?).into_owned();
            let line = request_log_lines(&t);
            (!line.is_empty()).then_some(line)
        })
        .unwrap();
        httpd.stop();
        let _ = std::fs::remove_dir_all(&dir);
        seen.push((access.trim().to_owned(), jk_log));
    }
    assert_eq!(seen[0], seen[1], "mod_jk, then mod_rjk");
}
