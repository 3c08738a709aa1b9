//! A small AJP/1.3 container that misbehaves on request: the backend side of the reliability
//! suite. Each request chooses a behaviour with `?mode=NAME` (and `on=ROUTE` limits it to one
//! container of a balancer), so one front end and one set of containers serve every case.
//!
//! The container records what it saw: every request (method, URI, query, headers, attributes,
//! body) with the connection it came on, and which connections the proxy closed. Tests read that
//! record to check what reached the backend and whether a connection was reused.
//!
//! Modes (the rest of the query tunes them):
//! - `ok` (default): 200 with `bytes=N` pattern bytes (default a short text), Content-Length
//!   unless `te=chunked`; End Response says reuse.
//! - `echo`: 200, the body lists URI, query, method, headers, attributes and body length/sum.
//! - `garbage`, `wrong-magic`, `too-long`, `bad-headers`, `unknown-type`: a reply that is not
//!   valid AJP; the connection stays open so that the proxy is the one to drop it.
//! - `head-then-die`, `die-mid-body`: the head (with `Content-Length` unless `te=chunked`), then
//!   half the body for the latter, then the socket is closed.
//! - `mix`: a complete response, End Response (reuse), then an unsolicited second response
//!   whose body is [`MIXED`], sent once the first one has been read (`event` `unsolicited`).
//! - `overlong-body`: Content-Length 5, then five bytes and [`MIXED`] before End Response.
//! - `silent`: reads the request and never answers; `hang-up`: closes without answering.
//! - `dribble`: the head one byte per second.
//! - `close-after`: a complete response with reuse, then the container closes the connection.
//! - `slow-upload`: reads the body with a 1 s timeout and closes the connection if it stalls.
//!
//! A body that does not arrive whole (any mode) is event `body-failed`; a packet that is not a
//! Forward Request or CPing where a message must start is event `unexpected-packet-..`; either
//! way the connection is closed.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ajp::{Attribute, PacketSize};

use crate::proc::wait_until;

/// The body of the unsolicited response of mode `mix`: no client may ever see it.
pub const MIXED: &str = "MIXED-RESPONSE-FOR-NOBODY";

/// One request as the container decoded it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub conn: usize,
    /// 0 for the first request on its connection.
    pub nth_on_conn: usize,
    pub method: String,
    pub uri: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// (name, value); coded attributes by their mod_jk names (`secret`, `route`, ...).
    pub attributes: Vec<(String, String)>,
    pub body_len: usize,
}

#[derive(Default)]
struct Record {
    requests: Vec<Seen>,
    /// Connections the proxy closed (EOF or reset seen while waiting for its next packet).
    closed_by_proxy: Vec<usize>,
    /// Named events (`unsolicited` once mode `mix` has sent its extra response).
    events: Vec<(usize, String)>,
    /// The proxy's address of each connection, in accept order (its `source`).
    peers: Vec<SocketAddr>,
}

