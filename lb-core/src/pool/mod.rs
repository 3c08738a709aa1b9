//! The per-process connection pool of one AJP worker (mod_jk: its endpoint cache), as policy only: which
//! connection a request gets, when a slot is free, which idle connections maintenance closes or
//! CPings. Generic over the connection handle `C`, so the blocking driver keeps std sockets in
//! it and an event-driven driver keeps its own connection objects; nothing here does I/O or
//! reads a clock (every time is passed in).
//!
//! `connection_pool_size` slots. A request takes the most recently used idle connection (so
//! the others age out), else an empty slot, else nothing ([`Take::Full`]: the driver may wait
//! for a slot to come back, or answer busy). Maintenance closes connections idle beyond
//! `connection_pool_timeout` down to `connection_pool_minsize`, and takes those idle beyond
//! `connection_ping_interval` out for a CPing. After an address change no connection to the
//! old address is handed out again.
//!
//! [`ready`] is the readiness decision for a taken connection (peek, CPing, replace, connect);
//! [`shared`] the settings the status worker may change in every process.

pub mod ready;
mod shared;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use ready::Ready;
pub(crate) use shared::store_ip;
pub use shared::{resolve, ConnSettings};

/// An idle connection and what the policy needs to know about it.
#[derive(Debug)]
struct Idle<C> {
    conn: C,
    peer: SocketAddr,
    last_used: Instant,
}

/// The slots of one pool in one process.
#[derive(Debug)]
pub struct Slots<C> {
    /// Idle connections, least recently used first.
    idle: Vec<Idle<C>>,
    /// Slots handed out (with or without a connection) and not yet given back.
    leased: usize,
    size: usize,
}

/// What [`Slots::take`] handed out.
#[derive(Debug, PartialEq, Eq)]
pub enum Take<C> {
    /// An idle connection to `peer`, last used at `last_used`.
    Idle {
        conn: C,
        peer: SocketAddr,
        last_used: Instant,
    },
    /// A slot without a connection: connect one.
    Empty,
    /// Every slot is in use.
    Full,
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

impl std::ops::AddAssign for Maintained {
    fn add_assign(&mut self, o: Maintained) {
        self.closed_idle += o.closed_idle;
        self.pinged += o.pinged;
        self.ping_failed += o.ping_failed;
    }
}

impl<C> Slots<C> {
    /// A pool of `size` slots (at least one).
    pub fn new(size: usize) -> Self {
        Slots {
            idle: Vec::new(),
            leased: 0,
            size: size.max(1),
        }
    }

    /// Follow a `connection_pool_size` change; slots above the new size die out as they come
    /// back.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
    }

    /// Take a slot: the most recently used idle connection, else an empty slot.
    pub fn take(&mut self) -> Take<C> {
        if let Some(i) = self.idle.pop() {
            self.leased += 1;
            return Take::Idle {
                conn: i.conn,
                peer: i.peer,
                last_used: i.last_used,
            };
        }
        if self.leased + self.idle.len() < self.size {
            self.leased += 1;
            return Take::Empty;
        }
        Take::Full
    }

    /// For a leased slot whose connection turned out dead (the caller closes it): another idle
    /// connection, if there is one, moves into the slot.
    pub fn replace(&mut self) -> Option<(C, SocketAddr)> {
        self.idle.pop().map(|i| (i.conn, i.peer))
    }

    /// Give a slot back, with its connection if it may carry another request. A connection to
    /// an address other than `current` is handed back to the caller to close.
    pub fn give_back(
        &mut self,
        conn: Option<(C, SocketAddr)>,
        current: SocketAddr,
        now: Instant,
    ) -> Option<C> {
        self.leased = self.leased.saturating_sub(1);
        let (conn, peer) = conn?;
        if peer != current || self.idle.len() + self.leased >= self.size {
            return Some(conn);
        }
        self.idle.push(Idle {
            conn,
            peer,
            last_used: now,
        });
        None
    }

    /// Idle connections.
    pub fn idle(&self) -> usize {
        self.idle.len()
    }

    /// Slots that are free right now (idle or never used).
    pub fn free(&self) -> usize {
        self.size.saturating_sub(self.leased)
    }

