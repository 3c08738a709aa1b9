//! The process's copy of the balancer's configuration, and its exchange with the table (mod_jk's
//! push/pull, as mod_jk's status changes through the shared memory): the first process to claim the records pushes its configuration;
//! every process pulls again when the lb record's `sequence` moved past its copy, which is how a
//! status-worker change made in one process reaches all of them. Choosing reads this copy only.

use std::collections::HashMap;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::mult::lb_mults;
use super::spec::{LbSpec, MemberSpec};
use super::state::{activation_code, activation_from_code, state_code, State};
use crate::config::{Activation, Lock, Method};
use crate::shm::{LbSlot, MemberSlot};

/// One member as this process sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberConf {
    pub name: String,
    pub route: String,
    pub domain: String,
    pub redirect: String,
    pub lbfactor: u32,
    pub lb_mult: u64,
    pub distance: u32,
    pub activation: Activation,
    pub busy_limit: u32,
}

/// What the by-value scan reads of one member, packed into 8 bytes so a scan over every
/// member reads one small contiguous array besides the members' shared states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanMember {
    pub distance: u32,
    /// The member's own activation is ACTIVE (per-mount overrides are applied on top).
    pub active: bool,
}

/// The whole balancer as this process sees it, stamped with the table sequence it reflects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conf {
    pub sequence: u64,
    pub lb: LbSpec,
    pub members: Vec<MemberConf>,
    /// Route → first member with that route (sticky lookups without a scan).
    pub route_index: HashMap<String, usize>,
    /// Per member, in order: what choosing by value reads (derived from `members`).
    pub scan: Vec<ScanMember>,
}

impl Conf {
    pub fn from_spec(lb: &LbSpec, members: &[MemberSpec]) -> Conf {
        let factors: Vec<u32> = members.iter().map(|m| m.lbfactor.max(1)).collect();
        let mults = lb_mults(&factors);
        let mut c = Conf {
            route_index: HashMap::new(),
            scan: Vec::new(),
            sequence: 0,
            lb: lb.clamped(),
            members: members
                .iter()
                .zip(mults)
                .map(|(m, lb_mult)| MemberConf {
                    name: m.name.clone(),
                    route: m.route.clone(),
                    domain: m.domain.clone(),
                    redirect: m.redirect.clone(),
                    lbfactor: m.lbfactor.max(1),
                    lb_mult,
                    distance: m.distance,
                    activation: m.activation,
                    busy_limit: m.busy_limit,
                })
                .collect(),
        };
        c.reindex();
        c
    }

    /// Rebuild what is derived from `members` after any of them changed: the route index
    /// (the first member with a route wins, as mod_jk's scan does) and the scan view.
    pub fn reindex(&mut self) {
        self.route_index.clear();
        for (i, m) in self.members.iter().enumerate() {
            self.route_index.entry(m.route.clone()).or_insert(i);
        }
        self.scan = self
            .members
            .iter()
            .map(|m| ScanMember {
                distance: m.distance,
                active: m.activation == Activation::Active,
            })
            .collect();
    }

    /// Recompute every `lb_mult` after a factor changed.
    pub fn remult(&mut self) {
        let factors: Vec<u32> = self.members.iter().map(|m| m.lbfactor).collect();
        for (m, mult) in self.members.iter_mut().zip(lb_mults(&factors)) {
            m.lb_mult = mult;
        }
    }
}

fn method_code(m: Method) -> u32 {
    match m {
        Method::Request => 0,
        Method::Traffic => 1,
        Method::Busyness => 2,
        Method::Sessions => 3,
        Method::Next => 4,
    }
}

fn method_from_code(c: u32) -> Method {
    match c {
        1 => Method::Traffic,
        2 => Method::Busyness,
        3 => Method::Sessions,
        4 => Method::Next,
        _ => Method::Request,
    }
}

