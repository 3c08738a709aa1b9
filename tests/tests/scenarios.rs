//! Balancing scenarios written once and run against Debian's mod_jk (the reference) and mod_rjk
//! with the same rjk-node backends and configuration: each must give the expected result on
//! both, so mod_rjk behaves as mod_jk where it matters to an operator.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use rjk_tests::cluster::{front, member_lines, Connector, Node};
use rjk_tests::http;
use rjk_tests::httpd::{Httpd, Mpm};

struct Setup {
    nodes: Vec<Node>,
    httpd: Httpd,
    dir: std::path::PathBuf,
}

impl Setup {
    /// Nodes named by `routes`, an lb `lb` over them with `extra` workers.properties lines.
    fn start(c: Connector, name: &str, routes: &[&str], extra: &str) -> Setup {
        Setup::start_with(c, name, routes, extra, "")
    }

    /// With extra httpd lines (e.g. one child process).
    fn start_with(
        c: Connector,
        name: &str,
        routes: &[&str],
        extra: &str,
        httpd_extra: &str,
    ) -> Setup {
        let nodes: Vec<Node> = routes
            .iter()
            .map(|r| Node::start(r, None, &[]).unwrap())
            .collect();
        let workers = format!(
            "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers={}\n{}{extra}",
            routes.join(","),
            member_lines(&nodes, |_| String::new())
        );
        let dir =
            std::env::temp_dir().join(format!("rjk-sc-{name}-{}-{}", c.name(), std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let httpd = front(
            &dir,
            c,
            Mpm::Event,
            &workers,
            &format!("JkMount /* lb\n{httpd_extra}"),
        )
        .unwrap();
        Setup { nodes, httpd, dir }
    }

    fn addr(&self) -> SocketAddr {
        self.httpd.addr()
    }

    fn node(&mut self, route: &str) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.route == route).unwrap()
    }

