//! The container's side of a connection: read requests and their bodies, check them the way
//! Tomcat's AJP connector does (secret, request attributes), and write the response.
//!
//! One `ContainerExchange` serves every request on a connection in turn; between requests it
//! answers CPing.

use std::sync::Arc;

use crate::codes;
use crate::error::Error;
use crate::packet::{split_packet, Direction, PacketSize};
use crate::request::{decode_body, Attribute, ForwardRequestRef, ProxyMessage};
use crate::response::{
    encode_body_chunk, encode_end_response, encode_get_body_chunk, encode_send_headers, CPONG,
};

/// Decides whether an unknown `req_attribute` name may pass (Tomcat's
/// `allowedRequestAttributesPattern`, which must match the whole name).
pub type AttributeFilter = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// How the container checks what arrives.
#[derive(Clone, Default)]
pub struct ContainerConfig {
    pub packet_size: PacketSize,
    /// When set, every request must carry exactly this secret.
    pub secret: Option<Vec<u8>>,
    /// Names outside Tomcat's well-known list pass only if this accepts them.
    pub allowed_attributes: Option<AttributeFilter>,
}

impl std::fmt::Debug for ContainerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("ContainerConfig")
            .field("packet_size", &self.packet_size)
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("allowed_attributes", &self.allowed_attributes.is_some())
            .finish()
    }
}

/// Why a request was refused with 403 (Tomcat's behaviour since the Ghostcat fixes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection<'a> {
    MissingSecret,
    WrongSecret,
    /// A `req_attribute` name that is neither well known nor allowed.
    UnknownAttribute(&'a [u8]),
}

impl std::fmt::Display for Rejection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::MissingSecret => f.write_str("request carries no secret"),
            Rejection::WrongSecret => f.write_str("request carries a wrong secret"),
            Rejection::UnknownAttribute(n) => write!(
                f,
                "unknown request attribute [{}] received from reverse proxy",
                String::from_utf8_lossy(n)
            ),
        }
    }
}

