//! Accounting around one attempt (mod_jk: lb_value and lb_mult; its service loop and outcome rules): the [`Busy`] guard counts the request
//! in (busy, elected, sessions, lb_value per method) and out, and an [`Outcome`] moves the
//! member's shared state by mod_jk's table.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

use super::state::{state_code, State};
use super::Balancer;
use crate::config::Method;
use crate::shm::MemberSlot;

/// What one member's part of a request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The response was delivered (whatever its status): member OK, error times cleared.
    Success,
    /// The client failed (read/write error, 400, 413): member OK, no failover.
    ClientError,
    /// The backend broke the protocol, or an internal error: global state kept, local error,
    /// fail over.
    ProtocolError,
    /// A negative `fail_on_status` code matched: member OK, local error, fail over.
    StatusSoft,
    /// A positive `fail_on_status` code matched: member ERROR.
    StatusFatal,
    /// `busy_limit` reached: member BUSY.
    Busy,
    /// `reply_timeout` expired: counted; ERROR once more than `max_reply_timeouts` (decayed)
    /// happened, local error before that.
    ReplyTimeout,
    /// Connect, send or read failed: errors counted; ERROR at once when no other request is
    /// under way on the member, when `error_escalation_time` is 0, or once the first error is
    /// that old; local error otherwise.
    Failed,
}

impl Outcome {
    /// Whether another member may take the request (if nothing reached the client).
    pub fn failover(self) -> bool {
        !matches!(self, Outcome::Success | Outcome::ClientError)
    }
}

/// Bytes moved through a member for one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes read from the backend.
    pub read: u64,
    /// Bytes written to the backend.
    pub written: u64,
}

/// What [`Balancer::record`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Another member may be tried (if nothing reached the client yet).
    pub failover: bool,
    /// The member must not be tried again by this request in this round.
    pub local_error: bool,
    /// The member's shared state after the outcome.
    pub state: State,
}

/// A request counted in on a member, as owned data: whoever holds it must hand it back through
/// [`Balancer::finish`] or [`Balancer::count_out`] (a forwarding machine does so, also when it
/// is dropped). [`Busy`] is the guard form for callers that hold the balancer anyway.
#[must_use = "finish the attempt with its outcome"]
#[derive(Debug)]
pub struct Counted {
    member: usize,
    /// Counted in a real member (an index that is not a member gives an inert token).
    real: bool,
    method: Method,
    mult: u64,
}

impl Counted {
    pub fn member(&self) -> usize {
        self.member
    }
}

/// A request under way on a member. Counts it out when finished or dropped.
#[must_use = "finish the attempt with its outcome"]
pub struct Busy<'b> {
    lb: &'b Balancer,
    counted: Option<Counted>,
}

impl std::fmt::Debug for Busy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Busy")
            .field("member", &self.member())
            .finish()
    }
}

fn sub_floor(a: &AtomicU64, n: u64) {
    let _ = a.fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)));
}

/// Raise a peak: written only when `v` passes it (a read-modify-write on every request would
/// take the cache line from every other process even when nothing changes).
#[inline]
fn raise_max(max: &AtomicU64, v: u64) {
    if v > max.load(Relaxed) {
        max.fetch_max(v, Relaxed);
    }
}

impl Balancer {
    /// The request goes to `member` (from a [`super::Choice`]) of request `req`.
    pub fn start<'b>(&'b self, req: &super::Request<'_>, member: usize) -> Busy<'b> {
        self.start_raw(member, req.session_id().is_none() && !req.stateless())
    }

