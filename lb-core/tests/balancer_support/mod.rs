//! Helpers shared by the balancer tests: a balancer over a heap table, one request served with
//! a given outcome, direct access to the shared states.
#![allow(dead_code)]

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use lb_core::balancer::{state_code, Balancer, Flags, LbSpec, MemberSpec, Next, Outcome, Traffic};
use lb_core::shm::ShmTable;
use lb_core::status::State;

/// A fixed start time (Unix seconds) for simulated clocks.
pub const T0: i64 = 1_000_000;

pub fn members(names: &[&str]) -> Vec<MemberSpec> {
    names.iter().map(|n| MemberSpec::named(n)).collect()
}

pub fn balancer(spec: LbSpec, ms: Vec<MemberSpec>) -> Balancer {
    let table = Arc::new(ShmTable::heap(1, ms.len()));
    Balancer::new(&spec, &ms, table, T0).expect("valid spec")
}

/// One request: first choice, start, finish with `outcome`. Returns the member tried.
pub fn serve(b: &Balancer, session: Option<&str>, outcome: Outcome) -> Option<usize> {
    serve_at(b, session, outcome, T0)
}

pub fn serve_at(b: &Balancer, session: Option<&str>, outcome: Outcome, now: i64) -> Option<usize> {
    let mut req = b.request(session, Flags::default());
    match req.next(now) {
        Next::Try(c) => {
            let busy = b.start(&req, c.member);
            req.finish(busy, outcome, Traffic::default(), now);
            Some(c.member)
        }
        _ => None,
    }
}

pub fn set_state(b: &Balancer, i: usize, s: State) {
    b.member_slot(i)
        .unwrap()
        .state
        .store(state_code(s), Relaxed);
}

pub fn state(b: &Balancer, i: usize) -> State {
    b.stats(T0).members[i].state
}

pub fn set_lb_value(b: &Balancer, i: usize, v: u64) {
    b.member_slot(i).unwrap().lb_value.store(v, Relaxed);
}

pub fn lb_value(b: &Balancer, i: usize) -> u64 {
    b.member_slot(i).unwrap().lb_value.load(Relaxed)
}
