//! The fixed `#[repr(C)]` layout of the table: a header, then `lb_capacity` balancer slots,
//! then `member_capacity` member slots. Every field is an atomic, so any process that maps the
//! region may read and update it without a lock (races are benign, as in mod_jk's optimistic
//! mode). Strings are [`Text`] fields: at most [`Text::MAX`] bytes, rewritten only by
//! configuration changes, which hold the table lock; a reader that needs a consistent string
//! takes the lock too (a torn read without it is still safe: it decodes lossily).

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// `RJKSHM01` read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"RJKSHM01");
/// Bumped whenever a field moves; a table of another version is refused, never misread.
pub const LAYOUT_VERSION: u32 = 4;

/// A short string in 64 bytes of atomics: byte 0 is the length, bytes 1..64 the text.
#[repr(C)]
#[derive(Default)]
pub struct Text([AtomicU64; 8]);

impl Text {
    /// Longest text a field holds (mod_jk's limit is the same 63 bytes).
    pub const MAX: usize = 63;

    /// Store `s`; callers check the length first ([`Text::fits`]).
    pub(crate) fn store(&self, s: &str) {
        let mut raw = [0u8; 64];
        let n = s.len().min(Self::MAX);
        raw[0] = n as u8;
        raw[1..=n].copy_from_slice(&s.as_bytes()[..n]);
        for (i, w) in self.0.iter().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
    }

