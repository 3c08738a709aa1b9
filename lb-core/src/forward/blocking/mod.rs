//! The blocking driver: runs the forwarding machine ([`Exchange`]) on the calling thread with
//! std sockets and timeouts, for web servers that give each request a thread (httpd). Its whole
//! job is to perform the machine's actions and feed the results back; every decision is the
//! machine's.
//!
//! An [`Engine`] is one worker in this process: the worker (shared settings and balancer) and a
//! connection [`pool::Pool`] per member. [`Engine::maintain`] is for a timer thread (httpd's
//! watchdog): idle expiry and CPings of idle connections, never on a request.

pub mod endpoint;
pub mod pool;

use std::cell::RefCell;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ajp::SendHeaders;

use super::exchange::{self, Acquired, Action, Buffers, Exchange, Forwarded, Now};
use super::server::RequestHead;
use super::Worker;
use crate::pool::Maintained;

pub use endpoint::{Endpoint, PingError};
pub use pool::{Lease, Pool};

/// What the adapter does for the blocking driver: read the client's body, write the response.
/// Errors from the write side mean the client is gone.
pub trait ServerSide {
    /// Read request body into `buf`; `Ok(0)` means the body is complete.
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Send the response status line and headers (as the backend sent them; the adapter applies
    /// its own rules, e.g. Content-Type via `ap_set_content_type`).
    fn write_head(&mut self, head: &SendHeaders<'_>) -> io::Result<()>;

    fn write_body(&mut self, data: &[u8]) -> io::Result<()>;

    fn flush(&mut self) -> io::Result<()>;

    /// The client connection is known to be closed (httpd's `connection->aborted`).
    fn client_gone(&self) -> bool;

    /// A backend header that survives onto the web server's own error page
    /// (`use_server_errors`: the `WWW-Authenticate` of a 401). Servers without error pages
    /// ignore it.
    fn keep_for_error_page(&mut self, _name: &[u8], _value: &[u8]) {}
}

/// One worker in this process, driven with blocking sockets.
#[derive(Debug)]
pub struct Engine {
    worker: Arc<Worker>,
    pools: Vec<Pool>,
}

thread_local! {
    /// The last request's buffers on this thread: no allocation per request once warm.
    static SPARE: RefCell<Option<Buffers>> = const { RefCell::new(None) };
}

impl Engine {
    pub fn new(worker: Worker) -> Self {
        let pools = worker
            .members()
            .iter()
            .map(|m| Pool::new(m.spec()))
            .collect();
        Engine {
            worker: Arc::new(worker),
            pools,
        }
    }

    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// Idle connections to member `i` in this process (tests, the status page).
    pub fn idle_connections(&self, i: usize) -> usize {
        self.pools.get(i).map_or(0, Pool::idle_connections)
    }

    /// The pool of member `i` in this process.
    pub fn pool(&self, i: usize) -> Option<&Pool> {
        self.pools.get(i)
    }

    /// Forward one request: drive an [`Exchange`] to its end.
    pub fn forward(&self, head: &RequestHead<'_>, server: &mut dyn ServerSide) -> Forwarded {
        let bufs = SPARE.with(|s| s.borrow_mut().take()).unwrap_or_default();
        let mut ex = Exchange::new(Arc::clone(&self.worker), head, bufs);
        let mut lease: Option<Lease<'_>> = None;
        // One wall-clock reading per request; the monotonic clock per step (Unix seconds
        // follow it, so the balancer's error times stay right for long requests).
        let start = Now::system();
        // Whole seconds since `start`, counted up as `at` passes each boundary: the same value
        // as subtracting the instants, without a subtraction per step (~40 for 100 KiB).
        let (mut secs, mut boundary) = (0i64, start.at + Duration::from_secs(1));
        // The clock is read again after an action that may have taken time (any I/O or
        // wait); after the start and after steps that only touch this process's memory
        // (release, replace, keep), the last reading stands.
        let (mut at, mut fresh) = (start.at, true);
        loop {
            if !std::mem::replace(&mut fresh, false) {
                at = Instant::now();
            }
            while at >= boundary {
                secs += 1;
                boundary += Duration::from_secs(1);
            }
            let now = Now {
                at,
                unix: start.unix + secs,
            };
            match ex.poll(now) {
                Action::Acquire { member } => {
                    let Some(pool) = self.pools.get(member) else {
                        ex.on_acquired(Acquired::Exhausted);
                        continue;
                    };
                    let spec = self.worker.members()[member].spec();
                    match pool.acquire(spec) {
                        Ok(l) => {
                            let got = l.acquired();
                            lease = Some(l);
                            ex.on_acquired(got);
                        }
                        Err(_) => ex.on_acquired(Acquired::Exhausted),
                    }
                }
                Action::Replace => {
                    let got = lease.as_mut().map_or(Acquired::Empty, Lease::replace);
                    ex.on_acquired(got);
                    fresh = true;
                }
                Action::Connect {
                    member, timeout, ..
                } => {
                    let spec = self.worker.members()[member].spec();
                    match (Endpoint::connect(spec, timeout), lease.as_mut()) {
                        (Ok(ep), Some(l)) => {
                            l.set(ep);
                            ex.on_connected();
                        }
                        (Ok(_), None) => ex.on_io_error(not_connected()),
                        (Err(e), _) => ex.on_io_error(e),
                    }
                }
                Action::Send(data) => {
                    let r = match lease.as_mut().and_then(Lease::conn) {
                        Some(c) => c.write(data),
                        None => Err(not_connected()),
                    };
                    match r {
                        Ok(n) => ex.on_sent(n),
                        Err(e) => ex.on_io_error(e),
                    }
                }
                Action::Recv { deadline } => {
                    let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    let Some(conn) = lease.as_mut().and_then(Lease::conn) else {
                        ex.on_io_error(not_connected());
                        continue;
                    };
                    match conn.read(ex.recv_space(), wait) {
                        Ok(n) => ex.on_recv(n),
                        Err(super::ReadError::Timeout) => ex.on_timeout(),
                        Err(super::ReadError::Closed) => ex.on_recv(0),
                        Err(super::ReadError::Io(e)) => ex.on_io_error(e),
                    }
                }
                Action::ReadClient { .. } => {
                    let r = loop {
                        match server.read_body(ex.client_space()) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            r => break r,
                        }
                    };
                    match r {
                        Ok(n) => ex.on_client_body(n),
                        Err(e) => ex.on_client_error(e),
                    }
                }
                Action::WriteHead(h) => {
                    let r = if server.client_gone() {
                        Err(())
                    } else {
                        server.write_head(&h).map_err(drop)
                    };
                    answer_client(&mut ex, r);
                }
                Action::WriteBody(data) => {
                    let r = if server.client_gone() {
                        Err(())
                    } else {
                        server.write_body(data).map_err(drop)
                    };
                    answer_client(&mut ex, r);
                }
                Action::Flush => {
                    let r = server.flush().map_err(drop);
                    answer_client(&mut ex, r);
                }
                Action::KeepForErrorPage(h) => {
                    for (n, v) in exchange::kept_for_error_page(&h) {
                        server.keep_for_error_page(n, v);
                    }
                    fresh = true;
                }
                Action::Wait { until } => {
                    if server.client_gone() {
                        ex.on_client_gone();
                    } else {
                        let d = until.saturating_duration_since(Instant::now());
                        if !d.is_zero() {
                            // retry_interval: mod_jk's configured pause, on this request's
                            // own thread.
                            std::thread::sleep(d);
                        }
                    }
                }
                Action::Release { reuse } => {
                    if let Some(l) = lease.take() {
                        let addr = self.worker.members()[current_member(&ex)].spec().addr;
                        l.release(reuse, addr, now.at);
                    }
                    fresh = true;
                }
                Action::Done => break,
            }
        }
        drop(lease);
        let (done, bufs) = ex.finish();
        SPARE.with(|s| *s.borrow_mut() = Some(bufs));
        done
    }

    /// Pool maintenance for every member as of `now`: idle timeout and interval CPing. For a
    /// timer thread; blocks on the CPings.
    pub fn maintain(&self, now: Instant) -> Maintained {
        let mut total = Maintained::default();
        for (m, p) in self.worker.members().iter().zip(&self.pools) {
            total += p.maintain(m.spec(), now);
        }
        total
    }
}

fn answer_client(ex: &mut Exchange, r: Result<(), ()>) {
    match r {
        Ok(()) => ex.on_client_written(),
        Err(()) => ex.on_client_gone(),
    }
}

/// The member whose connection is being released (the address it must still have to be
/// pooled).
fn current_member(ex: &Exchange) -> usize {
    ex.member().unwrap_or(0)
}

fn not_connected() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the backend connection is closed",
    )
}
