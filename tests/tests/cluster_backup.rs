//! `rjk-node --cluster backup` behind httpd + mod_rjk: every session lives on exactly two
//! nodes (its primary and one backup chosen by hashing), survives two kill -9s one after the
//! other, follows a non-sticky balancer without losing a change, and survives a rolling
//! graceful restart; with 4 nodes each holds about half the sessions (delta: all of them).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rjk_tests::cluster::{front, Connector};
use rjk_tests::http;
use rjk_tests::httpd::{Httpd, Mpm};
use rjk_tests::replicated::{self, json_field, set_cookie_id, Member};
use rjk_tests::sessions::{route_of, step, Expect, Tally, Tracked};
use rjk_tests::wait_until;

/// How long re-placement may take to give every session its second copy again after a
/// member dies (the test prints what it measured).
const RESTORE_BOUND: Duration = Duration::from_secs(5);

const BACKUP: &[&str] = &["--cluster", "backup"];

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-backup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn start(dir: &std::path::Path, n: usize, sticky: bool) -> (Vec<Member>, Httpd) {
    let ms = replicated::start(&dir.join("nodes"), n, BACKUP).unwrap();
    let mut workers = replicated::lb_workers(&ms);
    if !sticky {
        workers.push_str("worker.lb.sticky_session=false\n");
    }
    // A stopping node answers 503 to a request that reaches it on a kept-alive connection
    // once its stop began (as a paused Tomcat): the application never saw it, so the
    // balancer tries another member (and does not mark this one in error).
    for m in &ms {
        workers.push_str(&format!("worker.{}.fail_on_status=-503\n", m.route));
    }
    let httpd = front(
        &dir.join("httpd"),
        Connector::ModRjk,
        Mpm::Event,
        &workers,
        "JkMount /* lb\n",
    )
    .unwrap();
    (ms, httpd)
}

fn create(front: SocketAddr, n: usize) -> Vec<Tracked> {
    (0..n)
        .map(|_| {
            let r = http::get(front, "/session", &[]).unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            let cookie = set_cookie_id(&r).expect("a new session sets a cookie");
            Tracked { cookie, counter: 1 }
        })
        .collect()
}

/// The sessions not held by exactly two running members, exactly one of them as primary
/// (under its own route: one owner).
fn misplaced(ms: &[Member], sessions: &[Tracked]) -> Vec<String> {
    check_copies(ms, sessions, true)
}

/// Like [`misplaced`]; without `exact`, a third copy (a stale one under an old id that a
/// move under load left behind, see node/README.md) is allowed: at least two.
fn check_copies(ms: &[Member], sessions: &[Tracked], exact: bool) -> Vec<String> {
    let mut bad = Vec::new();
    for s in sessions {
        let roles: Vec<(String, String)> = ms
            .iter()
            .filter(|m| m.is_running())
            .map(|m| (m.route.clone(), m.role_of(&s.cookie)))
            .filter(|(_, r)| r != "none")
            .collect();
        let primaries: Vec<&str> = roles
            .iter()
            .filter(|(_, r)| r.starts_with("primary"))
            .map(|(m, _)| m.as_str())
            .collect();
        let copies_ok = if exact {
            roles.len() == 2
        } else {
            roles.len() >= 2
        };
        if !copies_ok || primaries.len() != 1 {
            bad.push(format!("{}: {roles:?}", s.cookie));
        }
    }
    bad
}

fn wait_placed(ms: &[Member], sessions: &[Tracked], within: Duration) -> Duration {
    let t0 = Instant::now();
    let mut last = Vec::new();
    let placed = wait_until("two copies of every session", within, || {
        last = misplaced(ms, sessions);
        last.is_empty().then_some(())
    });
    assert!(
        placed.is_ok(),
        "{} misplaced: {:?}",
        last.len(),
        &last[..last.len().min(5)]
    );
    t0.elapsed()
}