/// Write the settings the status worker may change (the caller holds the table lock).
pub fn push(conf: &Conf, lb: &LbSlot, members: &[&MemberSlot]) {
    let s = &conf.lb;
    lb.sticky_session.store(s.sticky_session.into(), Relaxed);
    lb.sticky_session_force
        .store(s.sticky_session_force.into(), Relaxed);
    lb.method.store(method_code(s.method), Relaxed);
    lb.lock
        .store(u32::from(s.lock == Lock::Pessimistic), Relaxed);
    lb.retries.store(s.retries, Relaxed);
    lb.lb_retries.store(s.lb_retries, Relaxed);
    lb.retry_interval_ms.store(s.retry_interval_ms, Relaxed);
    lb.recover_time.store(s.recover_time, Relaxed);
    lb.error_escalation_time
        .store(s.error_escalation_time, Relaxed);
    lb.max_reply_timeouts.store(s.max_reply_timeouts, Relaxed);
    lb.members.store(members.len() as u32, Relaxed);
    for (m, slot) in conf.members.iter().zip(members) {
        slot.route.store(&m.route);
        slot.domain.store(&m.domain);
        slot.redirect.store(&m.redirect);
        slot.lbfactor.store(m.lbfactor, Relaxed);
        slot.lb_mult.store(m.lb_mult, Relaxed);
        slot.distance.store(m.distance, Relaxed);
        slot.activation
            .store(activation_code(m.activation), Relaxed);
    }
    lb.sequence.store(conf.sequence, Release);
}

/// Lay out fresh records: configuration, IDLE, zero counters.
pub fn push_fresh(conf: &Conf, lb: &LbSlot, members: &[&MemberSlot], now: i64) {
    lb.last_maintain_time.store(now, Relaxed);
    lb.last_reset.store(now, Relaxed);
    for slot in members {
        slot.state.store(state_code(State::Idle), Relaxed);
        slot.last_reset.store(now, Relaxed);
    }
    push(conf, lb, members);
}

/// Read the shared settings over `base` (names are not shared: a member's identity never
/// changes; `busy_limit` is read from the member's connection settings once its pool shared
/// them).
pub fn pull(base: &Conf, lb: &LbSlot, members: &[&MemberSlot]) -> Conf {
    let sequence = lb.sequence.load(Acquire);
    let mut c = base.clone();
    c.sequence = sequence;
    let s = &mut c.lb;
    s.sticky_session = lb.sticky_session.load(Relaxed) != 0;
    s.sticky_session_force = lb.sticky_session_force.load(Relaxed) != 0;
    s.method = method_from_code(lb.method.load(Relaxed));
    s.lock = if lb.lock.load(Relaxed) != 0 {
        Lock::Pessimistic
    } else {
        Lock::Optimistic
    };
    s.retries = lb.retries.load(Relaxed).max(1);
    s.lb_retries = lb.lb_retries.load(Relaxed).max(1);
    s.retry_interval_ms = lb.retry_interval_ms.load(Relaxed);
    s.recover_time = lb.recover_time.load(Relaxed).max(1);
    s.error_escalation_time = lb.error_escalation_time.load(Relaxed);
    s.max_reply_timeouts = lb.max_reply_timeouts.load(Relaxed);
    for (m, slot) in c.members.iter_mut().zip(members) {
        m.route = slot.route.load();
        m.domain = slot.domain.load();
        m.redirect = slot.redirect.load();
        m.lbfactor = slot.lbfactor.load(Relaxed).max(1);
        m.lb_mult = slot.lb_mult.load(Relaxed).max(1);
        m.distance = slot.distance.load(Relaxed);
        m.activation = activation_from_code(slot.activation.load(Relaxed));
        // Once the member's pool shared its settings, busy_limit is changed there.
        if slot.conn.sequence.load(Acquire) != 0 {
            m.busy_limit = slot.conn.busy_limit.load(Relaxed);
        }
    }
    c.reindex();
    c
}
