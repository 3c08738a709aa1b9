//! The blocking driver's connection: a std TCP socket with mod_jk's socket options, read with
//! timeouts, written whole.

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::forward::failure::ReadError;
use crate::forward::spec::AjpWorkerSpec;

/// One backend connection of the blocking driver: a std socket, the address it goes to, and the
/// read timeout last set on it (set again only when it changes).
#[derive(Debug)]
pub struct Endpoint {
    stream: TcpStream,
    peer: SocketAddr,
    read_timeout: Option<Duration>,
}

impl Endpoint {
    /// Open a new connection with the worker's socket options.
    pub fn connect(spec: &AjpWorkerSpec, timeout: Option<Duration>) -> io::Result<Endpoint> {
        Ok(Endpoint {
            stream: open_socket(spec, timeout)?,
            peer: spec.addr,
            read_timeout: None,
        })
    }

    /// The address of the connection.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Not closed by the backend, and nothing sent unasked (a non-blocking one-byte peek;
    /// leftover bytes would mix two responses).
    pub fn is_alive(&self) -> bool {
        let mut b = [MaybeUninit::<u8>::uninit(); 1];
        match SockRef::from(&self.stream)
            .recv_with_flags(&mut b, libc::MSG_PEEK | libc::MSG_DONTWAIT)
        {
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }

    /// Read into `buf`, waiting at most `timeout` (None: forever).
    pub fn read(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize, ReadError> {
        let timeout = timeout.map(|d| d.max(Duration::from_millis(1)));
        if timeout != self.read_timeout {
            self.stream
                .set_read_timeout(timeout)
                .map_err(ReadError::Io)?;
            self.read_timeout = timeout;
        }
        loop {
            match self.stream.read(buf) {
                Ok(n) => return Ok(n),
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

    /// Write `data` (partial writes are retried; SO_SNDTIMEO bounds a stuck backend).
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.stream.write_all(data).map(|()| data.len())
    }

    /// CPing and wait up to `timeout` for the CPong (maintenance of idle connections).
    pub fn cping(&mut self, timeout: Duration, size: ajp::PacketSize) -> Result<(), PingError> {
        self.stream.write_all(ajp::CPING).map_err(PingError::Send)?;
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 16];
        let mut have = 0;
        loop {
            match ajp::receive_cpong(&buf[..have], size) {
                Ok(Some(n)) if n == have => return Ok(()),
                Ok(None) if have < buf.len() => {}
                _ => return Err(PingError::Unexpected),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PingError::Read(ReadError::Timeout));
            }
            match self.read(&mut buf[have..], Some(left)) {
                Ok(0) => return Err(PingError::Read(ReadError::Closed)),
                Ok(n) => have += n,
                Err(e) => return Err(PingError::Read(e)),
            }
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
fn open_socket(spec: &AjpWorkerSpec, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let addr = spec.addr;
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(ip) = spec.source {
        sock.bind(&SocketAddr::new(ip, 0).into())?;
    }
    sock.set_nodelay(true)?;
    if spec.socket_keepalive {
        sock.set_keepalive(true)?;
    }
    if spec.socket_buffer > 0 {
        let size = spec.socket_buffer.max(spec.max_packet_size.get());
        sock.set_send_buffer_size(size)?;
        sock.set_recv_buffer_size(size)?;
    }
    match timeout {
        Some(t) => sock.connect_timeout(&addr.into(), t)?,
        None => sock.connect(&addr.into())?,
    }
    if let Some(t) = spec.socket_timeout.filter(|d| !d.is_zero()) {
        sock.set_write_timeout(Some(t))?;
    }
    Ok(sock.into())
}
