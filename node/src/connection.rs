//! One AJP connection: a loop that reads messages through the `ajp` crate's container-side
//! exchange, answers CPing between requests, hands each request to the application, feeds
//! the request body on demand and streams the response back.
//!
//! Everything happens in one task, in order: while the application runs, the connection only
//! reads the socket when the application asks for body, exactly like Tomcat's AjpProcessor.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use ajp::{BodyState, ContainerConfig, ContainerEvent, ContainerExchange, Error as AjpError};
use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Request};
use http_body::Body as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::app::{self, App};
use crate::body::{self, Body, BodyFeed, BoxError};
use crate::head;
use crate::shutdown::Shutdown;

/// Output is written once this much is buffered, even while the application keeps producing.
const WRITE_WATERMARK: usize = 64 * 1024;

/// Settings shared by every connection of a listener.
pub(crate) struct ConnSettings {
    pub container: Arc<ContainerConfig>,
    pub idle_timeout: Option<Duration>,
}

/// How a request cycle ended, for the connection loop.
enum Next {
    /// End Response(reuse=1) went out: wait for the next message.
    Idle,
    Close,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    rbuf: BytesMut,
    out: Vec<u8>,
    exch: ContainerExchange,
    /// The connection can no longer carry AJP (I/O or protocol error mid-request).
    broken: bool,
    /// Some request body arrived for the current request.
    body_seen: bool,
}

/// Serve one accepted connection until the peer closes it, an error or rejection closes it,
/// or shutdown begins while it is idle.
pub(crate) async fn serve<A: App>(
    stream: TcpStream,
    peer: SocketAddr,
    mut app: A,
    settings: Arc<ConnSettings>,
    mut shutdown: Shutdown,
) {
    let _ = stream.set_nodelay(true);
    let mut c = Conn {
        stream,
        peer,
        rbuf: BytesMut::with_capacity(settings.container.packet_size.get()),
        out: Vec::with_capacity(settings.container.packet_size.get()),
        exch: ContainerExchange::new(settings.container.clone()),
        broken: false,
        body_seen: false,
    };
    log::debug!("{peer}: AJP connection opened");
    match c.run(&mut app, &settings, &mut shutdown).await {
        Ok(()) => log::debug!("{peer}: AJP connection closed"),
        Err(e) => log::debug!("{peer}: AJP connection closed: {e}"),
    }
}

