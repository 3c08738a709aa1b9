//! One pool slot: maybe an open AJP connection, plus the read and write buffers that every
//! request on this slot reuses (so a request allocates nothing for I/O).

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::forward::spec::AjpWorkerSpec;

/// Why reading from the backend stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The backend closed the connection.
    Closed,
    /// No byte arrived within the allowed time.
    Timeout,
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the backend closed the connection"),
            ReadError::Timeout => f.write_str("no data from the backend in time"),
            ReadError::Io(e) => write!(f, "reading from the backend failed: {e}"),
        }
    }
}

/// A pool slot. `stream` is `None` until connected and after being closed.
#[derive(Debug)]
pub struct Endpoint {
    stream: Option<TcpStream>,
    /// The address `stream` is connected to.
    peer: Option<SocketAddr>,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    /// Bytes to send; callers encode into it and call [`Endpoint::send`].
    pub wbuf: Vec<u8>,
    read_timeout: Option<Duration>,
    last_used: Instant,
}

impl Endpoint {
    pub fn new(packet_size: usize) -> Self {
        Endpoint {
            stream: None,
            peer: None,
            rbuf: vec![0; packet_size],
            rstart: 0,
            rend: 0,
            wbuf: Vec::with_capacity(packet_size),
            read_timeout: None,
            last_used: Instant::now(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// The address of the open connection.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer.filter(|_| self.stream.is_some())
    }

    /// Grow the read buffer to `packet_size` (after `max_packet_size` was raised at runtime).
    pub fn fit(&mut self, packet_size: usize) {
        if self.rbuf.len() < packet_size {
            self.rbuf.resize(packet_size, 0);
        }
    }

    /// When this slot last finished a request (or was created).
    pub fn last_used(&self) -> Instant {
        self.last_used
    }

    pub fn touch(&mut self, now: Instant) {
        self.last_used = now;
    }

    /// Open a new connection with the worker's socket options.
    pub fn connect(&mut self, spec: &AjpWorkerSpec) -> io::Result<()> {
        self.close();
        self.stream = Some(open_socket(spec)?);
        self.peer = Some(spec.addr);
        self.read_timeout = None;
        Ok(())
    }

    /// Close the connection (if any) and forget anything unread.
    pub fn close(&mut self) {
        self.stream = None;
        self.peer = None;
        self.rstart = 0;
        self.rend = 0;
    }

    /// A pooled connection is usable if the backend has not closed it and has sent nothing
    /// unasked (a non-blocking one-byte peek; leftover bytes would mix two responses).
    pub fn is_alive(&self) -> bool {
        let Some(s) = &self.stream else {
            return false;
        };
        if self.rend != self.rstart {
            return false;
        }
        let mut b = [MaybeUninit::<u8>::uninit(); 1];
        match SockRef::from(s).recv_with_flags(&mut b, libc::MSG_PEEK | libc::MSG_DONTWAIT) {
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }

    /// Bytes received and not yet consumed.
    pub fn unread(&self) -> &[u8] {
        &self.rbuf[self.rstart..self.rend]
    }

    pub fn has_unread(&self) -> bool {
        self.rend != self.rstart
    }

    /// Mark `n` bytes at the front of [`unread`](Self::unread) as used.
    pub fn consume(&mut self, n: usize) {
        self.rstart = (self.rstart + n).min(self.rend);
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        }
    }

    /// Read more bytes from the backend, waiting at most `timeout` (None: forever).
    pub fn fill(&mut self, timeout: Option<Duration>) -> Result<usize, ReadError> {
        let Some(stream) = &mut self.stream else {
            return Err(ReadError::Closed);
        };
        if self.rend == self.rbuf.len() {
            if self.rstart == 0 {
                // A whole packet always fits; the codec refuses longer ones before this.
                return Err(ReadError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a packet longer than the read buffer",
                )));
            }
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        let timeout = timeout.filter(|d| !d.is_zero());
        if timeout != self.read_timeout {
            stream.set_read_timeout(timeout).map_err(ReadError::Io)?;
            self.read_timeout = timeout;
        }
        loop {
            match stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => {
                    self.rend += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(ReadError::Timeout)
                }
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Write all of [`wbuf`](Self::wbuf) and clear it.
    pub fn send(&mut self) -> io::Result<()> {
        let Some(stream) = &mut self.stream else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the backend connection is closed",
            ));
        };
        let r = stream.write_all(&self.wbuf);
        self.wbuf.clear();
        r
    }

    /// CPing and wait up to `timeout` for the CPong.
    pub fn cping(&mut self, timeout: Duration, size: ajp::PacketSize) -> Result<(), PingError> {
        if self.has_unread() {
            return Err(PingError::Unexpected);
        }
        // Written directly, so a request already encoded in `wbuf` stays there.
        let Some(stream) = &mut self.stream else {
            return Err(PingError::Send(io::Error::new(
                io::ErrorKind::NotConnected,
                "the backend connection is closed",
            )));
        };
        stream.write_all(ajp::CPING).map_err(PingError::Send)?;
        let deadline = Instant::now() + timeout;
        loop {
            match ajp::receive_cpong(self.unread(), size) {
                Ok(Some(n)) => {
                    self.consume(n);
                    return if self.has_unread() {
                        Err(PingError::Unexpected)
                    } else {
                        Ok(())
                    };
                }
                Ok(None) => {}
                Err(_) => return Err(PingError::Unexpected),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PingError::Read(ReadError::Timeout));
            }
            self.fill(Some(left)).map_err(PingError::Read)?;
        }
    }
}

/// Why a CPing failed; the connection must be closed.
#[derive(Debug)]
pub enum PingError {
    Send(io::Error),
    Read(ReadError),
    /// Something other than a CPong came back.
    Unexpected,
}

impl std::fmt::Display for PingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PingError::Send(e) => write!(f, "sending CPing failed: {e}"),
            PingError::Read(e) => write!(f, "waiting for CPong: {e}"),
            PingError::Unexpected => f.write_str("the backend answered CPing with something else"),
        }
    }
}

/// A TCP connection to the worker: TCP_NODELAY, close-on-exec (socket2 sets it at creation),
/// optional SO_KEEPALIVE and buffer sizes, a real connect timeout, SO_SNDTIMEO.
fn open_socket(spec: &AjpWorkerSpec) -> io::Result<TcpStream> {
    let addr = spec.addr;
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nodelay(true)?;
    if spec.socket_keepalive {
        sock.set_keepalive(true)?;
    }
    if spec.socket_buffer > 0 {
        let size = spec.socket_buffer.max(spec.max_packet_size.get());
        sock.set_send_buffer_size(size)?;
        sock.set_recv_buffer_size(size)?;
    }
    // socket_connect_timeout defaults to socket_timeout (mod_jk: seconds × 1000 ms).
    match spec
        .socket_connect_timeout
        .or(spec.socket_timeout)
        .filter(|d| !d.is_zero())
    {
        Some(t) => sock.connect_timeout(&addr.into(), t)?,
        None => sock.connect(&addr.into())?,
    }
    if let Some(t) = spec.socket_timeout.filter(|d| !d.is_zero()) {
        sock.set_write_timeout(Some(t))?;
    }
    Ok(sock.into())
}