    /// Read the text; bytes that are not UTF-8 (a torn or foreign write) come back replaced.
    pub fn load(&self) -> String {
        let mut raw = [0u8; 64];
        for (i, w) in self.0.iter().enumerate() {
            raw[i * 8..i * 8 + 8].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        let n = (raw[0] as usize).min(Self::MAX);
        String::from_utf8_lossy(&raw[1..=n]).into_owned()
    }

    /// Compare without allocating.
    pub fn eq_str(&self, s: &str) -> bool {
        s.len() <= Self::MAX && self.load() == s
    }

    pub fn fits(s: &str) -> bool {
        s.len() <= Self::MAX
    }
}

/// The table's header: what it is, how it is laid out, what is used, and table-wide state.
#[repr(C)]
#[derive(Default)]
pub struct Header {
    pub magic: AtomicU64,
    pub layout_version: AtomicU32,
    pub header_size: AtomicU32,
    pub lb_size: AtomicU32,
    pub member_size: AtomicU32,
    pub lb_capacity: AtomicU32,
    pub member_capacity: AtomicU32,
    pub lbs_used: AtomicU32,
    pub members_used: AtomicU32,
    /// Processes attached (informational, as mod_jk's child count).
    pub children: AtomicU32,
    /// pid holding the table lock (`lock=P`, configuration changes); 0 when free.
    pub lock_owner: AtomicU32,
    pub _reserved: [AtomicU64; 6],
}

/// One load balancer's shared state and the settings the status worker may change.
#[repr(C)]
#[derive(Default)]
pub struct LbSlot {
    pub name: Text,
    /// Bumped by every configuration change of this lb or its members; each process pulls when
    /// its own copy is older.
    pub sequence: AtomicU64,
    /// Not written: the lb's busy is the sum of its members' (`Balancer::lb_busy`), so that
    /// no line of this record is written by every request. Kept so the layout does not move.
    pub busy: AtomicU64,
    /// Peak of the members' summed busy; written only when passed.
    pub max_busy: AtomicU64,
    /// Unix seconds of the last global maintenance (the one process that ran it set it).
    pub last_maintain_time: AtomicI64,
    pub last_reset: AtomicI64,
    pub sticky_session: AtomicU32,
    pub sticky_session_force: AtomicU32,
    pub method: AtomicU32,
    pub lock: AtomicU32,
    pub retries: AtomicU32,
    pub lb_retries: AtomicU32,
    pub retry_interval_ms: AtomicU32,
    pub recover_time: AtomicU32,
    pub error_escalation_time: AtomicU32,
    pub max_reply_timeouts: AtomicU32,
    pub members: AtomicU32,
    pub _pad: AtomicU32,
    pub _reserved: [AtomicU64; 4],
}

/// One member (or stand-alone ajp13 worker): balancing state, settings and counters.
#[repr(C)]
#[derive(Default)]
pub struct MemberSlot {
    pub name: Text,
    /// The lb this member belongs to; empty for a stand-alone worker.
    pub parent: Text,
    pub route: Text,
    pub domain: Text,
    pub redirect: Text,
    /// Reserved (a seqlock around text rewrites, for lock-free readers); today writers and
    /// readers of the texts hold the table lock instead.
    pub text_seq: AtomicU64,
    pub state: AtomicU32,
    pub activation: AtomicU32,
    pub lbfactor: AtomicU32,
    pub distance: AtomicU32,
    pub lb_mult: AtomicU64,
    pub lb_value: AtomicU64,
    /// Requests under way on this backend (shm-wide, checked against `busy_limit`).
    pub busy: AtomicU64,
    pub max_busy: AtomicU64,
    /// Requests sent to the backend (mod_jk's `used` / elected).
    pub elected: AtomicU64,
    /// `elected` at the last global maintenance: unchanged means the member sat idle.
    pub elected_snapshot: AtomicU64,
    pub sessions: AtomicU64,
    pub errors: AtomicU64,
    pub client_errors: AtomicU64,
    /// Decayed at maintenance; compared with `max_reply_timeouts`.
    pub reply_timeouts: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub first_error_time: AtomicI64,
    pub last_error_time: AtomicI64,
    pub last_reset: AtomicI64,
    /// The ajp worker's connection settings, shared so a status-worker change reaches every
    /// process's pool.
    pub conn: ConnSlot,
    /// Open backend connections to it, every process's (a front end that keeps its own
    /// connections counts them in and out: nginx's driver).
    pub connected: AtomicU64,
    pub max_connected: AtomicU64,
}

/// An ajp worker's connection settings the status worker may change (mod_jk's shm ajp record),
/// in `workers.properties` units. The first process to link its pool
/// publishes them (`sequence` 0 → 1); every change bumps `sequence`, and each process adopts
/// the settings before its next request on the member once its copy is older.
#[repr(C)]
#[derive(Default)]
pub struct ConnSlot {
    pub host: Text,
    pub sequence: AtomicU64,
    pub port: AtomicU32,
    /// Seconds.
    pub connection_pool_timeout: AtomicU32,
    /// Milliseconds, as the next four.
    pub ping_timeout: AtomicU32,
    pub connect_timeout: AtomicU32,
    pub prepost_timeout: AtomicU32,
    pub reply_timeout: AtomicU32,
    pub retry_interval: AtomicU32,
    pub retries: AtomicU32,
    /// Seconds.
    pub connection_ping_interval: AtomicU32,
    pub recovery_options: AtomicU32,
    pub busy_limit: AtomicU32,
    pub max_packet_size: AtomicU32,
    /// What `host` resolved to when it was written (big-endian words; an IPv4 address in the
    /// first), so no process resolves names on a request: `ip_family` 4 or 6, 0 = unresolved.
    pub ip: [AtomicU32; 4],
    pub ip_family: AtomicU32,
    pub _pad: AtomicU32,
}

pub const HEADER_SIZE: usize = std::mem::size_of::<Header>();
pub const LB_SIZE: usize = std::mem::size_of::<LbSlot>();
pub const MEMBER_SIZE: usize = std::mem::size_of::<MemberSlot>();

/// Bytes a table with room for `lbs` balancers and `members` members needs (saturating, so
/// absurd counts are refused as too large instead of overflowing).
pub const fn table_size(lbs: usize, members: usize) -> usize {
    HEADER_SIZE
        .saturating_add(lbs.saturating_mul(LB_SIZE))
        .saturating_add(members.saturating_mul(MEMBER_SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_multiples_of_eight_and_stable() {
        assert_eq!(HEADER_SIZE % 8, 0);
        assert_eq!(LB_SIZE % 8, 0);
        assert_eq!(MEMBER_SIZE % 8, 0);
        assert_eq!(HEADER_SIZE, 96);
        assert_eq!(std::mem::size_of::<ConnSlot>() % 8, 0);
    }

    #[test]
    fn text_round_trip_and_limit() {
        let t = Text::default();
        t.store("tc1.domainA");
        assert_eq!(t.load(), "tc1.domainA");
        assert!(t.eq_str("tc1.domainA"));
        assert!(Text::fits(&"x".repeat(63)));
        assert!(!Text::fits(&"x".repeat(64)));
        t.store(&"y".repeat(63));
        assert_eq!(t.load().len(), 63);
    }
}
