//! The blocking driver's pool of one member in this process: the pool policy
//! ([`crate::pool::Slots`]) over std sockets, behind a mutex, with a condition variable so a
//! request thread may wait `connection_acquire_timeout` for a slot (a thread per request may
//! wait; an event-driven driver answers busy at once instead).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::forward::exchange::Acquired;
use crate::forward::spec::AjpWorkerSpec;
use crate::pool::{Maintained, PoolExhausted, Slots, Take};

use super::endpoint::Endpoint;

#[derive(Debug)]
pub struct Pool {
    slots: Mutex<Slots<Endpoint>>,
    freed: Condvar,
    /// Threads waiting on `freed`; changed and read only under the `slots` lock, so a slot
    /// given back wakes a waiter when there is one and costs no futex syscall otherwise.
    waiting: AtomicUsize,
}

impl Pool {
    pub fn new(spec: &AjpWorkerSpec) -> Self {
        Pool {
            slots: Mutex::new(Slots::new(spec.connection_pool_size)),
            freed: Condvar::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots<Endpoint>> {
        // A panic while holding the lock leaves the lists consistent (every change is one push
        // or pop), so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take a slot, waiting up to `connection_acquire_timeout` for one to come back.
    pub fn acquire(&self, spec: &AjpWorkerSpec) -> Result<Lease<'_>, PoolExhausted> {
        let wait = spec.connection_acquire_timeout;
        let mut deadline = None;
        let mut s = self.lock();
        s.resize(spec.connection_pool_size);
        // A connection to an address the settings no longer name is never handed out.
        s.drop_not_to(spec.addr, drop);
        loop {
            match s.take() {
                Take::Idle { conn, .. } => return Ok(self.lease(Some(conn))),
                Take::Empty => return Ok(self.lease(None)),
                Take::Full => {}
            }
            let now = Instant::now();
            let end = *deadline.get_or_insert(now + wait);
            if now >= end {
                return Err(PoolExhausted {
                    size: spec.connection_pool_size.max(1),
                    waited: wait,
                });
            }
            self.waiting.fetch_add(1, Ordering::Relaxed);
            s = self
                .freed
                .wait_timeout(s, end - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn lease(&self, conn: Option<Endpoint>) -> Lease<'_> {
        Lease {
            pool: self,
            conn,
            reuse: false,
            returned: false,
        }
    }

    /// Release the lock `s` and wake one thread waiting for a slot, if one waits.
    fn wake_one(&self, s: MutexGuard<'_, Slots<Endpoint>>) {
        let waiting = self.waiting.load(Ordering::Relaxed) > 0;
        drop(s);
        if waiting {
            self.freed.notify_one();
        }
    }

    /// Idle connections (for tests and the status page).
    pub fn idle_connections(&self) -> usize {
        self.lock().idle()
    }

    /// Idle timeout and interval CPing as of `now` (CPings outside the lock; the slots count
    /// as leased meanwhile).
    pub fn maintain(&self, spec: &AjpWorkerSpec, now: Instant) -> Maintained {
        let mut done = Maintained::default();
        let due = {
            let mut s = self.lock();
            s.drop_not_to(spec.addr, drop);
            if let Some(idle) = spec.connection_pool_timeout.filter(|d| !d.is_zero()) {
                done.closed_idle = s.expire(now, idle, spec.connection_pool_minsize, drop);
            }
            match spec.interval_ping() {
                Some(every) => s.due_for_ping(now, every),
                None => Vec::new(),
            }
        };
        for (mut ep, peer) in due {
            let alive = ep.cping(spec.ping_timeout, spec.max_packet_size).is_ok();
            if alive {
                done.pinged += 1;
            } else {
                done.ping_failed += 1;
            }
            let back = alive.then_some((ep, peer));
            let mut s = self.lock();
            let _ = s.give_back(back, spec.addr, now);
            self.wake_one(s);
        }
        done
    }
}

/// A slot taken from the pool. It goes back when released or dropped: with its connection only
/// after [`Lease::keep`], so a connection left half-read by a failure or a panic is closed.
#[derive(Debug)]
pub struct Lease<'p> {
    pool: &'p Pool,
    conn: Option<Endpoint>,
    reuse: bool,
    returned: bool,
}

impl Lease<'_> {
    /// What the machine needs to know about the slot (the driver's peek included).
    pub fn acquired(&self) -> Acquired {
        match &self.conn {
            Some(c) => Acquired::Idle {
                peer: c.peer(),
                alive: c.is_alive(),
            },
            None => Acquired::Empty,
        }
    }

    /// Close the slot's dead connection; move another idle one in if there is one.
    pub fn replace(&mut self) -> Acquired {
        self.conn = self.pool.lock().replace().map(|(c, _)| c);
        self.acquired()
    }

    pub fn conn(&mut self) -> Option<&mut Endpoint> {
        self.conn.as_mut()
    }

    /// Put a new connection in the slot (closing any it held).
    pub fn set(&mut self, conn: Endpoint) {
        self.conn = Some(conn);
    }

    /// Give the slot back, with its connection when `reuse`, as of `now`; `addr` is the
    /// member's current address (a connection elsewhere is closed).
    pub fn release(mut self, reuse: bool, addr: SocketAddr, now: Instant) {
        self.reuse = reuse;
        self.give_back(addr, now);
    }

    fn give_back(&mut self, addr: SocketAddr, now: Instant) {
        if std::mem::replace(&mut self.returned, true) {
            return;
        }
        let conn = self.conn.take().filter(|_| self.reuse).map(|c| {
            let peer = c.peer();
            (c, peer)
        });
        let mut s = self.pool.lock();
        let _ = s.give_back(conn, addr, now);
        self.pool.wake_one(s);
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // Released: nothing to do (and no clock to read).
        if self.returned {
            return;
        }
        // Not released (a panic on the way): the slot comes back, its connection closed.
        self.reuse = false;
        self.give_back(SocketAddr::from(([0, 0, 0, 0], 0)), Instant::now());
    }
}
