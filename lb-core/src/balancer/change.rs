//! Status-worker changes (mod_jk: lb_value and lb_mult; status changes through the shared memory): written to the table under its lock with the
//! lb record's sequence bumped, so every process pulls them before its next choice. Changing an
//! activation resets the lb values (except Busyness); changing a factor recomputes every
//! member's `lb_mult`. Connection changes ([`ConnChange`]) go to the member's connection
//! record, which each process's pool adopts (see `crate::pool`).

use std::sync::atomic::Ordering::{Acquire, Relaxed};

use super::conf;
use super::state::{state_code, State};
use super::{Balancer, BalancerError};
use crate::config::{Activation, Lock, Method};
use crate::shm::Text;

/// A change to one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberChange {
    Activation(Activation),
    LbFactor(u32),
    Route(String),
    Domain(String),
    Redirect(String),
    Distance(u32),
}

/// A change to a member's AJP connection settings (`va…`, mod_jk: the status worker's AJP settings), in
/// `workers.properties` units (timeouts in ms, except the two in seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnChange {
    Host(String),
    Port(u16),
    /// Seconds.
    ConnectionPoolTimeout(u32),
    PingTimeout(u32),
    ConnectTimeout(u32),
    PrepostTimeout(u32),
    ReplyTimeout(u32),
    Retries(u32),
    RetryInterval(u32),
    /// Seconds.
    ConnectionPingInterval(u32),
    RecoveryOptions(u32),
    BusyLimit(u32),
    MaxPacketSize(u32),
}

/// A change to the lb itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LbChange {
    StickySession(bool),
    StickySessionForce(bool),
    Method(Method),
    Lock(Lock),
    Retries(u32),
    RetryIntervalMs(u32),
    RecoverTime(u32),
    ErrorEscalationTime(u32),
    MaxReplyTimeouts(u32),
}

impl Balancer {
    /// Apply a status-worker change to `member` for every process.
    pub fn change(&self, member: usize, change: MemberChange) -> Result<(), BalancerError> {
        let Some(name) = self.conf.load().members.get(member).map(|m| m.name.clone()) else {
            return Err(BalancerError::NoMembers {
                lb: self.conf.load().lb.name.clone(),
            });
        };
        if let MemberChange::Route(t) | MemberChange::Domain(t) | MemberChange::Redirect(t) =
            &change
        {
            if !Text::fits(t) {
                return Err(BalancerError::TextTooLong {
                    lb: self.conf.load().lb.name.clone(),
                    member: name,
                    what: "the new value",
                });
            }
        }
        self.rewrite(|c| {
            let m = &mut c.members[member];
            match change {
                MemberChange::Activation(a) => {
                    m.activation = a;
                    true
                }
                MemberChange::LbFactor(f) => {
                    m.lbfactor = f.max(1);
                    c.remult();
                    false
                }
                MemberChange::Route(r) => {
                    m.route = r;
                    false
                }
                MemberChange::Domain(d) => {
                    m.domain = d;
                    false
                }
                MemberChange::Redirect(r) => {
                    m.redirect = r;
                    false
                }
                MemberChange::Distance(d) => {
                    m.distance = d;
                    false
                }
            }
        });
        Ok(())
    }

    /// Apply a status-worker change to `member`'s connection settings for every process: the
    /// record is rewritten under the table lock and its sequence bumped; each process's pool
    /// adopts it before its next request on the member. Callers validate values (a host that
    /// resolves, a port in 1..=65535).
    pub fn change_connection(
        &self,
        member: usize,
        change: ConnChange,
    ) -> Result<(), BalancerError> {
        let lb_name = || self.conf.load().lb.name.clone();
        let (Some(&record), Some(name)) = (
            self.slots.get(member),
            self.conf.load().members.get(member).map(|m| m.name.clone()),
        ) else {
            return Err(BalancerError::NoMembers { lb: lb_name() });
        };
        if let ConnChange::Host(h) = &change {
            if h.is_empty() || !Text::fits(h) {
                return Err(BalancerError::TextTooLong {
                    lb: lb_name(),
                    member: name,
                    what: "the new host",
                });
            }
        }
        let busy_limit = matches!(change, ConnChange::BusyLimit(_));
        // A new host or port is resolved here, once, outside the lock; every process then
        // adopts the address without asking DNS on a request.
        let resolved = match &change {
            ConnChange::Host(_) | ConnChange::Port(_) => {
                let cur = self
                    .connection(member)
                    .ok_or_else(|| BalancerError::NotShared {
                        lb: lb_name(),
                        member: name.clone(),
                    })?;
                let (host, port) = match &change {
                    ConnChange::Host(h) => (h.as_str(), cur.port),
                    ConnChange::Port(p) => (cur.host.as_str(), *p),
                    _ => unreachable!("only host and port changes resolve"),
                };
                let v6 = cur.addr.is_some_and(|a| a.is_ipv6());
                let addr = crate::pool::resolve(host, port, v6).map_err(|why| {
                    BalancerError::Unresolvable {
                        lb: lb_name(),
                        member: name.clone(),
                        why,
                    }
                })?;
                Some(addr)
            }
            _ => None,
        };
        if !store_connection(self.table(), record, change, resolved) {
            return Err(BalancerError::NotShared {
                lb: lb_name(),
                member: name,
            });
        }
        if busy_limit {
            // The balancer's copy of busy_limit comes from the record; make every process pull.
            self.rewrite(|_| false);
        }
        Ok(())
    }

