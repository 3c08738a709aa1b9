//! rjk-node with `--session-store` against Debian's redis-server on loopback: three nodes
//! behind httpd + mod_rjk losing nothing when one is killed (standalone Redis and a Redis
//! Cluster that loses a master too), a non-sticky balancer seeing every change, Redis itself
//! going away and coming back, TTLs, concurrent changes of one session, and the number of
//! Redis commands a request costs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rjk_tests::cluster::{front, Connector};
use rjk_tests::http;
use rjk_tests::httpd::{Httpd, Mpm};
use rjk_tests::redis::{self, Redis, RedisCluster, StoreNode};
use rjk_tests::replicated::{json_field, set_cookie_id};
use rjk_tests::sessions::{step, Expect, Tally, Tracked};
use rjk_tests::wait_until;

const SESSIONS: usize = 50;
const THREADS: usize = 5;
/// Each load thread stops after this many rounds over its sessions at most (bounded load).
const MAX_ROUNDS: usize = 30;
const ROUNDS_AFTER_KILL: usize = 3;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-redis-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn route_of(id: &str) -> &str {
    id.split_once('.').map_or("", |(_, r)| r)
}

fn cookie(id: &str) -> String {
    format!("JSESSIONID={id}")
}

/// 50 sessions through a sticky mod_rjk over three nodes; `kill` runs after two rounds of
/// bounded load (it kills n1, and maybe more). Returns the sessions and the tally.
fn sticky_load_with_a_kill(
    front_addr: SocketAddr,
    allow_503: bool,
    kill: impl FnOnce(),
) -> (Vec<Tracked>, Tally) {
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let r = http::get(front_addr, "/session", &[]).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let id = set_cookie_id(&r).expect("a new session sets a cookie");
        sessions.push(Tracked {
            cookie: id,
            counter: 1,
        });
    }
    let tally = Arc::new(Mutex::new(Tally::default()));
    let killed = Arc::new(AtomicBool::new(false));
    let done_rounds = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = sessions
        .chunks(SESSIONS / THREADS)
        .map(|c| c.to_vec())
        .map(|mut mine| {
            let (tally, killed, done_rounds) = (tally.clone(), killed.clone(), done_rounds.clone());
            std::thread::spawn(move || {
                let mut after_kill = 0;
                for _ in 0..MAX_ROUNDS {
                    let was_killed = killed.load(Ordering::SeqCst);
                    for s in mine.iter_mut() {
                        step(
                            front_addr,
                            s,
                            &tally,
                            Expect {
                                sticky: false,
                                allow_503,
                            },
                        );
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
    kill();
    killed.store(true, Ordering::SeqCst);
    let sessions: Vec<Tracked> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let t = std::mem::take(&mut *tally.lock().unwrap());
    (sessions, t)
}

/// After a Redis Cluster failover: every session answers again within a bound (the client
/// may still be following the new topology: 503s are retried), and its counter never went
/// back. A request that got a 503 may still have been saved (the reply was lost with the
/// master), so a step of 2 is no loss.
fn check_continues_after_failover(front_addr: SocketAddr, sessions: &mut [Tracked]) {
    for s in sessions.iter_mut() {
        let (n, new_id, body) =
            wait_until("the session to answer", Duration::from_secs(10), || {
                let r =
                    http::get(front_addr, "/session", &[("Cookie", &cookie(&s.cookie))]).ok()?;
                (r.status == 200).then(|| {
                    let body = r.text();
                    let n: u64 = json_field(&body, "counter")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0);
                    (n, set_cookie_id(&r), body)
                })
            })
            .unwrap();
        assert!(
            json_field(&body, "new").as_deref() != Some("true")
                && n > s.counter
                && n <= s.counter + 2 + ROUNDS_AFTER_KILL as u64,
            "{} had {}, now {body}",
            s.cookie,
            s.counter
        );
        s.counter = n;
        if let Some(id) = new_id {
            s.cookie = id;
        }
    }
}

/// Every session's counter, asked once more through `front`, is the last one seen + 1.
fn check_continues(front_addr: SocketAddr, sessions: &mut [Tracked]) {
    let t = Mutex::new(Tally::default());
    for s in sessions.iter_mut() {
        step(front_addr, s, &t, Expect::default());
    }
    let t = t.into_inner().unwrap();
    assert!(
        t.failed.is_empty() && t.lost.is_empty(),
        "after the run: {t:?}"
    );
}

/// Non-sticky: requests of one session alternate between nodes, each sees the latest counter.
fn non_sticky_sees_the_latest(dir: &std::path::Path, nodes: &[&StoreNode]) -> Httpd {
    let names: Vec<&str> = nodes.iter().map(|n| n.route.as_str()).collect();
    let mut w = format!(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.sticky_session=0\nworker.lb.balance_workers={}\n",
        names.join(",")
    );
    for n in nodes {
        w.push_str(&format!(
            "worker.{r}.type=ajp13\nworker.{r}.host=127.0.0.1\nworker.{r}.port={p}\n",
            r = n.route,
            p = n.ajp
        ));
    }
    let httpd = front(dir, Connector::ModRjk, Mpm::Event, &w, "JkMount /* lb\n").unwrap();
    let addr = httpd.addr();
    let mut served = BTreeMap::new();
    for _ in 0..5 {
        let mut s = Tracked {
            cookie: String::new(),
            counter: 0,
        };
        for round in 1..=20u64 {
            let r = http::get(addr, "/session", &[("Cookie", &cookie(&s.cookie))]).unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            let n: u64 = json_field(&r.text(), "counter").unwrap().parse().unwrap();
            assert_eq!(
                n,
                round,
                "every request sees the latest counter: {}",
                r.text()
            );
            *served
                .entry(r.header("x-rjk-node").unwrap_or("").to_string())
                .or_insert(0) += 1;
            if let Some(id) = set_cookie_id(&r) {
                s.cookie = id;
            }
        }
    }
    assert!(
        served.len() >= 2,
        "the balancer spread one session's requests: {served:?}"
    );
    httpd
}

fn three_nodes(dir: &std::path::Path, url: &str, extra: &[&str]) -> Vec<StoreNode> {
    ["n1", "n2", "n3"]
        .iter()
        .map(|r| StoreNode::start(&dir.join("nodes"), r, url, extra).unwrap())
        .collect()
}

#[test]
fn standalone_redis_three_nodes_kill_9_loses_no_session() {
    let dir = scratch("standalone");
    let redis = Redis::start(&dir.join("redis"), &[]).unwrap();
    let mut nodes = three_nodes(&dir, &redis.url(), &[]);
    let httpd = front(
        &dir.join("httpd"),
        Connector::ModRjk,
        Mpm::Event,
        &redis::lb_workers(&nodes, ""),
        "JkMount /* lb\n",
    )
    .unwrap();
    let addr = httpd.addr();
    let (mut sessions, t) = sticky_load_with_a_kill(addr, false, || nodes[0].kill());
    assert!(t.failed.is_empty(), "failed requests: {:?}", t.failed);
    assert!(t.lost.is_empty(), "lost updates: {:?}", t.lost);
    assert!(t.replayed <= THREADS, "{} replayed", t.replayed);
    assert!(
        sessions.iter().all(|s| route_of(&s.cookie) != "n1"),
        "n1's sessions were re-bound to the nodes that took them over"
    );
    check_continues(addr, &mut sessions);
    let keys = redis.cli(&["DBSIZE"]).unwrap();
    assert_eq!(keys.trim(), SESSIONS.to_string(), "one hash per session");
    eprintln!(
        "standalone: {} requests, {} re-bound off n1, {} replayed, none lost",
        t.requests, t.rebound, t.replayed
    );
    let _ns = non_sticky_sees_the_latest(&dir.join("httpd-ns"), &[&nodes[1], &nodes[2]]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `/session` once more on a node directly: the counter, the id.
fn count_on(node: SocketAddr, id: &str) -> (u16, u64, String) {
    let r = http::get(node, "/session", &[("Cookie", &cookie(id))]).unwrap();
    let n = json_field(&r.text(), "counter")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        r.status,
        n,
        set_cookie_id(&r).unwrap_or_else(|| id.to_string()),
    )
}

/// EVALSHA and HGETALL calls per request. Without the near cache a node sends only EVALSHA
/// (the HGETALL counted ran inside the LOAD script, in the same round trip); with it, reads
/// are HGETALL outside any script (and a miss also asks PTTL).
fn per_request(delta: &BTreeMap<String, u64>, requests: u64) -> (f64, f64) {
    let evalsha = delta.get("evalsha").copied().unwrap_or(0) as f64;
    let hgetall = delta.get("hgetall").copied().unwrap_or(0) as f64;
    (evalsha / requests as f64, hgetall / requests as f64)
}

#[test]
fn round_trips_per_request_from_commandstats() {
    let dir = scratch("rtt");
    let redis = Redis::start(&dir.join("redis"), &[]).unwrap();
    let plain = StoreNode::start(&dir, "n1", &redis.url(), &[]).unwrap();
    let cached = StoreNode::start(&dir, "n2", &redis.url(), &["--session-cache", "100"]).unwrap();
    const N: u64 = 40;
    for (node, name) in [(&plain, "plain"), (&cached, "near cache")] {
        let (status, _, id) = count_on(node.http_addr(), "");
        assert_eq!(status, 200);
        // Warm up: the scripts are loaded once per connection (SCRIPT LOAD after NOSCRIPT).
        count_on(node.http_addr(), &id);
        let before = redis.commandstats();
        for _ in 0..N {
            let r = http::get(
                node.http_addr(),
                "/get?counter",
                &[("Cookie", &cookie(&id))],
            )
            .unwrap();
            assert_eq!(r.status, 200);
        }
        let reads = redis::stats_delta(&before, &redis.commandstats());
        let before = redis.commandstats();
        for _ in 0..N {
            assert_eq!(count_on(node.http_addr(), &id).0, 200);
        }
        let writes = redis::stats_delta(&before, &redis.commandstats());
        let (r_eval, r_hget) = per_request(&reads, N);
        let (w_eval, w_hget) = per_request(&writes, N);
        eprintln!(
            "{name}: read-only {r_eval:.2} EVALSHA + {r_hget:.2} HGETALL per request {reads:?}; \
             read+write {w_eval:.2} EVALSHA + {w_hget:.2} HGETALL per request {writes:?}"
        );
        let info = |d: &BTreeMap<String, u64>| d.get("info").copied().unwrap_or(0);
        // The only commands a request sends are EVALSHA and (near cache) HGETALL; every other
        // one counted ran inside a script or is this test's INFO.
        for (d, what) in [(&reads, "read-only"), (&writes, "read+write")] {
            for k in d.keys() {
                assert!(
                    [
                        "evalsha",
                        "hgetall",
                        "info",
                        "time",
                        "hset",
                        "pexpire",
                        "hincrby",
                        "hget",
                        "exists",
                        "pttl",
                        "client|tracking"
                    ]
                    .contains(&k.as_str()),
                    "{name} {what}: unexpected command {k}: {d:?}"
                );
            }
            assert!(info(d) <= 1);
        }
        if name == "plain" {
            assert!(
                r_eval <= 1.0,
                "read-only: at most one round trip: {reads:?}"
            );
            assert!(w_eval <= 2.0, "read+write: at most two: {writes:?}");
        } else {
            // Reads come from the near cache, which the node's own saves keep current: no
            // read round trip; a TTL renewal (LOAD) at most once in the run, and a miss after.
            assert!(r_eval + r_hget <= 2.0 / N as f64, "cached reads: {reads:?}");
            assert!(
                w_eval + w_hget <= 1.0 + 2.0 / N as f64,
                "read+write with the cache: one round trip: {writes:?}"
            );
        }
    }
    // Two nodes with near caches taking turns on one session: Redis's invalidation reaches
    // the other node's copy (after the push's latency, which a loaded machine stretches: a
    // read-only request polls for it), then that node continues from the latest counter.
    let other = StoreNode::start(&dir, "n3", &redis.url(), &["--session-cache", "100"]).unwrap();
    let (_, _, mut id) = count_on(cached.http_addr(), "");
    let mut stale_reads = 0;
    for i in 2..=60u64 {
        let node = if i % 2 == 0 { &other } else { &cached };
        wait_until(
            "the other node's copy to be dropped",
            Duration::from_secs(2),
            || {
                let r = http::get(
                    node.http_addr(),
                    "/get?counter",
                    &[("Cookie", &cookie(&id))],
                )
                .ok()?;
                let fresh = json_field(&r.text(), "counter") == Some((i - 1).to_string());
                stale_reads += usize::from(!fresh);
                fresh.then_some(())
            },
        )
        .unwrap();
        let (status, n, now) = count_on(node.http_addr(), &id);
        assert_eq!((status, n), (200, i), "near caches stay current");
        id = now;
    }
    eprintln!("near caches taking turns: {stale_reads} stale reads in 59 hand-overs");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ttl_follows_the_session_timeout() {
    let dir = scratch("ttl");
    // With a password, from a file.
    let redis = Redis::start(&dir.join("redis"), &["--requirepass", "ttl-secret"]).unwrap();
    let pw = dir.join("redis-password");
    std::fs::write(&pw, "ttl-secret\n").unwrap();
    let node = StoreNode::start(
        &dir,
        "n1",
        &redis.url(),
        &[
            "--session-timeout",
            "2",
            "--session-store-password-file",
            pw.to_str().unwrap(),
        ],
    )
    .unwrap();
    let (_, _, idle) = count_on(node.http_addr(), "");
    let idle_since = Instant::now();
    let (_, _, mut busy) = count_on(node.http_addr(), "");
    let key = |id: &str| format!("rjk:s:{{{}}}", id.split('.').next().unwrap());
    let ttl: i64 = redis
        .cli(&["PTTL", &key(&idle)])
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        (1500..=2200).contains(&ttl),
        "TTL = max inactive (+ window): {ttl} ms"
    );
    // The busy session is used every second; the idle one is not.
    let mut counter = 1;
    let mut next = Instant::now();
    let gone = wait_until(
        "the idle session's key to expire",
        Duration::from_secs(6),
        || {
            if Instant::now() >= next {
                let (status, n, id) = count_on(node.http_addr(), &busy);
                assert_eq!((status, n), (200, counter + 1), "the busy session lives on");
                counter = n;
                busy = id;
                next += Duration::from_secs(1);
            }
            (redis.cli(&["EXISTS", &key(&idle)]).unwrap().trim() == "0")
                .then(|| idle_since.elapsed())
        },
    )
    .unwrap();
    assert!(
        gone >= Duration::from_millis(1900),
        "not before its time: {gone:?}"
    );
    // Keep the busy one going a little past the idle one's end.
    for _ in 0..2 {
        std::thread::park_timeout(Duration::from_millis(900));
        let (status, n, id) = count_on(node.http_addr(), &busy);
        assert_eq!((status, n), (200, counter + 1));
        counter = n;
        busy = id;
    }
    assert_eq!(redis.cli(&["EXISTS", &key(&busy)]).unwrap().trim(), "1");
    let (_, n, _) = count_on(node.http_addr(), &idle);
    assert_eq!(n, 1, "the expired session is gone: a new one starts");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_clients_changing_different_attributes_lose_nothing() {
    let dir = scratch("concurrent");
    let redis = Redis::start(&dir.join("redis"), &[]).unwrap();
    let n1 = StoreNode::start(&dir, "n1", &redis.url(), &[]).unwrap();
    let n2 = StoreNode::start(&dir, "n2", &redis.url(), &[]).unwrap();
    let (_, _, id) = count_on(n1.http_addr(), "");
    const ROUNDS: u32 = 200;
    let client = |node: SocketAddr, attr: &'static str, id: String| {
        std::thread::spawn(move || {
            let mut id = id;
            let mut bad = Vec::new();
            for i in 1..=ROUNDS {
                let r = http::get(
                    node,
                    &format!("/set?{attr}={i}"),
                    &[("Cookie", &cookie(&id))],
                )
                .unwrap();
                assert_eq!(r.status, 200, "{}", r.text());
                if let Some(new) = set_cookie_id(&r) {
                    id = new;
                }
                let r =
                    http::get(node, &format!("/get?{attr}"), &[("Cookie", &cookie(&id))]).unwrap();
                if json_field(&r.text(), attr) != Some(i.to_string()) {
                    bad.push(format!("round {i}: {}", r.text()));
                }
            }
            bad
        })
    };
    let a = client(n1.http_addr(), "a", id.clone());
    let b = client(n2.http_addr(), "b", id.clone());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert!(a.is_empty() && b.is_empty(), "changes lost: {a:?} {b:?}");
    let r = http::get(n1.http_addr(), "/get?a&b", &[("Cookie", &cookie(&id))]).unwrap();
    assert_eq!(
        json_field(&r.text(), "a"),
        Some(ROUNDS.to_string()),
        "{}",
        r.text()
    );
    assert_eq!(
        json_field(&r.text(), "b"),
        Some(ROUNDS.to_string()),
        "{}",
        r.text()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redis_down_gives_503_and_service_resumes() {
    let dir = scratch("down");
    let mut redis = Redis::start(&dir.join("redis"), &[]).unwrap();
    // Both connection kinds: the reconnecting manager, and the near cache's own connection.
    let nodes = [
        StoreNode::start(&dir, "n1", &redis.url(), &[]).unwrap(),
        StoreNode::start(&dir, "n2", &redis.url(), &["--session-cache", "100"]).unwrap(),
    ];
    let mut sessions: Vec<(SocketAddr, String, u64)> = (0..10)
        .map(|i| {
            let addr = nodes[i % 2].http_addr();
            let (_, n, id) = count_on(addr, "");
            (addr, id, n)
        })
        .collect();
    for (addr, id, n) in sessions.iter_mut() {
        let (status, c, _) = count_on(*addr, id);
        assert_eq!((status, c), (200, *n + 1));
        *n = c;
    }
    redis.kill();
    let down_at = Instant::now();
    for (addr, id, _) in &sessions {
        let (status, _, _) = count_on(*addr, id);
        assert_eq!(status, 503, "{id} needs Redis to save");
    }
    for (i, node) in nodes.iter().enumerate() {
        let r = http::get(node.http_addr(), "/headers", &[]).unwrap();
        assert_eq!(
            r.status, 200,
            "a request without a session does not need Redis"
        );
        // Naming a session the page never uses: served too (only a use needs Redis).
        let c = cookie(&sessions[i].1);
        let r = http::get(node.http_addr(), "/headers", &[("Cookie", &c)]).unwrap();
        assert_eq!(r.status, 200, "a page that does not use its session");
        let r = http::get(node.http_addr(), "/session", &[]).unwrap();
        assert_eq!(r.status, 503, "a new session cannot be saved");
    }
    assert!(
        down_at.elapsed() < Duration::from_secs(15),
        "503s come fast"
    );
    redis.restart().unwrap();
    let back = Instant::now();
    for (addr, id, n) in &sessions[..2] {
        wait_until(
            "the node to use Redis again",
            Duration::from_secs(10),
            || {
                let (status, c, _) = count_on(*addr, id);
                (status == 200).then(|| assert_eq!(c, n + 1, "no acknowledged write lost"))
            },
        )
        .unwrap();
    }
    eprintln!("service resumed {:?} after Redis came back", back.elapsed());
    for (addr, id, n) in &sessions[2..] {
        let (status, c, _) = count_on(*addr, id);
        assert_eq!((status, c), (200, n + 1), "no acknowledged write lost");
    }
    for node in &nodes {
        let log = node.log();
        assert_eq!(
            log.matches("Redis unreachable").count(),
            1,
            "logged once: {log}"
        );
        assert_eq!(log.matches("Redis answers again").count(), 1, "{log}");
    }
    // A Redis that hangs (SIGSTOP: connections open, no answers) costs a request at most the
    // 1 s command timeout, then 503; it answers again after SIGCONT.
    redis.signal(libc::SIGSTOP);
    let (addr, id, n) = sessions[0].clone();
    let t = Instant::now();
    assert_eq!(count_on(addr, &id).0, 503);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "bounded: {:?}",
        t.elapsed()
    );
    redis.signal(libc::SIGCONT);
    wait_until(
        "Redis to answer after SIGCONT",
        Duration::from_secs(10),
        || {
            let (status, c, _) = count_on(addr, &id);
            (status == 200).then_some(c)
        },
    )
    .map(|c| assert!(c > n + 1, "the counter continues: {c}"))
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redis_cluster_three_nodes_kill_9_and_a_master_loses_no_session() {
    let dir = scratch("cluster");
    let mut rc = RedisCluster::start(&dir.join("redis"), 3).unwrap();
    // n1 (killed below) reads through the client library's cluster near cache.
    let url = rc.url();
    let mut nodes: Vec<StoreNode> = [
        ("n1", &["--session-cache", "1000"][..]),
        ("n2", &[]),
        ("n3", &[]),
    ]
    .iter()
    .map(|(r, extra)| StoreNode::start(&dir.join("nodes"), r, &url, extra).unwrap())
    .collect();
    let httpd = front(
        &dir.join("httpd"),
        Connector::ModRjk,
        Mpm::Event,
        &redis::lb_workers(&nodes, ""),
        "JkMount /* lb\n",
    )
    .unwrap();
    let addr = httpd.addr();
    let mut killed_at = None;
    let (mut sessions, t) = sticky_load_with_a_kill(addr, true, || {
        nodes[0].kill();
        let m = rc.master_of("rjk").expect("a master for slot of \"rjk\"");
        rc.nodes[m].kill();
        killed_at = Some(Instant::now());
    });
    // The failover: cluster-node-timeout is 1 s; a replica takes over within a few.
    rc.wait_ok(Duration::from_secs(15)).unwrap();
    let failover = killed_at.unwrap().elapsed();
    assert!(t.failed.is_empty(), "failed requests: {:?}", t.failed);
    assert!(t.lost.is_empty(), "lost updates: {:?}", t.lost);
    // A session whose shard was failing over got 503s instead: it moves on its next request.
    check_continues_after_failover(addr, &mut sessions);
    assert!(
        sessions.iter().all(|s| route_of(&s.cookie) != "n1"),
        "n1's sessions were re-bound"
    );
    eprintln!(
        "cluster: {} requests, {} re-bound off n1, {} replayed, {} answered 503 during the \
         failover (cluster ok again {failover:?} after the master died), none lost",
        t.requests, t.rebound, t.replayed, t.unavailable
    );
    let _ns = non_sticky_sees_the_latest(&dir.join("httpd-ns"), &[&nodes[1], &nodes[2]]);
    // Commands per request in the cluster (summed over every node): a read is one EVALSHA, a
    // write adds one EVALSHA and the WAIT pipelined with it.
    const N: u64 = 20;
    let node = nodes[1].http_addr();
    let (_, _, id) = count_on(node, "");
    count_on(node, &id);
    let before = rc.commandstats();
    for _ in 0..N {
        let r = http::get(node, "/get?counter", &[("Cookie", &cookie(&id))]).unwrap();
        assert_eq!(r.status, 200);
    }
    let reads = redis::stats_delta(&before, &rc.commandstats());
    let before = rc.commandstats();
    for _ in 0..N {
        assert_eq!(count_on(node, &id).0, 200);
    }
    let writes = redis::stats_delta(&before, &rc.commandstats());
    let per = |d: &BTreeMap<String, u64>, k: &str| d.get(k).copied().unwrap_or(0) as f64 / N as f64;
    eprintln!(
        "cluster, per request: read-only {:.2} EVALSHA; read+write {:.2} EVALSHA + {:.2} WAIT",
        per(&reads, "evalsha"),
        per(&writes, "evalsha"),
        per(&writes, "wait")
    );
    assert!(
        per(&reads, "evalsha") <= 1.0 && per(&reads, "wait") == 0.0,
        "{reads:?}"
    );
    assert!(
        per(&writes, "evalsha") <= 2.0 && per(&writes, "wait") <= 1.0,
        "{writes:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `openssl` with `args`, in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rediss_with_a_private_ca() {
    let dir = scratch("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "1", "-subj", "/CN=rjk test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    openssl(&dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(&dir, &csr);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
    let port = rjk_tests::free_port();
    let p = |f: &str| dir.join(f).display().to_string();
    let mut cmd = std::process::Command::new("redis-server");
    cmd.args([
        "--port",
        "0",
        "--tls-port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
    ])
    .args([
        "--tls-cert-file",
        &p("server.crt"),
        "--tls-key-file",
        &p("server.key"),
    ])
    .args([
        "--tls-ca-cert-file",
        &p("ca.crt"),
        "--tls-auth-clients",
        "no",
    ])
    .args(["--save", "", "--appendonly", "no", "--dir", &p("")])
    .args(["--logfile", &p("redis.log")]);
    let _redis = rjk_tests::Child::spawn("redis-server (TLS)", &mut cmd).unwrap();
    rjk_tests::wait_for_port(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(10),
    )
    .unwrap();
    // The node trusts the private CA the way rustls-native-certs lets any program: SSL_CERT_FILE.
    let ca = p("ca.crt");
    let url = format!("rediss://127.0.0.1:{port}");
    let node = StoreNode::start_env(&dir, "n1", &url, &[], &[("SSL_CERT_FILE", &ca)]).unwrap();
    let (status, n, id) = count_on(node.http_addr(), "");
    assert_eq!((status, n), (200, 1), "{}", node.log());
    let (status, n, _) = count_on(node.http_addr(), &id);
    assert_eq!((status, n), (200, 2), "{}", node.log());
    // Without the CA the certificate is refused: 503, and the log says why.
    let blind =
        StoreNode::start_env(&dir, "n2", &url, &[], &[("SSL_CERT_FILE", "/dev/null")]).unwrap();
    assert_eq!(count_on(blind.http_addr(), &id).0, 503);
    assert!(blind.log().contains("Redis unreachable"), "{}", blind.log());
    let _ = std::fs::remove_dir_all(&dir);
}
