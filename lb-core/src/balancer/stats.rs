//! Counters for the status page, read from the table (one consistent-enough snapshot: every
//! value is read once, atomically).

use std::sync::atomic::Ordering::Relaxed;

use super::state::{state_from_code, State};
use super::Balancer;
use crate::config::Activation;

/// One member's configuration and counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStats {
    pub name: String,
    pub route: String,
    pub domain: String,
    pub redirect: String,
    pub activation: Activation,
    pub state: State,
    pub lbfactor: u32,
    pub lb_mult: u64,
    pub lb_value: u64,
    pub distance: u32,
    /// Requests sent to it (mod_jk's "elected"/"used").
    pub elected: u64,
    pub sessions: u64,
    pub errors: u64,
    pub client_errors: u64,
    pub reply_timeouts: u64,
    pub busy: u64,
    pub max_busy: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Unix seconds; 0 = none.
    pub first_error_time: i64,
    pub last_error_time: i64,
    pub last_reset: i64,
    /// While in ERROR: seconds until recovery is attempted, at the earliest and the latest
    /// (recovery happens at a maintenance run).
    pub time_to_recover: Option<(i64, i64)>,
}

/// The lb's own counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbStats {
    pub busy: u64,
    pub max_busy: u64,
    pub last_maintain_time: i64,
    pub last_reset: i64,
    /// Seconds until the next maintenance can run.
    pub time_to_maintenance: i64,
    pub members: Vec<MemberStats>,
}

impl Balancer {
    /// Everything the status page shows about this lb, at `now` (Unix seconds).
    pub fn stats(&self, now: i64) -> LbStats {
        let conf = self.conf();
        let lb = self.lb_slot();
        let interval = i64::from(conf.lb.maintain_interval);
        let last_maintain_time = lb.last_maintain_time.load(Relaxed);
        let next_maintain = last_maintain_time + interval;
        let members = conf
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let s = self.slot(i);
                let state = state_from_code(s.state.load(Relaxed));
                let last_error_time = s.last_error_time.load(Relaxed);
                let time_to_recover = (state == State::Error).then(|| {
                    let due = last_error_time + i64::from(conf.lb.recover_time) + 1;
                    let earliest = (due.max(next_maintain) - now).max(0);
                    (earliest, earliest + interval)
                });
                MemberStats {
                    name: m.name.clone(),
                    route: m.route.clone(),
                    domain: m.domain.clone(),
                    redirect: m.redirect.clone(),
                    activation: m.activation,
                    state,
                    lbfactor: m.lbfactor,
                    lb_mult: m.lb_mult,
                    lb_value: s.lb_value.load(Relaxed),
                    distance: m.distance,
                    elected: s.elected.load(Relaxed),
                    sessions: s.sessions.load(Relaxed),
                    errors: s.errors.load(Relaxed),
                    client_errors: s.client_errors.load(Relaxed),
                    reply_timeouts: s.reply_timeouts.load(Relaxed),
                    busy: s.busy.load(Relaxed),
                    max_busy: s.max_busy.load(Relaxed),
                    bytes_read: s.bytes_read.load(Relaxed),
                    bytes_written: s.bytes_written.load(Relaxed),
                    first_error_time: s.first_error_time.load(Relaxed),
                    last_error_time,
                    last_reset: s.last_reset.load(Relaxed),
                    time_to_recover,
                }
            })
            .collect();
        LbStats {
            busy: lb.busy.load(Relaxed),
            max_busy: lb.max_busy.load(Relaxed),
            last_maintain_time,
            last_reset: lb.last_reset.load(Relaxed),
            time_to_maintenance: (next_maintain - now).max(0),
            members,
        }
    }
}