impl Conn {
    async fn run<A: App>(
        &mut self,
        app: &mut A,
        settings: &ConnSettings,
        shutdown: &mut Shutdown,
    ) -> std::io::Result<()> {
        loop {
            // Decode what is buffered; the borrowed event is turned into owned data before
            // the buffer moves on.
            let step = match self.exch.receive(&self.rbuf) {
                Err(e) => return self.protocol_error(e).await,
                Ok(None) => None,
                Ok(Some((ContainerEvent::CPing, n))) => {
                    self.exch.cpong(&mut self.out);
                    Some((n, None))
                }
                // The unread first body packet of the last request, dropped by the exchange.
                Ok(Some((ContainerEvent::Discarded, n))) => Some((n, None)),
                Ok(Some((ContainerEvent::Rejected(why), _))) => {
                    log::warn!("{}: request refused with 403: {why}", self.peer);
                    self.exch.fail(403, &mut self.out);
                    return self.write_out().await;
                }
                Ok(Some((ContainerEvent::Request(req), n))) => {
                    let built = head::build(&req, self.peer);
                    Some((n, Some(built)))
                }
                Ok(Some((ContainerEvent::Body(_) | ContainerEvent::BodyEnd, _))) => {
                    // The exchange never yields body between requests; be safe anyway.
                    return Ok(());
                }
            };
            match step {
                Some((n, None)) => self.rbuf.advance(n),
                Some((n, Some(built))) => {
                    self.rbuf.advance(n);
                    if shutdown.is_set() {
                        // Tomcat answers 503 while paused.
                        self.exch.fail(503, &mut self.out);
                        return self.write_out().await;
                    }
                    let next = match built {
                        Ok(head) => self.request(app, head, shutdown).await?,
                        Err(why) => {
                            log::warn!("{}: bad request: {why}", self.peer);
                            self.exch.fail(400, &mut self.out);
                            Next::Close
                        }
                    };
                    if let Next::Close = next {
                        return self.write_out().await;
                    }
                }
                None => {
                    // Nothing complete is buffered: send what is pending (CPongs, the end of
                    // the last response) and wait for more.
                    self.write_out().await?;
                    if self.read_idle(settings.idle_timeout, shutdown).await? == 0 {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Read more between requests; 0 means close (EOF, idle timeout or shutdown).
    async fn read_idle(
        &mut self,
        idle_timeout: Option<Duration>,
        shutdown: &mut Shutdown,
    ) -> std::io::Result<usize> {
        if self.rbuf.capacity() - self.rbuf.len() < 1024 {
            self.rbuf.reserve(8192);
        }
        let read = async {
            match idle_timeout {
                None => self.stream.read_buf(&mut self.rbuf).await,
                Some(t) => {
                    match tokio::time::timeout(t, self.stream.read_buf(&mut self.rbuf)).await {
                        Ok(r) => r,
                        Err(_) => {
                            log::debug!("{}: idle for {t:?}: closing", self.peer);
                            Ok(0)
                        }
                    }
                }
            }
        };
        tokio::select! {
            r = read => r,
            () = shutdown.wait() => Ok(0),
        }
    }

    /// Bad magic, an oversize packet, an unknown message type or a malformed request.
    async fn protocol_error(&mut self, e: AjpError) -> std::io::Result<()> {
        match e {
            AjpError::TooLong { len, max } => {
                log::warn!(
                    "{}: packet of {len} bytes exceeds the packet size (payload max {max}): \
                     answering 400 and closing",
                    self.peer
                );
                let size = self.exch.config().packet_size;
                head::error_response(400, size, &mut self.out);
                self.write_out().await?;
                self.linger(len).await;
                Ok(())
            }
            AjpError::BadMagic { found, .. } => {
                log::warn!(
                    "{}: invalid message received with signature {:#06x}: closing",
                    self.peer,
                    u16::from_be_bytes(found)
                );
                Ok(())
            }
            AjpError::UnknownMessage { code } => {
                log::warn!("{}: unexpected message type {code}: closing", self.peer);
                Ok(())
            }
            AjpError::Unexpected { .. } => {
                log::warn!("{}: {e}: closing", self.peer);
                Ok(())
            }
            other => {
                // A Forward Request that does not decode: Tomcat answers with an error page.
                log::warn!("{}: malformed request ({other}): answering 400", self.peer);
                let size = self.exch.config().packet_size;
                head::error_response(400, size, &mut self.out);
                self.write_out().await?;
                self.linger(0).await;
                Ok(())
            }
        }
    }

    /// Close politely: stop sending, then read and drop what the peer still sends for a
    /// moment, so that unread input does not turn our close into a reset that loses the reply.
    async fn linger(&mut self, expect: usize) {
        let _ = self.stream.shutdown().await;
        let mut left = expect + 64 * 1024;
        let mut scratch = [0u8; 8192];
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while left > 0 {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => break,
            }
        }
    }

    async fn write_out(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            let r = self.stream.write_all(&self.out).await;
            self.out.clear();
            r?;
        }
        Ok(())
    }

    /// One request cycle: call the application, feed its body, stream its response.
    async fn request<A: App>(
        &mut self,
        app: &mut A,
        head: Request<Body>,
        shutdown: &Shutdown,
    ) -> std::io::Result<Next> {
        let mut req = head;
        self.body_seen = false;
        let is_head = req.method() == Method::HEAD;
        let cl = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut feed = None;
        if cl != Some(0) {
            let (b, f) = body::ajp_channel(cl);
            *req.body_mut() = Body::ajp(b);
            feed = Some(f);
        }

        if let Err(e) = app::ready(app).await {
            log::error!("{}: application not ready: {e}", self.peer);
            self.exch.fail(503, &mut self.out);
            return Ok(Next::Close);
        }
        let call = app.call(req);
        let resp = match self.drive(pin!(call), &mut feed).await? {
            Ok(r) => r,
            Err(e) => {
                let e: BoxError = e.into();
                log::error!("{}: application error: {e}", self.peer);
                self.exch.fail(500, &mut self.out);
                return Ok(Next::Close);
            }
        };
        if self.broken {
            return Ok(Next::Close);
        }
        let (parts, body) = resp.into_parts();
        let status = parts.status;
        let mut len_buf = itoa_buf();
        let exact = body.size_hint().exact();
        // A known length goes out as Content-Length (as Tomcat does), except where HTTP
        // forbids a body or the application chose its own framing.
        let no_body = status.is_informational()
            || status == http::StatusCode::NO_CONTENT
            || status == http::StatusCode::NOT_MODIFIED;
        let framed = parts.headers.contains_key(http::header::CONTENT_LENGTH)
            || parts.headers.contains_key(http::header::TRANSFER_ENCODING);
        let add_len = exact.filter(|_| !(no_body || framed));
        let extra: Option<(&[u8], &[u8])> =
            add_len.map(|n| (&b"Content-Length"[..], fmt_len(n, &mut len_buf)));
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
            .chain(extra);
        let reason = status.canonical_reason().unwrap_or("").as_bytes();
        if let Err(e) = self
            .exch
            .send_headers(status.as_u16(), reason, headers, &mut self.out)
        {
            log::error!("{}: response head cannot be sent: {e}", self.peer);
            self.exch.fail(500, &mut self.out);
            return Ok(Next::Close);
        }

        let mut body = pin!(body);
        loop {
            // Poll once; if the application has nothing right now, send what is buffered
            // before waiting, so a slow producer's data reaches the client.
            let first = std::future::poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx))).await;
            let frame = match first {
                Poll::Ready(f) => f,
                Poll::Pending => {
                    self.write_out().await?;
                    let next = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx));
                    self.drive(pin!(next), &mut feed).await?
                }
            };
            match frame {
                None => break,
                Some(Err(e)) => {
                    // The client must not take a cut-off body for a whole one: close without
                    // End Response so the web server reports the failure.
                    let e: BoxError = e.into();
                    log::error!("{}: response body failed: {e}", self.peer);
                    self.write_out().await?;
                    return Ok(Next::Close);
                }
                Some(Ok(frame)) => {
                    let Ok(mut data) = frame.into_data() else {
                        continue; // trailers: AJP has none
                    };
                    if !data.has_remaining() {
                        if !is_head {
                            self.exch
                                .flush(&mut self.out)
                                .map_err(std::io::Error::other)?;
                            self.write_out().await?;
                        }
                        continue;
                    }
                    while data.has_remaining() {
                        let chunk = data.chunk();
                        let n = chunk.len();
                        if !is_head {
                            self.exch
                                .send_body(chunk, &mut self.out)
                                .map_err(std::io::Error::other)?;
                        }
                        data.advance(n);
                    }
                    if self.out.len() >= WRITE_WATERMARK {
                        self.write_out().await?;
                    }
                }
            }
        }
        if self.broken {
            return Ok(Next::Close);
        }
        let reuse = !shutdown.is_set();
        self.exch
            .end(reuse, &mut self.out)
            .map_err(std::io::Error::other)?;
        // An unread first body packet of a Content-Length body still on its way is dropped by
        // the exchange and reported as `Discarded`.
        Ok(if reuse { Next::Idle } else { Next::Close })
    }

    /// Run `fut` to completion while serving the application's requests for body.
    async fn drive<F: Future>(
        &mut self,
        mut fut: std::pin::Pin<&mut F>,
        feed: &mut Option<BodyFeed>,
    ) -> std::io::Result<F::Output> {
        loop {
            let demand = async {
                match feed {
                    Some(f) => f.demand.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                out = fut.as_mut() => return Ok(out),
                d = demand => match d {
                    Some(()) => self.feed_body(feed).await?,
                    // The application dropped the body: stop feeding it.
                    None => *feed = None,
                },
            }
        }
    }

    /// The application wants body: ask for a chunk if needed and pass it on. Closing the
    /// channel (dropping the feed) is how the application learns the body ended.
    async fn feed_body(&mut self, feed: &mut Option<BodyFeed>) -> std::io::Result<()> {
        let Some(f) = feed.take() else {
            return Ok(());
        };
        if self.broken || self.exch.want_body(&mut self.out) == BodyState::Eof {
            return Ok(());
        }
        self.write_out().await?;
        let failure = loop {
            match self.exch.receive(&self.rbuf) {
                Ok(Some((ContainerEvent::Body(data), n))) => {
                    self.body_seen = true;
                    let data = Bytes::copy_from_slice(data);
                    self.rbuf.advance(n);
                    // The application asked for this, so it is waiting: the send completes.
                    let _ = f.data.send(Ok(data)).await;
                    *feed = Some(f);
                    return Ok(());
                }
                Ok(Some((ContainerEvent::BodyEnd, n))) => {
                    self.body_seen = true;
                    self.rbuf.advance(n);
                    return Ok(());
                }
                Ok(Some(_)) => break "unexpected message in the request body".to_string(),
                Err(e) => break e.to_string(),
                Ok(None) => {
                    if self.rbuf.capacity() - self.rbuf.len() < 1024 {
                        self.rbuf.reserve(self.exch.config().packet_size.get());
                    }
                    if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                        break "the web server closed the connection mid-body".to_string();
                    }
                }
            }
        };
        log::warn!("{}: request body: {failure}", self.peer);
        self.broken = true;
        let _ = f.data.send(Err(failure.into())).await;
        Ok(())
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_len(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[allow(dead_code)]
fn _assert_send<A: App>(s: TcpStream, p: SocketAddr, a: A, c: Arc<ConnSettings>, d: Shutdown) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&serve(s, p, a, c, d));
}
