//! Runtime connection settings over a configuration snapshot (the rest of a balancer's runtime
//! values is laid over by `Balancer::overlay`).

use super::model::Member;
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
