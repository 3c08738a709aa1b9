//! Balancing scenarios written once, as data (workers.properties lines and the requests'
//! expected outcomes) and a runner per front end: Debian's mod_jk (the reference, under
//! mpm_event), mod_rjk under each of mpm_event, mpm_prefork and mpm_worker, and nginx with
//! ngx_module (two worker processes sharing the table), all with the same rjk-node backends and
//! the same mounts. Each must give the expected result everywhere, so both of our front ends
//! behave as mod_jk where it matters to an operator.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rjk_tests::cluster::{front, member_lines, Connector, Node};
use rjk_tests::http;
use rjk_tests::httpd::{Httpd, Mpm};
use rjk_tests::nginx::Nginx;
use rjk_tests::served::{only, tally, who};

/// The front end a scenario runs on.
#[derive(Clone, Copy, Debug)]
enum Front {
    /// httpd with a connector, loaded into an MPM.
    Httpd(Connector, Mpm),
    /// nginx with ngx_module.
    Nginx,
}

/// What a scenario asks of its front end beyond the workers: the mounts every front end is
/// given (mod_jk's syntax, each front end writes it its own way).
const MOUNTS: [(&str, &str); 2] = [("/*", "lb"), ("/jkstatus", "jkstatus")];

impl Front {
    const JK: Front = Front::Httpd(Connector::ModJk, Mpm::Event);

    fn rjk(mpm: Mpm) -> Front {
        Front::Httpd(Connector::ModRjk, mpm)
    }

    /// For assertion messages and directory names: "mod_rjk-prefork", "nginx".
    fn name(self) -> String {
        match self {
            Front::Httpd(c, mpm) => {
                format!("{}-{}", c.name(), format!("{mpm:?}").to_lowercase())
            }
            Front::Nginx => "nginx".to_owned(),
        }
    }
}

/// httpd lines for a single child process under `mpm` (every request sees one process's
/// per-process balancer state).
fn one_child(mpm: Mpm) -> &'static str {
    match mpm {
        Mpm::Prefork => {
            "ServerLimit 1\nStartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nMaxRequestWorkers 1\n"
        }
        Mpm::Event | Mpm::Worker => "ServerLimit 1\nStartServers 1\nMaxRequestWorkers 16\n",
    }
}

enum Server {
    Httpd(Httpd),
    Nginx(Nginx),
}

struct Setup {
    nodes: Vec<Node>,
    server: Server,
    dir: std::path::PathBuf,
}

impl Setup {
    /// Nodes named by `routes`, an lb `lb` over them and a status worker `jkstatus`, with
    /// `extra` workers.properties lines.
    fn start(f: Front, name: &str, routes: &[&str], extra: &str) -> Setup {
        Setup::start_with(f, name, routes, extra, false)
    }

