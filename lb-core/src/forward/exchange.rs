//! The forwarding machine: one request's whole trip — the balancer's rounds, a pooled
//! connection made ready, the `ajp` exchange, the response streamed to the client, retries
//! where they are safe — as an owned state machine that never touches a socket, a clock or a
//! name server (shaped like quinn-proto's `Connection`).
//!
//! A driver loops: `let action = exchange.poll(now)`, performs the [`Action`], and feeds the
//! result back through the matching `on_*` method, until [`Action::Done`]; then
//! [`Exchange::finish`] gives the [`Forwarded`] result. One connection at a time belongs to the
//! request: the driver holds it between [`Action::Acquire`] and [`Action::Release`].
//!
//! Driver rules (translation only): read the backend into [`Exchange::recv_space`] and the
//! client into [`Exchange::client_space`]; before a client-facing action (write, flush) or a
//! wait, a driver that knows the client is gone reports [`Exchange::on_client_gone`] instead
//! of performing it; a connection not released with `reuse: true` is closed.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ajp::{ProxyEvent, ProxyExchange, SendHeaders};

use crate::mount::Extensions;
use crate::pool::ready::{self, Check};

use super::body::Body;
use super::failure::{Failure, ReadError};
use super::notes::{self, Attempted};
use super::plan::{self, Pick, Plan, Step as PlanStep};
use super::prepare::SessionId;
use super::request::{self, MemberFields};
use super::safety;
use super::server::{ForwardOptions, RequestBody, RequestHead};
use super::spec::{check_status, AjpWorkerSpec, StatusMatch};
use super::timeouts::ReplyWait;
use super::{Activation, Outcome, Traffic, Worker};

/// The least receive buffer: reads take several packets at once.
const RECV_SIZE: usize = 64 * 1024;

/// The time, as the driver read it: a monotonic instant for deadlines, and Unix seconds for
/// the balancer's shared error times (every process must agree on those).
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub at: Instant,
    pub unix: i64,
}

impl Now {
    /// The system clocks (for drivers; the machine never calls this).
    pub fn system() -> Now {
        Now {
            at: Instant::now(),
            unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        }
    }
}

/// The buffers one request uses, handed in by the driver so they can be reused from request
/// to request (no allocation per request once warm).
#[derive(Debug, Default)]
pub struct Buffers {
    recv: Vec<u8>,
    send: Vec<u8>,
    body: Vec<u8>,
    template: Vec<u8>,
}

/// What [`Action::Acquire`] or [`Action::Replace`] got from the member's pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// A pooled connection to `peer`; `alive` is the driver's non-blocking peek (not closed by
    /// the backend, nothing unasked to read).
    Idle { peer: SocketAddr, alive: bool },
    /// A slot without a connection.
    Empty,
    /// No slot (within `connection_acquire_timeout` for a driver that may wait).
    Exhausted,
}

/// What the driver does next.
#[derive(Debug)]
pub enum Action<'a> {
    /// Take a slot of `member`'s pool in this process. Answer: [`Exchange::on_acquired`].
    Acquire { member: usize },
    /// The slot's connection is dead: close it; if the pool has another idle connection, move
    /// it into the slot. Answer: [`Exchange::on_acquired`] (`Idle` or `Empty`).
    Replace,
    /// Open a new connection in the slot (closing any it holds), with the member's socket
    /// options, giving up after `timeout`. Answer: [`Exchange::on_connected`] or
    /// [`Exchange::on_io_error`].
    Connect {
        member: usize,
        addr: SocketAddr,
        /// Bind the socket to this local address (any port) before connecting (`source`).
        source: Option<std::net::IpAddr>,
        timeout: Option<Duration>,
    },
    /// Write these bytes to the connection. Answer: [`Exchange::on_sent`] (any count) or
    /// [`Exchange::on_io_error`].
    Send(&'a [u8]),
    /// Read from the connection into [`Exchange::recv_space`], waiting until `deadline` (None:
    /// forever). Answer: [`Exchange::on_recv`] (0 = closed), [`Exchange::on_timeout`] or
    /// [`Exchange::on_io_error`] (or, as to every backend wait, [`Exchange::on_client_gone`]).
    Recv { deadline: Option<Instant> },
    /// Read up to `max` bytes of request body into [`Exchange::client_space`]. Answer:
    /// [`Exchange::on_client_body`] (0 = end of body) or [`Exchange::on_client_error`].
    ReadClient { max: usize },
    /// Send the response head as the backend sent it. Answer: [`Exchange::on_client_written`]
    /// or [`Exchange::on_client_gone`].
    WriteHead(SendHeaders<'a>),
    /// Response body bytes. Answer as for `WriteHead`. The bytes stay in place until the
    /// driver next calls [`Exchange::recv_space`] or [`Exchange::finish`].
    WriteBody(&'a [u8]),
    /// Flush what was written to the client. Answer as for `WriteHead`.
    Flush,
    /// Nothing reaches the client; the web server answers with its own error page, keeping
    /// these backend headers on it ([`kept_for_error_page`]). No answer.
    KeepForErrorPage(SendHeaders<'a>),
    /// Poll again at `until` (`retry_interval`); a driver that learns the client is gone
    /// meanwhile reports [`Exchange::on_client_gone`]. No other answer.
    Wait { until: Instant },
    /// Give the slot back: with its connection when `reuse`, else close it first. No answer.
    Release { reuse: bool },
    /// The request is over: see [`Exchange::finish`].
    Done,
}

/// The backend headers the web server keeps on its error page when `use_server_errors`
/// withholds the backend's answer: the `WWW-Authenticate` of a 401.
pub fn kept_for_error_page<'h>(h: &SendHeaders<'h>) -> impl Iterator<Item = (&'h [u8], &'h [u8])> {
    // Only a 401's headers are read at all.
    (h.status() == 401)
        .then(|| h.headers())
        .into_iter()
        .flatten()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"www-authenticate"))
}

/// One member's part in the request, for notes and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tried {
    pub member: usize,
    pub activation: Option<Activation>,
    pub outcome: Outcome,
    /// Chosen through the session route's domain: the domain was the route forwarded.
    pub via_domain: bool,
}