    fn stop(self) {
        self.httpd.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Who served (or the status when nobody did).
fn who(a: SocketAddr, path: &str, cookie: Option<&str>) -> String {
    let h: Vec<(&str, &str)> = cookie.map(|c| vec![("Cookie", c)]).unwrap_or_default();
    let r = http::get(a, path, &h).unwrap();
    match r.header("X-Rjk-Node") {
        Some(n) if r.status == 200 => n.to_owned(),
        Some(n) => format!("{n}:{}", r.status),
        None => r.status.to_string(),
    }
}

fn tally(a: SocketAddr, n: usize, cookie: Option<&str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for _ in 0..n {
        *m.entry(who(a, "/1k", cookie)).or_insert(0) += 1;
    }
    m
}

fn both(f: impl Fn(Connector)) {
    for c in [Connector::ModJk, Connector::ModRjk] {
        f(c);
    }
}

fn only(k: &str, n: usize) -> BTreeMap<String, usize> {
    BTreeMap::from([(k.to_owned(), n)])
}

#[test]
fn sessions_stick_by_cookie_and_by_path_parameter() {
    both(|c| {
        let s = Setup::start(c, "sticky", &["n1", "n2", "n3"], "");
        // A new session from /session: its id ends with the node's route.
        let r = http::get(s.addr(), "/session", &[]).unwrap();
        let node = r.header("X-Rjk-Node").unwrap().to_owned();
        let cookie = r
            .header("Set-Cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert!(
            cookie.ends_with(&format!(".{node}")),
            "{}: {cookie}",
            c.name()
        );
        for i in 0..100 {
            let r = http::get(s.addr(), "/session", &[("Cookie", &cookie)]).unwrap();
            assert_eq!(
                r.header("X-Rjk-Node"),
                Some(node.as_str()),
                "{}: request {i}",
                c.name()
            );
            assert!(
                r.text().contains(&format!("\"counter\":{}", i + 2)),
                "{}: the session lives on: {}",
                c.name(),
                r.text()
            );
        }
        let id = cookie.split_once('=').unwrap().1;
        assert_eq!(
            who(s.addr(), &format!("/1k;jsessionid={id}"), None),
            node,
            "{}: ;jsessionid",
            c.name()
        );
        s.stop();
    });
}

#[test]
fn a_dead_node_loses_no_request_and_comes_back_after_recover_time() {
    both(|c| {
        let mut s = Setup::start(
            c,
            "failover",
            &["n1", "n2"],
            "worker.lb.recover_time=1\nworker.maintain=1\n",
        );
        assert_eq!(tally(s.addr(), 20, None).len(), 2, "{}", c.name());
        s.node("n1").kill();
        // Non-sticky traffic moves without a single failed GET, and so do n1's sessions.
        assert_eq!(tally(s.addr(), 30, None), only("n2", 30), "{}", c.name());
        assert_eq!(
            tally(s.addr(), 5, Some("JSESSIONID=X.n1")),
            only("n2", 5),
            "{}",
            c.name()
        );
        // n1 returns: after recover_time (1 s) and a maintenance run it takes traffic again.
        s.node("n1").restart().unwrap();
        let back = rjk_tests::wait_until(
            "n1 to be used again",
            std::time::Duration::from_secs(20),
            || (who(s.addr(), "/1k", None) == "n1").then_some(()),
        );
        assert!(back.is_ok(), "{}: {back:?}", c.name());
        s.stop();
    });
}

#[test]
fn sticky_session_force_answers_503_when_the_node_is_down() {
    both(|c| {
        let mut s = Setup::start(
            c,
            "force",
            &["n1", "n2"],
            "worker.lb.sticky_session_force=true\n",
        );
        s.node("n1").kill();
        assert_eq!(
            who(s.addr(), "/1k", Some("JSESSIONID=X.n1")),
            "503",
            "{}",
            c.name()
        );
        assert_eq!(
            who(s.addr(), "/1k", Some("JSESSIONID=X.n2")),
            "n2",
            "{}",
            c.name()
        );
        s.stop();
    });
}

#[test]
fn distance_and_domain_choose_the_failover_member() {
    both(|c| {
        // a1, a2 in domain A; b1 in B at distance 1 (used only when A is gone).
        let extra = "worker.a1.route=A.a1\nworker.a2.route=A.a2\nworker.b1.route=B.b1\nworker.b1.distance=1\n";
        let mut s = Setup::start(c, "domain", &["a1", "a2", "b1"], extra);
        let t = tally(s.addr(), 40, None);
        assert!(
            !t.contains_key("b1"),
            "{}: the distance-1 member idles while distance 0 works: {t:?}",
            c.name()
        );
        s.node("a1").kill();
        // a1's session goes to its domain peer a2 first.
        assert_eq!(
            who(s.addr(), "/1k", Some("JSESSIONID=X.A.a1")),
            "a2",
            "{}",
            c.name()
        );
        s.node("a2").kill();
        assert_eq!(
            tally(s.addr(), 10, None),
            only("b1", 10),
            "{}: distance 1 only when all of distance 0 is down",
            c.name()
        );
        s.stop();
    });
}

#[test]
fn reply_timeout_is_504_and_fail_on_status_fails_over() {
    both(|c| {
        let s = Setup::start(
            c,
            "timeouts",
            &["n1", "n2"],
            "worker.n1.reply_timeout=300\nworker.n2.reply_timeout=300\nworker.lb.retries=1\n",
        );
        let r = http::get(s.addr(), "/slow?ms=2000", &[]).unwrap();
        assert_eq!(r.status, 504, "{}: {}", c.name(), r.text());
        s.stop();
        let s = Setup::start(
            c,
            "fos",
            &["n1", "n2"],
            "worker.n1.fail_on_status=-500\nworker.n2.fail_on_status=-500\n",
        );
        // Both members answer 500 for /status/500: each is tried, the client gets 503 (mod_jk's
        // reply for a fail_on_status match), and a following normal request still works.
        let r = http::get(s.addr(), "/status/500", &[]).unwrap();
        assert_eq!(r.status, 503, "{}: {}", c.name(), r.text());
        let after = tally(s.addr(), 4, None);
        assert!(
            after.keys().all(|k| k == "n1" || k == "n2"),
            "{}: members still serve normal requests: {after:?}",
            c.name()
        );
        s.stop();
    });
}

/// The same mixed sequence (non-sticky, sticky to each node, a session of a node that does not
/// exist) through mod_jk and mod_rjk: the members hit, in order, are identical. One httpd child:
/// mod_jk's tie-break offset is per process, so with several children its own sequence depends
/// on which child took each connection.
#[test]
fn the_same_request_sequence_hits_the_same_members_as_mod_jk() {
    let mut seqs = Vec::new();
    for c in [Connector::ModJk, Connector::ModRjk] {
        let one_child = "ServerLimit 1\nStartServers 1\nMaxRequestWorkers 16\n";
        let s = Setup::start_with(
            c,
            "sequence",
            &["n1", "n2", "n3"],
            "worker.n1.lbfactor=1\nworker.n2.lbfactor=2\nworker.n3.lbfactor=3\n",
            one_child,
        );
        let mut seq = Vec::new();
        for i in 0..300 {
            let cookie = match i % 7 {
                1 => Some("JSESSIONID=A.n1"),
                3 => Some("JSESSIONID=B.n3"),
                5 => Some("JSESSIONID=C.gone"),
                _ => None,
            };
            seq.push(who(s.addr(), "/1k", cookie));
        }
        s.stop();
        seqs.push(seq);
    }
    let first_diff = seqs[0].iter().zip(&seqs[1]).position(|(a, b)| a != b);
    assert_eq!(
        first_diff,
        None,
        "mod_jk {:?}\nmod_rjk {:?}",
        &seqs[0][..30],
        &seqs[1][..30]
    );
}

/// JkWatchdogInterval: with no traffic at all, a failed member is recovered by the child's
/// maintenance thread (the status page itself runs no maintenance).
#[test]
fn the_watchdog_recovers_members_without_traffic() {
    let mut s = Setup::start_with(
        Connector::ModRjk,
        "watchdog",
        &["n1", "n2"],
        "worker.list=jkstatus\nworker.jkstatus.type=status\nworker.lb.recover_time=1\nworker.maintain=1\n",
        "JkWatchdogInterval 1\nJkMount /jkstatus jkstatus\n",
    );
    s.node("n1").kill();
    let during = tally(s.addr(), 6, None);
    assert_eq!(
        during,
        only("n2", 6),
        "n2 takes the traffic while n1 is dead"
    );
    let state = |a| {
        let p = http::get(a, "/jkstatus?mime=prop", &[]).unwrap().text();
        p.lines()
            .find(|l| l.starts_with("worker.n1.state="))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(state(s.addr()), "worker.n1.state=ERR", "n1 failed");
    let recovered = rjk_tests::wait_until(
        "the watchdog to move n1 out of ERR",
        std::time::Duration::from_secs(15),
        || (state(s.addr()) != "worker.n1.state=ERR").then_some(()),
    );
    assert!(recovered.is_ok(), "{}", state(s.addr()));
    s.stop();
}
