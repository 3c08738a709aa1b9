//! Global maintenance (mod_jk: its global maintenance): decay of lb values and reply timeouts, ERROR → RECOVER
//! after `recover_time`, escalation of old local errors, IDLE for members that got nothing
//! since last time, and forced recovery when every member is in ERROR. Any process may call
//! [`Balancer::maintain`] as often as it likes; the run happens in one process per interval.

use std::sync::atomic::Ordering::Relaxed;

use super::state::{state_code, state_from_code, usable, State};
use super::Balancer;
use crate::config::Method;

/// What one call to [`Balancer::maintain`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// This call ran the global maintenance (false: not due, or another process ran it).
    pub ran: bool,
    /// The decay exponent: lb values were divided by 2^exponent.
    pub exponent: u32,
    /// Members moved from ERROR to RECOVER.
    pub recovered: usize,
    /// Members whose old local error became ERROR.
    pub escalated: usize,
    /// Members forced (ERROR → FORCE) because none was left outside ERROR.
    pub forced: usize,
}

impl Balancer {
    /// Run the global maintenance if `maintain_interval` seconds passed since the last run by
    /// any process sharing the table. `now`: Unix seconds.
    pub fn maintain(&self, now: i64) -> Maintenance {
        let conf = self.conf();
        let interval = i64::from(conf.lb.maintain_interval);
        let lb = self.lb_slot();
        let last = lb.last_maintain_time.load(Relaxed);
        if interval == 0 || now - last < interval {
            return Maintenance::default();
        }
        // Only the process that moves the stamp runs the maintenance.
        if lb
            .last_maintain_time
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_err()
        {
            return Maintenance::default();
        }
        let exponent = u32::try_from((now - last) / interval).unwrap_or(u32::MAX);
        let _lock = self.table().lock();
        let curmax = self.decay(conf.lb.method, exponent);
        let (mut m, non_error) = self.recover(conf, curmax, now);
        m.exponent = exponent;
        m.ran = true;
        if non_error == 0 {
            m.forced = self.force_recovery(None);
        }
        m
    }

    /// `decay_load`: halve lb values per interval (Next: subtract the smallest usable value
    /// instead; Busyness: untouched); halve reply timeouts. Returns the largest lb value.
    fn decay(&self, method: Method, exponent: u32) -> u64 {
        let conf = self.conf.load();
        let shr = |v: u64| v.checked_shr(exponent).unwrap_or(0);
        let mut curmax = 0;
        for i in 0..self.len() {
            let s = self.slot(i);
            if method != Method::Busyness {
                if method != Method::Next {
                    let _ = s.lb_value.fetch_update(Relaxed, Relaxed, |v| Some(shr(v)));
                }
                curmax = curmax.max(s.lb_value.load(Relaxed));
            }
            let _ = s
                .reply_timeouts
                .fetch_update(Relaxed, Relaxed, |v| Some(shr(v)));
        }
        if method == Method::Next {
            let curmin = (0..self.len())
                .filter(|&i| {
                    let st = state_from_code(self.slot(i).state.load(Relaxed));
                    usable(st, conf.members[i].activation)
                })
                .map(|i| self.slot(i).lb_value.load(Relaxed))
                .min()
                .unwrap_or(0);
            for i in 0..self.len() {
                let v = &self.slot(i).lb_value;
                let _ = v.fetch_update(Relaxed, Relaxed, |x| Some(x.saturating_sub(curmin)));
            }
        }
        curmax
    }

    /// `recover_workers`; also returns how many members are left outside ERROR.
    fn recover(&self, conf: &super::Conf, curmax: u64, now: i64) -> (Maintenance, usize) {
        let method = conf.lb.method;
        let recover_time = i64::from(conf.lb.recover_time);
        let escalation = i64::from(conf.lb.error_escalation_time);
        let mut m = Maintenance::default();
        let mut non_error = 0;
        for i in 0..self.len() {
            let s = self.slot(i);
            let state = state_from_code(s.state.load(Relaxed));
            let first = s.first_error_time.load(Relaxed);
            if state == State::Error {
                if now - s.last_error_time.load(Relaxed) > recover_time {
                    // Start from the busiest value so the recovered member is not flooded.
                    if method != Method::Busyness {
                        s.lb_value.store(curmax, Relaxed);
                    }
                    s.reply_timeouts.store(0, Relaxed);
                    s.state.store(state_code(State::Recover), Relaxed);
                    m.recovered += 1;
                    non_error += 1;
                }
            } else if first > 0 && now - first >= escalation && state != State::Recover {
                s.state.store(state_code(State::Error), Relaxed);
                m.escalated += 1;
            } else {
                non_error += 1;
                let elected = s.elected.load(Relaxed);
                if state == State::Ok && elected == s.elected_snapshot.load(Relaxed) {
                    s.state.store(state_code(State::Idle), Relaxed);
                }
            }
            s.elected_snapshot.store(s.elected.load(Relaxed), Relaxed);
        }
        (m, non_error)
    }
}
