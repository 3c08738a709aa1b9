//! Runtime values over a configuration snapshot: what the shared table says about each
//! balancer and member right now (states, lb values, counters, changes made at runtime).

use super::model::{Member, Snapshot};
use crate::balancer::LbStats;
use crate::pool::ConnSettings;

/// The connection settings in use over the configured ones (status-worker changes win).
pub fn connection_over(m: &mut Member, c: &ConnSettings) {
    m.host = c.host.clone();
    m.port = c.port;
    m.address = format!("{}:{}", c.host, c.port);
    m.connection_pool_timeout = i64::from(c.connection_pool_timeout);
    m.ping_timeout = i64::from(c.ping_timeout);
    m.connect_timeout = i64::from(c.connect_timeout);
    m.prepost_timeout = i64::from(c.prepost_timeout);
    m.reply_timeout = i64::from(c.reply_timeout);
    m.retries = i64::from(c.retries);
    m.connection_ping_interval = i64::from(c.connection_ping_interval);
    m.recovery_options = i64::from(c.recovery_options);
    m.busy_limit = i64::from(c.busy_limit);
    m.max_packet_size = i64::from(c.max_packet_size);
}

/// Overlay `stats` of balancer `name` onto `snap`, as of `now` (Unix seconds).
pub fn overlay(snap: &mut Snapshot, name: &str, stats: &LbStats) {
    let Some(b) = snap.balancers.iter_mut().find(|b| b.name == name) else {
        return;
    };
    b.busy = stats.busy as i64;
    b.max_busy = stats.max_busy as i64;
    b.last_reset_at = stats.last_reset;
    // The configuration snapshot carries the maintenance interval as its minimum.
    let interval = b.time_to_maintenance.0;
    let t = stats.time_to_maintenance.max(0);
    b.time_to_maintenance = (t, t + interval);
    for m in b.members.iter_mut() {
        let Some(s) = stats.members.iter().find(|s| s.name == m.name) else {
            continue;
        };
        m.used = s.elected;
        m.errors = s.errors;
        m.client_errors = s.client_errors;
        m.reply_timeouts = s.reply_timeouts;
        m.busy = s.busy as i64;
        m.max_busy = s.max_busy as i64;
        m.transferred = s.bytes_written;
        m.read = s.bytes_read;
        m.last_reset_at = s.last_reset;
        m.error_time = (s.first_error_time > 0).then_some(s.first_error_time);
        if let Some(c) = &s.connection {
            connection_over(m, c);
        }
        if let Some(lb) = m.lb.as_mut() {
            lb.activation = s.activation;
            lb.state = s.state;
            lb.lbfactor = s.lbfactor as i64;
            lb.lbmult = s.lb_mult;
            lb.lbvalue = s.lb_value;
            lb.distance = s.distance as i64;
            lb.route = s.route.clone();
            lb.domain = s.domain.clone();
            lb.redirect = s.redirect.clone();
            lb.sessions = s.sessions;
            lb.time_to_recover = s.time_to_recover.unwrap_or((0, 0));
        }
    }
}