/// A running fake container on 127.0.0.1. Dropping it stops accepting and closes its sockets.
pub struct FakeAjp {
    pub route: String,
    pub port: u16,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeAjp {
    pub fn start(route: &str) -> io::Result<FakeAjp> {
        FakeAjp::start_on(route, 0)
    }

    /// On a given port (0: any), e.g. the port of a container that was stopped: it "restarts".
    pub fn start_on(route: &str, port: u16) -> io::Result<FakeAjp> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let record = Arc::new(Mutex::new(Record::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let ids = Arc::new(AtomicUsize::new(0));
        let acceptor = {
            let (record, stop, conns, route) = (
                record.clone(),
                stop.clone(),
                conns.clone(),
                route.to_owned(),
            );
            std::thread::spawn(move || {
                for s in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(s) = s else { continue };
                    if let Ok(peer) = s.peer_addr() {
                        record.lock().unwrap().peers.push(peer);
                    }
                    let _ = s.set_nodelay(true);
                    if let Ok(c) = s.try_clone() {
                        conns.lock().unwrap().push(c);
                    }
                    let id = ids.fetch_add(1, Ordering::SeqCst);
                    let conn = Conn {
                        id,
                        route: route.clone(),
                        record: record.clone(),
                        stop: stop.clone(),
                    };
                    std::thread::spawn(move || conn.serve(s));
                }
            })
        };
        Ok(FakeAjp {
            route: route.to_owned(),
            port,
            record,
            stop,
            conns,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Every request seen so far.
    /// The proxy's end of every connection accepted so far.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.record.lock().unwrap().peers.clone()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.record.lock().unwrap().requests.clone()
    }

    /// The last request whose query contains `marker`.
    pub fn request_with(&self, marker: &str) -> Option<Seen> {
        self.requests()
            .into_iter()
            .rev()
            .find(|s| s.query.contains(marker) || s.uri.contains(marker))
    }

    /// Requests that came on connection `conn` after its `nth`.
    pub fn later_on_conn(&self, conn: usize, nth: usize) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.conn == conn && s.nth_on_conn > nth)
            .collect()
    }

    pub fn closed_by_proxy(&self, conn: usize) -> bool {
        self.record.lock().unwrap().closed_by_proxy.contains(&conn)
    }

    /// Wait until the proxy has closed `conn`.
    pub fn wait_closed(&self, conn: usize, timeout: Duration) -> io::Result<()> {
        wait_until(
            &format!("the proxy to close connection {conn}"),
            timeout,
            || self.closed_by_proxy(conn).then_some(()),
        )
    }

    /// Wait for a named event on any connection; returns the connection.
    pub fn wait_event(&self, name: &str, timeout: Duration) -> io::Result<usize> {
        wait_until(&format!("event {name}"), timeout, || {
            let r = self.record.lock().unwrap();
            r.events.iter().find(|(_, e)| e == name).map(|(c, _)| *c)
        })
    }

    /// Named events so far (connection, name).
    pub fn events(&self) -> Vec<(usize, String)> {
        self.record.lock().unwrap().events.clone()
    }

    /// Forget what was recorded (between cases of one test).
    pub fn clear(&self) {
        *self.record.lock().unwrap() = Record::default();
    }
}

impl Drop for FakeAjp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Wake the blocking accept so its thread sees the stop flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

struct Conn {
    id: usize,
    route: String,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
}

/// What the container does after reading a request.
enum Next {
    /// Wait for the next request on this connection.
    Continue,
    /// Close the connection now.
    Close,
    /// Keep it open without reading or writing, until the proxy closes it.
    Hold,
}

impl Conn {
    fn serve(self, mut s: TcpStream) {
        let mut nth = 0;
        loop {
            let packet = match read_packet(&mut s) {
                Ok(Some(p)) => p,
                Ok(None) | Err(_) => {
                    if !self.stop.load(Ordering::SeqCst) {
                        self.record.lock().unwrap().closed_by_proxy.push(self.id);
                    }
                    return;
                }
            };
            match packet.first() {
                Some(10) => {
                    // CPing → CPong.
                    if s.write_all(&[0x41, 0x42, 0, 1, 9]).is_err() {
                        return;
                    }
                    continue;
                }
                Some(2) => {}
                other => {
                    // Anything else where a message must start (a body packet the proxy sent
                    // unasked, or after the wrong message): recorded, the connection closed.
                    let name = format!("unexpected-packet-{:?}", other.copied());
                    self.event(&name);
                    return;
                }
            }
            let next = match self.request(&mut s, &packet, nth) {
                Ok(n) => n,
                Err(_) => {
                    // A read or write failed mid-request: the proxy closed the connection.
                    if !self.stop.load(Ordering::SeqCst) {
                        self.record.lock().unwrap().closed_by_proxy.push(self.id);
                    }
                    Next::Close
                }
            };
            nth += 1;
            match next {
                Next::Continue => {}
                Next::Close => {
                    let _ = s.shutdown(Shutdown::Both);
                    return;
                }
                Next::Hold => {
                    // Read (and drop) whatever comes until the proxy closes.
                    let mut sink = [0u8; 4096];
                    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                    if !self.stop.load(Ordering::SeqCst) {
                        self.record.lock().unwrap().closed_by_proxy.push(self.id);
                    }
                    return;
                }
            }
        }
    }

