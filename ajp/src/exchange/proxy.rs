//! The web server's side of one request: send the Forward Request and the body, read the
//! container's reply, and know at each moment whether a retry or a reuse is still safe.

use crate::error::Error;
use crate::packet::{split_packet, Direction, PacketSize};
use crate::request::{encode_body, ForwardRequest, RequestEncoder};
use crate::response::{ContainerMessage, SendHeaders};

/// How the request body travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    /// No body (Content-Length 0 or none expected).
    None,
    /// A body of exactly this many bytes: the first packet goes unasked, right after the head.
    ContentLength(u64),
    /// A body of unknown length (chunked from the client): sent only when the container asks.
    Chunked,
}

/// What the container said.
#[derive(Clone, Copy, Debug)]
pub enum ProxyEvent<'a> {
    Headers(SendHeaders<'a>),
    Body(&'a [u8]),
    /// An empty body chunk: flush what has been written to the client.
    Flush,
    /// The container wants up to this many more body bytes ([`ProxyExchange::body_wanted`] says
    /// how many may go in the next packet).
    BodyRequested(usize),
    End {
        reuse: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Created,
    Sent,
    Ended { reuse: bool },
    Failed,
}

/// Proxy side of one exchange. Create one per request (it is a few words, no heap).
#[derive(Clone, Debug)]
pub struct ProxyExchange {
    size: PacketSize,
    phase: Phase,
    mode: BodyMode,
    /// Body bytes still owed for a Content-Length body.
    body_left: u64,
    /// The unsolicited first body packet has not been sent yet.
    first_pending: bool,
    /// Bytes the container asked for and has not been sent yet.
    requested: Option<usize>,
    /// End of body has been sent (or there is no body).
    body_done: bool,
    /// Body beyond the unasked first packet has gone out: it came from the client as the
    /// container asked, nobody kept it, so the request can no longer be sent again.
    streamed: bool,
    headers_seen: bool,
}

impl ProxyExchange {
    pub fn new(size: PacketSize) -> Self {
        ProxyExchange {
            size,
            phase: Phase::Created,
            mode: BodyMode::None,
            body_left: 0,
            first_pending: false,
            requested: None,
            body_done: true,
            streamed: false,
            headers_seen: false,
        }
    }

    pub fn packet_size(&self) -> PacketSize {
        self.size
    }

    /// Append the Forward Request to `out`. With a Content-Length body, call
    /// [`send_body`](Self::send_body) next with the first packet's data, before waiting for a reply.
    pub fn start(
        &mut self,
        req: &ForwardRequest<'_>,
        body: BodyMode,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.expect_created()?;
        req.encode(self.size, out)?;
        self.started(body);
        Ok(())
    }

    /// Like [`start`](Self::start) for a caller that writes the head itself with a
    /// [`RequestEncoder`] (whose `finish` must have succeeded).
    pub fn start_encoded(&mut self, body: BodyMode) -> Result<(), Error> {
        self.expect_created()?;
        self.started(body);
        Ok(())
    }

    /// Start writing a Forward Request with headers streamed from the caller's own structures.
    pub fn encoder<'v, 'm>(
        &self,
        head: &ForwardRequest<'m>,
        out: &'v mut Vec<u8>,
    ) -> Result<RequestEncoder<'v, 'm>, Error> {
        RequestEncoder::begin(head, self.size, out)
    }

    fn expect_created(&self) -> Result<(), Error> {
        if self.phase != Phase::Created {
            return Err(Error::Unexpected {
                what: "a second forward request",
                state: "an exchange is already under way",
            });
        }
        Ok(())
    }

    fn started(&mut self, body: BodyMode) {
        self.phase = Phase::Sent;
        self.mode = body;
        match body {
            BodyMode::None | BodyMode::ContentLength(0) => self.body_done = true,
            BodyMode::ContentLength(n) => {
                self.body_left = n;
                self.first_pending = true;
                self.body_done = false;
            }
            BodyMode::Chunked => self.body_done = false,
        }
    }

    /// How many body bytes may go in the next body packet, if one is due now. `Some(0)` means
    /// the body is finished: send the end-of-body packet (`send_body(&[])`).
    pub fn body_wanted(&self) -> Option<usize> {
        let max = self.size.max_body_to_container();
        let left = match self.mode {
            BodyMode::ContentLength(_) => usize::try_from(self.body_left).unwrap_or(usize::MAX),
            _ => usize::MAX,
        };
        if self.phase != Phase::Sent {
            return None;
        }
        if self.first_pending {
            return Some(max.min(left));
        }
        let asked = self.requested?;
        if self.body_done {
            return Some(0);
        }
        Some(asked.min(max).min(left))
    }

    /// Append one body packet with `data` (no more than [`body_wanted`](Self::body_wanted));
    /// empty `data` ends the body.
    pub fn send_body(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let Some(allowed) = self.body_wanted() else {
            self.phase = Phase::Failed;
            return Err(Error::Unexpected {
                what: "request body",
                state: "the container has not asked for any",
            });
        };
        if data.len() > allowed {
            self.phase = Phase::Failed;
            return Err(Error::BodyOverrun {
                len: data.len(),
                allowed,
            });
        }
        encode_body(data, self.size, out)?;
        if !self.first_pending && !data.is_empty() {
            self.streamed = true;
        }
        self.first_pending = false;
        self.requested = None;
        if data.is_empty() {
            self.body_done = true;
        } else if let BodyMode::ContentLength(_) = self.mode {
            self.body_left -= data.len() as u64;
            if self.body_left == 0 {
                // Tomcat may still ask once more (reading to EOF): answered with an empty packet.
                self.body_done = true;
            }
        }
        Ok(())
    }

    /// Read one message from the front of `buf`: the event and the bytes it took, or `Ok(None)`
    /// when `buf` does not yet hold a whole packet. Any error makes the connection unusable.
    pub fn receive<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(ProxyEvent<'a>, usize)>, Error> {
        let r = self.receive_inner(buf);
        if r.is_err() {
            self.phase = Phase::Failed;
        }
        r
    }

    #[inline]
    fn receive_inner<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(ProxyEvent<'a>, usize)>, Error> {
        match self.phase {
            Phase::Sent => {}
            Phase::Created => {
                return Err(Error::Unexpected {
                    what: "data from the container",
                    state: "no request has been sent",
                })
            }
            Phase::Ended { .. } => {
                if buf.is_empty() {
                    return Ok(None);
                }
                return Err(Error::Unexpected {
                    what: "data after End Response",
                    state: "the exchange is over",
                });
            }
            Phase::Failed => {
                return Err(Error::Unexpected {
                    what: "more data",
                    state: "the exchange has already failed",
                })
            }
        }
        // Bytes of flushes before the head, skipped (a loop, not a recursion, so this inlines).
        let mut skipped = 0;
        loop {
            let rest = buf.get(skipped..).unwrap_or_default();
            let Some((payload, used)) = split_packet(rest, Direction::FromContainer, self.size)?
            else {
                return Ok(None);
            };
            let msg = ContainerMessage::decode(payload)?;
            let event = match msg {
                ContainerMessage::SendHeaders(h) => {
                    if self.headers_seen {
                        return Err(Error::Unexpected {
                            what: "a second Send Headers",
                            state: "the response head was already received",
                        });
                    }
                    self.headers_seen = true;
                    ProxyEvent::Headers(h)
                }
                ContainerMessage::BodyChunk(data) => {
                    if !self.headers_seen {
                        // mod_jk ignores a flush before the head; data before it is an error.
                        if data.is_empty() {
                            skipped += used;
                            continue;
                        }
                        return Err(Error::Unexpected {
                            what: "response body",
                            state: "no Send Headers has been received",
                        });
                    }
                    if data.is_empty() {
                        ProxyEvent::Flush
                    } else {
                        ProxyEvent::Body(data)
                    }
                }
                ContainerMessage::EndResponse { reuse } => {
                    self.phase = Phase::Ended { reuse };
                    ProxyEvent::End { reuse }
                }
                ContainerMessage::GetBodyChunk { len } => {
                    if self.first_pending {
                        return Err(Error::Unexpected {
                            what: "Get Body Chunk",
                            state: "the first body packet has not been sent",
                        });
                    }
                    self.requested = Some(len as usize);
                    ProxyEvent::BodyRequested(len as usize)
                }
                ContainerMessage::CPong => {
                    return Err(Error::Unexpected {
                        what: "CPong",
                        state: "a request is under way",
                    })
                }
            };
            return Ok(Some((event, skipped + used)));
        }
    }

    /// What went on the wire can be sent again to another connection: no body beyond the
    /// unasked first packet (which the caller keeps) was sent. Whether a retry is allowed also
    /// depends on what reached the client and on the caller's rules; this is the wire's part.
    pub fn replayable(&self) -> bool {
        !self.streamed
    }

    /// The connection may carry another request: End Response arrived with reuse set, and no
    /// error happened.
    pub fn reusable(&self) -> bool {
        self.phase == Phase::Ended { reuse: true }
    }

    /// End Response has arrived.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Ended { .. })
    }

    /// The request went out and the reply is under way: no End Response yet, no error.
    /// [`receive`](Self::receive) on an empty buffer is then `Ok(None)`.
    pub fn awaits_reply(&self) -> bool {
        self.phase == Phase::Sent
    }

    /// The container's response head has arrived.
    pub fn headers_received(&self) -> bool {
        self.headers_seen
    }
}

/// Read a CPong from the front of `buf` (after sending [`crate::CPING`]): the bytes it took, or
/// `Ok(None)` if more are needed. Anything else is an error.
pub fn receive_cpong(buf: &[u8], size: PacketSize) -> Result<Option<usize>, Error> {
    let Some((payload, used)) = split_packet(buf, Direction::FromContainer, size)? else {
        return Ok(None);
    };
    match ContainerMessage::decode(payload)? {
        ContainerMessage::CPong => Ok(Some(used)),
        _ => Err(Error::Unexpected {
            what: "a message other than CPong",
            state: "waiting for the answer to CPing",
        }),
    }
}
