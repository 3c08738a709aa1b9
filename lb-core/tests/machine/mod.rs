//! A scripted driver for the forwarding machine: no sockets, no sleeps, a fake clock. Each
//! member has a queue of connection behaviours (one per connection opened); pooled connections
//! are kept per member; the client has a body to hand out and records what it was sent. Time
//! moves only when the machine waits (retry_interval) or a read times out.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ajp::PacketSize;
use lb_core::balancer::{Balancer, LbSpec, MemberSpec};
use lb_core::forward::{
    Acquired, Action, AjpWorkerSpec, Buffers, Exchange, Forwarded, Now, RequestHead, Worker,
};
use lb_core::shm::ShmTable;

/// What one connection to a member does (an empty queue refuses connections).
#[derive(Clone, Debug)]
pub enum Conn {
    /// The connect fails.
    Refuse,
    /// Reads return these bytes (all at once), then the connection stays open and silent.
    Reply(Vec<u8>),
    /// Reads return these bytes `chunk` at a time.
    Trickle(Vec<u8>, usize),
    /// Reads return one byte each, this long after the read was asked.
    Dribble(Vec<u8>, Duration),
    /// Reads return these bytes, then the backend closes the connection.
    Cut(Vec<u8>),
    /// Nothing ever arrives: every read times out.
    Silent,
    /// The backend closes as soon as the request is read.
    Close,
    /// Nothing arrives, and the client leaves while the read waits.
    ClientLeaves,
}

/// One member's side of the script.
#[derive(Debug, Default)]
pub struct Backend {
    pub conns: VecDeque<Conn>,
    /// Pooled connections: (id, alive).
    pub idle: Vec<(u32, bool)>,
    /// Everything sent, per connection id.
    pub sent: Vec<(u32, Vec<u8>)>,
    pub connects: u32,
    /// The pool has no free slot.
    pub exhausted: bool,
}

/// The web server's side.
#[derive(Debug, Default)]
pub struct Client {
    pub body: Vec<u8>,
    pub read_pos: usize,
    pub status: Option<u16>,
    pub out: Vec<u8>,
    pub flushes: usize,
    pub heads: usize,
    pub kept: Vec<(String, String)>,
    /// Gone once this many body bytes were written.
    pub gone_after: Option<usize>,
}

impl Client {
    fn gone(&self) -> bool {
        self.gone_after.is_some_and(|n| self.out.len() >= n)
    }
}

/// A run's trace of time-related actions.
#[derive(Debug, Default)]
pub struct Trace {
    /// Every Wait, as a duration from the time it was asked.
    pub waits: Vec<Duration>,
    /// Reads that timed out, with the time they waited.
    pub timeouts: Vec<Duration>,
    /// Release actions in order.
    pub releases: Vec<bool>,
}

pub struct Harness {
    pub backends: Vec<Backend>,
    pub client: Client,
    pub trace: Trace,
    start: Instant,
    offset: Duration,
    next_id: u32,
}

/// A connection in the driver's hand.
struct Current {
    member: usize,
    id: u32,
    /// What this connection does for the request it carries (taken from the member's queue
    /// when the request is sent).
    conn: Option<Conn>,
    /// Bytes of the current reply already handed out.
    given: usize,
    pong_due: bool,
}

pub const UNIX0: i64 = 1_700_000_000;

pub fn addr(member: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9000 + member as u16))
}

/// A member spec for the scripted backends: no retry pause by default, no real socket.
pub fn spec(name: &str, member: usize) -> AjpWorkerSpec {
    let mut s = AjpWorkerSpec::new(name, addr(member), 4);
    s.retry_interval = Duration::ZERO;
    s
}

pub fn ajp13(s: AjpWorkerSpec) -> Arc<Worker> {
    Arc::new(Worker::ajp13(s))
}

/// An lb over `members` (route = name), mod_jk's defaults but no pause between rounds.
pub fn balanced(members: Vec<AjpWorkerSpec>) -> Arc<Worker> {
    let specs: Vec<MemberSpec> = members.iter().map(|m| MemberSpec::named(&m.name)).collect();
    let table = Arc::new(ShmTable::heap(1, specs.len()));
    let mut lb = LbSpec::named("lb");
    lb.retry_interval_ms = 0;
    let lb = Balancer::new(&lb, &specs, table, UNIX0).unwrap();
    Arc::new(Worker::balanced("lb", members, lb))
}

/// A whole reply: head, body in one packet, End Response.
pub fn reply(status: u16, body: &[u8], reuse: bool) -> Vec<u8> {
    reply_with(status, &[], &[body], reuse)
}