    /// Whether `member`'s connection settings were changed since they were first shared
    /// (through the status worker, or restored from a persist file).
    pub fn connection_changed(&self, member: usize) -> bool {
        self.slots
            .get(member)
            .is_some_and(|&record| self.table().member(record).conn.sequence.load(Acquire) > 1)
    }

    /// The connection settings every process uses for `member` (None until its pool shared
    /// them).
    pub fn connection(&self, member: usize) -> Option<crate::pool::ConnSettings> {
        let &record = self.slots.get(member)?;
        let _g = self.table().lock();
        let c = &self.table().member(record).conn;
        (c.sequence.load(Acquire) != 0).then(|| crate::pool::ConnSettings::load(c))
    }

    /// Apply a status-worker change to the lb for every process.
    pub fn change_lb(&self, change: LbChange) {
        self.rewrite(|c| {
            let s = &mut c.lb;
            match change {
                LbChange::StickySession(v) => s.sticky_session = v,
                LbChange::StickySessionForce(v) => s.sticky_session_force = v,
                LbChange::Method(m) => s.method = m,
                LbChange::Lock(l) => s.lock = l,
                LbChange::Retries(n) => s.retries = n.max(1),
                LbChange::RetryIntervalMs(n) => s.retry_interval_ms = n,
                LbChange::RecoverTime(n) => s.recover_time = n.max(1),
                LbChange::ErrorEscalationTime(n) => s.error_escalation_time = n,
                LbChange::MaxReplyTimeouts(n) => s.max_reply_timeouts = n,
            }
            false
        });
    }

    /// Status worker "reset": zero the counters of `member` (all members when `None`).
    pub fn reset(&self, member: Option<usize>, now: i64) {
        let _g = self.table().lock();
        for i in (0..self.len()).filter(|&i| member.is_none_or(|m| m == i)) {
            let s = self.slot(i);
            for c in [
                &s.elected,
                &s.elected_snapshot,
                &s.sessions,
                &s.errors,
                &s.client_errors,
                &s.reply_timeouts,
                &s.bytes_read,
                &s.bytes_written,
                &s.max_busy,
            ] {
                c.store(0, Relaxed);
            }
            s.last_reset.store(now, Relaxed);
        }
        if member.is_none() {
            self.lb_slot().max_busy.store(0, Relaxed);
            self.lb_slot().last_reset.store(now, Relaxed);
        }
    }

    /// Status worker "recover": put a member in ERROR up for recovery now.
    pub fn recover_now(&self, member: usize) {
        if member < self.len() {
            let _ = self.slot(member).state.compare_exchange(
                state_code(State::Error),
                state_code(State::Recover),
                Relaxed,
                Relaxed,
            );
        }
    }

    /// Pull the newest configuration under the lock, let `edit` change it (returning true
    /// when lb values must be reset), push it with the next sequence number, and publish it
    /// to this process.
    fn rewrite(&self, edit: impl FnOnce(&mut conf::Conf) -> bool) {
        let _g = self.table().lock();
        let lb = self.lb_slot();
        let slots = self.member_slots();
        let mut c = conf::pull(self.conf.load(), lb, &slots);
        let reset = edit(&mut c);
        c.reindex();
        if reset && c.lb.method != Method::Busyness {
            for s in &slots {
                s.lb_value.store(0, Relaxed);
            }
        }
        c.sequence = lb.sequence.load(Acquire) + 1;
        conf::push(&c, lb, &slots);
        self.conf.store(c);
    }
}

/// Write `change` into the connection settings of table record `record` (a new host or port
/// already resolved into `resolved`) and bump its sequence, so every process adopts it. False
/// when nobody shared the record yet.
pub(crate) fn store_connection(
    table: &crate::shm::ShmTable,
    record: usize,
    change: ConnChange,
    resolved: Option<std::net::SocketAddr>,
) -> bool {
    let _g = table.lock();
    let c = &table.member(record).conn;
    if c.sequence.load(Acquire) == 0 {
        return false;
    }
    let set = |f: &std::sync::atomic::AtomicU32, v: u32| f.store(v, Relaxed);
    match change {
        ConnChange::Host(h) => c.host.store(&h),
        ConnChange::Port(p) => set(&c.port, u32::from(p)),
        ConnChange::ConnectionPoolTimeout(v) => set(&c.connection_pool_timeout, v),
        ConnChange::PingTimeout(v) => set(&c.ping_timeout, v),
        ConnChange::ConnectTimeout(v) => set(&c.connect_timeout, v),
        ConnChange::PrepostTimeout(v) => set(&c.prepost_timeout, v),
        ConnChange::ReplyTimeout(v) => set(&c.reply_timeout, v),
        ConnChange::Retries(v) => set(&c.retries, v.max(1)),
        ConnChange::RetryInterval(v) => set(&c.retry_interval, v),
        ConnChange::ConnectionPingInterval(v) => set(&c.connection_ping_interval, v),
        ConnChange::RecoveryOptions(v) => set(&c.recovery_options, v),
        ConnChange::BusyLimit(v) => set(&c.busy_limit, v),
        ConnChange::MaxPacketSize(v) => set(&c.max_packet_size, v.clamp(8192, 65536)),
    }
    if let Some(addr) = resolved {
        crate::pool::store_ip(c, Some(addr.ip()));
    }
    c.sequence
        .fetch_add(1, std::sync::atomic::Ordering::Release);
    true
}
