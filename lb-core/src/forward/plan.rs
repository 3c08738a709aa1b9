//! One request's way through a worker's members, as owned data: which member next, a pause
//! between rounds, or the end; and the accounting of each member's part. An lb worker follows
//! its balancer (mod_jk's rounds, states, sticky routes); a plain ajp13 worker has its one
//! member, tried once (its own `retries` repeat the attempt on that member).

use std::time::Duration;

use crate::balancer::{self, Attempts, Choice, Counted, Flags, Next};

use super::{Activation, Outcome, Traffic, Worker};

/// The member chosen for one member's part of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    /// Index into the worker's members.
    pub member: usize,
    /// Its activation, for lb members (`None` for a plain ajp13 worker: no attribute is sent).
    pub activation: Option<Activation>,
}

/// What to do next for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Try(Pick),
    /// A round is over: pause, then ask again.
    Wait(Duration),
    GiveUp,
}

#[derive(Debug)]
pub enum Plan {
    Single {
        tried: bool,
        entered: bool,
    },
    Balanced {
        attempts: Attempts,
        choice: Option<Choice>,
        counted: Option<Counted>,
    },
}

impl Plan {
    pub fn new(
        worker: &Worker,
        flags: Flags,
        activations: Option<Vec<Option<Activation>>>,
    ) -> Plan {
        match worker.balancer() {
            None => Plan::Single {
                tried: false,
                entered: false,
            },
            Some(lb) => {
                let mut attempts = lb.attempts(flags);
                if let Some(a) = activations {
                    attempts.set_activations(a);
                }
                Plan::Balanced {
                    attempts,
                    choice: None,
                    counted: None,
                }
            }
        }
    }

    pub fn next(&mut self, worker: &Worker, session: Option<&str>) -> Step {
        match (self, worker.balancer()) {
            (Plan::Single { tried, .. }, _) => {
                if std::mem::replace(tried, true) {
                    Step::GiveUp
                } else {
                    Step::Try(Pick {
                        member: 0,
                        activation: None,
                    })
                }
            }
            (
                Plan::Balanced {
                    attempts, choice, ..
                },
                Some(lb),
            ) => match attempts.next(lb, session) {
                Next::Try(c) => {
                    *choice = Some(c);
                    Step::Try(Pick {
                        member: c.member,
                        activation: Some(
                            attempts
                                .activation(lb, c.member)
                                .unwrap_or(Activation::Active),
                        ),
                    })
                }
                Next::Wait(d) => Step::Wait(d),
                Next::GiveUp { .. } => Step::GiveUp,
            },
            (Plan::Balanced { .. }, None) => Step::GiveUp,
        }
    }

    /// The route attribute to send to the member just picked (lb members only): the member's
    /// route, or the domain when the session was routed through it.
    pub fn route<'w>(&self, worker: &'w Worker) -> Option<&'w str> {
        match (self, worker.balancer()) {
            (
                Plan::Balanced {
                    choice: Some(c), ..
                },
                Some(lb),
            ) => Some(lb.route_for(c)),
            _ => None,
        }
    }

    /// The member just picked was found through the session route's domain.
    pub fn via_domain(&self) -> bool {
        matches!(
            self,
            Plan::Balanced {
                choice: Some(c),
                ..
            } if c.via_domain
        )
    }

    /// The request goes to `member` now. `false`: the member is at its `busy_limit`; the member
    /// is then BUSY for this round, and [`finish`](Self::finish) records nothing.
    pub fn enter(&mut self, worker: &Worker, session: Option<&str>, member: usize) -> bool {
        match (self, worker.balancer()) {
            (Plan::Single { entered, .. }, _) => {
                *entered = worker.enter_single();
                *entered
            }
            (
                Plan::Balanced {
                    attempts, counted, ..
                },
                Some(lb),
            ) => {
                let limit = worker.member(member).map_or(0, |m| m.spec().busy_limit);
                let over = limit > 0
                    && lb.member_slot(member).is_some_and(|s| {
                        s.busy.load(std::sync::atomic::Ordering::Relaxed) >= u64::from(limit)
                    });
                if over {
                    attempts.refuse(lb, member);
                    return false;
                }
                *counted = Some(attempts.start(lb, session, member));
                true
            }
            (Plan::Balanced { .. }, None) => false,
        }
    }

    /// The member's part ended with `outcome`. Returns whether another member may be tried
    /// (the caller also checks that the retry is safe). `now`: Unix seconds.
    pub fn finish(
        &mut self,
        worker: &Worker,
        outcome: Outcome,
        traffic: Traffic,
        now: i64,
    ) -> bool {
        match (self, worker.balancer()) {
            (Plan::Single { entered, .. }, _) => {
                if std::mem::take(entered) {
                    worker.leave_single();
                }
                outcome.failover()
            }
            (
                Plan::Balanced {
                    attempts, counted, ..
                },
                Some(lb),
            ) => match counted.take() {
                Some(c) => attempts.finish(lb, c, outcome, traffic, now).failover,
                // Refused before starting (busy_limit): already BUSY and excluded.
                None => true,
            },
            (Plan::Balanced { .. }, None) => false,
        }
    }

    /// The request was abandoned with a member's part under way: count it out.
    pub fn abandon(&mut self, worker: &Worker) {
        match (self, worker.balancer()) {
            (Plan::Single { entered, .. }, _) => {
                if std::mem::take(entered) {
                    worker.leave_single();
                }
            }
            (Plan::Balanced { counted, .. }, Some(lb)) => {
                if let Some(c) = counted.take() {
                    lb.count_out(c);
                }
            }
            (Plan::Balanced { .. }, None) => {}
        }
    }
}

/// The balancer's request flags from the forwarding options.
pub fn flags(options: &super::ForwardOptions) -> balancer::Flags {
    balancer::Flags {
        sticky_ignore: options.sticky_ignore,
        stateless: options.stateless,
    }
}