/// How a forwarded request ended.
#[derive(Debug)]
pub struct Forwarded {
    /// The status the client got (`response_started`) or should get as an error page.
    pub status: u16,
    /// The response head went to the client: the adapter must not write an error page.
    pub response_started: bool,
    /// The last failure, if the request did not succeed.
    pub failure: Option<Failure>,
    /// Members attempted, in order (one entry per member, not per connection attempt).
    pub members_tried: u32,
    pub first: Option<Tried>,
    pub last: Option<Tried>,
}

impl Forwarded {
    fn new() -> Self {
        Forwarded {
            status: 503,
            response_started: false,
            failure: None,
            members_tried: 0,
            first: None,
            last: None,
        }
    }

    /// The response broke after it started: the client must see it incomplete (the adapter
    /// aborts the client connection: no final chunk, no keep-alive), never as a complete
    /// shorter response.
    pub fn broke_mid_response(&self) -> bool {
        self.response_started
            && self
                .failure
                .as_ref()
                .is_some_and(|f| !matches!(f, Failure::ClientGone))
    }

    /// The member that served the request, if one did.
    pub fn served_by(&self) -> Option<usize> {
        self.last
            .filter(|a| a.outcome == Outcome::Success)
            .map(|a| a.member)
    }

    /// The name of the last member tried (for logs).
    pub fn last_member_name<'w>(&self, worker: &'w Worker) -> Option<&'w str> {
        let m = worker.member(self.last?.member)?;
        Some(m.spec().name.as_str())
    }

    /// The connector log's line for this request (JkLogFile): a failure at error level, with
    /// its reason and how many members were tried; a success at debug level, with the time
    /// it took. Nothing is formatted when the level is off.
    pub fn log(
        &self,
        log: &crate::log::Logger,
        request_id: Option<&str>,
        (method, uri): (&[u8], &[u8]),
        worker: &Worker,
        took: Duration,
    ) {
        use crate::log::Level;
        let level = match self.failure {
            Some(_) => Level::Error,
            None => Level::Debug,
        };
        if !log.enabled(level) {
            return;
        }
        let member = self.last_member_name(worker).unwrap_or("-");
        let (method, uri) = (
            String::from_utf8_lossy(method),
            String::from_utf8_lossy(uri),
        );
        let name = worker.name();
        match &self.failure {
            Some(f) => log.log(
                level,
                request_id,
                format_args!(
                    "{method} {uri} → worker {name} member {member}: {f} (status {}, {} \
                     member(s) tried)",
                    self.status, self.members_tried
                ),
            ),
            None => log.log(
                level,
                request_id,
                format_args!(
                    "{method} {uri} → worker {name} member {member}: {} in {} µs",
                    self.status,
                    took.as_micros()
                ),
            ),
        }
    }

    /// `JK_WORKER_NAME`, `JK_WORKER_ROUTE`, `JK_LB_FIRST_*`, `JK_LB_LAST_*` (with the shared
    /// counters when a balancer chose), handed to `note` one by one without allocating.
    /// Generic, so a caller's closure is inlined: it runs for each of up to 21 notes.
    pub fn each_note<F: FnMut(&'static std::ffi::CStr, &[u8]) + ?Sized>(
        &self,
        worker: &Worker,
        note: &mut F,
    ) {
        let named = |t: Option<Tried>| {
            let t = t?;
            let spec = worker.member(t.member)?.spec();
            // The route noted is the route forwarded: the domain when the session went by it.
            let route = match (t.via_domain, worker.balancer()) {
                (true, Some(lb)) => lb.route_for(&crate::balancer::Choice {
                    member: t.member,
                    sticky: false,
                    via_domain: true,
                }),
                _ => &spec.route,
            };
            Some(Attempted {
                member: t.member,
                name: &spec.name,
                route,
                activation: t.activation,
                outcome: t.outcome,
            })
        };
        let values = |member: usize| {
            use std::sync::atomic::Ordering::Relaxed;
            let slot = worker.balancer()?.member_slot(member)?;
            Some(notes::MemberValues {
                value: slot.lb_value.load(Relaxed),
                accessed: slot.elected.load(Relaxed),
                read: slot.bytes_read.load(Relaxed),
                transferred: slot.bytes_written.load(Relaxed),
                errors: slot.errors.load(Relaxed),
                busy: slot.busy.load(Relaxed),
                state: crate::balancer::state_from_code(slot.state.load(Relaxed)).text(),
            })
        };
        notes::each(
            worker.name(),
            worker.is_lb(),
            named(self.first).as_ref(),
            named(self.last).as_ref(),
            &values,
            note,
        )
    }

    /// The notes of [`each_note`](Self::each_note), collected.
    pub fn notes(&self, worker: &Worker) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        self.each_note(worker, &mut |n, v| {
            out.push((
                n.to_str().unwrap_or_default(),
                String::from_utf8_lossy(v).into_owned(),
            ))
        });
        out
    }
}

/// What the attempt did that outlives it (within one member's part).
#[derive(Debug, Default)]
struct Progress {
    /// Some response byte (the head at least) went to the client: no retry from here on.
    response_started: bool,
    /// The status the backend answered (once its head arrived).
    status: Option<u16>,
    traffic: Traffic,
    /// `use_server_errors` matched: the backend's head and body are withheld.
    blocked: bool,
}

/// Why the machine waits for a CPong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// A pooled connection before the request (prepost).
    Pooled,
    /// A new connection (connect CPing).
    Fresh,
}

/// A span of the receive buffer.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn of(r: Range<usize>) -> Span {
        Span {
            start: r.start,
            end: r.end,
        }
    }

    fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

/// What is pending on the client side.
#[derive(Clone, Copy, Debug)]
enum Client {
    /// The response head in the receive buffer (a Send Headers payload).
    Head(Span),
    /// Body bytes in the receive buffer.
    Body(Span),
    Flush,
    /// The response head, withheld for the web server's error page.
    Keep(Span),
}

