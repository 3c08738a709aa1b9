//! The event-driven driver: lb-core's forwarding machine ([`Exchange`]) performed on nginx's
//! events and timers. Each action is tried at once; when it would block, the driver notes what
//! it waits for ([`Wait`]), arms the event or the timer, and returns to nginx; the event feeds
//! the answer back and the loop goes on. Nothing here decides anything about balancing,
//! retries, timeouts or reuse: that is all the machine's.

use std::ffi::c_void;
use std::io;
use std::time::Instant;

use lb_core::forward::{exchange, Acquired, Action, Exchange, Failure, Forwarded, Now};
use lb_core::pool::Take;

use crate::backend::{Conn, Connecting, Io};
use crate::client::{self, Output, Step};
use crate::clock;
use crate::ffi;
use crate::runtime::{PoolId, Runtime};

/// Finished requests' buffers and machine boxes kept for the next ones in this worker process
/// (the runtime's: nginx runs one thread per process): as many as were in use at once, up to
/// [`SPARES`], so concurrent requests allocate and zero nothing either once warm.
#[derive(Default)]
pub struct Spares {
    buffers: Vec<lb_core::forward::Buffers>,
    // The boxes' allocations are what is reused (a request's machine lives in one).
    #[allow(clippy::vec_box)]
    boxes: Vec<Box<std::mem::MaybeUninit<Exchange>>>,
}

/// Spares kept at most (each set of buffers is tens of KiB).
const SPARES: usize = 256;

impl Spares {
    /// A new machine, made straight into a spare box (not made and then moved: it is large).
    pub fn boxed(
        &mut self,
        make: impl FnOnce(lb_core::forward::Buffers) -> Exchange,
    ) -> Box<Exchange> {
        let b = self.boxes.pop().unwrap_or_else(Box::new_uninit);
        Box::write(b, make(self.buffers.pop().unwrap_or_default()))
    }

    /// A spent machine dropped where it is; its box and buffers are kept for the next request.
    fn recycle(&mut self, ex: Box<Exchange>, bufs: lb_core::forward::Buffers) {
        if self.buffers.len() < SPARES {
            self.buffers.push(bufs);
        }
        let raw = Box::into_raw(ex);
        // SAFETY: `raw` holds an initialised Exchange, dropped once; the allocation is then an
        // uninitialised box of the same layout.
        let spare = unsafe {
            std::ptr::drop_in_place(raw);
            Box::from_raw(raw as *mut std::mem::MaybeUninit<Exchange>)
        };
        if self.boxes.len() < SPARES {
            self.boxes.push(spare);
        }
    }
}

/// What the request waits for, between nginx events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Nothing,
    /// A connect in progress (its write event, or the connect timeout).
    Connect,
    /// The backend's socket to take more (the machine is polled again).
    Writable,
    /// Backend bytes (until the deadline's timer, if any).
    Recv,
    /// More request body from the client.
    ClientBody,
    /// The client's socket to take the response.
    ClientWrite,
    /// The client's socket to take the body gathered so far, before the backend is read again
    /// (the machine's `Recv`, held in [`Ctx::held`]).
    Drain,
    /// `retry_interval`: just the timer.
    Timer,
}

/// One forwarded request (the module's request context).
pub struct Ctx {
    r: *mut ffi::ngx_http_request_t,
    rt: *const Runtime,
    /// The worker's name as listed in the runtime (which outlives the request).
    worker: *const str,
    /// The worker's connection pools in this process.
    pool: PoolId,
    /// Boxed: taken out and put back on every step, so only a pointer moves.
    ex: Option<Box<Exchange>>,
    /// The slot the machine holds: its member and its connection, if it has one.
    slot: Option<(usize, Option<Conn>)>,
    wait: Wait,
    timer: ffi::ngx_event_t,
    out: Output,
    /// The `Recv` held while the client drains: its deadline, and when it was asked.
    held: (Option<Instant>, Instant),
    /// Backend headers for nginx's own error page (`use_server_errors`).
    kept: Vec<(Vec<u8>, Vec<u8>)>,
    pub started: Instant,
    pub result: Option<Forwarded>,
    /// How long the forwarding took (`$rjk_duration`).
    pub took: Option<std::time::Duration>,
    /// The worker, for the notes after the machine is gone.
    pub worker_ref: std::sync::Arc<lb_core::forward::Worker>,
    /// Inside `drive` (an answer from within must not start a second loop).
    driving: bool,
    /// The timer is only holding the worker process (no deadline of the machine's).
    holding: bool,
}

