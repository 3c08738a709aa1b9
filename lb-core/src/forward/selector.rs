//! How the engine asks for a member and reports what happened to it. The balancer implements
//! [`Selector`] with mod_jk's rules (states, activation, sticky routes, lb values); the two
//! small implementations here serve a plain `ajp13` worker ([`Single`]) and tests ([`InOrder`]).

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// A member's activation, sent to the backend as the `JK_LB_ACTIVATION` attribute: the
/// configuration's type (its `name()` is mod_jk's "ACT"/"DIS"/"STP").
pub use crate::config::Activation;

/// The member chosen for one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    /// Index into the worker's members.
    pub member: usize,
    /// Its activation, for lb members (`None` for a plain ajp13 worker: no attribute is sent).
    pub activation: Option<Activation>,
}

/// What one member's part of a request came to (mod_jk.md §3.7, the outcome → state table):
/// the balancer's type, so the engine reports exactly what the balancer accounts.
pub use crate::balancer::Outcome;

/// Chooses members and keeps their accounting. Implementations must be cheap and thread-safe:
/// every request thread calls them.
pub trait Selector: Send + Sync {
    /// The member for the next attempt of a request with sticky `route`, skipping the members in
    /// `tried` (already attempted in this round). `None`: nothing is usable, even after the
    /// implementation's forced recovery; the engine answers 503.
    fn next(&self, route: Option<&str>, tried: &[usize]) -> Option<Pick>;

    /// The member is about to get the request. `false`: its `busy_limit` is reached, so the
    /// attempt is not made and counts as [`Outcome::Busy`]. Every `true` is paired with one
    /// [`leave`](Self::leave).
    fn enter(&self, member: usize) -> bool;

    /// The request left the member (after [`record`](Self::record)).
    fn leave(&self, member: usize);

    /// What the member's part of the request came to, with the bytes moved (for Traffic).
    fn record(&self, member: usize, outcome: Outcome, bytes: Traffic);
}

/// Bytes moved through a member for one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Request bytes sent to the backend (body included).
    pub sent: u64,
    /// Response bytes read from the backend.
    pub received: u64,
}

/// Concurrent requests per member against each member's `busy_limit` (0 = none).
#[derive(Debug)]
pub struct BusyCounters {
    busy: Vec<AtomicU32>,
    limits: Vec<u32>,
}

impl BusyCounters {
    pub fn new(limits: Vec<u32>) -> Self {
        BusyCounters {
            busy: limits.iter().map(|_| AtomicU32::new(0)).collect(),
            limits,
        }
    }

    pub fn enter(&self, member: usize) -> bool {
        let (Some(b), Some(&limit)) = (self.busy.get(member), self.limits.get(member)) else {
            return false;
        };
        let now = b.fetch_add(1, Ordering::AcqRel) + 1;
        if limit > 0 && now > limit {
            b.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub fn leave(&self, member: usize) {
        if let Some(b) = self.busy.get(member) {
            // Never below zero, even if a caller pairs wrongly.
            let _ = b.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1));
        }
    }

    pub fn busy(&self, member: usize) -> u32 {
        self.busy
            .get(member)
            .map_or(0, |b| b.load(Ordering::Acquire))
    }
}

/// The selector of a plain `ajp13` worker: its one member, once per round.
#[derive(Debug)]
pub struct Single {
    busy: BusyCounters,
}

impl Single {
    pub fn new(busy_limit: u32) -> Self {
        Single {
            busy: BusyCounters::new(vec![busy_limit]),
        }
    }
}

impl Selector for Single {
    fn next(&self, _route: Option<&str>, tried: &[usize]) -> Option<Pick> {
        tried.is_empty().then_some(Pick {
            member: 0,
            activation: None,
        })
    }
    fn enter(&self, member: usize) -> bool {
        self.busy.enter(member)
    }
    fn leave(&self, member: usize) {
        self.busy.leave(member)
    }
    fn record(&self, _member: usize, _outcome: Outcome, _bytes: Traffic) {}
}

const HEALTHY: u8 = 0;
const FAILED: u8 = 1;

/// A minimal failover selector: the member whose route matches the sticky route, else the
/// first member in list order that is not failed and not yet tried; failed members are tried
/// last (a crude forced recovery). Members marked failed by a fatal outcome turn healthy again
/// on success. Not mod_jk's balancer: for tests and for wiring before the balancer exists.
#[derive(Debug)]
pub struct InOrder {
    routes: Vec<String>,
    state: Vec<AtomicU8>,
    busy: BusyCounters,
    /// Outcomes recorded per member, for tests: [success, client, protocol, soft, fatal, busy,
    /// timeout, failed].
    counts: Vec<[AtomicU32; 8]>,
}

