//! Bounded client load for crash and restart tests: a few threads sending idempotent GETs
//! until told to stop (or a per-thread cap), each response read by its framing so that a
//! request that failed before its response started is told apart from one cut mid-way.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::strict_http::{Client, Outcome};

#[derive(Default, Debug)]
pub struct Tally {
    pub ok: u64,
    /// Failed before any byte of the response: these must be zero while a member is healthy.
    pub failed: Vec<String>,
    /// Cut after the response had started (a member killed mid-response): allowed, counted.
    pub cut: u64,
    /// Which member answered (the `X-Rjk-Node` / `X-Fake` header), how often.
    pub by_member: BTreeMap<String, u64>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    tally: Arc<Mutex<Tally>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// `threads` clients GETting `path` (each a new connection), at most `cap` requests each.
    pub fn start(addr: SocketAddr, path: &str, threads: usize, cap: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let threads = (0..threads)
            .map(|_| {
                let (stop, done, tally, path) =
                    (stop.clone(), done.clone(), tally.clone(), path.to_owned());
                std::thread::spawn(move || {
                    for _ in 0..cap {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let r = Client::connect(addr).and_then(|mut c| c.get(&path));
                        let mut t = tally.lock().unwrap();
                        match r {
                            Ok(o @ Outcome::Complete { status: 200, .. }) => {
                                t.ok += 1;
                                let who = o.header("X-Rjk-Node").or(o.header("X-Fake"));
                                *t.by_member.entry(who.unwrap_or("").to_owned()).or_insert(0) += 1;
                            }
                            Ok(Outcome::Truncated {
                                status: Some(_), ..
                            }) => t.cut += 1,
                            Ok(o) => t.failed.push(format!("{:?}", o.status())),
                            Err(e) => t.failed.push(e.to_string()),
                        }
                        drop(t);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Load {
            stop,
            done,
            tally,
            threads,
        }
    }

    /// Requests finished so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// How often `member` has answered so far.
    pub fn answered_by(&self, member: &str) -> u64 {
        let t = self.tally.lock().unwrap();
        t.by_member.get(member).copied().unwrap_or(0)
    }

    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        std::mem::take(&mut *self.tally.lock().unwrap())
    }
}