/// How often a wait without a deadline re-arms its timer. A shutting-down nginx worker exits
/// once no timer is left, so every wait keeps one (nginx's own upstreams always have one).
const HOLD_MS: ffi::ngx_msec_t = 60_000;

impl Ctx {
    /// Place the forwarding of `r` in `slot` (the request's state, which does not move until
    /// the request ends: nginx's timer and connections point at it).
    pub fn start(
        slot: &mut Option<Ctx>,
        r: *mut ffi::ngx_http_request_t,
        rt: &Runtime,
        worker: &str,
        pool: PoolId,
        ex: Box<Exchange>,
    ) {
        let worker_ref = std::sync::Arc::clone(ex.worker());
        let ctx = slot.insert(Ctx {
            r,
            rt,
            worker,
            pool,
            ex: Some(ex),
            slot: None,
            wait: Wait::Nothing,
            // SAFETY: a zeroed event is nginx's initial state.
            timer: unsafe { std::mem::zeroed() },
            out: Output::default(),
            held: (None, clock::instant()),
            kept: Vec::new(),
            started: Instant::now(),
            result: None,
            took: None,
            worker_ref,
            driving: false,
            holding: false,
        });
        let me = ctx.me();
        ctx.timer.handler = Some(timer_event);
        ctx.timer.data = me;
        // SAFETY: the request's connection log lives as long as the request.
        ctx.timer.log = unsafe { (*(*r).connection).log };
    }

    pub fn worker_name(&self) -> &str {
        // SAFETY: the runtime's worker list outlives its requests.
        unsafe { &*self.worker }
    }

    fn rt(&self) -> &Runtime {
        // SAFETY: the runtime belongs to the cycle, which outlives its requests.
        unsafe { &*self.rt }
    }

    fn me(&mut self) -> *mut c_void {
        self as *mut Ctx as *mut c_void
    }

    fn conn(&self) -> Option<&Conn> {
        self.slot.as_ref().and_then(|(_, c)| c.as_ref())
    }

    fn arm(&mut self, until: Option<Instant>) {
        self.disarm();
        if let Some(t) = until {
            let ms = t
                .saturating_duration_since(clock::instant())
                .as_millis()
                .max(1);
            // SAFETY: the timer lives in this context, which deletes it before it goes.
            unsafe { ffi::ngx_add_timer(&mut self.timer, ms as ffi::ngx_msec_t) };
        }
    }

    /// Waiting without a deadline: keep a timer anyway (see [`HOLD_MS`]).
    fn hold(&mut self) {
        if self.timer.timer_set() == 0 {
            self.holding = true;
            // SAFETY: as in arm.
            unsafe { ffi::ngx_add_timer(&mut self.timer, HOLD_MS) };
        }
    }

    fn disarm(&mut self) {
        self.holding = false;
        if self.timer.timer_set() != 0 {
            // SAFETY: as in arm.
            unsafe { ffi::ngx_del_timer(&mut self.timer) };
        }
    }

    /// Run the machine until it waits for an event or is done.
    pub fn drive(&mut self) {
        if self.driving {
            return;
        }
        self.driving = true;
        // nginx's reading of the clocks for this event-loop turn, as its own timers use.
        let now = clock::now();
        while self.wait == Wait::Nothing && self.ex.is_some() {
            self.step(now);
        }
        self.driving = false;
        if self.wait != Wait::Nothing {
            self.hold();
            if self.waits_on_backend() {
                self.watch_client();
            }
        }
        if self.ex.is_none() {
            self.done();
        }
    }

