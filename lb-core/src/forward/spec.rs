//! What the forwarding engine needs to know about one AJP worker (an `ajp13` worker or one lb
//! member), with mod_jk's defaults (mod_jk: its ajp13 worker defaults). The config engineer's typed
//! `workers.properties` model converts into this; tests build it directly.

use std::net::SocketAddr;
use std::time::Duration;

use ajp::PacketSize;

/// `ping_mode` letters (mod_jk: its ping modes): the configuration's type, shared so the two cannot
/// drift apart.
pub use crate::config::PingMode;

bitflags::bitflags! {
    /// `recovery_options`: what a failed request may still do.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct RecoveryOptions: u32 {
        /// No retry once the backend has received the whole request.
        const NO_RETRY_AFTER_SEND = 1;
        /// No retry once response headers went to the client (rjk never retries then anyway).
        const NO_RETRY_AFTER_HEADERS = 2;
        /// Close the backend connection hard on a client error.
        const ABORT_ON_CLIENT_ERROR = 4;
        /// Retry HEAD even with bit 1.
        const ALWAYS_RETRY_HEAD = 8;
        /// Retry GET even with bit 1.
        const ALWAYS_RETRY_GET = 16;
        // Bits mod_jk knows but rjk has no use for are kept, not dropped.
        const _ = !0;
    }
}

impl RecoveryOptions {
    /// May a request with this method be retried after the backend received it? (mod_jk checks
    /// HEAD first, then GET only if HEAD's bit is not set.)
    pub fn retry_after_send(self, method: &[u8]) -> bool {
        if !self.contains(Self::NO_RETRY_AFTER_SEND) {
            return true;
        }
        if self.contains(Self::ALWAYS_RETRY_HEAD) {
            method == b"HEAD"
        } else if self.contains(Self::ALWAYS_RETRY_GET) {
            method == b"GET"
        } else {
            false
        }
    }
}

/// `fail_on_status`: statuses that make the attempt fail; negative entries fail over but leave
/// the member OK (mod_jk: its service loop and outcome rules).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailOnStatus(pub Vec<i32>);

/// What a status matched in `fail_on_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusMatch {
    /// Positive entry: the member goes to ERROR.
    Fatal,
    /// Negative entry: fail over, member stays OK.
    Soft,
}

impl FailOnStatus {
    pub fn check(&self, status: u16) -> Option<StatusMatch> {
        check_status(self.0.iter().map(|&v| i64::from(v)), status)
    }
}

/// `status` against a `fail_on_status` list (the worker's, or a mount's `fail_on_status=`).
pub fn check_status(list: impl IntoIterator<Item = i64>, status: u16) -> Option<StatusMatch> {
    let s = i64::from(status);
    list.into_iter().find_map(|v| {
        if v == s {
            Some(StatusMatch::Fatal)
        } else if v == -s {
            Some(StatusMatch::Soft)
        } else {
            None
        }
    })
}

/// One AJP worker as the connection pool and the forwarding engine see it.
#[derive(Clone, Debug)]
pub struct AjpWorkerSpec {
    pub name: String,
    /// `route` (defaults to the name); sent as the AJP route attribute for lb members.
    pub route: String,
    /// `host` as configured (or changed through the status worker); `addr` is what it resolved to.
    pub host: String,
    /// `prefer_ipv6`: which address of `host` to use.
    pub prefer_ipv6: bool,
    /// `host`:`port`, already resolved.
    pub addr: SocketAddr,
    /// `source`: the local address backend connections are bound to (any port), resolved.
    pub source: Option<std::net::IpAddr>,
    /// `socket_connect_timeout` (ms in workers.properties): a real TCP connect timeout.
    pub socket_connect_timeout: Option<Duration>,
    /// `socket_timeout` (seconds): SO_RCVTIMEO / SO_SNDTIMEO.
    pub socket_timeout: Option<Duration>,
    /// `socket_keepalive`.
    pub socket_keepalive: bool,
    /// `socket_buffer`: SO_SNDBUF / SO_RCVBUF, raised to at least `max_packet_size`; 0 = OS default.
    pub socket_buffer: usize,
    /// `reply_timeout`: most time allowed between two packets of the reply (and before the first).
    pub reply_timeout: Option<Duration>,
    pub ping_mode: PingMode,
    /// `ping_timeout` (default 10 s): the default for the three timeouts below.
    pub ping_timeout: Duration,
    /// `connect_timeout`: CPong wait after a new connection (not a TCP timeout).
    pub connect_timeout: Option<Duration>,
    /// `prepost_timeout`: CPong wait before each request.
    pub prepost_timeout: Option<Duration>,
    /// `connection_ping_interval`: idle time after which maintenance CPings a connection.
    pub connection_ping_interval: Option<Duration>,
    /// `connection_pool_size`: most connections per process (default: the caller's threads).
    pub connection_pool_size: usize,
    /// `connection_pool_minsize` (default (size+1)/2): idle connections kept when shrinking.
    pub connection_pool_minsize: usize,
    /// `connection_pool_timeout`: idle seconds before maintenance closes a connection; None = never.
    pub connection_pool_timeout: Option<Duration>,
    /// `connection_acquire_timeout` (default retries × retry_interval): wait for a free slot.
    pub connection_acquire_timeout: Duration,
    pub max_packet_size: PacketSize,
    /// `secret`: sent in every request.
    pub secret: Option<Vec<u8>>,
    /// `retries` (default 2, at least 1): attempts on this worker, each on another connection.
    pub retries: u32,
    /// `retry_interval` (default 100 ms): pause before attempts 2..n.
    pub retry_interval: Duration,
    pub recovery_options: RecoveryOptions,
    pub fail_on_status: FailOnStatus,
    /// `busy_limit`: most concurrent requests; 0 = no limit.
    pub busy_limit: u32,
    /// `JkOptions +DisableReuse`: close after every request.
    pub disable_reuse: bool,
}