/// Where the machine is. Plain data (no drop glue): it is replaced on every step.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Ask the plan for a member.
    Plan,
    /// `retry_interval`: then the next round (`again: false`) or another attempt on the same
    /// member.
    Pause {
        until: Instant,
        again: bool,
    },
    /// Encode the request for the member, then take a slot.
    Start,
    Acquire,
    AwaitAcquire,
    Replace,
    Connect,
    AwaitConnect,
    /// Send CPing (`sent` bytes so far), then wait `wait` for the CPong.
    Ping {
        probe: Probe,
        wait: Duration,
        sent: usize,
    },
    AwaitPingSent {
        probe: Probe,
        wait: Duration,
        sent: usize,
    },
    /// The CPing went out: wait `wait` for the CPong from now.
    PongFrom {
        probe: Probe,
        wait: Duration,
    },
    /// Read the CPong.
    Pong {
        probe: Probe,
        deadline: Instant,
    },
    AwaitPong {
        probe: Probe,
        deadline: Instant,
    },
    /// The connection is ready: start the exchange.
    Begin,
    /// The first packet of the body comes from the client.
    ReadFirst,
    AwaitFirst,
    /// Write `send[sent..]`.
    Send,
    AwaitSent,
    Receive,
    AwaitRecv {
        reply: bool,
    },
    Deliver(Client),
    AwaitClient {
        flush_after: bool,
    },
    /// The container asked for body: read up to `max` from the client.
    ReadPart {
        max: usize,
    },
    AwaitPart {
        max: usize,
    },
    /// Give the slot back, then go on with the member's result (`Exchange::failure`).
    Release {
        reuse: bool,
    },
    /// The member's result is known (`Exchange::failure`; none: success) and the slot is
    /// back.
    Settle,
    Done,
}

/// The member whose part of the request is under way.
#[derive(Debug)]
struct Current {
    pick: Pick,
    /// Attempts made on this member (its `retries`).
    tries: u32,
    /// Pooled connections discarded in this attempt.
    replaced: usize,
    /// The driver holds a slot for this request.
    held: bool,
    /// The last failure on this member, for a retry the client's departure cut short.
    last: Option<Failure>,
}

/// One request through a worker. See the module documentation for the driver's loop.
pub struct Exchange {
    worker: Arc<Worker>,
    bufs: Buffers,
    rstart: usize,
    rend: usize,
    sent: usize,
    /// The template's own error (too large even for the largest packet): every attempt fails
    /// with it, as mod_jk counts it against the member.
    template_error: Option<ajp::Error>,
    method: MethodCopy,
    options: ForwardOptions,
    /// A mount's `fail_on_status=` (replaces the worker's) and `use_server_errors=`.
    fail_on_status: Option<Vec<i64>>,
    use_server_errors: i64,
    /// Kept inline, as the prepared request keeps it: a sticky request allocates nothing.
    session: Option<SessionId>,
    plan: Plan,
    body: Body,
    step: Step,
    current: Option<Current>,
    wire: Option<ProxyExchange>,
    progress: Progress,
    /// When the packet being read must be complete (`reply_timeout` bounds a whole packet, so
    /// a backend dribbling bytes cannot hold the request without end).
    packet_deadline: Option<Instant>,
    /// Body bytes the response's Content-Length still allows.
    body_left: Option<u64>,
    /// The current attempt's failure, on its way to `settle`.
    failure: Option<Failure>,
    client_gone: bool,
    plan_steps: usize,
    done: Forwarded,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("worker", &self.worker.name())
            .field("step", &self.step)
            .field("current", &self.current)
            .finish()
    }
}

/// The request method, kept for `recovery_options` (no allocation for the usual ones).
#[derive(Debug)]
enum MethodCopy {
    Known(&'static [u8]),
    Other(Box<[u8]>),
}

impl MethodCopy {
    fn new(m: &[u8]) -> Self {
        const KNOWN: [&[u8]; 7] = [
            b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH",
        ];
        match KNOWN.iter().find(|k| **k == m) {
            Some(k) => MethodCopy::Known(k),
            None => MethodCopy::Other(m.into()),
        }
    }

    fn get(&self) -> &[u8] {
        match self {
            MethodCopy::Known(m) => m,
            MethodCopy::Other(m) => m,
        }
    }
}

impl Exchange {
    /// A request for `worker`: what it needs of `head` is copied or encoded here (the Forward
    /// Request without the member's attributes), so the exchange borrows nothing. `bufs`:
    /// buffers to reuse (see [`Exchange::finish`]).
    pub fn new(worker: Arc<Worker>, head: &RequestHead<'_>, mut bufs: Buffers) -> Self {
        bufs.template.clear();
        let template_error = request::template(head, &mut bufs.template).err();
        let first_max = match head.body {
            RequestBody::None => 0,
            _ => worker.first_body_max(),
        };
        let body = Body::new(head.body, first_max);
        let need = body.buffer_len(first_max);
        if bufs.body.len() < need {
            bufs.body.resize(need, 0);
        }
        let activations = head
            .rule
            .filter(|r| r.has_activation())
            .map(|r| r.activations(worker.members().iter().map(|m| m.spec().name.as_str())));
        let plan = Plan::new(&worker, plan::flags(&head.options), activations);
        let (fail_on_status, use_server_errors) = rule_effects(head.rule);
        Exchange {
            plan,
            bufs,
            rstart: 0,
            rend: 0,
            sent: 0,
            template_error,
            method: MethodCopy::new(head.method),
            options: head.options,
            fail_on_status,
            use_server_errors,
            session: head.session_id.map(SessionId::new),
            body,
            step: Step::Plan,
            current: None,
            wire: None,
            progress: Progress::default(),
            packet_deadline: None,
            body_left: None,
            failure: None,
            client_gone: false,
            plan_steps: 0,
            done: Forwarded::new(),
            worker,
        }
    }

    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// The member whose part of the request is under way.
    pub fn member(&self) -> Option<usize> {
        self.current.as_ref().map(|c| c.pick.member)
    }

    /// The result, and the buffers for the next request.
    pub fn finish(mut self) -> (Forwarded, Buffers) {
        self.finish_in_place()
    }