    /// Waiting for the backend (or a retry pause), not for the client.
    fn waits_on_backend(&self) -> bool {
        matches!(
            self.wait,
            Wait::Connect | Wait::Recv | Wait::Writable | Wait::Timer
        )
    }

    /// While the backend thinks, a client that closes its connection is noticed at once (its
    /// read event), as nginx's proxy does; not while the body is still being read (its events
    /// are the body's then).
    fn watch_client(&mut self) {
        // SAFETY: the request is live while its context is.
        unsafe {
            if (*self.r).reading_body() == 0 {
                (*self.r).read_event_handler = Some(client_check);
            }
        }
    }

    /// The client closed its connection: end the attempt (the machine closes the backend
    /// connection and blames nobody) and answer 499.
    fn client_left(&mut self) {
        if !self.waits_on_backend() {
            return;
        }
        let Some(mut ex) = self.ex.take() else { return };
        self.disarm();
        ex.on_client_gone();
        self.ex = Some(ex);
        self.wait = Wait::Nothing;
        self.drive();
    }

    /// Perform one action.
    fn step(&mut self, now: Now) {
        let Some(mut ex) = self.ex.take() else { return };
        let action = ex.poll(now);
        let mut keep = true;
        // The body packets of one backend read go to nginx together, before whatever the
        // machine does next (the end of the response takes them along).
        let gathered = match action {
            Action::WriteBody(_) | Action::Flush | Action::Release { .. } | Action::Done => {
                Step::Done(0)
            }
            // SAFETY: the request is live while its context is.
            _ => unsafe { self.out.send(self.r) },
        };
        match action {
            Action::Acquire { member } => {
                let got = self.acquire(&ex, member);
                ex.on_acquired(got);
            }
            Action::Replace => {
                let got = self.replace();
                ex.on_acquired(got);
            }
            Action::Connect {
                member, timeout, ..
            } => {
                if let Some(old) = self.slot.as_mut().and_then(|(_, c)| c.take()) {
                    old.close();
                }
                match Conn::connect(ex.worker(), member, self.me()) {
                    Ok(Connecting::Connected(c)) => {
                        self.put(c);
                        ex.on_connected();
                    }
                    Ok(Connecting::InProgress(c)) => {
                        self.put(c);
                        self.wait = Wait::Connect;
                        self.arm(timeout.map(|t| now.at + t));
                    }
                    Err(e) => ex.on_io_error(e),
                }
            }
            Action::Send(_) if gathered == Step::Failed => ex.on_client_gone(),
            Action::Send(data) => match self.conn().map(|c| c.send(data)) {
                Some(Io::Done(n)) => ex.on_sent(n),
                Some(Io::Again) => {
                    if self.conn().is_some_and(|c| c.want(true)) {
                        // Answer "nothing yet" and poll again once the socket takes more.
                        ex.on_sent(0);
                        self.wait = Wait::Writable;
                    } else {
                        ex.on_io_error(io::Error::other("cannot wait for the backend"));
                    }
                }
                Some(Io::Failed(e)) => ex.on_io_error(e),
                None => ex.on_io_error(not_connected()),
            },
            Action::Recv { deadline } => match gathered {
                Step::Done(_) => self.recv(&mut ex, deadline, true),
                Step::Failed => ex.on_client_gone(),
                // A slow client holds back the backend.
                Step::Again => {
                    self.held = (deadline, now.at);
                    self.wait = Wait::Drain;
                    // SAFETY: the request is live while its context is.
                    unsafe { (*self.r).write_event_handler = Some(client_write) };
                }
            },
            Action::ReadClient { .. } => {
                // SAFETY: the request is live while its context is.
                match unsafe { client::read_body(self.r, ex.client_space()) } {
                    Step::Done(n) => ex.on_client_body(n),
                    Step::Again => {
                        self.wait = Wait::ClientBody;
                        // SAFETY: as above.
                        unsafe { (*self.r).read_event_handler = Some(client_read) };
                    }
                    Step::Failed => ex.on_client_error(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the client's request body could not be read",
                    )),
                }
            }
            Action::WriteHead(h) => {
                // SAFETY: as above.
                let s = unsafe { client::write_head(self.r, &h) };
                self.client_answer(&mut ex, s);
            }
            Action::WriteBody(data) => {
                // SAFETY: as above.
                let s = unsafe { self.out.write(self.r, data) };
                self.client_answer(&mut ex, s);
            }
            Action::Flush => {
                // SAFETY: as above.
                let s = unsafe { self.out.flush(self.r) };
                self.client_answer(&mut ex, s);
            }
            Action::KeepForErrorPage(h) => {
                self.kept = exchange::kept_for_error_page(&h)
                    .map(|(n, v)| (n.to_vec(), v.to_vec()))
                    .collect();
            }
            Action::Wait { until } => {
                // SAFETY: the request is live while its context is.
                if unsafe { client::gone(self.r) } {
                    // No pause (and no further attempt) for a client that left.
                    ex.on_client_gone();
                } else {
                    self.wait = Wait::Timer;
                    self.arm(Some(until));
                }
            }
            Action::Release { reuse } => self.release(reuse, now.at),
            Action::Done => keep = false,
        }
        if keep {
            self.ex = Some(ex);
        } else {
            let (done, bufs) = ex.finish_in_place();
            self.rt().spares.borrow_mut().recycle(ex, bufs);
            self.result = Some(done);
        }
    }

    fn put(&mut self, c: Conn) {
        match self.slot.as_mut() {
            Some((_, slot)) => *slot = Some(c),
            None => c.close(),
        }
    }

    fn acquire(&mut self, ex: &Exchange, member: usize) -> Acquired {
        let spec = ex.worker().members()[member].spec();
        // A connection to a member's old address (changed through the status worker) is the
        // machine's to replace; maintenance drops the rest within a second.
        let taken = self.rt().with_pool(self.pool, member, |s| {
            s.resize(spec.connection_pool_size);
            s.take()
        });
        match taken {
            Some(Take::Idle { conn, peer, .. }) => {
                let alive = conn.is_alive();
                if !conn.is_closed() {
                    conn.attach(self.me());
                }
                self.slot = Some((member, Some(conn)));
                Acquired::Idle { peer, alive }
            }
            Some(Take::Empty) => {
                self.slot = Some((member, None));
                Acquired::Empty
            }
            // An event loop never waits for a slot: busy at once.
            Some(Take::Full) | None => Acquired::Exhausted,
        }
    }

    fn replace(&mut self) -> Acquired {
        let Some((member, conn)) = self.slot.as_mut() else {
            return Acquired::Empty;
        };
        if let Some(c) = conn.take() {
            c.close();
        }
        let member = *member;
        let next = self
            .rt()
            .with_pool(self.pool, member, |s| s.replace())
            .flatten();
        match next {
            Some((c, peer)) => {
                let alive = c.is_alive();
                if !c.is_closed() {
                    c.attach(self.me());
                }
                self.put(c);
                Acquired::Idle { peer, alive }
            }
            None => Acquired::Empty,
        }
    }

    fn release(&mut self, reuse: bool, now: Instant) {
        let Some((member, conn)) = self.slot.take() else {
            return;
        };
        let back = match conn {
            Some(c) if reuse && !c.is_closed() => {
                c.park();
                let peer = c.peer();
                Some((c, peer))
            }
            Some(c) => {
                c.close();
                None
            }
            None => None,
        };
        self.rt().give_back(self.pool, member, back, now);
    }

    /// Read from the backend into the machine; wait (with the deadline's timer) on EAGAIN.
    fn recv(&mut self, ex: &mut Exchange, deadline: Option<Instant>, first: bool) {
        let Some(c) = self.slot.as_ref().and_then(|(_, c)| c.as_ref()) else {
            ex.on_io_error(not_connected());
            return;
        };
        match c.recv(ex.recv_space()) {
            Io::Done(n) => {
                self.disarm();
                ex.on_recv(n);
            }
            Io::Again => {
                if !c.want(false) {
                    ex.on_io_error(io::Error::other("cannot wait for the backend"));
                    return;
                }
                self.wait = Wait::Recv;
                if first {
                    self.arm(deadline);
                }
            }
            Io::Failed(e) => {
                self.disarm();
                ex.on_io_error(e);
            }
        }
    }

    fn client_answer(&mut self, ex: &mut Exchange, s: Step) {
        match s {
            Step::Done(_) => ex.on_client_written(),
            Step::Again => {
                self.wait = Wait::ClientWrite;
                // SAFETY: the request is live while its context is.
                unsafe { (*self.r).write_event_handler = Some(client_write) };
            }
            Step::Failed => ex.on_client_gone(),
        }
    }

    /// The machine is done: answer the client (or let nginx's error page do it) and log.
    fn done(&mut self) {
        self.disarm();
        self.took = Some(self.started.elapsed());
        if let Some((_, Some(c))) = self.slot.take() {
            c.close();
        }
        let r = self.r;
        let Some(result) = self.result.as_ref() else {
            return;
        };
        // SAFETY: the request is live until finalized below.
        unsafe { crate::handler::log_result(self, r) };
        // SAFETY: the request is live; this ends our hold on it.
        unsafe {
            (*r).read_event_handler = Some(ffi::ngx_http_block_reading);
            let rc = if matches!(result.failure, Some(Failure::ClientGone)) {
                // nginx's own status for it (its proxy's too); nothing more is sent.
                ffi::NGX_HTTP_CLIENT_CLOSED_REQUEST as ffi::ngx_int_t
            } else if result.response_started {
                if result.failure.is_some() {
                    // Cut short after the head: the client must see the response break.
                    self.out.drop_pending();
                    ffi::ERROR
                } else {
                    self.out.finish(r)
                }
            } else {
                for (n, v) in &self.kept {
                    client::add_header(r, n, v);
                }
                result.status as ffi::ngx_int_t
            };
            ffi::ngx_http_finalize_request(r, rc);
        }
    }

    /// The request is going away under us (nginx freed its pool): stop everything.
    pub fn abandon(&mut self) {
        self.disarm();
        if let Some((_, Some(c))) = self.slot.take() {
            c.close();
        }
        // Dropping the machine counts the member's part out.
        self.ex = None;
    }

    /// An event for what we wait on: feed the answer, then go on.
    fn wake(&mut self, from: Wait, timed_out: bool) {
        if self.wait != from || self.ex.is_none() {
            return;
        }
        self.wait = Wait::Nothing;
        let mut ex = self.ex.take().expect("checked above");
        match from {
            Wait::Connect => {
                self.disarm();
                if timed_out {
                    ex.on_io_error(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
                } else {
                    match self.conn().map(Conn::connect_result) {
                        Some(Ok(())) => ex.on_connected(),
                        Some(Err(e)) => ex.on_io_error(e),
                        None => ex.on_io_error(not_connected()),
                    }
                }
            }
            Wait::Recv => {
                if timed_out {
                    ex.on_timeout();
                } else {
                    self.recv(&mut ex, None, false);
                }
            }
            Wait::ClientBody => {
                // SAFETY: the request is live while its context is.
                match unsafe { client::read_body(self.r, ex.client_space()) } {
                    Step::Done(n) => ex.on_client_body(n),
                    Step::Again => self.wait = Wait::ClientBody,
                    Step::Failed => ex.on_client_error(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the client's request body could not be read",
                    )),
                }
            }
            Wait::ClientWrite => {
                // SAFETY: as above.
                let s = unsafe { self.out.resume(self.r) };
                self.client_answer(&mut ex, s);
            }
            Wait::Drain => {
                // SAFETY: as above.
                match unsafe { self.out.resume(self.r) } {
                    Step::Done(_) => {
                        // The time the client took does not count against the backend.
                        let (deadline, asked) = self.held;
                        let waited = clock::instant().saturating_duration_since(asked);
                        self.recv(&mut ex, deadline.map(|d| d + waited), true);
                    }
                    Step::Again => self.wait = Wait::Drain,
                    Step::Failed => ex.on_client_gone(),
                }
            }
            Wait::Writable | Wait::Timer | Wait::Nothing => {}
        }
        self.ex = Some(ex);
        self.drive();
    }
}

