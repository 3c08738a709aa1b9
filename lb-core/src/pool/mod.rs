//! The per-process connection pool of one AJP worker (mod_jk.md §4.2).
//!
//! `connection_pool_size` slots ([`Endpoint`]s), created on demand. Acquiring prefers a slot
//! with an open connection (the most recently used one, so idle ones age out), else a closed
//! slot, else waits up to `connection_acquire_timeout` for one to come back. A slot goes back
//! through [`Lease`]'s drop; whoever drove the exchange closes the connection first unless it
//! ended with End Response reuse=1 and nothing unread. Maintenance (driven by the caller's
//! clock) closes connections idle beyond `connection_pool_timeout` down to
//! `connection_pool_minsize`, and CPings those idle beyond `connection_ping_interval`.
//!
//! An lb member's pool is linked to its record in the shared table ([`Pool::share`]): when a
//! status-worker change bumped the record's sequence, the next [`Pool::spec`] adopts the new
//! settings (when nothing changed: one relaxed load of the shared sequence,
//! besides loading this process's current copy). After a host or port change no
//! connection to the old address is used again: idle ones are closed at once, leased ones when
//! they come back, and a slot is never made ready on a connection to another address.

pub mod endpoint;
pub mod ready;
mod shared;

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use endpoint::{Endpoint, PingError, ReadError};
pub use ready::Ready;
pub use shared::{resolve, ConnSettings};

use crate::forward::spec::AjpWorkerSpec;
use crate::shm::{ConnSlot, Published, ShmTable};

#[derive(Debug, Default)]
struct Slots {
    /// Free slots with an open connection, least recently used first.
    open: Vec<Endpoint>,
    /// Free slots without a connection.
    closed: Vec<Endpoint>,
    /// Slots created so far (free or leased), never above the pool size.
    created: usize,
}

/// The settings this process uses, and the shared sequence they reflect (0: not shared yet).
#[derive(Debug)]
struct Current {
    sequence: u64,
    spec: AjpWorkerSpec,
}

/// Where a member's shared connection settings live.
#[derive(Debug)]
struct Link {
    table: Arc<ShmTable>,
    record: usize,
}

impl Link {
    fn slot(&self) -> &ConnSlot {
        &self.table.member(self.record).conn
    }
}

/// The pool of one worker in this process.
#[derive(Debug)]
pub struct Pool {
    current: Published<Current>,
    link: Option<Link>,
    /// One thread adopts a change; the others wait for its result.
    adopting: Mutex<()>,
    slots: Mutex<Slots>,
    freed: Condvar,
}

/// No slot came free within `connection_acquire_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolExhausted {
    pub size: usize,
    pub waited: Duration,
}

impl std::fmt::Display for PoolExhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "all {} connections of the pool are in use after waiting {:?}; raise \
             connection_pool_size or connection_acquire_timeout",
            self.size, self.waited
        )
    }
}

/// What one maintenance run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Idle connections closed for `connection_pool_timeout`.
    pub closed_idle: usize,
    /// Idle connections that answered a CPing.
    pub pinged: usize,
    /// Idle connections closed because the CPing failed.
    pub ping_failed: usize,
}

impl Pool {
    pub fn new(spec: AjpWorkerSpec) -> Self {
        Pool {
            current: Published::new(Current { sequence: 0, spec }),
            link: None,
            adopting: Mutex::new(()),
            slots: Mutex::new(Slots::default()),
            freed: Condvar::new(),
        }
    }

    /// Link this pool to member record `record` of `table`: the first process publishes its
    /// settings there, later ones (and this one, after a status-worker change) adopt what the
    /// record holds.
    pub fn share(&mut self, table: Arc<ShmTable>, record: usize) {
        let link = Link { table, record };
        {
            let _g = link.table.lock();
            let slot = link.slot();
            if slot.sequence.load(Acquire) == 0 {
                ConnSettings::of(&self.current.load().spec).store(slot);
                slot.sequence.store(1, Release);
            }
        }
        self.link = Some(link);
        self.spec();
    }

    /// The settings to use now; adopts a change another process (or this one) published.
    pub fn spec(&self) -> &AjpWorkerSpec {
        let cur = self.current.load();
        match &self.link {
            Some(l) if l.slot().sequence.load(Relaxed) != cur.sequence => self.adopt(l),
            _ => &cur.spec,
        }
    }