/// `threads` clients going round their share of `sessions` (at most `rounds` times) until
/// `stop` is set and they did `after_stop` more rounds.
struct Load {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicUsize>,
    tally: Arc<Mutex<Tally>>,
    workers: Vec<std::thread::JoinHandle<Vec<Tracked>>>,
}

impl Load {
    fn start(front: SocketAddr, sessions: Vec<Tracked>, threads: usize, rounds: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let per = sessions.len().div_ceil(threads);
        let workers = sessions
            .chunks(per)
            .map(|c| {
                let mut mine = c.to_vec();
                let (stop, done, tally) = (stop.clone(), done.clone(), tally.clone());
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        for s in mine.iter_mut() {
                            step(
                                front,
                                s,
                                &tally,
                                Expect {
                                    sticky: true,
                                    allow_503: false,
                                },
                            );
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    mine
                })
            })
            .collect();
        Load {
            stop,
            rounds: done,
            tally,
            workers,
        }
    }

    fn wait_rounds(&self, n: usize) {
        wait_until("rounds of load", Duration::from_secs(60), || {
            (self.rounds.load(Ordering::SeqCst) >= n).then_some(())
        })
        .unwrap();
    }

    fn finish(self) -> (Vec<Tracked>, Tally) {
        self.stop.store(true, Ordering::SeqCst);
        let sessions = self
            .workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let t = std::mem::take(&mut *self.tally.lock().unwrap());
        (sessions, t)
    }
}

fn assert_clean(t: &Tally, replays: usize) {
    assert!(t.failed.is_empty(), "failed: {:?}", t.failed);
    assert!(t.lost.is_empty(), "lost updates: {:?}", t.lost);
    assert!(t.not_sticky.is_empty(), "not sticky: {:?}", t.not_sticky);
    assert!(t.replayed <= replays, "{} replayed", t.replayed);
}

/// One request per session, in order: every counter goes up by exactly one.
fn one_round(front: SocketAddr, sessions: &mut [Tracked], sticky: bool) -> Tally {
    let t = Mutex::new(Tally::default());
    for s in sessions.iter_mut() {
        step(
            front,
            s,
            &t,
            Expect {
                sticky,
                allow_503: false,
            },
        );
    }
    t.into_inner().unwrap()
}