/// What arrived from the web server.
#[derive(Clone, Copy, Debug)]
pub enum ContainerEvent<'a> {
    /// Answer with [`ContainerExchange::cpong`].
    CPing,
    /// A new request, already checked.
    Request(ForwardRequestRef<'a>),
    /// Refuse with [`ContainerExchange::fail`]`(403, ..)` and close the connection.
    Rejected(Rejection<'a>),
    /// Request body data.
    Body(&'a [u8]),
    /// The request body is complete.
    BodyEnd,
    /// The unasked first body packet of a request that ended without reading it was consumed
    /// and dropped. Nothing to do but advance past its bytes.
    Discarded,
}

/// What the application can expect after asking for body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyState {
    /// A body packet is on its way: keep reading.
    Wait,
    /// The body is complete.
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Request,
    /// The response ended while a body packet was still due: read and drop exactly that one.
    Discard,
    Closed,
}

/// The container side of one connection.
#[derive(Clone, Debug)]
pub struct ContainerExchange {
    cfg: Arc<ContainerConfig>,
    phase: Phase,
    /// The unsolicited first packet of a Content-Length body has not arrived yet.
    first_pending: bool,
    /// A Get Body Chunk is out and unanswered.
    asked: bool,
    eof: bool,
    headers_sent: bool,
}

impl ContainerExchange {
    pub fn new(cfg: Arc<ContainerConfig>) -> Self {
        ContainerExchange {
            cfg,
            phase: Phase::Idle,
            first_pending: false,
            asked: false,
            eof: true,
            headers_sent: false,
        }
    }

    pub fn config(&self) -> &ContainerConfig {
        &self.cfg
    }

    /// Between requests: a CPing or a Forward Request may come next.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    /// After a rejection, `fail`, `end(false)` or an error: close the connection.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether the response head has been sent for the current request.
    pub fn headers_sent(&self) -> bool {
        self.headers_sent
    }

    /// Read one message from the front of `buf`: the event and the bytes it took, or `Ok(None)`
    /// when more bytes are needed. An error means: close the connection (Tomcat sends nothing).
    pub fn receive<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(ContainerEvent<'a>, usize)>, Error> {
        match self.receive_one(buf) {
            Err(e) => {
                self.phase = Phase::Closed;
                Err(e)
            }
            Ok(r) => Ok(r),
        }
    }

    fn receive_one<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(ContainerEvent<'a>, usize)>, Error> {
        if self.phase == Phase::Closed {
            return Err(Error::Unexpected {
                what: "data",
                state: "the connection is being closed",
            });
        }
        let Some((payload, used)) =
            split_packet(buf, Direction::ToContainer, self.cfg.packet_size)?
        else {
            return Ok(None);
        };
        let event = match self.phase {
            Phase::Idle => self.on_idle(payload)?,
            Phase::Request => self.on_body(payload)?,
            Phase::Discard => {
                decode_body(payload)?;
                self.phase = Phase::Idle;
                ContainerEvent::Discarded
            }
            Phase::Closed => {
                return Err(Error::Unexpected {
                    what: "data",
                    state: "the connection is being closed",
                })
            }
        };
        Ok(Some((event, used)))
    }

    fn on_idle<'a>(&mut self, payload: &'a [u8]) -> Result<ContainerEvent<'a>, Error> {
        match ProxyMessage::decode(payload)? {
            ProxyMessage::CPing => Ok(ContainerEvent::CPing),
            ProxyMessage::ForwardRequest(req) => {
                if let Some(why) = self.check(&req) {
                    self.phase = Phase::Request;
                    self.first_pending = false;
                    self.eof = true;
                    self.headers_sent = false;
                    return Ok(ContainerEvent::Rejected(why));
                }
                self.phase = Phase::Request;
                self.headers_sent = false;
                self.asked = false;
                match req.content_length() {
                    Some(0) => {
                        self.first_pending = false;
                        self.eof = true;
                    }
                    Some(_) => {
                        self.first_pending = true;
                        self.eof = false;
                    }
                    None => {
                        self.first_pending = false;
                        self.eof = false;
                    }
                }
                Ok(ContainerEvent::Request(req))
            }
            // Tomcat treats these as unexpected and closes the connection without a reply.
            ProxyMessage::Shutdown => Err(Error::UnknownMessage {
                code: codes::kind::SHUTDOWN,
            }),
            ProxyMessage::Ping => Err(Error::UnknownMessage {
                code: codes::kind::PING,
            }),
        }
    }

    fn on_body<'a>(&mut self, payload: &'a [u8]) -> Result<ContainerEvent<'a>, Error> {
        if !(self.first_pending || self.asked) {
            return Err(Error::Unexpected {
                what: "a packet",
                state: "no request body was asked for",
            });
        }
        let data = decode_body(payload)?;
        self.first_pending = false;
        self.asked = false;
        if data.is_empty() {
            self.eof = true;
            Ok(ContainerEvent::BodyEnd)
        } else {
            Ok(ContainerEvent::Body(data))
        }
    }

    fn check<'a>(&self, req: &ForwardRequestRef<'a>) -> Option<Rejection<'a>> {
        let mut secret: Option<&[u8]> = None;
        for a in req.attributes() {
            match a {
                Attribute::Secret(s) => secret = Some(s),
                Attribute::ReqAttribute { name, .. } => {
                    let allowed = codes::is_well_known_req_attribute(name)
                        || self
                            .cfg
                            .allowed_attributes
                            .as_ref()
                            .is_some_and(|f| f(name));
                    if !allowed {
                        return Some(Rejection::UnknownAttribute(name));
                    }
                }
                _ => {}
            }
        }
        let expected = self.cfg.secret.as_deref()?;
        match secret {
            None => Some(Rejection::MissingSecret),
            Some(s) if !constant_time_eq(s, expected) => Some(Rejection::WrongSecret),
            Some(_) => None,
        }
    }

    /// Answer a CPing.
    pub fn cpong(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(CPONG);
    }

    /// The application wants (more) request body. Appends a Get Body Chunk to `out` when one
    /// must be sent; the data then arrives as [`ContainerEvent::Body`] or `BodyEnd`.
    pub fn want_body(&mut self, out: &mut Vec<u8>) -> BodyState {
        if self.phase != Phase::Request || self.eof {
            return BodyState::Eof;
        }
        if !(self.first_pending || self.asked) {
            let n = self.cfg.packet_size.max_body_to_container();
            encode_get_body_chunk(n.min(0xFFFF) as u16, out);
            self.asked = true;
        }
        BodyState::Wait
    }

    fn expect_request(&self, what: &'static str) -> Result<(), Error> {
        if self.phase != Phase::Request {
            return Err(Error::Unexpected {
                what,
                state: "no request is under way",
            });
        }
        Ok(())
    }

    /// Send the response head.
    pub fn send_headers<'h>(
        &mut self,
        status: u16,
        reason: &[u8],
        headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.expect_request("Send Headers")?;
        if self.headers_sent {
            return Err(Error::Unexpected {
                what: "a second Send Headers",
                state: "the response head was already sent",
            });
        }
        encode_send_headers(status, reason, headers, self.cfg.packet_size, out)?;
        self.headers_sent = true;
        Ok(())
    }

    /// Send response body, split into as many chunks as the packet size requires.
    pub fn send_body(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.expect_request("response body")?;
        if !self.headers_sent {
            return Err(Error::Unexpected {
                what: "response body",
                state: "the response head has not been sent",
            });
        }
        let max = self.cfg.packet_size.max_send_chunk();
        out.reserve(data.len() + data.len().div_ceil(max) * 8);
        for chunk in data.chunks(max) {
            encode_body_chunk(chunk, self.cfg.packet_size, out)?;
        }
        Ok(())
    }

    /// Ask the web server to flush what it has to the client (an empty body chunk).
    pub fn flush(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.expect_request("flush")?;
        if !self.headers_sent {
            return Err(Error::Unexpected {
                what: "flush",
                state: "the response head has not been sent",
            });
        }
        encode_body_chunk(&[], self.cfg.packet_size, out)
    }

    /// End the response. With `reuse`, the connection goes back to idle (after dropping one
    /// still-due body packet, as Tomcat does); without it, close after writing.
    pub fn end(&mut self, reuse: bool, out: &mut Vec<u8>) -> Result<(), Error> {
        self.expect_request("End Response")?;
        encode_end_response(reuse, out);
        self.phase = if !reuse {
            Phase::Closed
        } else if self.first_pending || self.asked {
            Phase::Discard
        } else {
            Phase::Idle
        };
        self.first_pending = false;
        self.asked = false;
        self.eof = true;
        Ok(())
    }

    /// Answer the current request with an error page (or just end it if the head is already
    /// out) and mark the connection for closing, as Tomcat does for rejected requests.
    pub fn fail(&mut self, status: u16, out: &mut Vec<u8>) {
        if self.phase == Phase::Request && !self.headers_sent {
            let reason = status_reason(status);
            let mut page = [0u8; 128];
            let body = error_page(status, reason, &mut page);
            let mut len_buf = [0u8; 8];
            let len = fmt_u64(body.len() as u64, &mut len_buf);
            let headers: [(&[u8], &[u8]); 2] = [
                (b"Content-Type", b"text/html;charset=utf-8"),
                (b"Content-Length", len),
            ];
            let mut code = [0u8; 8];
            let code = fmt_u64(status as u64, &mut code);
            if encode_send_headers(status, code, headers, self.cfg.packet_size, out).is_ok() {
                let _ = encode_body_chunk(body, self.cfg.packet_size, out);
            }
        }
        encode_end_response(false, out);
        self.phase = Phase::Closed;
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn status_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn error_page<'b>(status: u16, reason: &str, buf: &'b mut [u8; 128]) -> &'b [u8] {
    use std::io::Write;
    let mut c = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(c, "<html><body><h1>{status} {reason}</h1></body></html>");
    let n = c.position() as usize;
    &buf[..n]
}

fn fmt_u64(mut n: u64, buf: &mut [u8; 8]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}
