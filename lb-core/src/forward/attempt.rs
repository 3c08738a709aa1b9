//! One attempt: one request over one connection of one member, driving the `ajp` proxy-side
//! exchange from send to End Response, streaming the response to the client as it comes.

use std::time::Instant;

use ajp::{ProxyEvent, ProxyExchange};

use crate::pool::{Lease, ReadError};

use super::body::Body;
use super::failure::Failure;
use super::request::{self, MemberFields};
use super::selector::Traffic;
use super::server::{RequestHead, ServerSide};
use super::spec::{check_status, StatusMatch};
use super::timeouts::ReplyWait;

/// What the attempt did that outlives it.
#[derive(Debug, Default)]
pub struct Progress {
    /// Some response byte (the head at least) went to the client: no retry from here on.
    pub response_started: bool,
    /// The status the backend answered (once its head arrived).
    pub status: Option<u16>,
    pub traffic: Traffic,
    /// `use_server_errors` matched: the backend's head and body are withheld so the web
    /// server answers with its own error page for `status`.
    pub blocked: bool,
}

/// What to do after one event, decided while the event still borrows the read buffer.
enum Next {
    /// Handle the next buffered packet (or read when none is complete).
    Continue,
    /// No whole packet is buffered: read from the backend.
    Read,
    SendBody,
    Done,
}

/// Run one attempt on `lease` (a slot of the member's pool). On return the slot's connection
/// is open only if the exchange ended cleanly with reuse allowed.
pub fn run(
    lease: &mut Lease<'_>,
    head: &RequestHead<'_>,
    member: &MemberFields<'_>,
    body: &mut Body,
    server: &mut dyn ServerSide,
    progress: &mut Progress,
) -> Result<(), Failure> {
    let r = drive(lease, head, member, body, server, progress);
    if r.is_err() {
        // Whatever is left on this connection belongs to a failed exchange.
        lease.close();
    }
    r
}

fn drive(
    lease: &mut Lease<'_>,
    head: &RequestHead<'_>,
    member: &MemberFields<'_>,
    body: &mut Body,
    server: &mut dyn ServerSide,
    progress: &mut Progress,
) -> Result<(), Failure> {
    let spec = lease.pool().spec();
    let size = spec.max_packet_size;
    // Encode first: a request too large for the packet never opens a connection.
    lease.wbuf.clear();
    request::encode(head, member, size, &mut lease.wbuf).map_err(Failure::TooLarge)?;
    lease.ready().map_err(Failure::Connect)?;

    let mut exchange = ProxyExchange::new(size);
    // The head is complete, so the exchange only records that it started.
    exchange
        .start_encoded(body.mode())
        .map_err(Failure::Protocol)?;
    if let Some(first) = body.first_packet(server)? {
        exchange
            .send_body(first, &mut lease.wbuf)
            .map_err(Failure::Protocol)?;
    }
    progress.traffic.sent += lease.wbuf.len() as u64;
    lease.send().map_err(Failure::Send)?;

    let wait = ReplyWait::for_request(spec, &head.options);
    loop {
        let next = match exchange.receive(lease.unread()) {
            Err(e) => return Err(Failure::Protocol(e)),
            Ok(None) => Next::Read,
            Ok(Some((event, used))) => {
                let next = on_event(event, spec, head, server, progress)?;
                progress.traffic.received += used as u64;
                lease.consume(used);
                next
            }
        };
        match next {
            Next::Read => match lease.fill(wait.duration()) {
                Ok(_) => {}
                Err(ReadError::Timeout) if matches!(wait, ReplyWait::Reply(_)) => {
                    return Err(Failure::ReplyTimeout)
                }
                Err(e) => return Err(Failure::Broken(e)),
            },
            Next::SendBody => {
                let Some(allowed) = exchange.body_wanted() else {
                    continue;
                };
                let part: &[u8] = if allowed == 0 {
                    &[]
                } else {
                    body.next_part(server, allowed)?
                };
                exchange
                    .send_body(part, &mut lease.wbuf)
                    .map_err(Failure::Protocol)?;
                progress.traffic.sent += lease.wbuf.len() as u64;
                lease.send().map_err(Failure::Send)?;
            }
            Next::Continue => {}
            Next::Done => break,
        }
    }
    // Reuse only after End Response reuse=1 with nothing left over (a leftover would mix into
    // the next response).
    if exchange.reusable() && !spec.disable_reuse && !lease.has_unread() {
        lease.touch(Instant::now());
    } else {
        lease.close();
    }
    Ok(())
}

fn on_event(
    event: ProxyEvent<'_>,
    spec: &super::spec::AjpWorkerSpec,
    head: &RequestHead<'_>,
    server: &mut dyn ServerSide,
    progress: &mut Progress,
) -> Result<Next, Failure> {
    let gone = |_| Failure::ClientGone;
    match event {
        ProxyEvent::Headers(h) => {
            let status = h.status();
            progress.status = Some(status);
            // A mount's list replaces the worker's, as in mod_jk.
            let matched = match head.rule.filter(|r| !r.fail_on_status.is_empty()) {
                Some(r) => check_status(r.fail_on_status.iter().copied(), status),
                None => spec.fail_on_status.check(status),
            };
            if let Some(m) = matched {
                // Nothing reaches the client; the request may go elsewhere.
                return Err(Failure::Status {
                    status,
                    fatal: m == StatusMatch::Fatal,
                });
            }
            if server.client_gone() {
                return Err(Failure::ClientGone);
            }
            let threshold = head.rule.map_or(0, |r| r.use_server_errors);
            if threshold > 0 && i64::from(status) >= threshold {
                progress.blocked = true;
                if status == 401 {
                    for (n, v) in h.headers() {
                        if n.eq_ignore_ascii_case(b"www-authenticate") {
                            server.keep_for_error_page(n, v);
                        }
                    }
                }
                return Ok(Next::Continue);
            }
            progress.response_started = true;
            server.write_head(&h).map_err(gone)?;
            if head.options.flush_header {
                server.flush().map_err(gone)?;
            }
            Ok(Next::Continue)
        }
        ProxyEvent::Body(_) if progress.blocked => Ok(Next::Continue),
        ProxyEvent::Flush if progress.blocked => Ok(Next::Continue),
        ProxyEvent::Body(data) => {
            if server.client_gone() {
                return Err(Failure::ClientGone);
            }
            server.write_body(data).map_err(gone)?;
            if head.options.flush_packets {
                server.flush().map_err(gone)?;
            }
            Ok(Next::Continue)
        }
        ProxyEvent::Flush => {
            server.flush().map_err(gone)?;
            Ok(Next::Continue)
        }
        ProxyEvent::BodyRequested(_) => Ok(Next::SendBody),
        ProxyEvent::End { .. } => Ok(Next::Done),
    }
}
