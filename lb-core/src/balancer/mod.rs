//! Choosing a member as mod_jk does (mod_jk: jk_lb_worker.c), over the shared state table ([`crate::shm`]).
//!
//! # Using it
//!
//! ```no_run
//! use std::sync::Arc;
//! use lb_core::balancer::{Balancer, LbSpec, MemberSpec, Next, Outcome, Traffic};
//! use lb_core::shm::ShmTable;
//!
//! let members = [MemberSpec::named("tc1"), MemberSpec::named("tc2").lbfactor(2)];
//! let table = Arc::new(ShmTable::heap(1, members.len()));
//! let lb = Balancer::new(&LbSpec::named("lb"), &members, table, 1_700_000_000).unwrap();
//!
//! // One request: the session id (from `route::session_id`) and the mount's flags.
//! let now = 1_700_000_000;
//! let mut req = lb.request(Some("ABC.tc1"), Default::default());
//! loop {
//!     match req.next(now) {
//!         Next::Try(choice) => {
//!             let busy = lb.start(&req, choice.member); // counts busy, elected, lb_value
//!             // ... drive the exchange with member `choice.member` ...
//!             let verdict = req.finish(busy, Outcome::Success, Traffic::default(), now);
//!             if !verdict.failover { break; }
//!         }
//!         Next::Wait(pause) => std::thread::sleep(pause), // retry_interval between rounds
//!         Next::GiveUp { .. } => break, // 503 unless an attempt said otherwise
//!     }
//! }
//! lb.maintain(now); // from time to time: decay, recovery; one process per interval does it
//! ```
//!
//! - [`Balancer::choose`] is the one-shot form (no retry state): the member for a request with
//!   an optional session id, or [`NoMember`].
//! - [`Request`] carries one request's attempts: the members that failed in this round (mod_jk's
//!   "local error" copy of the states), the round and attempt counters (`retries`,
//!   `lb_retries`, `retry_interval`), the one forced recovery, per-mount activation overrides
//!   ([`Request::with_activations`]); [`Request::refuse`] when the pool had no connection.
//! - [`Balancer::route_of`]: the route forwarded for a choice (the member's route, or the
//!   domain when found through it; rjk sends the route of the member actually tried, where
//!   mod_jk keeps the first attempt's); [`Balancer::session_cookie`]: `set_session_cookie`.
//! - [`Balancer::start`] returns a [`Busy`] guard (busy counters, lb_value per method);
//!   [`Request::finish`] / [`Busy::finish`] apply mod_jk's outcome → state table.
//! - [`Balancer::record`] applies an [`Outcome`] without a request (the bare table).
//! - [`Balancer::maintain`]: decay, ERROR → RECOVER, escalation, IDLE, forced recovery; the
//!   clock is a parameter (Unix seconds) everywhere, so tests drive time.
//! - [`Balancer::change`] / [`Balancer::change_lb`]: status-worker changes, pushed to the table
//!   and pulled by every process through the lb record's sequence number.
//! - [`Balancer::stats`]: counters for the status page; [`Balancer::overlay`] lays them over
//!   a [`crate::status::LbStatus`] snapshot.
//!
//! Counting is the balancer's: [`Balancer::record`] counts `errors`, `client_errors` and
//! `reply_timeouts`, [`Balancer::start`] counts `elected`, `sessions` and `busy`, and
//! [`Busy::finish`] the bytes; callers must not count them again.
//!
//! Choosing takes no lock (atomics and a per-process configuration copy), except with
//! `lock=Pessimistic`, where the table lock is held around choosing and every update.

pub(crate) mod change;
mod choose;
mod conf;
mod connections;
mod maintain;
mod mult;
mod outcome;
mod request;
mod spec;
mod state;
mod stats;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

pub use change::{ConnChange, LbChange, MemberChange};
pub use choose::{Choice, NoMember};
pub use conf::{Conf, MemberConf, ScanMember};
pub use maintain::Maintenance;
pub use mult::lb_mults;
pub use outcome::{Busy, Counted, Outcome, Traffic, Verdict};
pub use request::{Attempts, Flags, Next, Request};
pub use spec::{default_domain, LbSpec, MemberSpec};
pub use state::{
    activation_code, activation_from_code, selectable, state_code, state_from_code, usable,
    usable_sticky, State,
};
pub use stats::{LbStats, MemberStats};

use crate::shm::{LbSlot, MemberSlot, Published, Records, ShmError, ShmTable, Text};

/// Why a balancer could not be set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BalancerError {
    NoMembers {
        lb: String,
    },
    DuplicateMember {
        lb: String,
        member: String,
    },
    /// More members than choosing supports (mod_jk has no such limit, but nobody runs 4096).
    TooManyMembers {
        lb: String,
        count: usize,
    },
    TextTooLong {
        lb: String,
        member: String,
        what: &'static str,
    },
    Shm(ShmError),
    /// No pool published this member's connection settings (a balancer without an engine).
    NotShared {
        lb: String,
        member: String,
    },
    /// A new host or port does not resolve.
    Unresolvable {
        lb: String,
        member: String,
        why: String,
    },
}