impl InOrder {
    /// `routes[i]` and `busy_limits[i]` describe member `i`.
    pub fn new(routes: Vec<String>, busy_limits: Vec<u32>) -> Self {
        let n = routes.len();
        InOrder {
            state: (0..n).map(|_| AtomicU8::new(HEALTHY)).collect(),
            counts: (0..n).map(|_| Default::default()).collect(),
            routes,
            busy: BusyCounters::new(busy_limits),
        }
    }

    /// How many times `outcome` was recorded for `member`.
    pub fn count(&self, member: usize, outcome: Outcome) -> u32 {
        self.counts
            .get(member)
            .map_or(0, |c| c[outcome_index(outcome)].load(Ordering::Relaxed))
    }

    pub fn is_failed(&self, member: usize) -> bool {
        self.state
            .get(member)
            .is_some_and(|s| s.load(Ordering::Relaxed) == FAILED)
    }

    fn pick(&self, member: usize) -> Pick {
        Pick {
            member,
            activation: Some(Activation::Active),
        }
    }
}

fn outcome_index(o: Outcome) -> usize {
    match o {
        Outcome::Success => 0,
        Outcome::ClientError => 1,
        Outcome::ProtocolError => 2,
        Outcome::StatusSoft => 3,
        Outcome::StatusFatal => 4,
        Outcome::Busy => 5,
        Outcome::ReplyTimeout => 6,
        Outcome::Failed => 7,
    }
}

impl Selector for InOrder {
    fn next(&self, route: Option<&str>, tried: &[usize]) -> Option<Pick> {
        let untried = |i: &usize| !tried.contains(i);
        if let Some(r) = route {
            if let Some(i) = self.routes.iter().position(|x| x == r) {
                if untried(&i) && !self.is_failed(i) {
                    return Some(self.pick(i));
                }
            }
        }
        let all = 0..self.routes.len();
        all.clone()
            .filter(untried)
            .find(|&i| !self.is_failed(i))
            .or_else(|| all.clone().find(untried))
            .map(|i| self.pick(i))
    }
    fn enter(&self, member: usize) -> bool {
        self.busy.enter(member)
    }
    fn leave(&self, member: usize) {
        self.busy.leave(member)
    }
    fn record(&self, member: usize, outcome: Outcome, _bytes: Traffic) {
        let Some(c) = self.counts.get(member) else {
            return;
        };
        c[outcome_index(outcome)].fetch_add(1, Ordering::Relaxed);
        let state = match outcome {
            Outcome::Success | Outcome::ClientError | Outcome::StatusSoft => HEALTHY,
            Outcome::StatusFatal | Outcome::Failed => FAILED,
            _ => return,
        };
        self.state[member].store(state, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_limit_refuses_beyond_the_limit_and_leave_frees() {
        let b = BusyCounters::new(vec![1, 0]);
        assert!(b.enter(0));
        assert!(!b.enter(0));
        assert_eq!(b.busy(0), 1);
        b.leave(0);
        assert!(b.enter(0));
        // No limit on member 1; unknown members are refused.
        assert!(b.enter(1) && b.enter(1));
        assert!(!b.enter(7));
        b.leave(1);
        b.leave(1);
        b.leave(1);
        assert_eq!(b.busy(1), 0);
    }

    #[test]
    fn in_order_prefers_route_then_healthy_then_failed() {
        let s = InOrder::new(vec!["a".into(), "b".into(), "c".into()], vec![0; 3]);
        assert_eq!(s.next(None, &[]).unwrap().member, 0);
        assert_eq!(s.next(Some("c"), &[]).unwrap().member, 2);
        assert_eq!(s.next(Some("c"), &[2]).unwrap().member, 0);
        s.record(0, Outcome::Failed, Traffic::default());
        assert_eq!(s.next(None, &[]).unwrap().member, 1);
        assert_eq!(s.next(None, &[1, 2]).unwrap().member, 0);
        assert_eq!(s.next(None, &[0, 1, 2]), None);
        s.record(0, Outcome::Success, Traffic::default());
        assert_eq!(s.next(None, &[]).unwrap().member, 0);
        assert_eq!(s.count(0, Outcome::Failed), 1);
    }

    #[test]
    fn single_offers_its_member_once_per_round() {
        let s = Single::new(0);
        assert_eq!(s.next(Some("x"), &[]).unwrap().member, 0);
        assert_eq!(s.next(None, &[0]), None);
    }
}
