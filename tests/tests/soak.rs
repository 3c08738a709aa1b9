//! The soak (issue 16), run by `make soak` only: mixed traffic (plain and sticky GETs,
//! uploads, downloads, slow requests) through each asserted front end in turn to three
//! rjk-nodes for SOAK_SECONDS (default 600) each, while one member at a time is killed -9 and
//! restarted at random and lbfactor changes are posted to the status worker. Asserts: no
//! idempotent request fails before responding (two members are always healthy), status posts
//! all succeed, the server's children keep their file descriptors and their RSS stable.
//! Prints the numbers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rjk_tests::cluster::{lb_workers, nodes, Node};
use rjk_tests::front::{test_dir, FrontEnd, Setup};
use rjk_tests::http;
use rjk_tests::proc::{children_of, fd_count, rss_kib};
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
