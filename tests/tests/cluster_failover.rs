//! A three-node rjk-node cluster (`--cluster delta`, static members, sync replication) behind
//! httpd with mod_rjk and with Debian's mod_jk: a node killed with SIGKILL under load loses no
//! session, its sessions are re-bound to the node that took them over, and when it comes back
//! it has every session before its AJP port opens.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rjk_tests::cluster::{front, Connector};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;
use rjk_tests::replicated::{self, json_field, set_cookie_id, Member};
use rjk_tests::sessions::{route_of, step, Expect, Tally, Tracked};
use rjk_tests::wait_until;

const SESSIONS: usize = 50;
const THREADS: usize = 5;
/// Each load thread stops after this many rounds over its sessions at most (bounded load).
const MAX_ROUNDS: usize = 40;
/// Rounds each thread still runs once the node is dead.
const ROUNDS_AFTER_KILL: usize = 3;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-cluster-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Every answer from the node the session's route names.
const STICKY: Expect = Expect {
    sticky: true,
    allow_503: false,
};

fn failover(connector: Connector) {
    let dir = scratch(connector.name());
    let mut ms = replicated::start(&dir.join("nodes"), 3, &[]).unwrap();
    let httpd = front(
        &dir.join("httpd"),
        connector,
        Mpm::Event,
        &replicated::lb_workers(&ms),
        "JkMount /* lb\n",
    )
    .unwrap();
    let addr = httpd.addr();

    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let r = http::get(addr, "/session", &[]).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let cookie = set_cookie_id(&r).expect("a new session sets a cookie");
        sessions.push(Tracked { cookie, counter: 1 });
    }
    let per_route = |ss: &[Tracked]| {
        let mut m = BTreeMap::new();
        for s in ss {
            *m.entry(route_of(&s.cookie).to_string()).or_insert(0) += 1;
        }
        m
    };
    let before = per_route(&sessions);
    assert_eq!(
        before.len(),
        3,
        "sessions spread over the nodes: {before:?}"
    );
    for m in &ms {
        assert_eq!(
            m.sessions(),
            Some(SESSIONS as u64),
            "{} holds every session",
            m.route
        );
    }
    let on_n1: Vec<String> = sessions
        .iter()
        .filter(|s| route_of(&s.cookie) == "n1")
        .map(|s| s.cookie.clone())
        .collect();

    // Bounded load from THREADS clients; n1 dies with SIGKILL in the middle of it.
    let tally = Arc::new(Mutex::new(Tally::default()));
    let killed = Arc::new(AtomicBool::new(false));
    let done_rounds = Arc::new(AtomicUsize::new(0));
    let chunks: Vec<Vec<Tracked>> = sessions
        .chunks(SESSIONS / THREADS)
        .map(|c| c.to_vec())
        .collect();
    let workers: Vec<_> = chunks
        .into_iter()
        .map(|mut mine| {
            let (tally, killed, done_rounds) = (tally.clone(), killed.clone(), done_rounds.clone());
            std::thread::spawn(move || {
                let mut after_kill = 0;
                for _ in 0..MAX_ROUNDS {
                    let was_killed = killed.load(Ordering::SeqCst);
                    for s in mine.iter_mut() {
                        step(addr, s, &tally, STICKY);
                    }
                    done_rounds.fetch_add(1, Ordering::SeqCst);
                    if was_killed {
                        after_kill += 1;
                        if after_kill == ROUNDS_AFTER_KILL {
                            break;
                        }
                    }
                }
                mine
            })
        })
        .collect();
    wait_until("two rounds of load", Duration::from_secs(30), || {
        (done_rounds.load(Ordering::SeqCst) >= 2 * THREADS).then_some(())
    })
    .unwrap();
    ms[0].kill();
    killed.store(true, Ordering::SeqCst);
    let mut sessions: Vec<Tracked> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let t = tally.lock().unwrap();
    assert!(t.failed.is_empty(), "failed GETs: {:?}", t.failed);
    assert!(t.lost.is_empty(), "lost updates: {:?}", t.lost);
    assert!(
        t.replayed <= THREADS,
        "at most one request in flight per client at the kill: {} replayed",
        t.replayed
    );
    assert!(t.not_sticky.is_empty(), "not sticky: {:?}", t.not_sticky);
    assert_eq!(t.rebound, on_n1.len(), "every n1 session re-bound once");
    eprintln!(
        "{}: {} requests, {} sessions moved off n1, {} replayed by the balancer, none lost",
        connector.name(),
        t.requests,
        on_n1.len(),
        t.replayed
    );
    drop(t);
    assert!(
        !per_route(&sessions).contains_key("n1"),
        "{:?}",
        per_route(&sessions)
    );
    // The next requests stick to the new node without another re-binding.
    for s in sessions.iter_mut() {
        let local = Mutex::new(Tally::default());
        step(addr, s, &local, STICKY);
        let t = local.into_inner().unwrap();
        assert!(
            t.failed.is_empty() && t.lost.is_empty() && t.not_sticky.is_empty(),
            "{t:?}"
        );
        assert_eq!(t.rebound, 0);
    }

    // n1 comes back: once its AJP port is open it has every session (asked directly).
    ms[0].start().unwrap();
    assert!(
        ms[0].log().contains(&format!("{SESSIONS} session(s) from")),
        "state transfer logged:\n{}",
        ms[0].log()
    );
    for s in &sessions {
        let r = http::get(
            ms[0].http_addr(),
            "/session",
            &[("Cookie", &format!("JSESSIONID={}", s.cookie))],
        )
        .unwrap();
        assert_eq!(
            json_field(&r.text(), "counter"),
            Some((s.counter + 1).to_string()),
            "{} on the restarted n1",
            s.cookie
        );
    }
    drop(httpd);
    for m in &mut ms {
        m.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_under_load_loses_no_session_behind_mod_rjk() {
    failover(Connector::ModRjk);
}

#[test]
fn kill_9_under_load_loses_no_session_behind_mod_jk() {
    failover(Connector::ModJk);
}

/// Members hand sessions around with ids the test does not know: look at counts instead.
fn all_hold(ms: &[Member], n: u64) -> bool {
    ms.iter().all(|m| m.sessions() == Some(n))
}

#[test]
fn concurrent_changes_invalidation_and_expiry_reach_every_node() {
    let dir = scratch("semantics");
    let ms = replicated::start(&dir, 3, &["--session-timeout", "2"]).unwrap();
    let cookie = |m: &Member, path: &str, id: Option<&str>| {
        let c = id.map(|i| format!("JSESSIONID={i}"));
        let h: Vec<(&str, &str)> = c.iter().map(|c| ("Cookie", c.as_str())).collect();
        let r = http::get(m.http_addr(), path, &h).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        r
    };
    // Two clients change different attributes of one session at the same time.
    let r = cookie(&ms[0], "/set?a=0&b=0", None);
    let id = set_cookie_id(&r).unwrap();
    let http1 = ms[0].http_addr();
    let writers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|k| {
            let id = id.clone();
            std::thread::spawn(move || {
                for i in 1..=30 {
                    let r = http::get(
                        http1,
                        &format!("/set?{k}={i}"),
                        &[("Cookie", &format!("JSESSIONID={id}"))],
                    )
                    .unwrap();
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    // Each node, asked directly (n2 and n3 re-bind it to themselves; the alias keeps the id
    // valid everywhere).
    for m in &ms {
        let r = cookie(m, "/get?a&b", Some(&id));
        let body = r.text();
        assert_eq!(
            json_field(&body, "a").as_deref(),
            Some("30"),
            "{}: {body}",
            m.route
        );
        assert_eq!(
            json_field(&body, "b").as_deref(),
            Some("30"),
            "{}: {body}",
            m.route
        );
    }

    // Invalidate on n3: gone from every node by the time the answer arrives.
    let r = cookie(&ms[2], "/invalidate", Some(&id));
    assert!(r.text().contains("\"invalidated\":true"));
    assert!(
        all_hold(&ms, 0),
        "{:?}",
        ms.iter().map(|m| m.sessions()).collect::<Vec<_>>()
    );

    // Expiry (--session-timeout 2): `used` is touched on n1 only, `idle` never again.
    let used = set_cookie_id(&cookie(&ms[0], "/session", None)).unwrap();
    let idle = set_cookie_id(&cookie(&ms[1], "/session", None)).unwrap();
    assert!(all_hold(&ms, 2));
    wait_until(
        "the idle session to expire everywhere",
        Duration::from_secs(10),
        || {
            cookie(&ms[0], "/get?counter", Some(&used));
            // Pacing of the client's own traffic (twice per second), not synchronisation.
            std::thread::park_timeout(Duration::from_millis(300));
            all_hold(&ms, 1).then_some(())
        },
    )
    .unwrap();
    // The survivor is the used one, on every node (n2 and n3 never served it).
    for m in &ms {
        let r = cookie(m, "/get?counter", Some(&used));
        assert_eq!(
            json_field(&r.text(), "counter").as_deref(),
            Some("1"),
            "{}",
            m.route
        );
        let r = cookie(m, "/get?counter", Some(&idle));
        assert_eq!(
            json_field(&r.text(), "id").as_deref(),
            Some("null"),
            "{}",
            m.route
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