    /// As [`finish`](Self::finish) for a machine the driver keeps where it is (a large value,
    /// not moved out to be consumed); it is spent afterwards, only to be dropped.
    pub fn finish_in_place(&mut self) -> (Forwarded, Buffers) {
        self.abandon();
        let done = std::mem::replace(&mut self.done, Forwarded::new());
        (done, std::mem::take(&mut self.bufs))
    }

    /// The next thing to do, as of `now`.
    pub fn poll(&mut self, now: Now) -> Action<'_> {
        // Bounded: every step either emits an action or moves on; a plan gives up after its
        // rounds, and the guard stops a faulty one.
        loop {
            if let Some(kind) = self.advance(now) {
                return self.action(kind);
            }
        }
    }

    #[inline]
    fn spec(&self) -> &AjpWorkerSpec {
        let m = self.current.as_ref().map_or(0, |c| c.pick.member);
        self.worker.members()[m].spec()
    }

    /// Move on until an action is due; returns which.
    fn advance(&mut self, now: Now) -> Option<Emit> {
        // Matched in place (only the fields an arm uses are read); every arm sets the next
        // step.
        match self.step {
            Step::Plan => {
                self.plan_next(now);
                None
            }
            Step::Pause { until, again } => {
                if self.client_gone {
                    // No pause, and no further attempt, for a client that is gone.
                    if again {
                        let f = self.current_mut().last.take();
                        self.settle_with(f.unwrap_or(Failure::ClientGone));
                    } else {
                        self.step = Step::Done;
                    }
                    return None;
                }
                if now.at < until {
                    self.step = Step::Pause { until, again };
                    return Some(Emit::Wait(until));
                }
                self.step = if again { Step::Start } else { Step::Plan };
                None
            }
            Step::Start => {
                self.start_attempt();
                None
            }
            Step::Acquire => {
                self.step = Step::AwaitAcquire;
                Some(Emit::Acquire)
            }
            Step::Replace => {
                self.step = Step::AwaitAcquire;
                Some(Emit::Replace)
            }
            Step::Connect => {
                self.step = Step::AwaitConnect;
                Some(Emit::Connect)
            }
            Step::Ping { probe, wait, sent } => {
                self.step = Step::AwaitPingSent { probe, wait, sent };
                Some(Emit::SendPing(sent))
            }
            Step::Pong { probe, deadline } => {
                self.step = Step::AwaitPong { probe, deadline };
                Some(Emit::Recv(Some(deadline)))
            }
            Step::PongFrom { probe, wait } => {
                self.step = Step::Pong {
                    probe,
                    deadline: now.at + wait,
                };
                None
            }
            Step::Begin => {
                self.begin();
                None
            }
            Step::ReadFirst => match self.body.first_missing() {
                Some(r) => {
                    self.step = Step::AwaitFirst;
                    Some(Emit::ReadClient(r.len()))
                }
                None => {
                    self.step = Step::Begin;
                    None
                }
            },
            Step::Send => {
                self.step = Step::AwaitSent;
                Some(Emit::Send)
            }
            Step::Receive => self.receive(now),
            Step::Deliver(c) => self.deliver(c),
            Step::ReadPart { max } => {
                self.step = Step::AwaitPart { max };
                Some(Emit::ReadClient(max))
            }
            Step::Release { reuse } => {
                if let Some(c) = self.current.as_mut() {
                    c.held = false;
                }
                self.step = Step::Settle;
                Some(Emit::Release(reuse))
            }
            Step::Settle => {
                let result = self.failure.take();
                self.settle(result, now);
                None
            }
            Step::Done => {
                self.abandon();
                self.step = Step::Done;
                Some(Emit::Done)
            }
            _ => {
                // poll without the answer the last action needs (the step is an Await*): a
                // driver error. Fail the attempt rather than guess.
                self.fail(Failure::Protocol(ajp::Error::Unexpected {
                    what: "a poll",
                    state: "the driver has not answered the last action",
                }));
                None
            }
        }
    }

    /// Ask the plan for a member (once per member's part: kept out of `poll`'s loop).
    #[inline(never)]
    fn plan_next(&mut self, now: Now) {
        self.plan_steps += 1;
        let most = 1 + 64 * self.worker.members().len().max(1);
        if self.plan_steps > most {
            self.step = Step::Done;
            return;
        }
        let worker = Arc::clone(&self.worker);
        match self
            .plan
            .next(&worker, self.session.as_ref().map(SessionId::as_str))
        {
            PlanStep::Try(pick) if pick.member < worker.members().len() => {
                self.current = Some(Current {
                    pick,
                    tries: 0,
                    replaced: 0,
                    held: false,
                    last: None,
                });
                self.progress = Progress::default();
                if self.plan.enter(
                    &worker,
                    self.session.as_ref().map(SessionId::as_str),
                    pick.member,
                ) {
                    self.step = Step::Start;
                } else {
                    self.settle_with(Failure::Busy);
                }
            }
            PlanStep::Try(_) | PlanStep::GiveUp => self.step = Step::Done,
            PlanStep::Wait(d) => {
                self.step = Step::Pause {
                    until: now.at + d,
                    again: false,
                }
            }
        }
    }

