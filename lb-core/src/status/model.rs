//! A point-in-time view of every worker, assembled by the adapter from the configuration and
//! the shared state table; every renderer works from this alone, so outputs are testable with
//! fixed values.

use crate::config::Activation;

/// A member's health as mod_jk names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum State {
    #[default]
    Idle,
    Ok,
    Recover,
    Force,
    Busy,
    Error,
    Probe,
}

impl State {
    /// mod_jk's text (`OK/IDLE`, `ERR/REC`...).
    pub fn text(self) -> &'static str {
        match self {
            State::Idle => "OK/IDLE",
            State::Ok => "OK",
            State::Recover => "ERR/REC",
            State::Force => "ERR/FRC",
            State::Busy => "OK/BUSY",
            State::Error => "ERR",
            State::Probe => "ERR/PRB",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub server_name: String,
    pub server_port: u16,
    /// Unix seconds when the snapshot was taken.
    pub now: i64,
    pub web_server: String,
    pub balancers: Vec<LbStatus>,
    /// ajp13 workers in worker.list (not lb members).
    pub ajp_workers: Vec<Member>,
    pub maps: Vec<MapEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
/// A load balancer as the status pages show it (the running one is
/// [`crate::balancer::Balancer`]).
pub struct LbStatus {
    pub name: String,
    pub sticky_session: bool,
    pub sticky_session_force: bool,
    pub retries: i64,
    /// Milliseconds between rounds (rjk shows it; mod_jk only in its edit form).
    pub retry_interval: i64,
    pub recover_time: i64,
    pub error_escalation_time: i64,
    pub max_reply_timeouts: i64,
    pub method: &'static str,
    pub lock: &'static str,
    pub busy: i64,
    pub max_busy: i64,
    /// Seconds until the next maintenance, at the earliest and the latest.
    pub time_to_maintenance: (i64, i64),
    pub last_reset_at: i64,
    pub members: Vec<Member>,
}

/// Balancing settings and counters only a member of an lb has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbMember {
    pub activation: Activation,
    pub lbfactor: i64,
    pub route: String,
    pub redirect: String,
    pub domain: String,
    pub distance: i64,
    pub state: State,
    pub lbmult: u64,
    pub lbvalue: u64,
    pub sessions: u64,
    /// Seconds until recovery is attempted (min, max), while in error.
    pub time_to_recover: (i64, i64),
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Member {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// The resolved address (`127.0.0.1:8009`).
    pub address: String,
    pub source: String,
    pub connection_pool_timeout: i64,
    pub ping_timeout: i64,
    pub connect_timeout: i64,
    pub prepost_timeout: i64,
    pub reply_timeout: i64,
    pub retries: i64,
    pub connection_ping_interval: i64,
    pub recovery_options: i64,
    pub busy_limit: i64,
    pub max_packet_size: i64,
    pub lb: Option<LbMember>,
    /// Requests sent to it ("elected" for a member, "used" for a plain worker).
    pub used: u64,
    pub errors: u64,
    pub client_errors: u64,
    pub reply_timeouts: u64,
    pub transferred: u64,
    pub read: u64,
    pub busy: i64,
    pub max_busy: i64,
    pub connected: i64,
    pub max_connected: i64,
    pub last_reset_at: i64,
    /// Unix seconds of the (first) error, when there is one.
    pub error_time: Option<i64>,
    /// Mounts mapped to it (plain workers only).
    pub map_count: i64,
}

/// One URI mapping rule as the status worker lists it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MapEntry {
    pub worker: String,
    /// The server the rule belongs to (mod_jk's `server`, httpd only).
    pub server: Option<String>,
    /// Without the `-`/`!` prefix it was written with (`kind` says so), as mod_jk prints it.
    pub uri: String,
    /// `Exact`/`Wildchar`, with `Disabled`/`Unmount` variants.
    pub kind: String,
    /// `worker definition`, `JkMount`, `uriworkermap`.
    pub source: String,
    pub reply_timeout: i64,
    pub sticky_ignore: i64,
    pub stateless: i64,
    pub fail_on_status: String,
    pub active: String,
    pub disabled: String,
    pub stopped: String,
    pub use_server_errors: i64,
}