impl std::fmt::Display for BalancerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BalancerError::NoMembers { lb } => {
                write!(
                    f,
                    "load balancer '{lb}' has no members; list them in balance_workers"
                )
            }
            BalancerError::DuplicateMember { lb, member } => write!(
                f,
                "load balancer '{lb}' lists member '{member}' twice in balance_workers"
            ),
            BalancerError::TooManyMembers { lb, count } => write!(
                f,
                "load balancer '{lb}' has {count} members; at most {MAX_MEMBERS} are supported"
            ),
            BalancerError::TextTooLong { lb, member, what } => write!(
                f,
                "member '{member}' of load balancer '{lb}': {what} is longer than {} bytes",
                Text::MAX
            ),
            BalancerError::Shm(e) => write!(f, "{e}"),
            BalancerError::NotShared { lb, member } => write!(
                f,
                "member '{member}' of load balancer '{lb}' has no connection settings in the \
                 shared table (no engine runs it)"
            ),
            BalancerError::Unresolvable { lb, member, why } => write!(
                f,
                "member '{member}' of load balancer '{lb}': {why}; nothing was changed"
            ),
        }
    }
}

impl std::error::Error for BalancerError {}

impl From<ShmError> for BalancerError {
    fn from(e: ShmError) -> Self {
        BalancerError::Shm(e)
    }
}

/// Most members one lb may have.
pub const MAX_MEMBERS: usize = 4096;

/// One lb worker in one process: its configuration copy, its records in the shared table, and
/// the per-process round-robin offset. Cheap to share between threads (`&Balancer`).
pub struct Balancer {
    /// The table, and this lb's records in it resolved once (choosing looks at every member's).
    records: Records,
    lb: usize,
    /// Table record of each member, in configuration order.
    slots: Vec<usize>,
    conf: Published<Conf>,
    /// mod_jk's `next_offset`: where the next by-value scan starts (per process).
    next_offset: AtomicUsize,
    /// Per member, per process: this process's pool had no free slot for it (a request ended
    /// BUSY), and no request of this process on it has ended since, which is what frees one.
    /// mod_jk ends BUSY only when `ajp_has_endpoint` finds a free slot in its own pool.
    pool_full: Vec<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Balancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balancer")
            .field("lb", &self.lb)
            .field("slots", &self.slots)
            .field("conf", self.conf.load())
            .finish()
    }
}

impl Balancer {
    /// Set up lb `spec` with `members` over `table`. The first process to do so for this lb
    /// name pushes the configuration into the table; a later one (or one attaching to a table
    /// that survived) pulls what is there, keeping status-worker changes. `now`: Unix seconds.
    pub fn new(
        spec: &LbSpec,
        members: &[MemberSpec],
        table: Arc<ShmTable>,
        now: i64,
    ) -> Result<Balancer, BalancerError> {
        validate(spec, members)?;
        let mut conf = Conf::from_spec(spec, members);
        let (lb, _) = table.claim_lb(&spec.name)?;
        let mut slots = Vec::with_capacity(members.len());
        for m in members {
            slots.push(table.claim_member(&spec.name, &m.name)?.0);
        }
        let lb_slot = table.lb(lb);
        let member_slots: Vec<&MemberSlot> = slots.iter().map(|&i| table.member(i)).collect();
        // Whoever first holds the lock with sequence 0 pushes (also after a process died
        // between claiming and pushing); everyone else pulls.
        let guard = table.lock();
        if lb_slot.sequence.load(std::sync::atomic::Ordering::Acquire) == 0 {
            conf.sequence = 1;
            conf::push_fresh(&conf, lb_slot, &member_slots, now);
        } else {
            let spec_conf = conf;
            conf = conf::pull(&spec_conf, lb_slot, &member_slots);
            // Members this table has never seen (added to the configuration while the table
            // lived on) never had a push: lb_mult is 0 only then. Take them from the spec.
            let new: Vec<usize> = (0..member_slots.len())
                .filter(|&i| {
                    member_slots[i]
                        .lb_mult
                        .load(std::sync::atomic::Ordering::Relaxed)
                        == 0
                })
                .collect();
            if !new.is_empty() {
                for &i in &new {
                    conf.members[i] = spec_conf.members[i].clone();
                    member_slots[i]
                        .last_reset
                        .store(now, std::sync::atomic::Ordering::Relaxed);
                }
                conf.remult();
                conf.reindex();
                conf.sequence += 1;
                conf::push(&conf, lb_slot, &member_slots);
            }
        }
        drop(guard);
        drop(member_slots);
        Ok(Balancer {
            records: Records::new(table, lb, &slots),
            lb,
            slots,
            conf: Published::new(conf),
            next_offset: AtomicUsize::new(0),
            pool_full: (0..members.len())
                .map(|_| std::sync::atomic::AtomicBool::new(false))
                .collect(),
        })
    }

