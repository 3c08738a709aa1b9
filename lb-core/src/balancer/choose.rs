//! Choosing a member for one attempt (mod_jk: find_best_worker; sticky routes and domains): the single-member shortcut, the
//! sticky route (exact route, then domain, then the unusable member's redirect or domain),
//! `sticky_session_force`, the best member by distance then lb_value from the rotating offset,
//! and the redirect failover when nothing is usable. One small function per rule.

use std::sync::atomic::Ordering::Relaxed;

use super::conf::{Conf, ScanMember};
use super::request::Excluded;
use super::state::{selectable, state_code, state_from_code, usable_sticky, State};
use crate::shm::MemberSlot;

/// Table codes of IDLE, OK, RECOVER, FORCE are 0..=3: the selectable states.
const SELECTABLE_MAX: u32 = 3;
const BUSY: u32 = 4;
use super::Balancer;
use crate::config::Activation;

/// The member for one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// Index into the lb's members (configuration order).
    pub member: usize,
    /// Chosen by the request's own session route (not a failover or a new balancing decision):
    /// `set_session_cookie` applies only when this is false.
    pub sticky: bool,
    /// Found through the session route's domain: the domain is the route forwarded.
    pub via_domain: bool,
}

/// No member can take the request now (every one is in error, busy, stopped or disabled, or
/// `sticky_session_force` forbids leaving the session's member).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMember;

impl std::fmt::Display for NoMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no member of the load balancer can take the request")
    }
}

impl std::error::Error for NoMember {}

/// What choosing looks at: the configuration copy, the live states, this request's exclusions.
pub(crate) struct View<'a> {
    pub lb: &'a Balancer,
    pub conf: &'a Conf,
    pub excluded: &'a Excluded,
    pub stateless: bool,
    /// Per-mount activation overrides (`active=`/`disabled=`/`stopped=` rule extensions).
    pub overrides: Option<&'a [Option<Activation>]>,
}

