//! One request's way through the balancer (mod_jk: its service loop and outcome rules): which members already failed in
//! this round (mod_jk's per-request copy of the states, where a failure is a "local error"),
//! the attempt and round counters behind `lb_retries`, `retries` and `retry_interval`, and the
//! one forced recovery when nothing is selectable.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::choose::{Choice, NoMember, View};
use super::outcome::{Busy, Counted, Outcome, Traffic, Verdict};
use super::state::{state_code, state_from_code, State};
use super::Balancer;
use crate::config::Activation;

/// Members excluded for the rest of a round. Allocates only when a member fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Excluded(Vec<u64>);

impl Excluded {
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        Self::in_words(&self.0, i)
    }

    /// The bit set, for loops that test many members.
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.0
    }

    #[inline(always)]
    pub fn in_words(words: &[u64], i: usize) -> bool {
        words.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn insert(&mut self, i: usize) {
        if self.0.len() <= i / 64 {
            self.0.resize(i / 64 + 1, 0);
        }
        self.0[i / 64] |= 1 << (i % 64);
    }

    pub fn remove(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Per-mount switches (`JkMount` rule extensions and env vars).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `sticky_ignore` / `JK_STICKY_IGNORE`: balance as if the request had no session.
    pub sticky_ignore: bool,
    /// `stateless`: pure round robin within the lowest distance, and no session accounting.
    pub stateless: bool,
}

/// What to do next for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Send the request to this member.
    Try(Choice),
    /// A round is over: wait `retry_interval`, then ask again (states are re-read then).
    Wait(Duration),
    /// `retries` rounds are spent. The answer is the last attempt's status, or 503 when
    /// `member_tried` is false (the last round found no member at all).
    GiveUp { member_tried: bool },
}

/// One request's attempts, as owned data: what a forwarding machine keeps between its steps,
/// with the balancer and the session id passed to each call. [`Request`] wraps it with both
/// borrowed, for callers that hold them anyway.
#[derive(Clone, Debug, Default)]
pub struct Attempts {
    sticky: bool,
    stateless: bool,
    excluded: Excluded,
    overrides: Option<Vec<Option<Activation>>>,
    forced: bool,
    attempt: u32,
    round: u32,
    last_found: bool,
}

/// One request's attempts. Not shared between threads; create one per request.
#[derive(Debug)]
pub struct Request<'a> {
    lb: &'a Balancer,
    session_id: Option<&'a str>,
    state: Attempts,
}

impl Balancer {
    /// Start a request. `session_id` is the request's session id (see
    /// [`crate::route::session_id`]); it is ignored when the lb is not sticky or the mount says
    /// `sticky_ignore`. Members in BUSY whose `busy_limit` is no longer reached become OK again
    /// when choosing looks at them (mod_jk does this for every member at the start of every
    /// request; doing it on sight decides the same and keeps choosing O(members) once).
    pub fn request<'a>(&'a self, session_id: Option<&'a str>, flags: Flags) -> Request<'a> {
        Request {
            lb: self,
            session_id,
            state: self.attempts(flags),
        }
    }

    /// The owned state of a new request (see [`Attempts`]).
    pub fn attempts(&self, flags: Flags) -> Attempts {
        Attempts {
            sticky: self.conf().lb.sticky_session && !flags.sticky_ignore,
            stateless: flags.stateless,
            ..Attempts::default()
        }
    }

    /// The member for a request with `session_id`, as one attempt with no retry state (after
    /// the one forced recovery if nothing was selectable). `now`: Unix seconds.
    pub fn choose(
        &self,
        session_id: Option<&str>,
        sticky_ignore: bool,
        now: i64,
    ) -> Result<Choice, NoMember> {
        let mut req = self.request(
            session_id,
            Flags {
                sticky_ignore,
                stateless: false,
            },
        );
        req.choose(now)
    }

