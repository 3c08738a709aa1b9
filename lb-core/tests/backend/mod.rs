//! Test helpers for the forwarding engine: an in-process AJP backend built on the `ajp`
//! container-side exchange that misbehaves on command ([`Act`]), and a scripted web-server side
//! ([`Client`]). Every thread the backend starts is stopped and joined when it is dropped.
#![allow(dead_code)]

mod client;

pub use client::Client;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ajp::{Attribute, BodyState, ContainerConfig, ContainerEvent, ContainerExchange};

/// What the backend does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    /// Read the whole body, answer `status` with `body` in `chunks` body packets, End reuse=1.
    Answer {
        status: u16,
        body: Vec<u8>,
        chunks: usize,
    },
    /// Send half of a Send Headers packet, then close.
    CloseMidHeaders,
    /// Send the head and one body packet, then close.
    CloseMidBody,
    /// Read the request (and an unasked first body packet), then close without a word.
    CloseAfterRequest,
    /// Never answer; close when the proxy does.
    Stall,
    /// Answer with bytes that are not AJP.
    Garbage,
    /// Ask for body once (Get Body Chunk), take the packet, then close.
    AskBodyThenClose,
    /// Answer "ok" with End reuse=1, then close anyway (as an idle timeout on the backend does).
    AnswerThenClose,
}

impl Act {
    pub fn ok(body: &str) -> Act {
        Act::Answer {
            status: 200,
            body: body.as_bytes().to_vec(),
            chunks: 1,
        }
    }
    pub fn status(status: u16) -> Act {
        Act::Answer {
            status,
            body: b"status page".to_vec(),
            chunks: 1,
        }
    }
}

/// One request as the backend received it.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Which accepted connection (0, 1, ...) carried it.
    pub conn: usize,
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub route: Option<String>,
    pub secret: Option<String>,
    pub query: Option<String>,
    pub remote_user: Option<String>,
    pub req_attributes: Vec<(String, String)>,
    /// The request body the backend read.
    pub body: Vec<u8>,
}