impl View<'_> {
    /// A member's state for this request: ERROR when it already failed in this round (mod_jk's
    /// local error), the shared state otherwise.
    fn state(&self, i: usize) -> State {
        if self.excluded.contains(i) {
            return State::Error;
        }
        let state = &self.lb.slot(i).state;
        match state_from_code(state.load(Relaxed)) {
            State::Busy if self.busy_over(i) => self.end_busy(state),
            s => s,
        }
    }

    /// BUSY ends once the member is under its `busy_limit` again and this process's pool has
    /// a free slot for it (mod_jk's rule at the start of each request).
    fn busy_over(&self, i: usize) -> bool {
        let limit = u64::from(self.conf.members[i].busy_limit);
        (limit == 0 || self.lb.slot(i).busy.load(Relaxed) < limit) && !self.lb.pool_full(i)
    }

    fn end_busy(&self, state: &std::sync::atomic::AtomicU32) -> State {
        let (busy, ok) = (state_code(State::Busy), state_code(State::Ok));
        match state.compare_exchange(busy, ok, Relaxed, Relaxed) {
            Ok(_) => State::Ok,
            Err(now) => state_from_code(now),
        }
    }

    #[inline]
    fn activation(&self, i: usize) -> Activation {
        self.overrides
            .and_then(|o| o.get(i).copied().flatten())
            .unwrap_or(self.conf.members[i].activation)
    }

    #[inline]
    fn usable(&self, i: usize) -> bool {
        let slot = self.lb.slot(i);
        self.usable_at(
            i,
            slot,
            self.conf.scan[i],
            self.excluded.words(),
            self.overrides,
        )
    }

    /// [`usable`](Self::usable) with what it reads passed in, so the scan loads those once.
    /// The hot path: compare the raw code (selectable states are the codes up to FORCE) and
    /// look at BUSY only when the member is in it; the activation comes from the packed scan
    /// view unless the mount overrides it.
    #[inline(always)]
    fn usable_at(
        &self,
        i: usize,
        slot: &MemberSlot,
        scan: ScanMember,
        excluded: &[u64],
        overrides: Option<&[Option<Activation>]>,
    ) -> bool {
        if Excluded::in_words(excluded, i) {
            return false;
        }
        let code = slot.state.load(Relaxed);
        let selectable = code <= SELECTABLE_MAX || (code == BUSY && self.busy_selectable(i));
        selectable
            && match overrides {
                None => scan.active,
                Some(o) => {
                    o.get(i)
                        .copied()
                        .flatten()
                        .unwrap_or(self.conf.members[i].activation)
                        == Activation::Active
                }
            }
    }

    /// A member in BUSY: selectable once BUSY ends (out of the scan's line: rare).
    #[cold]
    #[inline(never)]
    fn busy_selectable(&self, i: usize) -> bool {
        selectable(self.state(i))
    }

    fn usable_sticky(&self, i: usize) -> bool {
        usable_sticky(self.state(i), self.activation(i))
    }

    /// Some member could serve in principle (for a session at least): the choice itself is
    /// not made, so no tie-break offset moves.
    pub fn any_candidate(&self) -> bool {
        (0..self.conf.members.len()).any(|i| !self.excluded.contains(i) && self.usable_sticky(i))
    }

    #[inline]
    fn lb_value(&self, i: usize) -> u64 {
        self.lb.slot(i).lb_value.load(Relaxed)
    }

    /// `get_most_suitable_worker`.
    pub fn pick(&self, session_id: Option<&str>) -> Option<Choice> {
        if self.conf.members.len() == 1 {
            if let Some(single) = self.single() {
                return single;
            }
        }
        let _lock = self.lb.pessimistic(self.conf);
        if let Some(id) = session_id {
            if let Some(c) = crate::route::routes(id).find_map(|r| self.by_session_route(r)) {
                return Some(c);
            }
            if self.conf.lb.sticky_session_force {
                return None;
            }
        }
        self.by_value().or_else(|| self.failover())
    }

    /// The only member: taken (as sticky) when sticky-usable and not disabled, refused when not
    /// sticky-usable; a disabled one goes through normal choosing (`None` = not decided here).
    fn single(&self) -> Option<Option<Choice>> {
        if !self.usable_sticky(0) {
            return Some(None);
        }
        (self.activation(0) != Activation::Disabled).then_some(Some(Choice {
            member: 0,
            sticky: true,
            via_domain: false,
        }))
    }

    /// `find_by_session`: the first member whose route is exactly `route`.
    fn by_route(&self, route: &str) -> Option<usize> {
        self.conf.route_index.get(route).copied()
    }

    /// `find_best_bydomain`: among usable members whose domain is the part of `route` before
    /// its first `.`, the lowest distance, then the lowest lb_value (first wins ties).
    fn by_domain(&self, route: &str) -> Option<usize> {
        let domain = route.split_once('.').map_or(route, |(d, _)| d);
        let mut best: Option<(usize, u32, u64)> = None;
        for (i, m) in self.conf.members.iter().enumerate() {
            if m.domain.is_empty() || m.domain != domain || !self.usable(i) {
                continue;
            }
            let v = self.lb_value(i);
            let better = match best {
                None => true,
                Some((_, d, cur)) => m.distance < d || (m.distance == d && v < cur),
            };
            if better {
                best = Some((i, m.distance, v));
            }
        }
        best.map(|(i, _, _)| i)
    }

    /// `find_bysession_route`.
    fn by_session_route(&self, route: &str) -> Option<Choice> {
        let (mut member, mut via_domain, sticky) = match self.by_route(route) {
            Some(i) => (i, false, true),
            None => (self.by_domain(route)?, true, false),
        };
        if self.usable_sticky(member) {
            return Some(Choice {
                member,
                sticky,
                via_domain,
            });
        }
        // The session's member cannot take it: force, redirect, or its domain.
        if self.conf.lb.sticky_session_force {
            return None;
        }
        let failed = &self.conf.members[member];
        if !failed.redirect.is_empty() {
            member = self.by_route(&failed.redirect)?;
            via_domain = false;
        } else if !failed.domain.is_empty() && !via_domain {
            member = self.by_domain(&failed.domain)?;
            via_domain = true;
        }
        self.usable_sticky(member).then_some(Choice {
            member,
            sticky: false,
            via_domain,
        })
    }

    /// `find_best_byvalue`: scan every member once from the rotating offset; among usable ones
    /// the lowest distance, then (unless stateless) the lowest lb_value; ties go to the first
    /// scanned. The offset moves past each new candidate. Reads the packed scan view and each
    /// member's shared record (where state and lb_value lie 24 bytes apart). Not inlined: on
    /// its own it keeps the loop's values in registers.
    #[inline(never)]
    fn by_value(&self) -> Option<Choice> {
        // Everything the loop reads but the members' records, loaded once (the rare call for
        // a BUSY member would otherwise make the compiler reload it all per member).
        let scan = &self.conf.scan[..];
        let slots = self.lb.slots();
        let excluded = self.excluded.words();
        let overrides = self.overrides;
        let stateless = self.stateless;
        let n = scan.len().min(slots.len());
        let offset = self.lb.next_offset.load(Relaxed) % n.max(1);
        let mut best: Option<(usize, u32, u64)> = None;
        let mut i = offset;
        for _ in 0..n {
            let (m, slot) = (scan[i], &*slots[i]);
            if self.usable_at(i, slot, m, excluded, overrides) {
                let v = slot.lb_value.load(Relaxed);
                let better = match best {
                    None => true,
                    Some((_, bd, bv)) => {
                        m.distance < bd || (!stateless && m.distance == bd && v < bv)
                    }
                };
                if better {
                    best = Some((i, m.distance, v));
                }
            }
            // The next member from the offset round to it: no `% n` per member.
            i += 1;
            if i == n {
                i = 0;
            }
        }
        let (member, _, _) = best?;
        self.lb.next_offset.store(member + 1, Relaxed);
        Some(Choice {
            member,
            sticky: false,
            via_domain: false,
        })
    }

    /// `find_failover_worker`: nothing usable; the first member with a `redirect` names the
    /// route to try, as if it were a session route (never sticky).
    fn failover(&self) -> Option<Choice> {
        let redirect = self.conf.members.iter().find(|m| !m.redirect.is_empty())?;
        self.by_session_route(&redirect.redirect)
            .map(|c| Choice { sticky: false, ..c })
    }
}