    /// Forced recovery: every member in ERROR becomes FORCE (tried once more); returns how
    /// many. Members forced are no longer excluded from `excluded`.
    pub(crate) fn force_recovery(&self, mut excluded: Option<&mut Excluded>) -> usize {
        let mut forced = 0;
        for i in 0..self.len() {
            let slot = self.slot(i);
            if slot
                .state
                .compare_exchange(
                    state_code(State::Error),
                    state_code(State::Force),
                    Relaxed,
                    Relaxed,
                )
                .is_ok()
            {
                slot.reply_timeouts.store(0, Relaxed);
                if let Some(ex) = excluded.as_deref_mut() {
                    ex.remove(i);
                }
                forced += 1;
            }
        }
        forced
    }
}

impl Attempts {
    /// The session id this request balances by (`None` when not sticky).
    pub fn session_id<'s>(&self, session_id: Option<&'s str>) -> Option<&'s str> {
        session_id.filter(|_| self.sticky)
    }

    /// `stateless` mount.
    pub fn stateless(&self) -> bool {
        self.stateless
    }

    /// Per-mount activation overrides, by member index (`None` = the member's own).
    pub fn set_activations(&mut self, overrides: Vec<Option<Activation>>) {
        self.overrides = Some(overrides);
    }

    /// The activation that applies to `member` for this request (sent as `JK_LB_ACTIVATION`).
    pub fn activation(&self, lb: &Balancer, member: usize) -> Option<Activation> {
        let own = lb.conf().members.get(member)?.activation;
        Some(
            self.overrides
                .as_ref()
                .and_then(|o| o.get(member).copied().flatten())
                .unwrap_or(own),
        )
    }

    /// Choose within the current round, forcing recovery once if nothing is selectable.
    pub fn choose(&mut self, lb: &Balancer, session_id: Option<&str>) -> Result<Choice, NoMember> {
        loop {
            if let Some(c) = self.pick(lb, session_id) {
                return Ok(c);
            }
            if self.forced {
                return Err(NoMember);
            }
            self.forced = true;
            if lb.force_recovery(Some(&mut self.excluded)) == 0 {
                return Err(NoMember);
            }
        }
    }

    fn view<'v>(&'v self, lb: &'v Balancer) -> View<'v> {
        View {
            lb,
            conf: lb.conf(),
            excluded: &self.excluded,
            stateless: self.stateless,
            overrides: self.overrides.as_deref(),
        }
    }

    fn pick(&self, lb: &Balancer, session_id: Option<&str>) -> Option<Choice> {
        let c = self.view(lb).pick(self.session_id(session_id))?;
        // A member in RECOVER is probed by this request only (mod_jk: RECOVER → PROBE). Load
        // first: a compare-exchange would take the cache line from other choosers every time.
        let state = &lb.slot(c.member).state;
        if state.load(Relaxed) == state_code(State::Recover) {
            let _ = state.compare_exchange(
                state_code(State::Recover),
                state_code(State::Probe),
                Relaxed,
                Relaxed,
            );
        }
        Some(c)
    }

    /// The next step of mod_jk's service loop: the member to try, a pause between rounds, or
    /// the end. Bounded: every call returns after at most `lb_retries` empty attempts.
    pub fn next(&mut self, lb: &Balancer, session_id: Option<&str>) -> Next {
        let conf = lb.conf();
        let per_round = conf.lb.lb_retries.min(lb.len() as u32);
        loop {
            if self.attempt >= per_round {
                self.round += 1;
                if self.round >= conf.lb.retries {
                    return Next::GiveUp {
                        member_tried: self.last_found,
                    };
                }
                self.attempt = 0;
                // The next round sees the shared states afresh: local errors are forgotten.
                self.excluded.clear();
                // Pause only when the next round has someone to try: a member in ERROR comes
                // back through maintenance (recover_time), never within retry_interval, so
                // waiting for it would only hold the request.
                if !self.view(lb).any_candidate() {
                    // What the skipped round would have reported: no member found.
                    return Next::GiveUp {
                        member_tried: false,
                    };
                }
                return Next::Wait(Duration::from_millis(conf.lb.retry_interval_ms.into()));
            }
            let found = self.pick(lb, session_id);
            if found.is_none() && !self.forced {
                self.forced = true;
                if lb.force_recovery(Some(&mut self.excluded)) > 0 {
                    continue; // forcing does not use up an attempt
                }
            }
            self.attempt += 1;
            self.last_found = found.is_some();
            if let Some(c) = found {
                return Next::Try(c);
            }
        }
    }

    /// The pool had no connection for `member`, or it is at its `busy_limit`: BUSY (unless
    /// in ERROR), and not tried again in this round.
    pub fn refuse(&mut self, lb: &Balancer, member: usize) {
        lb.refuse(member);
        self.excluded.insert(member);
    }

    /// Count the request in on `member` (see [`Balancer::start_raw`]).
    pub fn start(&self, lb: &Balancer, session_id: Option<&str>, member: usize) -> Counted {
        lb.count_in(
            member,
            self.session_id(session_id).is_none() && !self.stateless,
        )
    }

    /// Apply the outcome of an attempt (see [`Balancer::finish`]); a member that failed is
    /// not tried again in this round.
    pub fn finish(
        &mut self,
        lb: &Balancer,
        counted: Counted,
        outcome: Outcome,
        traffic: Traffic,
        now: i64,
    ) -> Verdict {
        let member = counted.member();
        let v = lb.finish(counted, outcome, traffic, now);
        if v.local_error {
            self.excluded.insert(member);
        }
        v
    }

    /// Whether `member` is excluded for the rest of this round.
    pub fn excluded(&self, member: usize) -> bool {
        self.excluded.contains(member)
    }
}

