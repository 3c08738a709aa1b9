//! An AJP client for tests, built on the `ajp` crate's proxy-side exchange (the same state
//! machine the connectors use), plus a node started in-process on a free port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use ajp::{Attribute, BodyMode, ForwardRequest, PacketSize, ProxyEvent, ProxyExchange, CPING};
use bytes::{Buf, BytesMut};
use rjk_node::{demo::Demo, Node, NodeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every await in a test is bounded by this.
pub const T: Duration = Duration::from_secs(20);

/// A node serving the demo on a free loopback port, configured by `f`.
pub async fn node(f: impl FnOnce(&mut NodeConfig)) -> Node {
    let mut cfg = NodeConfig::new("n1");
    cfg.ajp = "127.0.0.1:0".parse().unwrap();
    f(&mut cfg);
    let route = cfg.route.clone();
    Node::start(cfg, Demo::new(&route)).await.unwrap()
}

/// A request to send.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub uri: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub attributes: Vec<(u8, String, String)>,
    pub secret: Option<String>,
    pub route: Option<String>,
    pub is_ssl: bool,
    pub body: Vec<u8>,
    pub chunked: bool,
}

/// `GET uri` (a `?query` in `uri` goes into the query-string attribute, as mod_jk sends it).
pub fn get(uri: &str) -> Req {
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (uri, None),
    };
    Req {
        method: "GET".into(),
        uri: path.into(),
        query,
        headers: vec![("Host".into(), "localhost".into())],
        attributes: vec![],
        secret: None,
        route: None,
        is_ssl: false,
        body: vec![],
        chunked: false,
    }
}

pub fn post(uri: &str, body: Vec<u8>) -> Req {
    let mut r = get(uri);
    r.method = "POST".into();
    r.headers
        .push(("Content-Length".into(), body.len().to_string()));
    r.body = body;
    r
}

impl Req {
    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn secret(mut self, s: &str) -> Req {
        self.secret = Some(s.into());
        self
    }
    pub fn req_attribute(mut self, k: &str, v: &str) -> Req {
        self.attributes
            .push((ajp::codes::attr::REQ_ATTRIBUTE, k.into(), v.into()));
        self
    }
}

/// What came back.
#[derive(Clone, Debug, Default)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub chunks: usize,
    pub flushes: usize,
    pub reuse: bool,
    /// Get Body Chunk requests received.
    pub body_requests: usize,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: BytesMut,
    pub size: PacketSize,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Self::connect_sized(addr, PacketSize::default()).await
    }

    pub async fn connect_sized(addr: SocketAddr, size: PacketSize) -> Client {
        let stream = tokio::time::timeout(T, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: BytesMut::with_capacity(65536),
            size,
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Read more bytes; `false` at EOF or on a reset.
    async fn fill(&mut self) -> bool {
        match tokio::time::timeout(T, self.stream.read_buf(&mut self.buf)).await {
            Ok(Ok(n)) => n > 0,
            Ok(Err(_)) => false,
            Err(_) => panic!("read timed out"),
        }
    }

    /// The node closes the connection: EOF (or reset) with nothing more sent.
    pub async fn expect_closed(&mut self) {
        let open = self.fill().await;
        assert!(
            !open,
            "expected the connection to be closed, got {:?}",
            &self.buf[..]
        );
    }

    pub async fn cping(&mut self) {
        self.send_raw(CPING).await;
        self.read_cpong().await;
    }

    pub async fn read_cpong(&mut self) {
        loop {
            if let Some(n) = ajp::receive_cpong(&self.buf, self.size).unwrap() {
                self.buf.advance(n);
                return;
            }
            assert!(self.fill().await, "closed while waiting for CPong");
        }
    }

    /// Send a request and read the whole response; `None` if the connection closed first.
    pub async fn try_request(&mut self, r: &Req) -> Option<Resp> {
        let mut ex = ProxyExchange::new(self.size);
        let headers: Vec<(&[u8], &[u8])> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
            .collect();
        let mut attrs: Vec<Attribute<'_>> = Vec::new();
        if let Some(q) = &r.query {
            attrs.push(Attribute::QueryString(q.as_bytes()));
        }
        if let Some(s) = &r.secret {
            attrs.push(Attribute::Secret(s.as_bytes()));
        }
        if let Some(s) = &r.route {
            attrs.push(Attribute::Route(s.as_bytes()));
        }
        for (_, k, v) in &r.attributes {
            attrs.push(Attribute::ReqAttribute {
                name: k.as_bytes(),
                value: v.as_bytes(),
            });
        }
        let head = ForwardRequest {
            method: r.method.as_bytes(),
            protocol: b"HTTP/1.1",
            uri: r.uri.as_bytes(),
            remote_addr: b"10.1.2.3",
            remote_host: None,
            server_name: b"localhost",
            server_port: 80,
            is_ssl: r.is_ssl,
            headers: &headers,
            attributes: &attrs,
        };
        let mode = if r.chunked {
            BodyMode::Chunked
        } else if r.body.is_empty() {
            BodyMode::None
        } else {
            BodyMode::ContentLength(r.body.len() as u64)
        };
        let mut out = Vec::new();
        ex.start(&head, mode, &mut out).unwrap();
        let mut sent = 0usize;
        if let BodyMode::ContentLength(_) = mode {
            let n = ex.body_wanted().unwrap().min(r.body.len());
            ex.send_body(&r.body[..n], &mut out).unwrap();
            sent = n;
        }
        if self.stream.write_all(&out).await.is_err() {
            return None;
        }
        let mut resp = Resp::default();
        loop {
            let ev = match ex.receive(&self.buf) {
                Ok(Some((ev, n))) => {
                    let ev = match ev {
                        ProxyEvent::Headers(h) => {
                            resp.status = h.status();
                            resp.headers = h
                                .headers()
                                .map(|(k, v)| {
                                    (
                                        String::from_utf8_lossy(k).into_owned(),
                                        String::from_utf8_lossy(v).into_owned(),
                                    )
                                })
                                .collect();
                            None
                        }
                        ProxyEvent::Body(d) => {
                            resp.body.extend_from_slice(d);
                            resp.chunks += 1;
                            None
                        }
                        ProxyEvent::Flush => {
                            resp.flushes += 1;
                            None
                        }
                        ProxyEvent::BodyRequested(_) => Some(()),
                        ProxyEvent::End { reuse } => {
                            resp.reuse = reuse;
                            self.buf.advance(n);
                            return Some(resp);
                        }
                    };
                    self.buf.advance(n);
                    ev
                }
                Ok(None) => {
                    if !self.fill().await {
                        return None;
                    }
                    None
                }
                Err(e) => panic!("protocol error from the node: {e}"),
            };
            if ev.is_some() {
                resp.body_requests += 1;
                let want = ex.body_wanted().unwrap();
                let n = want.min(r.body.len() - sent);
                let mut out = Vec::new();
                ex.send_body(&r.body[sent..sent + n], &mut out).unwrap();
                sent += n;
                self.stream.write_all(&out).await.unwrap();
            }
        }
    }

    pub async fn request(&mut self, r: &Req) -> Resp {
        self.try_request(r)
            .await
            .expect("the connection closed before End Response")
    }
}

/// Hex SHA-256, to compare with the demo's digests.
pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A deterministic pseudo-random body.
pub fn body(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A field of the demo's flat JSON (`"key":value`), as text without quotes.
pub fn json_field(json: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat)? + pat.len();
    let rest = &json[at..];
    if let Some(r) = rest.strip_prefix('"') {
        let end = r.find('"')?;
        Some(r[..end].to_string())
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}

pub mod procs;