    /// As [`start`](Self::start) without a [`super::Request`]: `new_session` is true when the
    /// request carried no session id and the mount is not stateless (Sessions and Next count
    /// only those). An index that is not a member gives an inert guard.
    pub fn start_raw(&self, member: usize, new_session: bool) -> Busy<'_> {
        Busy {
            lb: self,
            counted: Some(self.count_in(member, new_session)),
        }
    }

    /// Count a request in on `member` (busy, elected, sessions, lb_value by method); see
    /// [`start_raw`](Self::start_raw).
    pub fn count_in(&self, member: usize, new_session: bool) -> Counted {
        let conf = self.conf();
        let method = conf.lb.method;
        let Some(mc) = conf.members.get(member) else {
            return Counted {
                member,
                real: false,
                method,
                mult: 0,
            };
        };
        let slot = self.slot(member);
        let _lock = self.pessimistic(conf);
        raise_max(&slot.max_busy, slot.busy.fetch_add(1, Relaxed) + 1);
        // The lb's busy is its members' sum (see `lb_busy`), so no line of the lb record is
        // written by every request; its peak is written only when the sum passes it.
        raise_max(&self.lb_slot().max_busy, self.lb_busy());
        slot.elected.fetch_add(1, Relaxed);
        let counts = match method {
            Method::Request | Method::Busyness => true,
            Method::Sessions | Method::Next => new_session,
            Method::Traffic => false,
        };
        if counts {
            slot.lb_value.fetch_add(mc.lb_mult, Relaxed);
        }
        if new_session {
            slot.sessions.fetch_add(1, Relaxed);
        }
        Counted {
            member,
            real: true,
            method,
            mult: mc.lb_mult,
        }
    }

    /// The attempt counted in by `counted` ended with `outcome` after moving `traffic`: count
    /// the bytes (and the Traffic lb_value), count the request out, then apply the outcome.
    pub fn finish(
        &self,
        counted: Counted,
        outcome: Outcome,
        traffic: Traffic,
        now: i64,
    ) -> Verdict {
        if counted.real {
            let slot = self.slot(counted.member);
            slot.bytes_read.fetch_add(traffic.read, Relaxed);
            slot.bytes_written.fetch_add(traffic.written, Relaxed);
            if counted.method == Method::Traffic {
                let bytes = traffic.read.saturating_add(traffic.written);
                slot.lb_value
                    .fetch_add(bytes.saturating_mul(counted.mult), Relaxed);
            }
        }
        let member = counted.member;
        self.count_out(counted);
        self.record(member, outcome, now)
    }

    /// Count a request out without an outcome (it was abandoned).
    pub fn count_out(&self, counted: Counted) {
        if !counted.real {
            return;
        }
        let slot = self.slot(counted.member);
        sub_floor(&slot.busy, 1);
        if counted.method == Method::Busyness {
            sub_floor(&slot.lb_value, counted.mult);
        }
    }

    /// Requests under way on this lb, every process's: the sum of its members' `busy` (every
    /// request counted in on the lb is counted in on one member). mod_jk keeps a separate lb
    /// counter in shared memory, which every request of every process writes.
    pub fn lb_busy(&self) -> u64 {
        self.slots()
            .iter()
            .fold(0u64, |n, s| n.wrapping_add(s.busy.load(Relaxed)))
    }

    /// The pool had no connection for `member`: BUSY unless in ERROR.
    pub fn refuse(&self, member: usize) {
        if member < self.len() {
            let s = &self.slot(member).state;
            let _ = s.fetch_update(Relaxed, Relaxed, |v| {
                (v != state_code(State::Error)).then_some(state_code(State::Busy))
            });
        }
    }

    /// Apply `outcome` of a request that ran on `member` to its shared state (mod_jk: its service loop and outcome rules).
    /// Counts `client_errors`, `reply_timeouts` and `errors` itself: the caller does not.
    pub fn record(&self, member: usize, outcome: Outcome, now: i64) -> Verdict {
        let failover = outcome.failover();
        if member >= self.len() {
            return Verdict {
                failover,
                local_error: true,
                state: State::Error,
            };
        }
        // Busy is the pool's answer (busy_limit refuses before starting): no free slot here
        // until a request of this process on the member ends, as this one just did otherwise.
        let full = matches!(outcome, Outcome::Busy);
        if self.pool_full[member].load(Relaxed) != full {
            self.pool_full[member].store(full, Relaxed);
        }
        let conf = self.conf();
        let _lock = self.pessimistic(conf);
        let m = self.slot(member);
        // Having run a request, the member is OK unless it was already in ERROR. Every write
        // here reads first and writes only a change: the record's line is shared by every
        // process, and a member that stays OK (almost every request) needs no write at all.
        let (ok, err) = (state_code(State::Ok), state_code(State::Error));
        let now_state = m.state.load(Relaxed);
        if now_state != ok && now_state != err {
            let _ = m
                .state
                .fetch_update(Relaxed, Relaxed, |v| (v != err).then_some(ok));
        }
        let set = |s: State| store_changed32(&m.state, state_code(s));
        let error = || {
            m.errors.fetch_add(1, Relaxed);
            set(State::Error);
            m.first_error_time.store(now, Relaxed);
            m.last_error_time.store(now, Relaxed);
        };
        let local_error = match outcome {
            Outcome::Success => {
                set(State::Ok);
                clear_errors(m);
                false
            }
            Outcome::ClientError => {
                set(State::Ok);
                clear_errors(m);
                m.client_errors.fetch_add(1, Relaxed);
                true
            }
            Outcome::ProtocolError => true,
            Outcome::StatusSoft => {
                set(State::Ok);
                clear_errors(m);
                true
            }
            Outcome::StatusFatal => {
                error();
                true
            }
            Outcome::Busy => {
                set(State::Busy);
                true
            }
            Outcome::ReplyTimeout => {
                let n = m.reply_timeouts.fetch_add(1, Relaxed) + 1;
                if n > u64::from(conf.lb.max_reply_timeouts) {
                    error();
                }
                true
            }
            Outcome::Failed => {
                m.errors.fetch_add(1, Relaxed);
                let esc = i64::from(conf.lb.error_escalation_time);
                let first = m.first_error_time.load(Relaxed);
                if m.busy.load(Relaxed) == 0 || esc == 0 || (first > 0 && now - first >= esc) {
                    set(State::Error);
                }
                if first == 0 {
                    m.first_error_time.store(now, Relaxed);
                }
                m.last_error_time.store(now, Relaxed);
                true
            }
        };
        Verdict {
            failover,
            local_error,
            state: super::state::state_from_code(m.state.load(Relaxed)),
        }
    }
}

fn clear_errors(m: &MemberSlot) {
    let zero = |a: &AtomicI64| {
        if a.load(Relaxed) != 0 {
            a.store(0, Relaxed);
        }
    };
    zero(&m.first_error_time);
    zero(&m.last_error_time);
}

/// Store `v` unless it is there already (a store takes the line from every other reader).
#[inline]
fn store_changed32(a: &AtomicU32, v: u32) {
    if a.load(Relaxed) != v {
        a.store(v, Relaxed);
    }
}

impl Busy<'_> {
    pub fn member(&self) -> usize {
        self.counted.as_ref().map_or(usize::MAX, Counted::member)
    }

    /// The attempt ended with `outcome` after moving `traffic` (see [`Balancer::finish`]).
    pub fn finish(mut self, outcome: Outcome, traffic: Traffic, now: i64) -> Verdict {
        let counted = self
            .counted
            .take()
            .expect("a guard holds its count until finished");
        self.lb.finish(counted, outcome, traffic, now)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.counted.take() {
            self.lb.count_out(c);
        }
    }
}
