//! The soak (issue 16), run by `make soak` only: mixed traffic (plain and sticky GETs,
//! uploads, downloads, slow requests) through each asserted front end in turn to three
//! rjk-nodes for SOAK_SECONDS (default 600) each, while one member at a time is killed -9 and
//! restarted at random and lbfactor changes are posted to the status worker. Asserts: no
//! idempotent request fails before responding (two members are always healthy), status posts
//! all succeed, the server's children keep their file descriptors and their RSS stable.
//! Then, per front end for half as long, the cluster phase: three members of a sync
//! `--cluster delta` while one at a time is killed -9 and started again (state transfer);
//! clients walking their sessions never see one lost (a counter that restarts or goes back).
//! Prints the numbers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rjk_tests::cluster::{lb_workers, nodes, Node};
use rjk_tests::front::{test_dir, FrontEnd, Setup};
use rjk_tests::http;
use rjk_tests::proc::{children_of, fd_count, rss_kib};
use rjk_tests::replicated::{self, json_field, set_cookie_id};
use rjk_tests::strict_http::{Client, Outcome};

#[test]
#[ignore = "the soak: run by `make soak` (SOAK_SECONDS, default 600)"]
fn soak() {
    let secs: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    for &fe in FrontEnd::ASSERTED {
        run(fe, Duration::from_secs(secs));
        cluster(fe, Duration::from_secs(secs / 2));
    }
}

/// A small xorshift: chaos timing and choices, no dependency.
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng((t ^ salt.wrapping_mul(0x9E3779B97F4A7C15)) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[derive(Default, Debug)]
struct Counts {
    ok: u64,
    /// Idempotent requests that failed before their response started: must stay 0.
    failed: Vec<String>,
    /// Responses cut mid-way when their member was killed: counted, allowed.
    cut: u64,
    uploads_ok: u64,
    /// Uploads (not idempotent) that failed: counted, allowed while a member dies.
    upload_failed: u64,
    status_posts: u64,
    status_failed: Vec<String>,
}

fn run(fe: FrontEnd, duration: Duration) {
    let routes = ["n1", "n2", "n3"];
    let ns = nodes(&routes);
    let workers = lb_workers(
        &ns,
        &["jkstatus"],
        "worker.jkstatus.type=status\nworker.lb.recover_time=2\nworker.maintain=1\n",
    );
    let front = fe
        .start(
            &test_dir("soak", "mixed", fe),
            &Setup {
                workers: &workers,
                mounts:
                    "/1k=lb\n/session=lb\n/upload=lb\n/download=lb\n/slow=lb\n/jkstatus=jkstatus\n",
                extra: &fe.maintenance_every_second(),
                ..Setup::default()
            },
        )
        .unwrap();
    let a = front.addr();
    let nodes = Arc::new(Mutex::new(ns));
    let counts = Arc::new(Mutex::new(Counts::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let end = Instant::now() + duration;
    let mut threads = Vec::new();

    // Traffic: one thread per kind of request.
    for kind in ["plain", "plain", "sticky", "upload", "download", "slow"] {
        let (counts, stop) = (counts.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng::new(kind.len() as u64);
            while !stop.load(Ordering::Relaxed) {
                traffic(a, kind, &mut rng, &counts);
            }
        }));
    }
    // Chaos: one member at a time killed -9, restarted 1-4 s later, every 2-7 s.
    {
        let (nodes, stop) = (nodes.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng::new(7);
            while !stop.load(Ordering::Relaxed) {
                pause(&stop, Duration::from_millis(2000 + rng.below(5000)));
                let i = rng.below(3) as usize;
                nodes.lock().unwrap()[i].kill();
                pause(&stop, Duration::from_millis(1000 + rng.below(3000)));
                restart(&mut nodes.lock().unwrap()[i]);
            }
        }));
    }
    // Status changes: lbfactor of a random member, posted with the page's nonce.
    {
        let (counts, stop) = (counts.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng::new(11);
            let nonce = rjk_tests::status::nonce(&http::get(a, "/jkstatus", &[]).unwrap().text());
            while !stop.load(Ordering::Relaxed) {
                pause(&stop, Duration::from_millis(1500));
                let body = format!(
                    "cmd=update&w=lb&sw=n{}&vwf={}&nonce={nonce}",
                    1 + rng.below(3),
                    1 + rng.below(3)
                );
                let r = http::request(
                    a,
                    "POST",
                    "/jkstatus",
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    body.as_bytes(),
                );
                let mut c = counts.lock().unwrap();
                c.status_posts += 1;
                match r {
                    Ok(r) if r.status == 303 => {}
                    Ok(r) => c.status_failed.push(format!("{}", r.status)),
                    Err(e) => c.status_failed.push(e.to_string()),
                }
            }
        }));
    }

    // Resources of the server's children (httpd's or nginx's worker processes), sampled every 5 s; the first quarter is warm-up.
    let mut samples: Vec<(Duration, usize, u64, usize)> = Vec::new();
    let start = Instant::now();
    while Instant::now() < end {
        std::thread::park_timeout(Duration::from_secs(5).min(end - Instant::now()));
        let kids = children_of(front.pid());
        let fds: usize = kids.iter().map(|&p| fd_count(p)).sum();
        let rss: u64 = kids.iter().map(|&p| rss_kib(p)).sum();
        samples.push((start.elapsed(), fds, rss, kids.len()));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    // Quiet: connections of the load are gone; one more sample to compare with.
    let kids = children_of(front.pid());
    let quiet_fds: usize = kids.iter().map(|&p| fd_count(p)).sum();
    front.stop();
    drop(nodes);

    let c = counts.lock().unwrap();
    let warm = samples.len() / 4;
    let (first, last) = (
        &samples[warm.min(samples.len() - 1)],
        samples.last().unwrap(),
    );
    let max_fds_first_half = samples[warm..=samples.len() / 2]
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    let max_fds_second_half = samples[samples.len() / 2..]
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    eprintln!(
        "soak {} for {duration:?}: {} idempotent ok, {} failed, {} cut mid-response, {} uploads ok and {} failed, {} status posts ({} failed)",
        fe.name(),
        c.ok,
        c.failed.len(),
        c.cut,
        c.uploads_ok,
        c.upload_failed,
        c.status_posts,
        c.status_failed.len()
    );
    eprintln!(
        "children fds: max {max_fds_first_half} (first half after warm-up), {max_fds_second_half} (second half), {quiet_fds} when quiet; RSS: {} KiB at {:?} → {} KiB at {:?} ({} children)",
        first.2, first.0, last.2, last.0, last.3
    );
    for s in &samples {
        eprintln!(
            "  t={:>4}s fds={:>4} rss={:>7} KiB children={}",
            s.0.as_secs(),
            s.1,
            s.2,
            s.3
        );
    }
    assert!(
        c.failed.is_empty(),
        "failed idempotent requests: {:?}",
        &c.failed[..c.failed.len().min(10)]
    );
    assert!(
        c.status_failed.is_empty(),
        "status posts failed: {:?}",
        c.status_failed
    );
    assert!(
        max_fds_second_half <= max_fds_first_half + 16,
        "file descriptors grew: {max_fds_first_half} → {max_fds_second_half}"
    );
    assert!(
        last.2 <= first.2 + first.2 / 4 + 8 * 1024,
        "RSS grew: {} → {} KiB",
        first.2,
        last.2
    );
    assert!(c.ok > 100, "the soak ran: {} requests", c.ok);
}