pub fn reply_with(
    status: u16,
    headers: &[(&[u8], &[u8])],
    chunks: &[&[u8]],
    reuse: bool,
) -> Vec<u8> {
    let size = PacketSize::default();
    let mut out = Vec::new();
    ajp::encode_send_headers(status, b"X", headers.iter().copied(), size, &mut out).unwrap();
    for c in chunks {
        ajp::encode_body_chunk(c, size, &mut out).unwrap();
    }
    ajp::encode_end_response(reuse, &mut out);
    out
}

/// A Get Body Chunk asking for `n` bytes.
pub fn ask_body(n: u16) -> Vec<u8> {
    let mut out = Vec::new();
    ajp::encode_get_body_chunk(n, &mut out);
    out
}

impl Harness {
    pub fn new(members: usize) -> Self {
        Harness {
            backends: (0..members).map(|_| Backend::default()).collect(),
            client: Client::default(),
            trace: Trace::default(),
            start: Instant::now(),
            offset: Duration::ZERO,
            next_id: 0,
        }
    }

    /// Queue connection behaviours for `member`.
    pub fn conns(&mut self, member: usize, conns: impl IntoIterator<Item = Conn>) -> &mut Self {
        self.backends[member].conns.extend(conns);
        self
    }

    pub fn now(&self) -> Now {
        Now {
            at: self.start + self.offset,
            unix: UNIX0 + self.offset.as_secs() as i64,
        }
    }

    /// Time the fake clock has moved.
    pub fn elapsed(&self) -> Duration {
        self.offset
    }

    fn advance_to(&mut self, t: Instant) {
        let d = t.saturating_duration_since(self.start);
        if d > self.offset {
            self.offset = d;
        }
    }