fn not_connected() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the backend connection is closed",
    )
}

/// Run `f` on the context of a backend or timer event, then nginx's posted requests of the
/// client connection: a request finalized from here (not from a client event) is only closed
/// when they run, as nginx's upstream module does it.
///
/// # Safety
/// `ctx` must be null or a live context.
unsafe fn on_event(ctx: *mut Ctx, f: impl FnOnce(&mut Ctx)) {
    unsafe {
        let Some(ctx) = ctx.as_mut() else { return };
        let c = (*ctx.r).connection;
        f(ctx);
        // `ctx` may be gone now; the connection's memory is nginx's and stays valid.
        ffi::ngx_http_run_posted_requests(c);
    }
}

/// The context of a backend connection's event.
///
/// # Safety
/// `ev` must be an event of a connection attached to a live context.
unsafe fn ctx_of_conn(ev: *mut ffi::ngx_event_t) -> *mut Ctx {
    unsafe {
        let c = (*ev).data as *mut ffi::ngx_connection_t;
        (*c).data as *mut Ctx
    }
}

pub unsafe extern "C" fn backend_read(ev: *mut ffi::ngx_event_t) {
    crate::log::guard((), || unsafe {
        on_event(ctx_of_conn(ev), |ctx| ctx.wake(Wait::Recv, false));
    })
}

