//! One request's way through the members: which member next, a pause between rounds, or the
//! end; and the accounting of each member's part. [`Rounds`] drives any [`Selector`] with
//! mod_jk's rounds (`retries` × `lb_retries`); the balancer's own request state drives
//! [`super::balanced::Balanced`].

use std::time::Duration;

use super::retry::Rounds;
use super::selector::{Outcome, Pick, Selector, Traffic};

/// What to do next for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Try(Pick),
    /// A round is over: pause, then ask again.
    Wait(Duration),
    GiveUp,
}

/// A request's plan. Not shared: one per request, on the stack.
pub trait Plan {
    fn next(&mut self) -> Step;

    /// The route attribute to send with the member just picked (lb members only).
    fn route(&self) -> Option<&str>;

    /// The request goes to `member` now. `false`: the member is at its `busy_limit`; the
    /// engine then reports [`Outcome::Busy`] through [`finish`](Self::finish) without trying.
    fn enter(&mut self, member: usize, busy_limit: u32) -> bool;

    /// The member's part ended with `outcome`. Returns whether another member may be tried
    /// (the engine also checks that nothing reached the client).
    fn finish(&mut self, member: usize, outcome: Outcome, traffic: Traffic) -> bool;
}

/// mod_jk's rounds over a [`Selector`].
pub struct SelectorPlan<'s> {
    selector: &'s dyn Selector,
    rounds: Rounds,
    route: Option<&'s str>,
    members: usize,
    tried: Vec<usize>,
    round: u32,
    entered: bool,
}

impl<'s> SelectorPlan<'s> {
    /// `sticky_route`: the request's route; `members`: how many the worker has.
    pub fn new(
        selector: &'s dyn Selector,
        rounds: Rounds,
        sticky_route: Option<&'s str>,
        members: usize,
    ) -> Self {
        SelectorPlan {
            selector,
            rounds,
            route: sticky_route,
            members,
            tried: Vec::new(),
            round: 0,
            entered: false,
        }
    }
}

impl Plan for SelectorPlan<'_> {
    fn next(&mut self) -> Step {
        let per_round = self.members.min(self.rounds.lb_retries.max(1) as usize);
        if self.tried.len() < per_round {
            if let Some(p) = self.selector.next(self.route, &self.tried) {
                if p.member < self.members {
                    self.tried.push(p.member);
                    return Step::Try(p);
                }
            }
        }
        self.round += 1;
        if self.round >= self.rounds.retries.max(1) {
            return Step::GiveUp;
        }
        self.tried.clear();
        Step::Wait(self.rounds.retry_interval)
    }

    fn route(&self) -> Option<&str> {
        // The engine sends the member's own route.
        None
    }

    fn enter(&mut self, member: usize, _busy_limit: u32) -> bool {
        // The selector applies the busy limit it was built with.
        self.entered = self.selector.enter(member);
        self.entered
    }

    fn finish(&mut self, member: usize, outcome: Outcome, traffic: Traffic) -> bool {
        self.selector.record(member, outcome, traffic);
        if self.entered {
            self.selector.leave(member);
            self.entered = false;
        }
        !matches!(outcome, Outcome::Success | Outcome::ClientError)
    }
}
