//! The balancer ([`crate::balancer::Balancer`]) as the engine's [`Plan`]: its request state
//! decides members, rounds, forced recovery and the outcome → state table; the engine does the
//! connections and the safety rules.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::balancer::{self, Balancer, Busy, Flags, Next, Request};

use super::plan::{Plan, Step};
use super::selector::{Activation, Outcome, Pick, Traffic};

/// One request's plan over a balancer.
pub struct Balanced<'a> {
    lb: &'a Balancer,
    req: Request<'a>,
    busy: Option<Busy<'a>>,
    route: String,
}

impl<'a> Balanced<'a> {
    /// `session_id`: the request's session id (`crate::route::session_id`); `activations`:
    /// the mount's per-member overrides, if it has any.
    pub fn new(
        lb: &'a Balancer,
        session_id: Option<&'a str>,
        flags: Flags,
        activations: Option<&'a [Option<Activation>]>,
    ) -> Self {
        let req = lb.request(session_id, flags);
        Balanced {
            lb,
            req: match activations {
                Some(a) => req.with_activations(a),
                None => req,
            },
            busy: None,
            route: String::new(),
        }
    }
}

/// The balancer's clock: Unix seconds.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Plan for Balanced<'_> {
    fn next(&mut self) -> Step {
        match self.req.next(now()) {
            Next::Try(choice) => {
                self.route = self.lb.route_of(&choice);
                Step::Try(Pick {
                    member: choice.member,
                    activation: Some(
                        self.req
                            .activation(choice.member)
                            .unwrap_or(Activation::Active),
                    ),
                })
            }
            Next::Wait(d) => Step::Wait(d),
            Next::GiveUp { .. } => Step::GiveUp,
        }
    }

    fn route(&self) -> Option<&str> {
        Some(&self.route)
    }

    fn enter(&mut self, member: usize, busy_limit: u32) -> bool {
        let over = busy_limit > 0
            && self.lb.member_slot(member).is_some_and(|s| {
                s.busy.load(std::sync::atomic::Ordering::Relaxed) >= u64::from(busy_limit)
            });
        if over {
            self.req.refuse(member);
            return false;
        }
        self.busy = Some(self.lb.start(&self.req, member));
        true
    }

    fn finish(&mut self, member: usize, o: Outcome, traffic: Traffic) -> bool {
        let traffic = balancer::Traffic {
            read: traffic.received,
            written: traffic.sent,
        };
        match self.busy.take() {
            Some(busy) => self.req.finish(busy, o, traffic, now()).failover,
            // Refused before starting (busy_limit): already BUSY and excluded.
            None => {
                let _ = member;
                true
            }
        }
    }
}