impl AjpWorkerSpec {
    /// mod_jk's defaults for a worker at `addr`, in a process with `threads` request threads
    /// (the default `connection_pool_size`).
    pub fn new(name: &str, addr: SocketAddr, threads: usize) -> Self {
        let size = threads.max(1);
        let retries = 2;
        let retry_interval = Duration::from_millis(100);
        AjpWorkerSpec {
            name: name.to_owned(),
            route: name.to_owned(),
            host: addr.ip().to_string(),
            prefer_ipv6: addr.is_ipv6(),
            addr,
            source: None,
            socket_connect_timeout: None,
            socket_timeout: None,
            socket_keepalive: false,
            socket_buffer: 0,
            reply_timeout: None,
            ping_mode: PingMode::default(),
            ping_timeout: Duration::from_millis(10_000),
            connect_timeout: None,
            prepost_timeout: None,
            connection_ping_interval: None,
            connection_pool_size: size,
            connection_pool_minsize: size.div_ceil(2),
            connection_pool_timeout: None,
            connection_acquire_timeout: retry_interval * retries,
            max_packet_size: PacketSize::default(),
            secret: None,
            retries,
            retry_interval,
            recovery_options: RecoveryOptions::default(),
            fail_on_status: FailOnStatus::default(),
            busy_limit: 0,
            disable_reuse: false,
        }
    }

    /// CPong wait after a new connection, if that probe is on (mode C or `connect_timeout` set).
    pub fn connect_ping(&self) -> Option<Duration> {
        self.connect_timeout
            .or(self.ping_mode.connect.then_some(self.ping_timeout))
            .filter(|d| !d.is_zero())
    }

    /// CPong wait before each request, if that probe is on (mode P or `prepost_timeout` set).
    pub fn prepost_ping(&self) -> Option<Duration> {
        self.prepost_timeout
            .or(self.ping_mode.prepost.then_some(self.ping_timeout))
            .filter(|d| !d.is_zero())
    }

    /// Idle time after which maintenance CPings, if that probe is on (mode I: ping_timeout/100 s).
    pub fn interval_ping(&self) -> Option<Duration> {
        self.connection_ping_interval
            .or(self
                .ping_mode
                .interval
                .then(|| Duration::from_secs(self.ping_timeout.as_millis() as u64 / 100)))
            .filter(|d| !d.is_zero() && !self.ping_timeout.is_zero())
    }

    /// `retries`, never below 1.
    pub fn attempts(&self) -> u32 {
        self.retries.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AjpWorkerSpec {
        AjpWorkerSpec::new("w", "127.0.0.1:8009".parse().unwrap(), 25)
    }

    #[test]
    fn defaults_follow_mod_jk() {
        let s = spec();
        assert_eq!(s.connection_pool_size, 25);
        assert_eq!(s.connection_pool_minsize, 13);
        assert_eq!(s.connection_acquire_timeout, Duration::from_millis(200));
        assert_eq!(s.max_packet_size.get(), 8192);
        assert_eq!(s.attempts(), 2);
        assert_eq!(s.connect_ping(), None);
        assert_eq!(s.prepost_ping(), None);
        assert_eq!(s.interval_ping(), None);
    }

    #[test]
    fn ping_mode_letters_and_timeouts() {
        let mut s = spec();
        s.ping_mode = PingMode::parse("cP").unwrap();
        assert_eq!(s.connect_ping(), Some(Duration::from_secs(10)));
        assert_eq!(s.prepost_ping(), Some(Duration::from_secs(10)));
        assert_eq!(s.interval_ping(), None);
        s.ping_mode = PingMode::parse("A").unwrap();
        assert_eq!(s.interval_ping(), Some(Duration::from_secs(100)));
        assert!(PingMode::parse("CX").is_err());
        // Setting a timeout alone turns the probe on (mod_jk compatibility).
        let mut s = spec();
        s.prepost_timeout = Some(Duration::from_millis(300));
        assert_eq!(s.prepost_ping(), Some(Duration::from_millis(300)));
    }

    #[test]
    fn fail_on_status_signs() {
        let f = FailOnStatus(vec![500, -404]);
        assert_eq!(f.check(500), Some(StatusMatch::Fatal));
        assert_eq!(f.check(404), Some(StatusMatch::Soft));
        assert_eq!(f.check(200), None);
    }

    #[test]
    fn recovery_option_bits() {
        let table: &[(u32, &[u8], bool)] = &[
            (0, b"POST", true),
            (1, b"POST", false),
            (1, b"GET", false),
            (1 | 16, b"GET", true),
            (1 | 8, b"HEAD", true),
            (1 | 8 | 16, b"GET", false),
        ];
        for &(bits, method, want) in table {
            assert_eq!(
                RecoveryOptions::from_bits_retain(bits).retry_after_send(method),
                want,
                "bits {bits} method {}",
                String::from_utf8_lossy(method)
            );
        }
    }
}
