//! Choosing a member: 4 and 64 members, with and without a session route, on one thread and on
//! two threads contending for the same balancer (same shared records, same rotating offset).
//! `choose` is request set-up plus the choice; `account` adds the per-request bookkeeping
//! (busy, elected, lb_value) that every forwarded request also does.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use lb_core::balancer::{Balancer, LbSpec, MemberSpec, Outcome, Traffic};
use lb_core::shm::ShmTable;

const NOW: i64 = 1_700_000_000;

fn balancer(n: usize) -> Balancer {
    let members: Vec<MemberSpec> = (0..n)
        .map(|i| MemberSpec::named(&format!("tc{i}")).lbfactor(1 + (i % 4) as u32))
        .collect();
    let table = Arc::new(ShmTable::heap(1, n));
    Balancer::new(&LbSpec::named("lb"), &members, table, NOW).unwrap()
}

fn choose(lb: &Balancer, session: Option<&str>) {
    let mut req = lb.request(session, Default::default());
    black_box(req.choose(NOW).ok());
}

fn account(lb: &Balancer, session: Option<&str>) {
    let mut req = lb.request(session, Default::default());
    if let Ok(c) = req.choose(NOW) {
        let busy = lb.start(&req, c.member);
        black_box(req.finish(busy, Outcome::Success, Traffic::default(), NOW));
    }
}

/// `iters` operations on each of `threads` threads at once; the wall time of the slowest.
fn contended(threads: usize, iters: u64, op: &(dyn Fn() + Sync)) -> Duration {
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let t = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    t.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .max()
            .unwrap_or_default()
    })
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("choose");
    for n in [4usize, 64] {
        let lb = balancer(n);
        let route = format!("0123456789ABCDEF.tc{}", n / 2);
        for (kind, session) in [("plain", None), ("sticky", Some(route.as_str()))] {
            for threads in [1usize, 2] {
                let id =
                    BenchmarkId::new(format!("{n}-members/{kind}"), format!("{threads}-threads"));
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| contended(threads, iters, &|| choose(&lb, session)))
                });
            }
        }
    }
    g.finish();
    let mut g = c.benchmark_group("account");
    for n in [4usize, 64] {
        let lb = balancer(n);
        for threads in [1usize, 2] {
            let id = BenchmarkId::new(format!("{n}-members/plain"), format!("{threads}-threads"));
            g.bench_function(id, |b| {
                b.iter_custom(|iters| contended(threads, iters, &|| account(&lb, None)))
            });
        }
    }
    g.finish();
}

criterion_group!(choose_benches, benches);
criterion_main!(choose_benches);
