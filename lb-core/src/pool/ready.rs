//! Making a taken slot ready to carry a request (mod_jk: its ping modes and ajp_send_request's connection checks), as decisions:
//! a pooled connection is checked (the driver's non-blocking peek) and optionally CPinged; a
//! dead one, or one to an address the member's settings no longer name, is replaced by another
//! pooled one or a new connection without counting as a member failure; a new connection is
//! CPinged with `connect_timeout` (else `prepost_timeout`) when that probe is on.

use std::net::SocketAddr;
use std::time::Duration;

use crate::forward::spec::AjpWorkerSpec;

/// How the slot became ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// A pooled connection, alive (and answered the prepost CPing if that is on).
    Reused,
    /// A new connection (that answered the connect CPing if that is on).
    Connected,
}

/// What to do with the connection in a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Use it for the request.
    Use,
    /// CPing it, waiting this long for the CPong, then use it.
    Ping(Duration),
    /// Close it and take another pooled one (or connect).
    Replace,
}

/// A pooled connection to `peer` that the driver's peek found `alive` (closed by the backend,
/// or holding bytes nobody asked for, is not alive).
pub fn pooled(spec: &AjpWorkerSpec, peer: SocketAddr, alive: bool) -> Check {
    if peer != spec.addr || !alive {
        return Check::Replace;
    }
    match spec.prepost_ping() {
        Some(wait) => Check::Ping(wait),
        None => Check::Use,
    }
}

/// A connection just opened: the CPong wait, if it is probed.
pub fn connected(spec: &AjpWorkerSpec) -> Option<Duration> {
    spec.connect_ping().or(spec.prepost_ping())
}

/// Most pooled connections one request may discard before it connects anew: every one in the
/// pool, plus one.
pub fn most_replacements(spec: &AjpWorkerSpec) -> usize {
    spec.connection_pool_size + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PingMode;

    #[test]
    fn the_decision_table() {
        let mut s = AjpWorkerSpec::new("w", "127.0.0.1:8009".parse().unwrap(), 4);
        let here = s.addr;
        let elsewhere: SocketAddr = "127.0.0.1:8010".parse().unwrap();
        assert_eq!(pooled(&s, here, true), Check::Use);
        assert_eq!(pooled(&s, here, false), Check::Replace);
        assert_eq!(pooled(&s, elsewhere, true), Check::Replace);
        assert_eq!(connected(&s), None);
        s.ping_mode = PingMode::parse("P").unwrap();
        assert_eq!(pooled(&s, here, true), Check::Ping(Duration::from_secs(10)));
        // A new connection is pinged with prepost_timeout when connect pings are off.
        assert_eq!(connected(&s), Some(Duration::from_secs(10)));
        s.connect_timeout = Some(Duration::from_millis(50));
        assert_eq!(connected(&s), Some(Duration::from_millis(50)));
        assert_eq!(most_replacements(&s), 5);
    }
}