    /// Drive one request to its end.
    pub fn run(&mut self, worker: &Arc<Worker>, head: &RequestHead<'_>) -> Forwarded {
        let mut ex = Exchange::new(Arc::clone(worker), head, Buffers::default());
        let mut cur: Option<Current> = None;
        // Body bytes handed out since the last read: where they were, and what they said. They
        // must still say it when the next read asks for space (drivers lend them on uncopied).
        let mut lent: Vec<(*const u8, Vec<u8>)> = Vec::new();
        // Bounded: a machine that never ends fails the test instead of hanging it.
        for _ in 0..100_000 {
            let now = self.now();
            match ex.poll(now) {
                Action::Acquire { member } => {
                    if self.backends[member].exhausted {
                        ex.on_acquired(Acquired::Exhausted);
                        continue;
                    }
                    let (slot, got) = self.slot(member);
                    cur = Some(slot);
                    ex.on_acquired(got);
                }
                Action::Replace => {
                    let member = cur.as_ref().expect("a slot is held").member;
                    let (slot, got) = self.slot(member);
                    cur = Some(slot);
                    ex.on_acquired(got);
                }
                Action::Connect {
                    member, addr: a, ..
                } => {
                    assert_eq!(a, addr(member));
                    let b = &mut self.backends[member];
                    b.connects += 1;
                    // Nothing scripted: nothing listens.
                    if matches!(b.conns.front(), Some(Conn::Refuse) | None) {
                        b.conns.pop_front();
                        ex.on_io_error(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
                        continue;
                    }
                    self.next_id += 1;
                    let id = self.next_id;
                    self.backends[member].sent.push((id, Vec::new()));
                    cur = Some(Current {
                        member,
                        id,
                        conn: None,
                        given: 0,
                        pong_due: false,
                    });
                    ex.on_connected();
                }
                Action::Send(data) => {
                    let c = cur.as_mut().expect("a connection is open");
                    if data == ajp::CPING {
                        c.pong_due = true;
                    } else if c.conn.is_none() {
                        c.conn = Some(
                            self.backends[c.member]
                                .conns
                                .pop_front()
                                .unwrap_or(Conn::Silent),
                        );
                    }
                    let log = self.backends[c.member]
                        .sent
                        .iter_mut()
                        .find(|(i, _)| *i == c.id);
                    if let (false, Some((_, log))) = (data == ajp::CPING, log) {
                        log.extend_from_slice(data);
                    }
                    let n = data.len();
                    ex.on_sent(n);
                }
                Action::Recv { deadline } => {
                    for (at, bytes) in lent.drain(..) {
                        // SAFETY: the receive buffer is alive (the exchange is) and was never
                        // shrunk; what it holds there is the contract under test.
                        let now = unsafe { std::slice::from_raw_parts(at, bytes.len()) };
                        assert!(now == &bytes[..], "body bytes moved before the next read");
                    }
                    let c = cur.as_mut().expect("a connection is open");
                    if c.pong_due {
                        c.pong_due = false;
                        let pong = [b'A', b'B', 0, 1, 9];
                        ex.recv_space()[..pong.len()].copy_from_slice(&pong);
                        ex.on_recv(pong.len());
                        continue;
                    }
                    if let Some(Conn::Dribble(b, every)) = &c.conn {
                        let next = now.at + *every;
                        match deadline.filter(|d| *d < next) {
                            Some(d) => {
                                self.trace.timeouts.push(d - now.at);
                                self.advance_to(d);
                                ex.on_timeout();
                            }
                            None if c.given < b.len() => {
                                self.advance_to(next);
                                ex.recv_space()[0] = b[c.given];
                                c.given += 1;
                                ex.on_recv(1);
                            }
                            None => panic!("a finished dribble with nothing more to read"),
                        }
                        continue;
                    }
                    let (bytes, chunk) = match &c.conn {
                        Some(Conn::Reply(b)) => (Some(b.clone()), usize::MAX),
                        Some(Conn::Cut(b)) if c.given < b.len() => (Some(b.clone()), usize::MAX),
                        Some(Conn::Cut(_)) => {
                            ex.on_recv(0);
                            continue;
                        }
                        Some(Conn::Trickle(b, n)) => (Some(b.clone()), *n),
                        Some(Conn::Close) => {
                            ex.on_recv(0);
                            continue;
                        }
                        Some(Conn::ClientLeaves) => {
                            ex.on_client_gone();
                            continue;
                        }
                        _ => (None, 0),
                    };
                    match bytes.filter(|b| c.given < b.len()) {
                        Some(b) => {
                            let space = ex.recv_space();
                            let n = (b.len() - c.given).min(space.len()).min(chunk);
                            space[..n].copy_from_slice(&b[c.given..c.given + n]);
                            c.given += n;
                            ex.on_recv(n);
                        }
                        None => {
                            let d = deadline.expect("a silent backend with no timeout hangs");
                            self.trace.timeouts.push(d - now.at);
                            self.advance_to(d);
                            ex.on_timeout();
                        }
                    }
                }
                Action::ReadClient { max } => {
                    let space = ex.client_space();
                    let left = &self.client.body[self.client.read_pos..];
                    let n = left.len().min(space.len()).min(max);
                    space[..n].copy_from_slice(&left[..n]);
                    self.client.read_pos += n;
                    ex.on_client_body(n);
                }
                Action::WriteHead(h) => {
                    if self.client.gone() {
                        ex.on_client_gone();
                        continue;
                    }
                    self.client.status = Some(h.status());
                    self.client.heads += 1;
                    ex.on_client_written();
                }
                Action::WriteBody(d) => {
                    if self.client.gone() {
                        ex.on_client_gone();
                        continue;
                    }
                    self.client.out.extend_from_slice(d);
                    lent.push((d.as_ptr(), d.to_vec()));
                    ex.on_client_written();
                }
                Action::Flush => {
                    self.client.flushes += 1;
                    ex.on_client_written();
                }
                Action::KeepForErrorPage(h) => {
                    for (n, v) in lb_core::forward::exchange::kept_for_error_page(&h) {
                        self.client.kept.push((
                            String::from_utf8_lossy(n).into_owned(),
                            String::from_utf8_lossy(v).into_owned(),
                        ));
                    }
                }
                Action::Wait { until } => {
                    if self.client.gone() {
                        ex.on_client_gone();
                        continue;
                    }
                    self.trace.waits.push(until - now.at);
                    self.advance_to(until);
                }
                Action::Release { reuse } => {
                    self.trace.releases.push(reuse);
                    let c = cur.take().expect("a slot is held");
                    if reuse {
                        self.backends[c.member].idle.push((c.id, true));
                    }
                }
                Action::Done => {
                    assert!(cur.is_none(), "the slot was not released");
                    return ex.finish().0;
                }
            }
        }
        panic!("the machine did not finish");
    }

    /// A slot of `member`'s pool: its most recently pooled connection, else an empty one.
    fn slot(&mut self, member: usize) -> (Current, Acquired) {
        let (id, got) = match self.backends[member].idle.pop() {
            Some((id, alive)) => (
                id,
                Acquired::Idle {
                    peer: addr(member),
                    alive,
                },
            ),
            None => (u32::MAX, Acquired::Empty),
        };
        let slot = Current {
            member,
            id,
            conn: None,
            given: 0,
            pong_due: false,
        };
        (slot, got)
    }

    /// The requests `member` received, decoded: (method, uri, body bytes after the head).
    pub fn requests(&self, member: usize) -> Vec<Vec<u8>> {
        self.backends[member]
            .sent
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
}