    #[cold]
    fn adopt(&self, link: &Link) -> &AjpWorkerSpec {
        let _one = self.adopting.lock().unwrap_or_else(|p| p.into_inner());
        let cur = self.current.load();
        let (sequence, shared) = {
            // Writers hold the lock while they rewrite the host.
            let _g = link.table.lock();
            let slot = link.slot();
            (slot.sequence.load(Acquire), ConnSettings::load(slot))
        };
        if sequence == cur.sequence {
            return &cur.spec;
        }
        let mut spec = cur.spec.clone();
        let moved = shared.host != spec.host || shared.port != spec.addr.port();
        if moved {
            // As mod_jk: an address this process cannot resolve leaves the old one in use (the
            // status worker refuses names it cannot resolve, so this is a local DNS failure).
            if let Ok(addr) = resolve(&shared.host, shared.port, spec.prefer_ipv6) {
                spec.host = shared.host.clone();
                spec.addr = addr;
            }
        }
        shared.apply(&mut spec);
        let addr = spec.addr;
        self.current.store(Current { sequence, spec });
        if moved {
            self.close_idle_not_to(addr);
        }
        &self.current.load().spec
    }

    /// Close the free connections to any address but `addr`.
    fn close_idle_not_to(&self, addr: SocketAddr) {
        let mut s = self.lock();
        let mut i = 0;
        while i < s.open.len() {
            if s.open[i].peer() == Some(addr) {
                i += 1;
            } else {
                let mut ep = s.open.remove(i);
                ep.close();
                s.closed.push(ep);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // A panic while holding the lock leaves the lists consistent (every change is one push
        // or pop), so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take a slot, preferring one with an open connection.
    pub fn acquire(&self) -> Result<Lease<'_>, PoolExhausted> {
        let spec = self.spec();
        let size = spec.connection_pool_size.max(1);
        let wait = spec.connection_acquire_timeout;
        let mut deadline = None;
        let mut s = self.lock();
        loop {
            if let Some(ep) = s.open.pop().or_else(|| s.closed.pop()) {
                return Ok(self.lease(ep));
            }
            if s.created < size {
                s.created += 1;
                drop(s);
                return Ok(self.lease(Endpoint::new(spec.max_packet_size.get())));
            }
            let now = Instant::now();
            let end = *deadline.get_or_insert(now + wait);
            if now >= end {
                return Err(PoolExhausted { size, waited: wait });
            }
            s = self
                .freed
                .wait_timeout(s, end - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn lease(&self, ep: Endpoint) -> Lease<'_> {
        Lease {
            pool: self,
            ep: Some(ep),
        }
    }

    fn release(&self, mut ep: Endpoint) {
        // A connection to an address the settings no longer name is never reused.
        if ep.is_open() && ep.peer() != Some(self.spec().addr) {
            ep.close();
        }
        let mut s = self.lock();
        if ep.is_open() {
            s.open.push(ep);
        } else {
            s.closed.push(ep);
        }
        drop(s);
        self.freed.notify_one();
    }

    /// Free slots holding an open connection (for tests and the status page).
    pub fn idle_connections(&self) -> usize {
        self.lock().open.len()
    }

    /// Run the idle timeout and the interval CPing as of `now`.
    pub fn maintain(&self, now: Instant) -> Maintained {
        let mut done = Maintained::default();
        let mut to_ping = Vec::new();
        let spec = self.spec();
        {
            let mut s = self.lock();
            if let Some(idle) = spec.connection_pool_timeout.filter(|d| !d.is_zero()) {
                // Oldest first; keep at least minsize open.
                let min = spec.connection_pool_minsize;
                let mut i = 0;
                while i < s.open.len() && s.open.len() > min {
                    if now.saturating_duration_since(s.open[i].last_used()) >= idle {
                        let mut ep = s.open.remove(i);
                        ep.close();
                        s.closed.push(ep);
                        done.closed_idle += 1;
                    } else {
                        i += 1;
                    }
                }
            }
            if let Some(every) = spec.interval_ping() {
                let mut i = 0;
                while i < s.open.len() {
                    if now.saturating_duration_since(s.open[i].last_used()) >= every {
                        to_ping.push(s.open.remove(i));
                    } else {
                        i += 1;
                    }
                }
            }
        }
        // CPing outside the lock; the slots count as leased meanwhile.
        for mut ep in to_ping {
            match ep.cping(spec.ping_timeout, spec.max_packet_size) {
                Ok(()) => {
                    ep.touch(now);
                    done.pinged += 1;
                }
                Err(_) => {
                    ep.close();
                    done.ping_failed += 1;
                }
            }
            self.release(ep);
        }
        done
    }
}

/// A slot taken from the pool; it goes back when dropped (with its connection if still open).
#[derive(Debug)]
pub struct Lease<'p> {
    pool: &'p Pool,
    ep: Option<Endpoint>,
}

impl<'p> Lease<'p> {
    /// The pool this slot belongs to.
    pub fn pool(&self) -> &'p Pool {
        self.pool
    }

    /// The pooled connection in this slot is dead: close it and, if another free slot holds an
    /// open connection, switch to that one. Returns whether an open connection is now held.
    pub fn replace_dead(&mut self) -> bool {
        let ep = self
            .ep
            .as_mut()
            .expect("a lease holds its endpoint until dropped");
        ep.close();
        let mut s = self.pool.lock();
        if let Some(other) = s.open.pop() {
            let old = std::mem::replace(ep, other);
            s.closed.push(old);
            true
        } else {
            false
        }
    }
}

impl Deref for Lease<'_> {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        self.ep
            .as_ref()
            .expect("a lease holds its endpoint until dropped")
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Endpoint {
        self.ep
            .as_mut()
            .expect("a lease holds its endpoint until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(ep) = self.ep.take() {
            self.pool.release(ep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn spec(size: usize) -> AjpWorkerSpec {
        let mut s = AjpWorkerSpec::new("w", "127.0.0.1:9".parse().unwrap(), size);
        s.connection_acquire_timeout = Duration::from_millis(20);
        s
    }

    #[test]
    fn acquire_creates_up_to_size_then_times_out() {
        let pool = Pool::new(spec(2));
        let a = pool.acquire().unwrap();
        let _b = pool.acquire().unwrap();
        let err = pool.acquire().unwrap_err();
        assert_eq!(err.size, 2);
        assert!(err.to_string().contains("connection_pool_size"));
        drop(a);
        assert!(pool.acquire().is_ok());
    }

    #[test]
    fn waiting_acquire_gets_a_released_slot() {
        let mut s = spec(1);
        s.connection_acquire_timeout = Duration::from_secs(5);
        let pool = Pool::new(s);
        let lease = pool.acquire().unwrap();
        std::thread::scope(|sc| {
            let waiter = sc.spawn(|| pool.acquire().map(|_| ()));
            drop(lease);
            assert!(waiter.join().unwrap().is_ok());
        });
    }

    #[test]
    fn prefers_open_connections_and_detects_dead_ones() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut s = spec(2);
        s.addr = listener.local_addr().unwrap();
        let pool = Pool::new(s);
        {
            let _closed = pool.acquire().unwrap();
            let mut open = pool.acquire().unwrap();
            open.connect(pool.spec()).unwrap();
        }
        let (server_side, _) = listener.accept().unwrap();
        assert_eq!(pool.idle_connections(), 1);
        let mut lease = pool.acquire().unwrap();
        assert!(lease.is_open());
        assert!(lease.is_alive());
        drop(server_side);
        // Poll until the FIN is visible, with a deadline.
        let deadline = Instant::now() + Duration::from_secs(5);
        while lease.is_alive() {
            assert!(Instant::now() < deadline, "peer close never seen");
            std::thread::yield_now();
        }
        assert!(!lease.replace_dead());
        assert!(!lease.is_open());
    }

    #[test]
    fn maintenance_closes_idle_down_to_minsize() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut s = spec(4);
        s.addr = listener.local_addr().unwrap();
        s.connection_pool_minsize = 1;
        s.connection_pool_timeout = Some(Duration::from_secs(60));
        let pool = Pool::new(s);
        let t0 = Instant::now();
        {
            let mut leases: Vec<_> = (0..3).map(|_| pool.acquire().unwrap()).collect();
            for l in &mut leases {
                l.connect(pool.spec()).unwrap();
                l.touch(t0);
            }
        }
        assert_eq!(pool.maintain(t0).closed_idle, 0);
        let m = pool.maintain(t0 + Duration::from_secs(61));
        assert_eq!(m.closed_idle, 2);
        assert_eq!(pool.idle_connections(), 1);
    }
}
