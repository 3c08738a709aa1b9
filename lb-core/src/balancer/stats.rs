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
    /// Open backend connections (every process's), when the front end counts them.
    pub connected: u64,
    pub max_connected: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Unix seconds; 0 = none.
    pub first_error_time: i64,
    pub last_error_time: i64,
    pub last_reset: i64,
    /// While in ERROR: seconds until recovery is attempted, at the earliest and the latest
    /// (recovery happens at a maintenance run).
    pub time_to_recover: Option<(i64, i64)>,
    /// The connection settings in use (status-worker changes included), once the member's pool
    /// shared them.
    pub connection: Option<crate::pool::ConnSettings>,
}

/// The lb's own counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbStats {
    /// Requests under way on the lb, every process's: the sum of the members' `busy`.
    pub busy: u64,
    /// The highest that sum reached since the last reset.
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
                    connected: s.connected.load(Relaxed),
                    max_connected: s.max_connected.load(Relaxed),
                    bytes_read: s.bytes_read.load(Relaxed),
                    bytes_written: s.bytes_written.load(Relaxed),
                    first_error_time: s.first_error_time.load(Relaxed),
                    last_error_time,
                    last_reset: s.last_reset.load(Relaxed),
                    time_to_recover,
                    connection: self.connection(i),
                }
            })
            .collect();
        LbStats {
            busy: self.lb_busy(),
            max_busy: lb.max_busy.load(Relaxed),
            last_maintain_time,
            last_reset: lb.last_reset.load(Relaxed),
            time_to_maintenance: (next_maintain - now).max(0),
            members,
        }
    }
}

impl Balancer {
    /// Lay this lb's runtime values (and the settings the status worker may have changed)
    /// over a status snapshot built from the configuration; members are matched by name.
    pub fn overlay(&self, view: &mut crate::status::LbStatus, now: i64) {
        let conf = self.conf();
        let s = self.stats(now);
        let lb = &conf.lb;
        view.sticky_session = lb.sticky_session;
        view.sticky_session_force = lb.sticky_session_force;
        view.retries = i64::from(lb.retries);
        view.retry_interval = i64::from(lb.retry_interval_ms);
        view.recover_time = i64::from(lb.recover_time);
        view.error_escalation_time = i64::from(lb.error_escalation_time);
        view.max_reply_timeouts = i64::from(lb.max_reply_timeouts);
        view.method = lb.method.name();
        view.lock = lb.lock.name();
        view.busy = s.busy as i64;
        view.max_busy = s.max_busy as i64;
        let interval = i64::from(lb.maintain_interval);
        view.time_to_maintenance = (s.time_to_maintenance, s.time_to_maintenance + interval);
        view.last_reset_at = s.last_reset;
        for m in &mut view.members {
            let Some(st) = s.members.iter().find(|x| x.name == m.name) else {
                continue;
            };
            m.used = st.elected;
            m.errors = st.errors;
            m.client_errors = st.client_errors;
            m.reply_timeouts = st.reply_timeouts;
            m.transferred = st.bytes_written;
            m.read = st.bytes_read;
            m.busy = st.busy as i64;
            m.max_busy = st.max_busy as i64;
            m.connected = st.connected as i64;
            m.max_connected = st.max_connected as i64;
            m.last_reset_at = st.last_reset;
            m.error_time = (st.first_error_time > 0).then_some(st.first_error_time);
            if let Some(c) = &st.connection {
                crate::status::connection_over(m, c);
            }
            m.lb = Some(crate::status::LbMember {
                activation: st.activation,
                lbfactor: i64::from(st.lbfactor),
                route: st.route.clone(),
                redirect: st.redirect.clone(),
                domain: st.domain.clone(),
                distance: i64::from(st.distance),
                state: st.state,
                lbmult: st.lb_mult,
                lbvalue: st.lb_value,
                sessions: st.sessions,
                time_to_recover: st.time_to_recover.unwrap_or((0, 0)),
            });
        }
    }
}