pub unsafe extern "C" fn backend_write(ev: *mut ffi::ngx_event_t) {
    crate::log::guard((), || unsafe {
        on_event(ctx_of_conn(ev), |ctx| match ctx.wait {
            Wait::Connect => ctx.wake(Wait::Connect, false),
            Wait::Writable => {
                ctx.wait = Wait::Nothing;
                ctx.drive();
            }
            _ => {}
        });
    })
}

unsafe extern "C" fn timer_event(ev: *mut ffi::ngx_event_t) {
    crate::log::guard((), || unsafe {
        on_event((*ev).data as *mut Ctx, |ctx| {
            if ctx.holding {
                ctx.holding = false;
                ctx.hold();
                return;
            }
            match ctx.wait {
                Wait::Timer => {
                    ctx.wait = Wait::Nothing;
                    ctx.drive();
                }
                w @ (Wait::Connect | Wait::Recv) => ctx.wake(w, true),
                _ => {}
            }
        });
    })
}

/// The client's read event while the backend thinks: has it closed its connection?
unsafe extern "C" fn client_check(r: *mut ffi::ngx_http_request_t) {
    crate::log::guard((), || unsafe {
        if client::gone(r) {
            (*(*r).connection).set_error(1);
            if let Some(ctx) = crate::request::forwarding(r) {
                ctx.client_left();
            }
        }
    })
}

/// The client sent more body.
unsafe extern "C" fn client_read(r: *mut ffi::ngx_http_request_t) {
    crate::log::guard((), || unsafe {
        if let Some(ctx) = crate::request::forwarding(r) {
            ctx.wake(Wait::ClientBody, false);
        }
    })
}

/// The client can take more response.
unsafe extern "C" fn client_write(r: *mut ffi::ngx_http_request_t) {
    crate::log::guard((), || unsafe {
        if let Some(ctx) = crate::request::forwarding(r) {
            let w = ctx.wait;
            if matches!(w, Wait::ClientWrite | Wait::Drain) {
                ctx.wake(w, false);
            }
        }
    })
}