impl<'a> Request<'a> {
    /// The session id this request balances by (`None` when not sticky).
    pub fn session_id(&self) -> Option<&'a str> {
        self.state.session_id(self.session_id)
    }

    /// `stateless` mount.
    pub fn stateless(&self) -> bool {
        self.state.stateless
    }

    /// Per-mount activation overrides, by member index (`None` = the member's own).
    pub fn with_activations(mut self, overrides: &[Option<Activation>]) -> Self {
        self.state.set_activations(overrides.to_vec());
        self
    }

    /// The activation that applies to `member` for this request (sent as `JK_LB_ACTIVATION`).
    pub fn activation(&self, member: usize) -> Option<Activation> {
        self.state.activation(self.lb, member)
    }

    /// Choose within the current round, forcing recovery once if nothing is selectable.
    pub fn choose(&mut self, _now: i64) -> Result<Choice, NoMember> {
        self.state.choose(self.lb, self.session_id)
    }

    /// See [`Attempts::next`].
    pub fn next(&mut self, _now: i64) -> Next {
        self.state.next(self.lb, self.session_id)
    }

    /// See [`Attempts::refuse`].
    pub fn refuse(&mut self, member: usize) {
        self.state.refuse(self.lb, member);
    }

    /// Apply the outcome of an attempt (see [`Busy::finish`]); a member that failed is not
    /// tried again in this round.
    pub fn finish(
        &mut self,
        busy: Busy<'_>,
        outcome: Outcome,
        traffic: Traffic,
        now: i64,
    ) -> Verdict {
        let member = busy.member();
        let v = busy.finish(outcome, traffic, now);
        if v.local_error {
            self.state.excluded.insert(member);
        }
        v
    }

    /// Whether `member` is excluded for the rest of this round.
    pub fn excluded(&self, member: usize) -> bool {
        self.state.excluded(member)
    }

    /// The shared state of `member` (for logs and tests).
    pub fn state(&self, member: usize) -> Option<State> {
        (member < self.lb.len()).then(|| state_from_code(self.lb.slot(member).state.load(Relaxed)))
    }
}