    /// `one_process`: a single httpd child or nginx worker process (mod_jk's tie-break offset
    /// is per process, as mod_rjk's and ngx_module's: a sequence compared across front ends
    /// must not depend on which process took each connection).
    fn start_with(f: Front, name: &str, routes: &[&str], extra: &str, one_process: bool) -> Setup {
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
        let dir =
            std::env::temp_dir().join(format!("rjk-sc-{name}-{}-{}", f.name(), std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let server = match f {
            Front::Httpd(c, mpm) => {
                let mut jk: String = MOUNTS
                    .iter()
                    .map(|(p, w)| format!("JkMount {p} {w}\n"))
                    .collect();
                // Maintenance without traffic (nginx runs it on a timer in every process).
                jk.push_str("JkWatchdogInterval 1\n");
                if one_process {
                    jk.push_str(one_child(mpm));
                }
                Server::Httpd(front(&dir, c, mpm, &workers, &jk).unwrap())
            }
            Front::Nginx => {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("workers.properties"), &workers).unwrap();
                let mut http =
                    format!("  rjk_workers_file {}/workers.properties;\n", dir.display());
                for (p, w) in MOUNTS {
                    http.push_str(&format!("  rjk_mount {p} {w};\n"));
                }
                let processes = if one_process { 1 } else { 2 };
                Server::Nginx(Nginx::start(&dir, processes, &http, "").unwrap())
            }
        };
        Setup { nodes, server, dir }
    }

    fn addr(&self) -> SocketAddr {
        match &self.server {
            Server::Httpd(h) => h.addr(),
            Server::Nginx(n) => n.addr(),
        }
    }

    fn node(&mut self, route: &str) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.route == route).unwrap()
    }

    /// Stop the front end; no nginx worker process crashed or complained.
    fn stop(self) {
        match self.server {
            Server::Httpd(h) => h.stop(),
            Server::Nginx(n) => {
                let log = n.error_log();
                for bad in ["[alert]", "[crit]", "[emerg]", "exited on signal"] {
                    assert!(!log.contains(bad), "{bad} in nginx's error.log:\n{log}");
                }
                n.stop();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One `#[test]` per scenario and front end, so a failure names both (`prefork::sticky...`).
macro_rules! run_under {
    ($module:ident, $front:expr, [$($scenario:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario($front);
                }
            )*
        }
    };
}

run_under!(
    mod_jk,
    super::Front::JK,
    [
        sessions_stick_by_cookie_and_by_path_parameter,
        a_dead_node_loses_no_request_and_comes_back_after_recover_time,
        sticky_session_force_answers_503_when_the_node_is_down,
        distance_and_domain_choose_the_failover_member,
        activation_and_redirect_decide_as_in_mod_jk,
        reply_timeout_is_504_and_fail_on_status_fails_over,
    ]
);

/// Every scenario, for one of our front ends.
macro_rules! ours_under {
    ($module:ident, $front:expr) => {
        run_under!(
            $module,
            $front,
            [
                sessions_stick_by_cookie_and_by_path_parameter,
                a_dead_node_loses_no_request_and_comes_back_after_recover_time,
                sticky_session_force_answers_503_when_the_node_is_down,
                distance_and_domain_choose_the_failover_member,
                activation_and_redirect_decide_as_in_mod_jk,
                reply_timeout_is_504_and_fail_on_status_fails_over,
                the_same_request_sequence_hits_the_same_members_as_mod_jk,
                maintenance_recovers_members_without_traffic,
            ]
        );
    };
}

ours_under!(event, super::Front::rjk(rjk_tests::httpd::Mpm::Event));
ours_under!(prefork, super::Front::rjk(rjk_tests::httpd::Mpm::Prefork));
ours_under!(worker, super::Front::rjk(rjk_tests::httpd::Mpm::Worker));
ours_under!(nginx, super::Front::Nginx);

fn sessions_stick_by_cookie_and_by_path_parameter(f: Front) {
    let s = Setup::start(f, "sticky", &["n1", "n2", "n3"], "");
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
        f.name()
    );
    for i in 0..100 {
        let r = http::get(s.addr(), "/session", &[("Cookie", &cookie)]).unwrap();
        assert_eq!(
            r.header("X-Rjk-Node"),
            Some(node.as_str()),
            "{}: request {i}",
            f.name()
        );
        assert!(
            r.text().contains(&format!("\"counter\":{}", i + 2)),
            "{}: the session lives on: {}",
            f.name(),
            r.text()
        );
    }
    let id = cookie.split_once('=').unwrap().1;
    assert_eq!(
        who(s.addr(), &format!("/1k;jsessionid={id}"), None),
        node,
        "{}: ;jsessionid",
        f.name()
    );
    s.stop();
}

fn a_dead_node_loses_no_request_and_comes_back_after_recover_time(f: Front) {
    let mut s = Setup::start(
        f,
        "failover",
        &["n1", "n2"],
        "worker.lb.recover_time=1\nworker.maintain=1\n",
    );
    assert_eq!(tally(s.addr(), 20, None).len(), 2, "{}", f.name());
    s.node("n1").kill();
    // Non-sticky traffic moves without a single failed GET, and so do n1's sessions.
    assert_eq!(tally(s.addr(), 30, None), only("n2", 30), "{}", f.name());
    assert_eq!(
        tally(s.addr(), 5, Some("JSESSIONID=X.n1")),
        only("n2", 5),
        "{}",
        f.name()
    );
    // n1 returns: after recover_time (1 s) and a maintenance run it takes traffic again.
    s.node("n1").restart().unwrap();
    let back = rjk_tests::wait_until(
        "n1 to be used again",
        std::time::Duration::from_secs(20),
        || (who(s.addr(), "/1k", None) == "n1").then_some(()),
    );
    assert!(back.is_ok(), "{}: {back:?}", f.name());
    s.stop();
}

fn sticky_session_force_answers_503_when_the_node_is_down(f: Front) {
    let mut s = Setup::start(
        f,
        "force",
        &["n1", "n2"],
        "worker.lb.sticky_session_force=true\n",
    );
    s.node("n1").kill();
    assert_eq!(
        who(s.addr(), "/1k", Some("JSESSIONID=X.n1")),
        "503",
        "{}",
        f.name()
    );
    assert_eq!(
        who(s.addr(), "/1k", Some("JSESSIONID=X.n2")),
        "n2",
        "{}",
        f.name()
    );
    s.stop();
}

fn distance_and_domain_choose_the_failover_member(f: Front) {
    // a1, a2 in domain A; b1 in B at distance 1 (used only when A is gone).
    let extra =
        "worker.a1.route=A.a1\nworker.a2.route=A.a2\nworker.b1.route=B.b1\nworker.b1.distance=1\n";
    let mut s = Setup::start(f, "domain", &["a1", "a2", "b1"], extra);
    let t = tally(s.addr(), 40, None);
    assert!(
        !t.contains_key("b1"),
        "{}: the distance-1 member idles while distance 0 works: {t:?}",
        f.name()
    );
    s.node("a1").kill();
    // a1's session goes to its domain peer a2 first.
    assert_eq!(
        who(s.addr(), "/1k", Some("JSESSIONID=X.A.a1")),
        "a2",
        "{}",
        f.name()
    );
    s.node("a2").kill();
    assert_eq!(
        tally(s.addr(), 10, None),
        only("b1", 10),
        "{}: distance 1 only when all of distance 0 is down",
        f.name()
    );
    s.stop();
}

fn reply_timeout_is_504_and_fail_on_status_fails_over(f: Front) {
    let s = Setup::start(
        f,
        "timeouts",
        &["n1", "n2"],
        "worker.n1.reply_timeout=300\nworker.n2.reply_timeout=300\nworker.lb.retries=1\n",
    );
    let started = Instant::now();
    let r = http::get(s.addr(), "/slow?ms=3000", &[]).unwrap();
    assert_eq!(r.status, 504, "{}: {}", f.name(), r.text());
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{}: {:?}",
        f.name(),
        started.elapsed()
    );
    s.stop();
    let s = Setup::start(
        f,
        "fos",
        &["n1", "n2"],
        "worker.n1.fail_on_status=-500\nworker.n2.fail_on_status=-500\n",
    );
    // Both members answer 500 for /status/500: each is tried, the client gets 503 (mod_jk's
    // reply for a fail_on_status match), and a following normal request still works.
    let r = http::get(s.addr(), "/status/500", &[]).unwrap();
    assert_eq!(r.status, 503, "{}: {}", f.name(), r.text());
    let after = tally(s.addr(), 4, None);
    assert!(
        after.keys().all(|k| k == "n1" || k == "n2"),
        "{}: members still serve normal requests: {after:?}",
        f.name()
    );
    s.stop();
}

