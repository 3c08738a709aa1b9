//! One request's way through the balancer (mod_jk.md §3.7): which members already failed in
//! this round (mod_jk's per-request copy of the states, where a failure is a "local error"),
//! the attempt and round counters behind `lb_retries`, `retries` and `retry_interval`, and the
//! one forced recovery when nothing is selectable.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::choose::{Choice, NoMember, View};
use super::outcome::{Busy, Outcome, Traffic, Verdict};
use super::state::{state_code, state_from_code, State};
use super::Balancer;
use crate::config::Activation;

/// Members excluded for the rest of a round. Allocates only when a member fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Excluded(Vec<u64>);

impl Excluded {
    pub fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
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

/// One request's attempts. Not shared between threads; create one per request.
#[derive(Debug)]
pub struct Request<'a> {
    lb: &'a Balancer,
    session_id: Option<&'a str>,
    stateless: bool,
    excluded: Excluded,
    overrides: Option<&'a [Option<Activation>]>,
    forced: bool,
    attempt: u32,
    round: u32,
    last_found: bool,
}

impl Balancer {
    /// Start a request. `session_id` is the request's session id (see
    /// [`crate::route::session_id`]); it is ignored when the lb is not sticky or the mount says
    /// `sticky_ignore`. Members in BUSY whose `busy_limit` is no longer reached become OK again
    /// when choosing looks at them (mod_jk does this for every member at the start of every
    /// request; doing it on sight decides the same and keeps choosing O(members) once).
    pub fn request<'a>(&'a self, session_id: Option<&'a str>, flags: Flags) -> Request<'a> {
        let conf = self.conf();
        let sticky = conf.lb.sticky_session && !flags.sticky_ignore;
        Request {
            lb: self,
            session_id: session_id.filter(|_| sticky),
            stateless: flags.stateless,
            excluded: Excluded::default(),
            overrides: None,
            forced: false,
            attempt: 0,
            round: 0,
            last_found: false,
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

impl<'a> Request<'a> {
    /// The session id this request balances by (`None` when not sticky).
    pub fn session_id(&self) -> Option<&'a str> {
        self.session_id
    }

    /// `stateless` mount.
    pub fn stateless(&self) -> bool {
        self.stateless
    }

    /// Per-mount activation overrides, by member index (`None` = the member's own).
    pub fn with_activations(mut self, overrides: &'a [Option<Activation>]) -> Self {
        self.overrides = Some(overrides);
        self
    }

    /// The activation that applies to `member` for this request (sent as `JK_LB_ACTIVATION`).
    pub fn activation(&self, member: usize) -> Option<Activation> {
        let own = self.lb.conf().members.get(member)?.activation;
        Some(
            self.overrides
                .and_then(|o| o.get(member).copied().flatten())
                .unwrap_or(own),
        )
    }

    /// Choose within the current round, forcing recovery once if nothing is selectable.
    pub fn choose(&mut self, _now: i64) -> Result<Choice, NoMember> {
        loop {
            if let Some(c) = self.pick() {
                return Ok(c);
            }
            if self.forced {
                return Err(NoMember);
            }
            self.forced = true;
            if self.lb.force_recovery(Some(&mut self.excluded)) == 0 {
                return Err(NoMember);
            }
        }
    }

    fn view(&self) -> View<'_> {
        View {
            lb: self.lb,
            conf: self.lb.conf(),
            excluded: &self.excluded,
            stateless: self.stateless,
            overrides: self.overrides,
        }
    }

    fn pick(&self) -> Option<Choice> {
        let c = self.view().pick(self.session_id)?;
        // A member in RECOVER is probed by this request only (mod_jk: RECOVER → PROBE). Load
        // first: a compare-exchange would take the cache line from other choosers every time.
        let state = &self.lb.slot(c.member).state;
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
    pub fn next(&mut self, _now: i64) -> Next {
        let conf = self.lb.conf();
        let per_round = conf.lb.lb_retries.min(self.lb.len() as u32);
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
                // waiting for it would only hold the request thread.
                if !self.view().any_candidate() {
                    // What the skipped round would have reported: no member found.
                    return Next::GiveUp {
                        member_tried: false,
                    };
                }
                return Next::Wait(Duration::from_millis(conf.lb.retry_interval_ms.into()));
            }
            let found = self.pick();
            if found.is_none() && !self.forced {
                self.forced = true;
                if self.lb.force_recovery(Some(&mut self.excluded)) > 0 {
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

    /// The pool had no connection for `member`: BUSY (unless in ERROR), and not tried again
    /// in this round.
    pub fn refuse(&mut self, member: usize) {
        self.lb.refuse(member);
        self.excluded.insert(member);
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
            self.excluded.insert(member);
        }
        v
    }

    /// Whether `member` is excluded for the rest of this round.
    pub fn excluded(&self, member: usize) -> bool {
        self.excluded.contains(member)
    }

    /// The shared state of `member` (for logs and tests).
    pub fn state(&self, member: usize) -> Option<State> {
        (member < self.lb.len()).then(|| state_from_code(self.lb.slot(member).state.load(Relaxed)))
    }
}