    /// The action for `kind`, borrowing what it carries from the buffers.
    fn action(&self, kind: Emit) -> Action<'_> {
        match kind {
            Emit::Acquire => Action::Acquire {
                member: self.current.as_ref().map_or(0, |c| c.pick.member),
            },
            Emit::Replace => Action::Replace,
            Emit::Connect => {
                let spec = self.spec();
                Action::Connect {
                    member: self.current.as_ref().map_or(0, |c| c.pick.member),
                    addr: spec.addr,
                    source: spec.source,
                    // socket_connect_timeout defaults to socket_timeout (mod_jk).
                    timeout: spec
                        .socket_connect_timeout
                        .or(spec.socket_timeout)
                        .filter(|d| !d.is_zero()),
                }
            }
            Emit::SendPing(sent) => Action::Send(&ajp::CPING[sent..]),
            Emit::Send => Action::Send(&self.bufs.send[self.sent..]),
            Emit::Recv(deadline) => Action::Recv { deadline },
            Emit::ReadClient(max) => Action::ReadClient { max },
            Emit::Client(Client::Head(r)) => {
                match SendHeaders::decode_again(&self.bufs.recv[r.range()]) {
                    Ok(h) => Action::WriteHead(h),
                    // Decoded once already; cannot fail again.
                    Err(_) => Action::Flush,
                }
            }
            Emit::Client(Client::Keep(r)) => {
                match SendHeaders::decode_again(&self.bufs.recv[r.range()]) {
                    Ok(h) => Action::KeepForErrorPage(h),
                    Err(_) => Action::Flush,
                }
            }
            Emit::Client(Client::Body(r)) => Action::WriteBody(&self.bufs.recv[r.range()]),
            Emit::Client(Client::Flush) => Action::Flush,
            Emit::Wait(until) => Action::Wait { until },
            Emit::Release(reuse) => Action::Release { reuse },
            Emit::Done => Action::Done,
        }
    }

    fn current_mut(&mut self) -> &mut Current {
        self.current
            .as_mut()
            .expect("a member is under way in this step")
    }

    /// Encode the request for the member, then take a slot (a request too large for the
    /// packet never opens a connection).
    #[inline(never)]
    fn start_attempt(&mut self) {
        let worker = Arc::clone(&self.worker);
        let pick = {
            let c = self.current_mut();
            c.tries += 1;
            c.replaced = 0;
            c.pick
        };
        let spec = worker.members()[pick.member].spec();
        if let Some(e) = &self.template_error {
            let e = e.clone();
            self.settle_with(Failure::TooLarge(e));
            return;
        }
        let fields = MemberFields {
            secret: spec.secret.as_deref(),
            route: if worker.is_lb() {
                self.plan.route(&worker).or(Some(spec.route.as_str()))
            } else {
                None
            },
            activation: pick.activation,
        };
        self.bufs.send.clear();
        self.bufs.send.extend_from_slice(&self.bufs.template);
        self.sent = 0;
        if let Err(e) = request::for_member(&mut self.bufs.send, 0, &fields, spec.max_packet_size) {
            self.settle_with(Failure::TooLarge(e));
            return;
        }
        // Reads take many packets at once (a 100 KiB response in two or three reads); one
        // packet of the member's size always fits.
        let size = spec.max_packet_size.get().max(RECV_SIZE);
        if self.bufs.recv.len() < size {
            self.bufs.recv.resize(size, 0);
        }
        self.rstart = 0;
        self.rend = 0;
        self.packet_deadline = None;
        self.body_left = None;
        self.wire = None;
        self.step = Step::Acquire;
    }

    /// The connection is ready: start the exchange, with the first body packet if due.
    #[inline(never)]
    fn begin(&mut self) {
        let spec = self.spec();
        let size = spec.max_packet_size;
        if self.body.first_missing().is_some() {
            self.step = Step::ReadFirst;
            return;
        }
        let mut wire = ProxyExchange::new(size);
        let mut r = wire.start_encoded(self.body.mode());
        if r.is_ok() {
            if let Some(first) = self.body.first_packet() {
                r = wire.send_body(&self.bufs.body[first], &mut self.bufs.send);
            }
        }
        self.wire = Some(wire);
        match r {
            Ok(()) => {
                self.progress.traffic.written += self.bufs.send.len() as u64;
                self.step = Step::Send;
            }
            Err(e) => self.fail(Failure::Protocol(e)),
        }
    }

    /// Decode what is buffered; read when no whole packet is.
    fn receive(&mut self, now: Now) -> Option<Emit> {
        // Nothing buffered (right after the request went out, or after the last packet of a
        // read): no packet to look for, read.
        let empty = self.rstart == self.rend;
        let decoded = match &self.wire {
            Some(w) if empty && w.awaits_reply() => Ok(None),
            _ => self.decode(),
        };
        let got = match decoded {
            Err(e) => {
                self.fail(Failure::Protocol(e));
                return None;
            }
            Ok(Some(got)) => got,
            Ok(None) => {
                if self.rend == self.bufs.recv.len() && self.rstart == 0 {
                    // A whole packet always fits; the codec refuses longer ones first.
                    self.fail(Failure::Protocol(ajp::Error::Unexpected {
                        what: "a packet longer than the read buffer",
                        state: "reading a reply",
                    }));
                    return None;
                }
                let wait = ReplyWait::for_request(self.spec(), &self.options);
                let deadline = match wait {
                    // Per packet: the deadline set when its first byte was awaited stands.
                    ReplyWait::Reply(d) => *self.packet_deadline.get_or_insert(now.at + d),
                    // socket_timeout is the socket's: per read.
                    ReplyWait::Socket(d) => now.at + d,
                    ReplyWait::Forever => return self.recv(None, false),
                };
                return self.recv(Some(deadline), matches!(wait, ReplyWait::Reply(_)));
            }
        };
        match got {
            Got::Head {
                status,
                payload,
                keep,
                length,
            } => {
                self.progress.status = Some(status);
                self.body_left = length;
                // A mount's list replaces the worker's, as in mod_jk.
                let matched = match &self.fail_on_status {
                    Some(list) => check_status(list.iter().copied(), status),
                    None => self.spec().fail_on_status.check(status),
                };
                if let Some(m) = matched {
                    // Nothing reaches the client; the request may go elsewhere.
                    self.fail(Failure::Status {
                        status,
                        fatal: m == StatusMatch::Fatal,
                    });
                    return None;
                }
                if self.use_server_errors > 0 && i64::from(status) >= self.use_server_errors {
                    self.progress.blocked = true;
                    self.step = if keep {
                        Step::Deliver(Client::Keep(Span::of(payload)))
                    } else {
                        Step::Receive
                    };
                    return None;
                }
                self.progress.response_started = true;
                return self.deliver(Client::Head(Span::of(payload)));
            }
            Got::Body(_) | Got::Flush if self.progress.blocked => self.step = Step::Receive,
            Got::Body(r) => {
                // Bytes beyond the declared length belong to no response: the reply is broken
                // (and never reframed for the client).
                if let Some(left) = self.body_left.as_mut() {
                    let n = r.len() as u64;
                    if n > *left {
                        self.fail(Failure::Protocol(ajp::Error::Unexpected {
                            what: "response body beyond its Content-Length",
                            state: "the declared length was reached",
                        }));
                        return None;
                    }
                    *left -= n;
                }
                return self.deliver(Client::Body(Span::of(r)));
            }
            Got::Flush => return self.deliver(Client::Flush),
            Got::Asked => self.body_requested(),
            Got::End { reusable } => {
                // Reuse only after End Response reuse=1 with nothing left over (a leftover
                // would mix into the next response).
                let reuse = reusable && !self.spec().disable_reuse && self.rstart == self.rend;
                self.rstart = 0;
                self.rend = 0;
                self.failure = None;
                self.step = Step::Release { reuse };
            }
        }
        None
    }

    fn recv(&mut self, deadline: Option<Instant>, reply: bool) -> Option<Emit> {
        self.step = Step::AwaitRecv { reply };
        Some(Emit::Recv(deadline))
    }

    /// The next buffered message, as positions in the receive buffer.
    fn decode(&mut self) -> Result<Option<Got>, ajp::Error> {
        let Some(wire) = self.wire.as_mut() else {
            return Err(ajp::Error::Unexpected {
                what: "a reply",
                state: "no request was sent",
            });
        };
        let buf = &self.bufs.recv[..self.rend];
        let Some((event, used)) = wire.receive(&buf[self.rstart..])? else {
            return Ok(None);
        };
        let at = |s: &[u8]| {
            let start = s.as_ptr() as usize - buf.as_ptr() as usize;
            start..start + s.len()
        };
        let packet = self.rstart..self.rstart + used;
        let got = match event {
            ProxyEvent::Headers(h) => Got::Head {
                status: h.status(),
                length: h.content_length().and_then(parse_length),
                // The Send Headers payload: the packet without its header.
                payload: packet.start + ajp::packet::HEADER_LEN..packet.end,
                keep: kept_for_error_page(&h).next().is_some(),
            },
            ProxyEvent::Body(data) => Got::Body(at(data)),
            ProxyEvent::Flush => Got::Flush,
            ProxyEvent::BodyRequested(_) => Got::Asked,
            ProxyEvent::End { .. } => Got::End {
                reusable: wire.reusable(),
            },
        };
        self.rstart += used;
        self.packet_deadline = None;
        if self.rstart == self.rend {
            // All consumed: the next read fills the whole buffer again.
            self.rstart = 0;
            self.rend = 0;
        }
        self.progress.traffic.read += used as u64;
        Ok(Some(got))
    }

    /// Hand `c` to the client, then flush if the options say so.
    fn deliver(&mut self, c: Client) -> Option<Emit> {
        let flush_after = match c {
            Client::Head(_) => self.options.flush_header,
            Client::Body(_) => self.options.flush_packets,
            Client::Flush => false,
            Client::Keep(_) => {
                self.step = Step::Receive;
                return Some(Emit::Client(c));
            }
        };
        self.step = Step::AwaitClient { flush_after };
        Some(Emit::Client(c))
    }

    /// The container asked for body: the end-of-body packet, or read from the client.
    fn body_requested(&mut self) {
        let Some(allowed) = self.wire.as_ref().and_then(ProxyExchange::body_wanted) else {
            self.step = Step::Receive;
            return;
        };
        if allowed == 0 {
            self.send_part(0);
            return;
        }
        let max = allowed.min(self.bufs.body.len().max(1));
        if self.bufs.body.is_empty() {
            self.bufs.body.resize(max, 0);
        }
        self.step = Step::ReadPart { max };
    }

    /// Send `body[..n]` as the next body packet (empty: end of body).
    fn send_part(&mut self, n: usize) {
        let Some(wire) = self.wire.as_mut() else {
            self.step = Step::Done;
            return;
        };
        self.bufs.send.clear();
        self.sent = 0;
        match wire.send_body(&self.bufs.body[..n], &mut self.bufs.send) {
            Ok(()) => {
                self.progress.traffic.written += self.bufs.send.len() as u64;
                self.step = Step::Send;
            }
            Err(e) => self.fail(Failure::Protocol(e)),
        }
    }

    /// The attempt failed: give the slot back (its connection closed), then decide.
    fn fail(&mut self, f: Failure) {
        let held = self.current.as_ref().is_some_and(|c| c.held);
        self.rstart = 0;
        self.rend = 0;
        self.failure = Some(f);
        self.step = if held {
            Step::Release { reuse: false }
        } else {
            Step::Settle
        };
    }

    /// Settle the member's part with `f` (no slot is held).
    fn settle_with(&mut self, f: Failure) {
        self.failure = Some(f);
        self.step = Step::Settle;
    }

    /// The attempt is over and the slot is back: retry on this member, move on, or end.
    #[inline(never)]
    fn settle(&mut self, result: Option<Failure>, now: Now) {
        let worker = Arc::clone(&self.worker);
        let Some(current) = self.current.as_ref() else {
            self.step = Step::Done;
            return;
        };
        let pick = current.pick;
        let spec = worker.members()[pick.member].spec();
        let retry = |f: &Failure, ex: &Exchange| {
            safety::may_retry(
                f,
                ex.wire.as_ref(),
                ex.progress.response_started,
                spec.recovery_options,
                ex.method.get(),
            )
        };
        if let Some(f) = &result {
            // The worker's own `retries`: attempts on this member, each on another connection;
            // a member that refused (busy) is not retried here.
            let refused = matches!(f, Failure::Busy);
            if !refused && !self.client_gone && current.tries < spec.attempts() && retry(f, self) {
                let until = now.at + spec.retry_interval;
                self.current_mut().last = result;
                self.step = Step::Pause { until, again: true };
                return;
            }
        }
        let outcome = match &result {
            None => Outcome::Success,
            Some(f) => f.outcome(),
        };
        let failover = self
            .plan
            .finish(&worker, outcome, self.progress.traffic, now.unix);
        let tried = Tried {
            member: pick.member,
            activation: pick.activation,
            outcome,
            via_domain: self.plan.via_domain(),
        };
        self.done.members_tried += 1;
        self.done.first.get_or_insert(tried);
        self.done.last = Some(tried);
        self.done.response_started = self.progress.response_started;
        match result {
            None => {
                self.done.status = self.progress.status.unwrap_or(200);
                self.done.failure = None;
                self.step = Step::Done;
            }
            Some(f) => {
                self.done.status = match (&f, self.progress.status) {
                    (Failure::ClientGone, Some(s)) => s,
                    _ => f.http_status(),
                };
                let again = failover && !self.client_gone && retry(&f, self);
                self.done.failure = Some(f);
                self.step = if again { Step::Plan } else { Step::Done };
            }
        }
        self.current = None;
        self.wire = None;
    }

    /// Count out a member's part that never settled (the request was dropped mid-way).
    /// Inlined: at the end of every request there is none, and that check is all it costs.
    #[inline]
    fn abandon(&mut self) {
        if self.current.is_some() {
            self.abandon_current();
        }
    }

    #[cold]
    #[inline(never)]
    fn abandon_current(&mut self) {
        if self.current.take().is_some() {
            let worker = Arc::clone(&self.worker);
            self.plan.abandon(&worker);
        }
    }

    // ---- answers from the driver ----

    /// The pool's answer to [`Action::Acquire`] or [`Action::Replace`].
    pub fn on_acquired(&mut self, got: Acquired) {
        if !matches!(self.step, Step::AwaitAcquire) {
            return self.misfed();
        }
        let spec = self.spec();
        let most = ready::most_replacements(spec);
        let check = match got {
            Acquired::Exhausted => return self.fail(Failure::Busy),
            Acquired::Empty => None,
            Acquired::Idle { peer, alive } => Some(ready::pooled(spec, peer, alive)),
        };
        let c = self.current_mut();
        c.held = true;
        self.step = match check {
            None => Step::Connect,
            Some(Check::Use) => Step::Begin,
            Some(Check::Ping(wait)) => Step::Ping {
                probe: Probe::Pooled,
                wait,
                sent: 0,
            },
            Some(Check::Replace) if c.replaced < most => {
                c.replaced += 1;
                Step::Replace
            }
            Some(Check::Replace) => Step::Connect,
        };
    }

    /// [`Action::Connect`] succeeded.
    pub fn on_connected(&mut self) {
        if !matches!(self.step, Step::AwaitConnect) {
            return self.misfed();
        }
        self.step = match ready::connected(self.spec()) {
            Some(wait) => Step::Ping {
                probe: Probe::Fresh,
                wait,
                sent: 0,
            },
            None => Step::Begin,
        };
    }

    /// `n` bytes of the last [`Action::Send`] were written.
    pub fn on_sent(&mut self, n: usize) {
        match self.step {
            Step::AwaitSent => {
                self.sent += n;
                self.step = if self.sent >= self.bufs.send.len() {
                    self.bufs.send.clear();
                    self.sent = 0;
                    Step::Receive
                } else {
                    Step::Send
                };
            }
            Step::AwaitPingSent { probe, wait, sent } => {
                let sent = sent + n;
                self.step = if sent >= ajp::CPING.len() {
                    Step::PongFrom { probe, wait }
                } else {
                    Step::Ping { probe, wait, sent }
                };
            }
            _ => self.misfed(),
        }
    }

    /// Where the driver reads the backend into for [`Action::Recv`]. A full buffer's
    /// unfinished packet moves to its start here, not before: the body bytes of
    /// [`Action::WriteBody`] stay where they are until the driver asks for space (or
    /// [`finish`](Self::finish) hands the buffers back), so a driver may lend them on without
    /// copying until then.
    pub fn recv_space(&mut self) -> &mut [u8] {
        if self.rend == self.bufs.recv.len() && self.rstart > 0 {
            self.bufs.recv.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        &mut self.bufs.recv[self.rend..]
    }

    /// `n` bytes arrived in [`Exchange::recv_space`]; 0: the backend closed the connection.
    pub fn on_recv(&mut self, n: usize) {
        let n = n.min(self.bufs.recv.len() - self.rend);
        match self.step {
            Step::AwaitRecv { .. } => {
                if n == 0 {
                    return self.fail(Failure::Broken(ReadError::Closed));
                }
                self.rend += n;
                self.step = Step::Receive;
            }
            Step::AwaitPong { probe, deadline } => {
                if n == 0 {
                    return self.ping_failed(probe, "the backend closed the connection");
                }
                self.rend += n;
                let size = self.spec().max_packet_size;
                match ajp::receive_cpong(&self.bufs.recv[self.rstart..self.rend], size) {
                    Ok(Some(used)) if self.rstart + used == self.rend => {
                        self.rstart = 0;
                        self.rend = 0;
                        self.step = Step::Begin;
                    }
                    Ok(None) => self.step = Step::Pong { probe, deadline },
                    _ => self.ping_failed(probe, "the backend answered CPing with something else"),
                }
            }
            _ => self.misfed(),
        }
    }

    /// The deadline of the last [`Action::Recv`] passed.
    pub fn on_timeout(&mut self) {
        match self.step {
            Step::AwaitRecv { reply: true, .. } => self.fail(Failure::ReplyTimeout),
            Step::AwaitRecv { reply: false, .. } => self.fail(Failure::Broken(ReadError::Timeout)),
            Step::AwaitPong { probe, .. } => self.ping_failed(probe, "no CPong in time"),
            _ => self.misfed(),
        }
    }

    /// The last backend action (connect, send, receive) failed.
    pub fn on_io_error(&mut self, e: io::Error) {
        match self.step {
            Step::AwaitConnect => self.fail(Failure::Connect(e)),
            Step::AwaitSent => self.fail(Failure::Send(e)),
            Step::AwaitRecv { .. } => self.fail(Failure::Broken(ReadError::Io(e))),
            Step::AwaitPingSent { probe, .. } | Step::AwaitPong { probe, .. } => {
                let why = format!("{e}");
                self.ping_failed_owned(probe, why)
            }
            _ => self.misfed(),
        }
    }

    /// Where the driver reads the client's body into for [`Action::ReadClient`].
    pub fn client_space(&mut self) -> &mut [u8] {
        match self.step {
            Step::AwaitFirst => match self.body.first_missing() {
                Some(r) => &mut self.bufs.body[r],
                None => &mut [],
            },
            Step::AwaitPart { max } => &mut self.bufs.body[..max],
            _ => &mut [],
        }
    }

    /// `n` bytes of body arrived in [`Exchange::client_space`]; 0: the body is complete.
    pub fn on_client_body(&mut self, n: usize) {
        match self.step {
            Step::AwaitFirst => {
                if !self.body.first_read(n) {
                    return self.fail(Failure::ClientRead(None));
                }
                self.step = Step::ReadFirst;
            }
            Step::AwaitPart { max } => {
                let n = n.min(max);
                if !self.body.part_read(n) {
                    return self.fail(Failure::ClientRead(None));
                }
                self.send_part(n);
            }
            _ => self.misfed(),
        }
    }

    /// Reading the client's body failed: 400, the client's fault.
    pub fn on_client_error(&mut self, e: io::Error) {
        match self.step {
            Step::AwaitFirst | Step::AwaitPart { .. } => self.fail(Failure::ClientRead(Some(e))),
            _ => self.misfed(),
        }
    }

    /// The last client-facing action was done.
    pub fn on_client_written(&mut self) {
        match self.step {
            Step::AwaitClient { flush_after } => {
                self.step = if flush_after {
                    Step::Deliver(Client::Flush)
                } else {
                    Step::Receive
                };
            }
            _ => self.misfed(),
        }
    }

    /// The client went away (a write failed, or the driver knows the connection is closed).
    /// An event-driven driver may also answer a pending connect, send, CPing or receive with
    /// it (the client left while the backend thinks): the attempt ends at once, its connection
    /// is not reused, the member is not blamed and no other attempt follows.
    pub fn on_client_gone(&mut self) {
        self.client_gone = true;
        if let Step::AwaitClient { .. }
        | Step::AwaitConnect
        | Step::AwaitSent
        | Step::AwaitRecv { .. }
        | Step::AwaitPingSent { .. }
        | Step::AwaitPong { .. } = self.step
        {
            self.fail(Failure::ClientGone);
        }
    }

    fn ping_failed(&mut self, probe: Probe, why: &str) {
        self.ping_failed_owned(probe, why.to_owned());
    }

    fn ping_failed_owned(&mut self, probe: Probe, why: String) {
        self.rstart = 0;
        self.rend = 0;
        match probe {
            // A pooled connection that fails its CPing is replaced, not counted against the
            // member.
            Probe::Pooled => {
                let most = ready::most_replacements(self.spec());
                let c = self.current_mut();
                self.step = if c.replaced < most {
                    c.replaced += 1;
                    Step::Replace
                } else {
                    Step::Connect
                };
            }
            Probe::Fresh => self.fail(Failure::Connect(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!("the new connection failed its CPing: {why}"),
            ))),
        }
    }

    /// An answer that does not fit the last action: a driver bug. The attempt fails.
    #[cold]
    fn misfed(&mut self) {
        debug_assert!(
            false,
            "answer does not match the last action: {:?}",
            self.step
        );
        if !matches!(self.step, Step::Done) {
            self.fail(Failure::Protocol(ajp::Error::Unexpected {
                what: "an answer",
                state: "the driver answered an action that was not asked",
            }));
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// One decoded message, by position in the receive buffer.
#[derive(Debug)]
enum Got {
    Head {
        status: u16,
        payload: Range<usize>,
        keep: bool,
        /// The response's Content-Length, if it declares a valid one.
        length: Option<u64>,
    },
    Body(Range<usize>),
    Flush,
    Asked,
    End {
        reusable: bool,
    },
}

/// What `advance` decided to emit (no borrows, so the loop in `poll` stays simple).
#[derive(Debug)]
enum Emit {
    Acquire,
    Replace,
    Connect,
    SendPing(usize),
    Send,
    Recv(Option<Instant>),
    ReadClient(usize),
    Client(Client),
    Wait(Instant),
    Release(bool),
    Done,
}

/// A response's Content-Length value as a number: the trimmed text parsed as `u64` (anything
/// else declares no length). Plain digits, the usual case, are read without the text detour;
/// the result is the same.
pub fn parse_length(v: &[u8]) -> Option<u64> {
    // 19 digits always fit in a u64.
    if (1..=19).contains(&v.len()) && v.iter().all(u8::is_ascii_digit) {
        return Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')));
    }
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// A mount's `fail_on_status=` list (copied only when set) and `use_server_errors=`.
fn rule_effects(rule: Option<&Extensions>) -> (Option<Vec<i64>>, i64) {
    match rule {
        None => (None, 0),
        Some(r) => (
            (!r.fail_on_status.is_empty()).then(|| r.fail_on_status.clone()),
            r.use_server_errors,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_length;

    /// The fast path reads what the text parse reads, and nothing else.
    #[test]
    fn length_parses_as_the_text_would() {
        let old = |v: &[u8]| -> Option<u64> { std::str::from_utf8(v).ok()?.trim().parse().ok() };
        let cases: &[&[u8]] = &[
            b"0",
            b"1024",
            b" 12 ",
            b"+5",
            b"-1",
            b"",
            b"  ",
            b"1x",
            b"0x10",
            b"9999999999999999999",
            b"18446744073709551615",
            b"18446744073709551616",
            b"00000000000000000000001",
            b"\xff1",
            "\u{a0}7".as_bytes(),
        ];
        for v in cases {
            assert_eq!(parse_length(v), old(v), "{:?}", String::from_utf8_lossy(v));
        }
        assert_eq!(parse_length(b"1024"), Some(1024));
        assert_eq!(parse_length(b"nope"), None);
    }
}