    /// Close (hand to `close`) the idle connections unused for `timeout` as of `now`, oldest
    /// first, keeping at least `min`. Returns how many.
    pub fn expire(
        &mut self,
        now: Instant,
        timeout: Duration,
        min: usize,
        mut close: impl FnMut(C),
    ) -> usize {
        let mut closed = 0;
        let mut i = 0;
        while i < self.idle.len() && self.idle.len() > min {
            if now.saturating_duration_since(self.idle[i].last_used) >= timeout {
                close(self.idle.remove(i).conn);
                closed += 1;
            } else {
                i += 1;
            }
        }
        closed
    }

    /// Take out (as leased slots) the idle connections unused for `every` as of `now`, for a
    /// CPing; each goes back through [`give_back`](Self::give_back).
    pub fn due_for_ping(&mut self, now: Instant, every: Duration) -> Vec<(C, SocketAddr)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.idle.len() {
            if now.saturating_duration_since(self.idle[i].last_used) >= every {
                let idle = self.idle.remove(i);
                self.leased += 1;
                out.push((idle.conn, idle.peer));
            } else {
                i += 1;
            }
        }
        out
    }

    /// Hand every idle connection to an address other than `addr` to `close`.
    pub fn drop_not_to(&mut self, addr: SocketAddr, mut close: impl FnMut(C)) {
        let mut i = 0;
        while i < self.idle.len() {
            if self.idle[i].peer == addr {
                i += 1;
            } else {
                close(self.idle.remove(i).conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "127.0.0.1:1";
    const B: &str = "127.0.0.1:2";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn takes_most_recently_used_then_empty_then_full() {
        let t0 = Instant::now();
        let mut s = Slots::<u32>::new(2);
        assert_eq!(s.take(), Take::Empty);
        assert_eq!(s.take(), Take::Empty);
        assert_eq!(s.take(), Take::Full);
        assert_eq!(s.give_back(Some((1, addr(A))), addr(A), t0), None);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(s.give_back(Some((2, addr(A))), addr(A), t1), None);
        assert_eq!(s.idle(), 2);
        assert_eq!(
            s.take(),
            Take::Idle {
                conn: 2,
                peer: addr(A),
                last_used: t1
            }
        );
        // The dead connection's slot stays leased with the other connection in it; the other
        // slot is free again, without a connection.
        assert_eq!(s.replace(), Some((1, addr(A))));
        assert_eq!(s.take(), Take::Empty);
        assert_eq!(s.take(), Take::Full);
        assert_eq!(s.give_back(None, addr(A), t1), None);
        assert_eq!(s.free(), 1);
    }

    #[test]
    fn a_connection_to_an_old_address_is_never_pooled() {
        let t0 = Instant::now();
        let mut s = Slots::<u32>::new(3);
        let _ = s.take();
        let _ = s.take();
        assert_eq!(s.give_back(Some((7, addr(A))), addr(A), t0), None);
        // The member moved to B while 8 was leased.
        assert_eq!(s.give_back(Some((8, addr(A))), addr(B), t0), Some(8));
        let mut closed = Vec::new();
        s.drop_not_to(addr(B), |c| closed.push(c));
        assert_eq!((closed, s.idle()), (vec![7], 0));
    }

    #[test]
    fn expiry_keeps_the_minimum_and_pings_take_slots_out() {
        let t0 = Instant::now();
        let mut s = Slots::<u32>::new(4);
        for _ in 0..3 {
            assert_eq!(s.take(), Take::Empty);
        }
        for c in 0..3 {
            let at = t0 + Duration::from_secs(c.into());
            let _ = s.give_back(Some((c, addr(A))), addr(A), at);
        }
        let mut closed = Vec::new();
        let n = s.expire(
            t0 + Duration::from_secs(61),
            Duration::from_secs(60),
            1,
            |c| closed.push(c),
        );
        assert_eq!((n, closed, s.idle()), (2, vec![0, 1], 1));
        let due = s.due_for_ping(t0 + Duration::from_secs(100), Duration::from_secs(30));
        assert_eq!(due, vec![(2, addr(A))]);
        assert_eq!((s.idle(), s.free()), (0, 3));
    }
}