    /// Whether this process's pool for `member` was last found without a free slot.
    pub(crate) fn pool_full(&self, member: usize) -> bool {
        self.pool_full
            .get(member)
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The table this balancer lives in.
    pub fn table(&self) -> &Arc<ShmTable> {
        self.records.table()
    }

    /// This process's configuration copy, pulled first if another process changed it. The
    /// usual case (nothing changed) is two loads and a compare, inlined where it is asked.
    #[inline]
    pub fn conf(&self) -> &Conf {
        let c = self.conf.load();
        let seq = self
            .lb_slot()
            .sequence
            .load(std::sync::atomic::Ordering::Acquire);
        if seq == c.sequence {
            return c;
        }
        self.pull()
    }

    /// Pull under the table lock (writers hold it while they rewrite texts).
    #[cold]
    #[inline(never)]
    fn pull(&self) -> &Conf {
        let _g = self.table().lock();
        let base = self.conf.load();
        let fresh = conf::pull(base, self.lb_slot(), &self.member_slots());
        if fresh != *base {
            self.conf.store(fresh);
        }
        self.conf.load()
    }

    /// Index of the member named `name`.
    /// The name of member `i`.
    pub fn member_name(&self, i: usize) -> Option<String> {
        self.conf.load().members.get(i).map(|m| m.name.clone())
    }

    pub fn member_index(&self, name: &str) -> Option<usize> {
        self.conf.load().members.iter().position(|m| m.name == name)
    }

    /// The route forwarded with `choice` (`JK_WORKER_ROUTE`): the member's route, or its
    /// domain when the member was found through the domain.
    pub fn route_of(&self, choice: &Choice) -> String {
        let conf = self.conf();
        match conf.members.get(choice.member) {
            Some(m) if choice.via_domain => m.domain.clone(),
            Some(m) => m.route.clone(),
            None => String::new(),
        }
    }

    /// As [`route_of`](Self::route_of), borrowed from this process's configuration copy.
    pub fn route_for(&self, choice: &Choice) -> &str {
        let conf = self.conf();
        match conf.members.get(choice.member) {
            Some(m) if choice.via_domain => &m.domain,
            Some(m) => &m.route,
            None => "",
        }
    }

    /// The `Set-Cookie` value to add to the response when `set_session_cookie` applies (the
    /// lb's, or the mount's `mount_says`): only for a request that was not sticky.
    pub fn session_cookie(
        &self,
        choice: &Choice,
        mount_says: bool,
        secure: bool,
    ) -> Option<String> {
        let conf = self.conf();
        if choice.sticky || !(conf.lb.set_session_cookie || mount_says) {
            return None;
        }
        let m = conf.members.get(choice.member)?;
        Some(conf.lb.session_cookie_value(&m.route, secure))
    }

    /// The shared record of `member` (status pages, tools, tests).
    pub fn member_slot(&self, member: usize) -> Option<&MemberSlot> {
        self.records.get(member)
    }

    /// The table index of `member`'s record (to link its connection pool).
    pub fn member_record(&self, member: usize) -> Option<usize> {
        self.slots.get(member).copied()
    }

    /// The shared record of the lb itself.
    #[inline]
    pub fn lb_slot(&self) -> &LbSlot {
        self.records.lb()
    }

    /// Every member's shared record, in order.
    #[inline]
    fn slots(&self) -> &[crate::shm::MemberRef] {
        self.records.members()
    }

    #[inline]
    fn slot(&self, member: usize) -> &MemberSlot {
        self.records.member(member)
    }

    fn member_slots(&self) -> Vec<&MemberSlot> {
        (0..self.records.len())
            .map(|i| self.records.member(i))
            .collect()
    }

    /// The table lock when `lock=Pessimistic`, nothing otherwise.
    fn pessimistic(&self, conf: &Conf) -> Option<crate::shm::TableLock<'_>> {
        (conf.lb.lock == crate::config::Lock::Pessimistic).then(|| self.table().lock())
    }
}

fn validate(spec: &LbSpec, members: &[MemberSpec]) -> Result<(), BalancerError> {
    let lb = || spec.name.clone();
    if members.is_empty() {
        return Err(BalancerError::NoMembers { lb: lb() });
    }
    if members.len() > MAX_MEMBERS {
        return Err(BalancerError::TooManyMembers {
            lb: lb(),
            count: members.len(),
        });
    }
    for (i, m) in members.iter().enumerate() {
        if members[..i].iter().any(|o| o.name == m.name) {
            return Err(BalancerError::DuplicateMember {
                lb: lb(),
                member: m.name.clone(),
            });
        }
        for (what, text) in [
            ("route", &m.route),
            ("domain", &m.domain),
            ("redirect", &m.redirect),
        ] {
            if !Text::fits(text) {
                return Err(BalancerError::TextTooLong {
                    lb: lb(),
                    member: m.name.clone(),
                    what,
                });
            }
        }
    }
    Ok(())
}