    fn request(&self, s: &mut TcpStream, packet: &[u8], nth: usize) -> io::Result<Next> {
        let Ok(req) = ajp::ForwardRequestRef::decode(packet) else {
            // The proxy's own message does not decode: a finding like an unexpected packet.
            self.event("unexpected-packet-bad-forward-request");
            return Ok(Next::Close);
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut seen = Seen {
            conn: self.id,
            nth_on_conn: nth,
            method: text(req.method()),
            uri: text(req.uri()),
            query: String::new(),
            headers: req.headers().map(|(n, v)| (text(n), text(v))).collect(),
            attributes: req.attributes().map(|a| attribute(&a)).collect(),
            body_len: 0,
        };
        if let Some((_, q)) = seen.attributes.iter().find(|(n, _)| n == "query_string") {
            seen.query = q.clone();
        }
        let params = query_params(&seen.query);
        let mode = params.get("mode").map(String::as_str).unwrap_or("ok");
        let applies = params.get("on").is_none_or(|r| *r == self.route);
        let mode = if applies { mode } else { "ok" };
        let chunked_request = req
            .header(b"transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
        // Recorded before the body is read, so that a request whose body never came is seen.
        self.push(seen.clone());
        if mode == "slow-upload" {
            s.set_read_timeout(Some(Duration::from_secs(1)))?;
        }
        let body = match read_body(s, req.content_length(), chunked_request) {
            Ok(b) => b,
            Err(e) => {
                self.event("body-failed");
                return Err(e);
            }
        };
        seen.body_len = body.len();
        let mut record = self.record.lock().unwrap();
        let mine = record
            .requests
            .iter_mut()
            .rev()
            .find(|r| r.conn == self.id && r.nth_on_conn == nth);
        if let Some(r) = mine {
            r.body_len = body.len();
        }
        drop(record);
        let size = PacketSize::default();
        let mut out = Vec::new();
        let bytes: Option<usize> = params.get("bytes").and_then(|b| b.parse().ok());
        let chunked = params.get("te").is_some_and(|t| t == "chunked");
        match mode {
            "garbage" => {
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")?;
                return Ok(Next::Hold);
            }
            "wrong-magic" => {
                s.write_all(&[0x12, 0x34, 0, 2, 5, 1])?;
                return Ok(Next::Hold);
            }
            "too-long" => {
                // Declares 0xFFF0 payload bytes: beyond any max_packet_size.
                let mut p = vec![0x41, 0x42, 0xFF, 0xF0, 4, 0, 200];
                p.resize(64, 0);
                s.write_all(&p)?;
                return Ok(Next::Hold);
            }
            "bad-headers" => {
                // Send Headers, status 200 "OK", five headers announced, none present.
                s.write_all(&[0x41, 0x42, 0, 10, 4, 0, 200, 0, 2, b'O', b'K', 0, 0, 5])?;
                return Ok(Next::Hold);
            }
            "unknown-type" => {
                s.write_all(&[0x41, 0x42, 0, 1, 0x42])?;
                return Ok(Next::Hold);
            }
            "silent" => return Ok(Next::Hold),
            "hang-up" => return Ok(Next::Close),
            "dribble" => {
                head(200, &[("Content-Length", "2")], &mut out);
                for b in out {
                    s.write_all(&[b])?;
                    // The behaviour under test is slowness itself, not synchronisation.
                    std::thread::sleep(Duration::from_secs(1));
                }
                return Ok(Next::Hold);
            }
            "head-then-die" | "die-mid-body" => {
                let total = bytes.unwrap_or(100_000);
                let cl = total.to_string();
                let hs: Vec<(&str, &str)> = if chunked {
                    vec![]
                } else {
                    vec![("Content-Length", &cl)]
                };
                head(200, &hs, &mut out);
                if mode == "die-mid-body" {
                    body_chunks(&pattern(total / 2), size, &mut out);
                }
                s.write_all(&out)?;
                return Ok(Next::Close);
            }
            "mix" => {
                head(200, &[("Content-Length", "5")], &mut out);
                body_chunks(b"first", size, &mut out);
                ajp::encode_end_response(true, &mut out);
                s.write_all(&out)?;
                // The second response goes once the proxy has had time to take the first
                // one: the connection looks idle and reusable, with bytes pending on it.
                out.clear();
                let n = MIXED.len().to_string();
                head(200, &[("Content-Length", &n)], &mut out);
                body_chunks(MIXED.as_bytes(), size, &mut out);
                ajp::encode_end_response(true, &mut out);
                std::thread::sleep(Duration::from_millis(100));
                s.write_all(&out)?;
                self.event("unsolicited");
                return Ok(Next::Continue);
            }
            "overlong-body" => {
                // More body than the Content-Length announced, then End Response.
                head(200, &[("Content-Length", "5")], &mut out);
                body_chunks(b"first", size, &mut out);
                body_chunks(MIXED.as_bytes(), size, &mut out);
            }
            "echo" => {
                let text = echo_text(&seen, &body);
                let n = text.len().to_string();
                head(
                    200,
                    &[("Content-Length", &n), ("X-Fake", &self.route)],
                    &mut out,
                );
                body_chunks(text.as_bytes(), size, &mut out);
            }
            _ => {
                let data = match bytes {
                    Some(n) => pattern(n),
                    None => format!("ok {} conn={} n={nth}\n", self.route, self.id).into_bytes(),
                };
                let n = data.len().to_string();
                let mut hs = vec![("X-Fake", self.route.as_str())];
                if !chunked {
                    hs.push(("Content-Length", &n));
                }
                head(200, &hs, &mut out);
                body_chunks(&data, size, &mut out);
            }
        }
        ajp::encode_end_response(true, &mut out);
        s.write_all(&out)?;
        Ok(if mode == "close-after" {
            Next::Close
        } else {
            Next::Continue
        })
    }

    fn event(&self, name: &str) {
        let mut r = self.record.lock().unwrap();
        r.events.push((self.id, name.to_owned()));
    }

    fn push(&self, seen: Seen) {
        self.record.lock().unwrap().requests.push(seen);
    }
}

/// Bytes 0..n of the download pattern: `i % 251`, so a shifted or mixed stream shows.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn head(status: u16, headers: &[(&str, &str)], out: &mut Vec<u8>) {
    let hs = headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
    ajp::encode_send_headers(status, b"OK", hs, PacketSize::default(), out)
        .expect("a small head fits");
}

fn body_chunks(data: &[u8], size: PacketSize, out: &mut Vec<u8>) {
    for c in data.chunks(size.max_send_chunk()) {
        ajp::encode_body_chunk(c, size, out).expect("chunk fits");
    }
}

/// Read one packet sent to the container: `None` on a clean EOF before its first byte.
fn read_packet(s: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut h = [0u8; 4];
    match s.read(&mut h[..1])? {
        0 => return Ok(None),
        _ => s.read_exact(&mut h[1..])?,
    }
    if h[..2] != [0x12, 0x34] {
        return Err(io::Error::other(format!("bad magic {h:02x?}")));
    }
    let mut p = vec![0u8; u16::from_be_bytes([h[2], h[3]]) as usize];
    s.read_exact(&mut p)?;
    Ok(Some(p))
}

/// The request body: the packets the proxy sends unasked (Content-Length), then Get Body Chunk
/// until done; a chunked request is asked for until the empty packet.
fn read_body(s: &mut TcpStream, len: Option<u64>, chunked: bool) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let Some(want) = len.or(chunked.then_some(u64::MAX)) else {
        return Ok(body);
    };
    if want == 0 {
        return Ok(body);
    }
    let mut first = len.is_some();
    loop {
        if !first {
            let mut ask = Vec::new();
            ajp::encode_get_body_chunk(8186, &mut ask);
            s.write_all(&ask)?;
        }
        first = false;
        let p = read_packet(s)?.ok_or_else(|| io::Error::other("EOF in body"))?;
        let data = ajp::decode_body(&p).map_err(|e| io::Error::other(format!("{e:?}")))?;
        if data.is_empty() {
            return Ok(body);
        }
        body.extend_from_slice(data);
        if body.len() as u64 >= want {
            return Ok(body);
        }
    }
}

fn attribute(a: &Attribute<'_>) -> (String, String) {
    let t = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match a {
        Attribute::ReqAttribute { name, value } => (t(name), t(value)),
        Attribute::SslKeySize(n) => ("ssl_key_size".into(), n.to_string()),
        Attribute::Context(v) => ("context".into(), t(v)),
        Attribute::ServletPath(v) => ("servlet_path".into(), t(v)),
        Attribute::RemoteUser(v) => ("remote_user".into(), t(v)),
        Attribute::AuthType(v) => ("auth_type".into(), t(v)),
        Attribute::QueryString(v) => ("query_string".into(), t(v)),
        Attribute::Route(v) => ("route".into(), t(v)),
        Attribute::SslCert(v) => ("ssl_cert".into(), t(v)),
        Attribute::SslCipher(v) => ("ssl_cipher".into(), t(v)),
        Attribute::SslSession(v) => ("ssl_session".into(), t(v)),
        Attribute::Secret(v) => ("secret".into(), t(v)),
        Attribute::StoredMethod(v) => ("stored_method".into(), t(v)),
    }
}

fn query_params(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// FNV-1a: a checksum of the body the container received, cheap and dependency-free.
pub fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

fn echo_text(s: &Seen, body: &[u8]) -> String {
    let mut t = format!(
        "method={}\nuri={}\nquery={}\nbody_len={}\nbody_fnv={:016x}\n",
        s.method,
        s.uri,
        s.query,
        body.len(),
        fnv(body)
    );
    for (n, v) in &s.headers {
        t.push_str(&format!("header {n}: {v}\n"));
    }
    for (n, v) in &s.attributes {
        t.push_str(&format!("attribute {n}={v}\n"));
    }
    t
}