/// The members hit, in order, by a mixed sequence (non-sticky, sticky to each node, a session
/// of a node that does not exist) through `f` with one process.
fn member_sequence(f: Front) -> Vec<String> {
    let s = Setup::start_with(
        f,
        "sequence",
        &["n1", "n2", "n3"],
        "worker.n1.lbfactor=1\nworker.n2.lbfactor=2\nworker.n3.lbfactor=3\n",
        true,
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
    seq
}

/// The same sequence through mod_jk (computed once per test binary) and `f`: the members hit
/// are identical.
fn the_same_request_sequence_hits_the_same_members_as_mod_jk(f: Front) {
    static MOD_JK: OnceLock<Vec<String>> = OnceLock::new();
    let jk = MOD_JK.get_or_init(|| member_sequence(Front::JK));
    let rjk = member_sequence(f);
    let first_diff = jk.iter().zip(&rjk).position(|(a, b)| a != b);
    assert_eq!(
        first_diff,
        None,
        "{}\nmod_jk {:?}\nours {:?}",
        f.name(),
        &jk[..30],
        &rjk[..30]
    );
}

/// With no traffic at all, a failed member is recovered by maintenance (httpd's watchdog
/// thread, JkWatchdogInterval; nginx's timer in each worker process): the status page itself
/// runs none.
fn maintenance_recovers_members_without_traffic(f: Front) {
    let mut s = Setup::start(
        f,
        "maintain",
        &["n1", "n2"],
        "worker.lb.recover_time=1\nworker.maintain=1\n",
    );
    s.node("n1").kill();
    let during = tally(s.addr(), 6, None);
    assert_eq!(
        during,
        only("n2", 6),
        "{}: n2 takes the traffic while n1 is dead",
        f.name()
    );
    let state = |a| {
        let p = http::get(a, "/jkstatus?mime=prop", &[]).unwrap().text();
        p.lines()
            .find(|l| l.starts_with("worker.n1.state="))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        state(s.addr()),
        "worker.n1.state=ERR",
        "{}: n1 failed",
        f.name()
    );
    let recovered = rjk_tests::wait_until(
        "maintenance to move n1 out of ERR",
        std::time::Duration::from_secs(15),
        || (state(s.addr()) != "worker.n1.state=ERR").then_some(()),
    );
    assert!(recovered.is_ok(), "{}: {}", f.name(), state(s.addr()));
    s.stop();
}

fn activation_and_redirect_decide_as_in_mod_jk(f: Front) {
    // n1 disabled: keeps its sessions, takes no new ones; n3 stopped: takes nothing, not even
    // its own sessions; n2 redirects its sessions to n4 when it is down.
    let extra = "worker.n1.activation=D\nworker.n3.activation=S\nworker.n2.redirect=n4\n";
    let mut s = Setup::start(f, "activation", &["n1", "n2", "n3", "n4"], extra);
    let t = tally(s.addr(), 40, None);
    assert!(
        !t.contains_key("n1") && !t.contains_key("n3"),
        "{}: new sessions avoid disabled and stopped members: {t:?}",
        f.name()
    );
    assert_eq!(
        tally(s.addr(), 5, Some("JSESSIONID=X.n1")),
        only("n1", 5),
        "{}",
        f.name()
    );
    let stopped = tally(s.addr(), 10, Some("JSESSIONID=X.n3"));
    assert!(!stopped.contains_key("n3"), "{}: {stopped:?}", f.name());
    s.node("n2").kill();
    assert_eq!(
        tally(s.addr(), 5, Some("JSESSIONID=X.n2")),
        only("n4", 5),
        "{}",
        f.name()
    );
    s.stop();
}