impl Seen {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.req_attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Act>>,
    default: Mutex<Option<Act>>,
    seen: Mutex<Vec<Seen>>,
    accepted: AtomicUsize,
    /// Connections the proxy closed (EOF seen between or during requests).
    closed_by_proxy: AtomicUsize,
    /// Connections this backend closed.
    closed_here: AtomicUsize,
    cpings: AtomicUsize,
    /// Leave CPings unanswered (a hung container).
    mute_cping: AtomicBool,
    stop: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// An AJP backend on 127.0.0.1 (a port the OS picks), serving each connection on a thread.
pub struct Backend {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Backend {
    /// Start with `default` as the answer to every request not scripted with [`then`].
    pub fn start(default: Act) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        *shared.default.lock().unwrap() = Some(default);
        let s = shared.clone();
        let acceptor = std::thread::spawn(move || accept_loop(listener, s));
        Backend {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Script the next requests (in order) before falling back to the default.
    pub fn then(&self, act: Act) -> &Self {
        self.shared.script.lock().unwrap().push_back(act);
        self
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn requests(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }

    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    pub fn closed_by_proxy(&self) -> usize {
        self.shared.closed_by_proxy.load(Ordering::SeqCst)
    }

    /// CPings answered (or ignored when muted).
    pub fn cpings(&self) -> usize {
        self.shared.cpings.load(Ordering::SeqCst)
    }

    /// Stop answering CPing.
    pub fn mute_cping(&self) {
        self.shared.mute_cping.store(true, Ordering::SeqCst);
    }

    pub fn closed_here(&self) -> usize {
        self.shared.closed_here.load(Ordering::SeqCst)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor, then end every connection so its thread returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        for s in self.shared.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        let workers: Vec<_> = self.shared.workers.lock().unwrap().drain(..).collect();
        for w in workers {
            let _ = w.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.accepted.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = stream.try_clone() {
            shared.streams.lock().unwrap().push(c);
        }
        let s = shared.clone();
        let h = std::thread::spawn(move || {
            let mine = stream.try_clone();
            let proxy_closed = serve(stream, &s, id).unwrap_or_else(|e| {
                // A broken exchange: close, so the proxy never waits on a silent socket.
                eprintln!("backend connection {id}: {e}");
                if let Ok(m) = mine {
                    let _ = m.shutdown(Shutdown::Both);
                }
                false
            });
            if proxy_closed {
                s.closed_by_proxy.fetch_add(1, Ordering::SeqCst);
            }
        });
        shared.workers.lock().unwrap().push(h);
    }
}

/// An event with its bytes copied out of the read buffer.
enum Event {
    CPing,
    Request(Box<Seen>),
    Body(Vec<u8>),
    BodyEnd,
    Other,
    /// The exchange refused the request (secret, attribute): answer 403 and close.
    Rejected(String),
    /// The proxy closed the connection.
    Eof,
}

struct Conn {
    stream: TcpStream,
    ex: ContainerExchange,
    buf: Vec<u8>,
    out: Vec<u8>,
    id: usize,
}

impl Conn {
    fn next(&mut self) -> io::Result<Event> {
        loop {
            match self.ex.receive(&self.buf) {
                Ok(Some((ev, used))) => {
                    let owned = own(ev, self.id);
                    self.buf.drain(..used);
                    return Ok(owned);
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
            let mut chunk = [0u8; 16384];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(Event::Eof);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.out)?;
        self.out.clear();
        Ok(())
    }

    /// Read the whole request body.
    fn read_body(&mut self, into: &mut Vec<u8>) -> io::Result<bool> {
        // Bounded by the body: each round takes one packet or ends.
        loop {
            if self.ex.want_body(&mut self.out) == BodyState::Eof {
                return Ok(true);
            }
            self.flush()?;
            match self.next()? {
                Event::Body(d) => into.extend_from_slice(&d),
                Event::BodyEnd => return Ok(true),
                Event::Eof => return Ok(false),
                _ => return Ok(false),
            }
        }
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn own(ev: ContainerEvent<'_>, conn: usize) -> Event {
    match ev {
        ContainerEvent::CPing => Event::CPing,
        ContainerEvent::Request(r) => {
            let mut seen = Seen {
                conn,
                method: s(r.method()),
                uri: s(r.uri()),
                headers: r.headers().map(|(n, v)| (s(n), s(v))).collect(),
                ..Seen::default()
            };
            for a in r.attributes() {
                match a {
                    Attribute::Route(v) => seen.route = Some(s(v)),
                    Attribute::Secret(v) => seen.secret = Some(s(v)),
                    Attribute::QueryString(v) => seen.query = Some(s(v)),
                    Attribute::RemoteUser(v) => seen.remote_user = Some(s(v)),
                    Attribute::ReqAttribute { name, value } => {
                        seen.req_attributes.push((s(name), s(value)))
                    }
                    _ => {}
                }
            }
            Event::Request(Box::new(seen))
        }
        ContainerEvent::Body(d) => Event::Body(d.to_vec()),
        ContainerEvent::BodyEnd => Event::BodyEnd,
        ContainerEvent::Rejected(why) => Event::Rejected(why.to_string()),
        ContainerEvent::Discarded => Event::Other,
    }
}

/// Serve one connection; `Ok(true)` when it ended because the proxy closed it.
fn serve(stream: TcpStream, shared: &Shared, id: usize) -> io::Result<bool> {
    let cfg = Arc::new(ContainerConfig {
        // Accept the attributes mod_jk sends and the env ones the tests use.
        allowed_attributes: Some(Arc::new(|_: &[u8]| true)),
        ..ContainerConfig::default()
    });
    let mut c = Conn {
        stream,
        ex: ContainerExchange::new(cfg),
        buf: Vec::new(),
        out: Vec::new(),
        id,
    };
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let mut seen = match c.next()? {
            Event::Eof => return Ok(true),
            Event::CPing => {
                shared.cpings.fetch_add(1, Ordering::SeqCst);
                if shared.mute_cping.load(Ordering::SeqCst) {
                    continue;
                }
                c.ex.cpong(&mut c.out);
                c.flush()?;
                continue;
            }
            Event::Request(seen) => seen,
            Event::Other => continue,
            Event::Rejected(why) => {
                eprintln!("backend connection {id}: rejected: {why}");
                c.ex.fail(403, &mut c.out);
                c.flush()?;
                return Ok(false);
            }
            Event::Body(_) | Event::BodyEnd => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "body out of turn",
                ))
            }
        };
        let act = {
            let next = shared.script.lock().unwrap().pop_front();
            next.or_else(|| shared.default.lock().unwrap().clone())
                .unwrap_or(Act::ok("ok"))
        };
        let close = match act {
            Act::Garbage => {
                record(shared, &seen);
                c.stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
                true
            }
            Act::CloseMidHeaders => {
                record(shared, &seen);
                c.ex.send_headers(200, b"OK", [(&b"X-A"[..], &b"1"[..])], &mut c.out)
                    .map_err(other)?;
                let half = c.out.len() / 2;
                c.stream.write_all(&c.out[..half])?;
                true
            }
            Act::CloseAfterRequest => {
                // Take the unasked first body packet if one is due (want_body sends nothing then).
                if seen.header("content-length").is_some_and(|v| v != "0") {
                    if let Event::Body(d) = c.next()? {
                        seen.body.extend_from_slice(&d);
                    }
                }
                record(shared, &seen);
                true
            }
            Act::Stall => {
                record(shared, &seen);
                // Until the proxy gives up and closes.
                let mut sink = [0u8; 1024];
                while c.stream.read(&mut sink)? > 0 {}
                return Ok(true);
            }
            Act::AskBodyThenClose => {
                if c.ex.want_body(&mut c.out) == BodyState::Wait {
                    c.flush()?;
                    if let Event::Body(d) = c.next()? {
                        seen.body.extend_from_slice(&d);
                    }
                }
                record(shared, &seen);
                true
            }
            Act::CloseMidBody => {
                let mut body = Vec::new();
                c.read_body(&mut body)?;
                seen.body = body;
                record(shared, &seen);
                c.ex.send_headers(200, b"OK", [], &mut c.out)
                    .map_err(other)?;
                c.ex.send_body(b"first part", &mut c.out).map_err(other)?;
                c.flush()?;
                true
            }
            Act::AnswerThenClose => {
                record(shared, &seen);
                c.ex.send_headers(200, b"200", [], &mut c.out)
                    .map_err(other)?;
                c.ex.send_body(b"ok", &mut c.out).map_err(other)?;
                c.ex.end(true, &mut c.out).map_err(other)?;
                c.flush()?;
                true
            }
            Act::Answer {
                status,
                body,
                chunks,
            } => {
                let mut got = Vec::new();
                let complete = c.read_body(&mut got)?;
                seen.body = got;
                record(shared, &seen);
                if !complete {
                    return Ok(true);
                }
                let conn = id.to_string();
                let len = body.len().to_string();
                let challenge: &[u8] = if status == 401 {
                    b"Basic realm=\"t\""
                } else {
                    b""
                };
                let headers: [(&[u8], &[u8]); 4] = [
                    (b"Content-Type", b"text/plain"),
                    (b"Content-Length", len.as_bytes()),
                    (b"X-Conn", conn.as_bytes()),
                    (b"WWW-Authenticate", challenge),
                ];
                let headers = headers.into_iter().filter(|(_, v)| !v.is_empty());
                c.ex.send_headers(status, status.to_string().as_bytes(), headers, &mut c.out)
                    .map_err(other)?;
                let per = body.len().div_ceil(chunks.max(1)).max(1);
                for part in body.chunks(per) {
                    c.ex.send_body(part, &mut c.out).map_err(other)?;
                }
                c.ex.end(true, &mut c.out).map_err(other)?;
                c.flush()?;
                false
            }
        };
        if close {
            let _ = c.stream.shutdown(Shutdown::Both);
            shared.closed_here.fetch_add(1, Ordering::SeqCst);
            return Ok(false);
        }
    }
}

fn record(shared: &Shared, seen: &Seen) {
    shared.seen.lock().unwrap().push(seen.clone());
}

fn other(e: ajp::Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// Poll `cond` with a deadline (no sleeping to synchronise).
pub fn eventually(what: &str, cond: impl FnMut() -> bool) {
    let mut cond = cond;
    rjk_tests::proc::wait_until(what, Duration::from_secs(5), || cond().then_some(()))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A loopback address where nothing listens.
pub fn refused_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], rjk_tests::proc::free_port()))
}