/// Sleep up to `d`, waking early when the soak stops (chaos pacing, not synchronisation).
fn pause(stop: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::park_timeout((until - Instant::now()).min(Duration::from_millis(200)));
    }
}

fn restart(n: &mut Node) {
    // The port can stay in TIME_WAIT-free use for a moment; a few tries, bounded.
    for _ in 0..5 {
        if n.restart().is_ok() {
            return;
        }
    }
    panic!("rjk-node {} did not come back", n.route);
}

fn traffic(a: std::net::SocketAddr, kind: &str, rng: &mut Rng, counts: &Mutex<Counts>) {
    let fail = |what: String| counts.lock().unwrap().failed.push(what);
    let Ok(mut c) = Client::connect(a) else {
        return fail(format!("{kind}: connect"));
    };
    let outcome = match kind {
        "upload" => {
            let body = vec![b'u'; 1000 + rng.below(300_000) as usize];
            match c.send("POST", "/upload", &body) {
                Ok(Outcome::Complete { status: 200, .. }) => counts.lock().unwrap().uploads_ok += 1,
                _ => counts.lock().unwrap().upload_failed += 1,
            }
            return;
        }
        "download" => {
            let n = 1000 + rng.below(3_000_000);
            let o = c.get(&format!("/download?bytes={n}"));
            if let Ok(Outcome::Complete {
                status: 200, body, ..
            }) = &o
            {
                if body.len() as u64 != n {
                    return fail(format!("download of {n}: {} bytes", body.len()));
                }
            }
            o
        }
        "slow" => c.get(&format!("/slow?ms={}", rng.below(800))),
        "sticky" => {
            let first = c.get("/session");
            let cookie = match &first {
                Ok(Outcome::Complete { headers, .. }) => headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("Set-Cookie"))
                    .and_then(|(_, v)| v.split(';').next())
                    .map(str::to_owned),
                _ => None,
            };
            match cookie {
                Some(cookie) => {
                    tally(counts, kind, first);
                    let mut last = None;
                    for _ in 0..5 {
                        let o = c.send_with("GET", "/session", &[("Cookie", &cookie)], &[]);
                        let closed = !matches!(
                            o,
                            Ok(Outcome::Complete {
                                keep_alive: true,
                                ..
                            })
                        );
                        if closed {
                            last = Some(o);
                            break;
                        }
                        tally(counts, kind, o);
                    }
                    match last {
                        Some(o) => o,
                        None => return,
                    }
                }
                None => first,
            }
        }
        _ => c.get("/1k"),
    };
    tally(counts, kind, outcome);
}