#[test]
fn four_nodes_keep_two_copies_of_every_session_across_two_kill_9s() {
    const THREADS: usize = 4;
    let dir = scratch("kill");
    let (mut ms, httpd) = start(&dir, 4, true);
    let addr = httpd.addr();
    let sessions = create(addr, 100);
    // Sync replication: each response left only once the backup acknowledged its copy.
    let now = misplaced(&ms, &sessions);
    assert!(now.is_empty(), "not on two nodes when answered: {now:?}");
    let held: Vec<u64> = ms.iter().map(|m| m.sessions().unwrap()).collect();
    assert_eq!(held.iter().sum::<u64>(), 200, "two copies each: {held:?}");

    // kill -9 n1 in the middle of bounded load.
    let load = Load::start(addr, sessions, THREADS, 30);
    load.wait_rounds(2 * THREADS);
    ms[0].kill();
    let killed_at = Instant::now();
    let before = load.rounds.load(Ordering::SeqCst);
    load.wait_rounds(before + 2 * THREADS);
    let (mut sessions, t) = load.finish();
    assert_clean(&t, THREADS);
    wait_placed(&ms, &sessions, RESTORE_BOUND);
    let took = killed_at.elapsed();
    eprintln!(
        "kill n1: {} requests, {} replayed, none lost; two copies of all 100 again {} ms after \
         the kill (bound {RESTORE_BOUND:?})",
        t.requests,
        t.replayed,
        took.as_millis()
    );
    for m in ms.iter().filter(|m| m.is_running()) {
        assert_eq!(m.metric("converged"), Some(1), "{} converged", m.route);
    }

    // A second kill, after the copies are back: still nothing lost.
    ms[1].kill();
    let second = Instant::now();
    let t = one_round(addr, &mut sessions, true);
    assert_clean(&t, 0);
    wait_placed(&ms, &sessions, RESTORE_BOUND);
    eprintln!(
        "kill n2: none lost; two copies again within {} ms",
        second.elapsed().as_millis()
    );
    let held: u64 = ms.iter().filter_map(|m| m.sessions()).sum();
    assert_eq!(held, 200);
    drop(httpd);
    for m in &mut ms {
        m.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_non_sticky_balancer_always_sees_the_latest_counter() {
    let dir = scratch("nonsticky");
    let (mut ms, httpd) = start(&dir, 3, false);
    let addr = httpd.addr();
    let mut sessions = create(addr, 20);
    let mut served = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let t = one_round(addr, &mut sessions, false);
        assert_clean(&t, 0);
        for s in &sessions {
            served.insert(route_of(&s.cookie).to_string());
        }
    }
    assert!(
        served.len() > 1,
        "the balancer spread the sessions: {served:?}"
    );
    let fetches: u64 = ms.iter().filter_map(|m| m.metric("fetches_total")).sum();
    assert!(fetches > 0, "ownership moved with the requests");
    wait_placed(&ms, &sessions, Duration::from_secs(5));
    eprintln!("non-sticky: 100 requests on 20 sessions, {fetches} fetches, none lost");

    drop(httpd);
    for m in &mut ms {
        m.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Graceful restart of each of four nodes in turn under load; returns the nodes, the front
/// end and what the load saw (the sessions as they are now).
fn rolling_restart(dir: &std::path::Path) -> (Vec<Member>, Httpd, Vec<Tracked>) {
    const THREADS: usize = 3;
    let (mut ms, httpd) = start(dir, 4, true);
    let addr = httpd.addr();
    let sessions = create(addr, 40);
    wait_placed(&ms, &sessions, Duration::from_secs(5));
    let load = Load::start(addr, sessions, THREADS, 400);
    for i in 0..ms.len() {
        let r = load.rounds.load(Ordering::SeqCst);
        load.wait_rounds(r + THREADS);
        ms[i].terminate();
        // It handed everything off before saying goodbye (moves made by the load meanwhile
        // can leave a stray copy of an old id for a while: counted, not asserted).
        let held: Vec<u64> = ms.iter().filter_map(|m| m.sessions()).collect();
        eprintln!("n{} stopped: copies on the others {held:?}", i + 1);
        let r = load.rounds.load(Ordering::SeqCst);
        load.wait_rounds(r + THREADS);
        ms[i].start().unwrap();
        ms[i].wait_live(ms.len() - 1).unwrap();
    }
    let r = load.rounds.load(Ordering::SeqCst);
    load.wait_rounds(r + THREADS);
    let (sessions, t) = load.finish();
    assert_clean(&t, 0);
    let handed: u64 = ms.iter().filter_map(|m| m.metric("takeovers_total")).sum();
    eprintln!(
        "rolling restart of 4 nodes: {} requests, none failed or lost ({handed} takeovers on \
         the nodes as they are now)",
        t.requests
    );
    (ms, httpd, sessions)
}

/// No session lost, no request failed, and afterwards one owner and two copies of every
/// session again (before re-placement sent every holder its copy, not only the holders new by
/// the last placed view, about one run in ten left a few sessions with one copy).
#[test]
fn a_rolling_graceful_restart_loses_nothing_and_fails_nothing() {
    let dir = scratch("rolling");
    let (mut ms, httpd, sessions) = rolling_restart(&dir);
    let mut bad = Vec::new();
    let placed = wait_until(
        "one owner and two copies of every session",
        RESTORE_BOUND,
        || {
            bad = check_copies(&ms, &sessions, false);
            bad.is_empty().then_some(())
        },
    );
    assert!(placed.is_ok(), "{bad:?}");
    let strays = misplaced(&ms, &sessions).len();
    let held: Vec<(Option<u64>, Option<u64>)> = ms
        .iter()
        .map(|m| (m.metric("sessions_primary"), m.metric("sessions_backup")))
        .collect();
    eprintln!(
        "after the rolling restart: (primary, backup) per node {held:?}, {strays} session(s) \
         with a stale third copy"
    );
    drop(httpd);
    for m in &mut ms {
        m.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Resident memory of a member, in KiB.
fn rss_kib(m: &Member) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", m.pid().unwrap())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// 4 members in `mode`; `total` sessions created directly on them (round robin, a few
/// clients); what each then holds: (sessions, RSS growth in KiB).
fn hold(dir: &std::path::Path, mode: &str, total: usize) -> Vec<(u64, u64)> {
    let mut ms = replicated::start(dir, 4, &["--cluster", mode]).unwrap();
    let before: Vec<u64> = ms.iter().map(rss_kib).collect();
    let addrs: Vec<SocketAddr> = ms.iter().map(|m| m.http_addr()).collect();
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let addrs = addrs.clone();
            std::thread::spawn(move || {
                for i in (c..total).step_by(4) {
                    let r = http::get(addrs[i % addrs.len()], "/session", &[]).unwrap();
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let held = wait_until("every copy in place", Duration::from_secs(10), || {
        let n: Vec<u64> = ms.iter().filter_map(|m| m.sessions()).collect();
        let want = if mode == "backup" { 2 } else { 4 } * total as u64;
        (n.iter().sum::<u64>() == want).then_some(n)
    })
    .unwrap();
    let out = held
        .into_iter()
        .zip(ms.iter().zip(before))
        .map(|(n, (m, b))| (n, rss_kib(m).saturating_sub(b)))
        .collect();
    for m in &mut ms {
        m.kill();
    }
    out
}

#[test]
fn with_four_nodes_each_holds_about_half_the_sessions() {
    const TOTAL: usize = 10_000;
    let dir = scratch("memory");
    let backup = hold(&dir.join("backup"), "backup", TOTAL);
    let delta = hold(&dir.join("delta"), "delta", TOTAL);
    eprintln!(
        "{TOTAL} sessions on 4 nodes, (sessions held, RSS growth KiB) per node: backup \
         {backup:?}, delta {delta:?}"
    );
    for (n, _) in &backup {
        // Two copies over four nodes: 5000 each, give or take the hashing's spread.
        assert!((4_000..=6_000).contains(n), "backup: {backup:?}");
    }
    for (n, _) in &delta {
        assert_eq!(*n, TOTAL as u64, "delta: {delta:?}");
    }
    let rss = |v: &[(u64, u64)]| v.iter().map(|(_, r)| r).sum::<u64>();
    assert!(
        rss(&backup) * 4 < rss(&delta) * 3,
        "backup grows less than delta: {} vs {} KiB",
        rss(&backup),
        rss(&delta)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every node asks for one session at the same moment, ten times over: handovers are
/// exclusive, stale backup copies are refused, a request whose session moved on again before
/// it bound fetches once more. (Before those three, half the runs ended with two owners or a
/// request without its session.)
#[test]
fn every_node_asking_for_one_session_at_once_keeps_one_owner() {
    let dir = scratch("concurrent");
    let (mut ms, httpd) = start(&dir, 3, false);
    let sessions = create(httpd.addr(), 1);

    // Every node asks for one session at the same time, over and over (read-only requests):
    // the session keeps one owner and its counter.
    let s = sessions[0].clone();
    let askers: Vec<_> = ms
        .iter()
        .map(|m| {
            let (addr, cookie) = (m.http_addr(), format!("JSESSIONID={}", s.cookie));
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| {
                        let r = http::get(addr, "/get?counter", &[("Cookie", &cookie)]).unwrap();
                        json_field(&r.text(), "counter")
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for a in askers {
        for c in a.join().unwrap() {
            assert_eq!(c, Some(s.counter.to_string()), "{}", s.cookie);
        }
    }
    wait_placed(&ms, &sessions, Duration::from_secs(5));
    drop(httpd);
    for m in &mut ms {
        m.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