fn tally(counts: &Mutex<Counts>, kind: &str, o: std::io::Result<Outcome>) {
    let mut c = counts.lock().unwrap();
    match o {
        Ok(Outcome::Complete { status: 200, .. }) => c.ok += 1,
        Ok(Outcome::Truncated {
            status: Some(_), ..
        }) => c.cut += 1,
        Ok(o) => c.failed.push(format!("{kind}: {:?}", o.status())),
        Err(e) => c.failed.push(format!("{kind}: {e}")),
    }
}

/// Sessions each cluster-phase client walks, one request per session per round.
const CLUSTER_CLIENTS: usize = 4;
const SESSIONS_PER_CLIENT: usize = 10;

#[derive(Default, Debug)]
struct SessionTally {
    requests: u64,
    /// Failed requests (a healthy member always remained): must stay empty.
    failed: Vec<String>,
    /// A counter that went back or a session that came back new: must stay empty.
    lost: Vec<String>,
    /// The balancer replayed a request the dead member had applied: counter + 2, allowed.
    replayed: u64,
    rebound: u64,
}

fn cluster(fe: FrontEnd, duration: Duration) {
    let dir = test_dir("soak", "cluster", fe);
    let mut ms = replicated::start(&dir.join("nodes"), 3, &[]).unwrap();
    let workers = format!(
        "{}worker.lb.recover_time=2\nworker.maintain=1\n",
        replicated::lb_workers(&ms)
    );
    let front = fe
        .start(
            &dir.join("front"),
            &Setup {
                workers: &workers,
                mounts: "/session=lb\n",
                extra: &fe.maintenance_every_second(),
                ..Setup::default()
            },
        )
        .unwrap();
    let a = front.addr();
    let tally = Arc::new(Mutex::new(SessionTally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..CLUSTER_CLIENTS {
        let (tally, stop) = (tally.clone(), stop.clone());
        clients.push(std::thread::spawn(move || {
            // (cookie, counter); a session is created on its first round.
            let mut mine: Vec<(Option<String>, u64)> = vec![(None, 0); SESSIONS_PER_CLIENT];
            while !stop.load(Ordering::Relaxed) {
                for s in mine.iter_mut() {
                    session_step(a, s, &tally);
                }
            }
        }));
    }
    // Chaos: one member at a time; the next kill waits until the last victim is back and
    // live, so every session always has two live copies.
    let mut kills = 0u64;
    let mut rng = Rng::new(13);
    let end = Instant::now() + duration;
    while Instant::now() < end {
        pause(&stop, Duration::from_millis(2000 + rng.below(4000)));
        let i = rng.below(3) as usize;
        ms[i].kill();
        kills += 1;
        pause(&stop, Duration::from_millis(1000 + rng.below(3000)));
        ms[i].start().unwrap();
        ms[i].wait_live(2).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    front.stop();
    for m in ms.iter_mut() {
        m.kill();
    }
    let t = tally.lock().unwrap();
    eprintln!(
        "soak cluster {} for {duration:?}: {kills} kills, {} requests, {} failed, {} lost, {} replayed, {} re-bound",
        fe.name(),
        t.requests,
        t.failed.len(),
        t.lost.len(),
        t.replayed,
        t.rebound
    );
    assert!(
        t.failed.is_empty(),
        "failed: {:?}",
        &t.failed[..t.failed.len().min(10)]
    );
    assert!(
        t.lost.is_empty(),
        "lost: {:?}",
        &t.lost[..t.lost.len().min(10)]
    );
    assert!(kills > 0 && t.requests > 100, "the cluster phase ran");
}

/// One request on a tracked session (created when it has no cookie yet).
fn session_step(
    a: std::net::SocketAddr,
    s: &mut (Option<String>, u64),
    tally: &Mutex<SessionTally>,
) {
    let cookie = s.0.as_ref().map(|c| format!("JSESSIONID={c}"));
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("Cookie", c.as_str())).collect();
    let r = http::get(a, "/session", &headers);
    let mut t = tally.lock().unwrap();
    t.requests += 1;
    let what = s.0.clone().unwrap_or_else(|| "a new session".into());
    let r = match r {
        Ok(r) if r.status == 200 => r,
        Ok(r) => return t.failed.push(format!("{what}: status {}", r.status)),
        Err(e) => return t.failed.push(format!("{what}: {e}")),
    };
    let body = r.text();
    let n: u64 = json_field(&body, "counter")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if s.0.is_some() {
        if json_field(&body, "new").as_deref() == Some("true") || n <= s.1 {
            t.lost.push(format!("{what} had {} now {body}", s.1));
        } else if n == s.1 + 2 {
            t.replayed += 1;
        } else if n != s.1 + 1 {
            t.lost.push(format!("{what} jumped from {} to {n}", s.1));
        }
    }
    s.1 = n;
    if let Some(new) = set_cookie_id(&r) {
        if s.0.is_some() && s.0.as_deref() != Some(new.as_str()) {
            t.rebound += 1;
        }
        s.0 = Some(new);
    }
}
