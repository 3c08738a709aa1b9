//! A backend connection as nginx's event loop sees it: an `ngx_connection_t` opened with
//! `ngx_event_connect_peer` (non-blocking, registered with the event module), read and written
//! through nginx's I/O functions so its readiness flags stay right. While it sits in a pool its
//! events go to [`idle_event`], which closes it when the backend hangs up.

use std::cell::Cell;
use std::ffi::c_void;
use std::io;
use std::net::SocketAddr;

use std::sync::Arc;

use lb_core::forward::{AjpWorkerSpec, Worker};

use crate::ffi;

/// What an I/O call came to.
pub enum Io {
    Done(usize),
    /// Would block: wait for the event.
    Again,
    Failed(io::Error),
}

/// One backend connection (the pool's connection handle).
#[derive(Debug)]
pub struct Conn {
    c: *mut ffi::ngx_connection_t,
    peer: SocketAddr,
    /// What outlives the handle's moves: the pooled connection's event data points here.
    state: Box<State>,
    /// The peer's address for nginx's connect logging (lives as long as the connection).
    _name: Box<(ffi::ngx_str_t, Vec<u8>)>,
}

/// Whether the connection is closed (it may be while pooled; its `c` is then gone), and the
/// balancer member it is counted on (the status page's `connected`).
#[derive(Debug)]
struct State {
    closed: Cell<bool>,
    counted: Option<(Arc<Worker>, usize)>,
}

impl State {
    /// Close `c` once, counting it out.
    ///
    /// # Safety
    /// `c` must be this state's connection, open unless `closed` says otherwise.
    unsafe fn close(&self, c: *mut ffi::ngx_connection_t) {
        if self.closed.replace(true) {
            return;
        }
        if let Some((w, m)) = &self.counted {
            if let Some(b) = w.balancer() {
                b.connection_closed(*m);
            }
        }
        // SAFETY: open and ours (above); nginx removes its events and timers.
        unsafe { ffi::ngx_close_connection(c) };
    }
}

/// A `sockaddr` for `addr`.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; zero is a valid start.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

unsafe extern "C" fn no_peer_choice(
    _pc: *mut ffi::ngx_peer_connection_t,
    _d: *mut c_void,
) -> ffi::ngx_int_t {
    // The address is already chosen (lb-core chose the member).
    ffi::OK
}

/// A connection attempt under way or done.
pub enum Connecting {
    Connected(Conn),
    /// Wait for the connection's write event, then [`Conn::connect_result`].
    InProgress(Conn),
}

impl Conn {
    /// Start connecting to `member` of `worker`, its events going to `owner`'s handlers.
    pub fn connect(
        worker: &Arc<Worker>,
        member: usize,
        owner: *mut c_void,
    ) -> Result<Connecting, io::Error> {
        let Some(m) = worker.member(member) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such member"));
        };
        let spec = m.spec();
        let (mut ss, len) = sockaddr(spec.addr);
        let text = spec.addr.to_string().into_bytes();
        let mut name = Box::new((ffi::ngx_str_t::empty(), text));
        name.0 = ffi::ngx_str_t {
            len: name.1.len(),
            data: name.1.as_mut_ptr(),
        };
        // SAFETY: a zeroed peer connection is nginx's own starting point; every pointer in it
        // outlives the call (ngx_event_connect_peer copies the sockaddr into the connection).
        unsafe {
            let mut pc: ffi::ngx_peer_connection_t = std::mem::zeroed();
            pc.sockaddr = &mut ss as *mut _ as *mut ffi::sockaddr;
            pc.socklen = len;
            pc.name = &mut name.0;
            pc.get = Some(no_peer_choice);
            // `source`: nginx binds pc.local before connecting (the call copies nothing of it
            // that outlives the call).
            let (mut local_ss, local_len) =
                sockaddr(SocketAddr::new(spec.source.unwrap_or(spec.addr.ip()), 0));
            let mut local = ffi::ngx_addr_t {
                sockaddr: &mut local_ss as *mut _ as *mut ffi::sockaddr,
                socklen: local_len,
                name: ffi::ngx_str_t::empty(),
            };
            if spec.source.is_some() {
                pc.local = &mut local;
            }
            pc.log = (*ffi::ngx_cycle).log;
            pc.set_log_error(ffi::ngx_connection_log_error_e_NGX_ERROR_ERR as _);
            if spec.socket_buffer > 0 {
                pc.rcvbuf = spec.socket_buffer.max(spec.max_packet_size.get()) as i32;
            }
            let rc = ffi::ngx_event_connect_peer(&mut pc);
            let errno = io::Error::last_os_error();
            if rc == ffi::ERROR || rc == ffi::DECLINED as ffi::ngx_int_t || pc.connection.is_null()
            {
                let e = match errno.raw_os_error() {
                    Some(n) if n != 0 && n != libc::EINPROGRESS => errno,
                    _ => io::Error::new(io::ErrorKind::ConnectionRefused, "connect failed"),
                };
                return Err(e);
            }
            let counted = worker.balancer().map(|b| {
                b.connection_opened(member);
                (Arc::clone(worker), member)
            });
            let conn = Conn {
                c: pc.connection,
                peer: spec.addr,
                state: Box::new(State {
                    closed: Cell::new(false),
                    counted,
                }),
                _name: name,
            };
            conn.options(spec);
            conn.attach(owner);
            if rc == ffi::AGAIN {
                Ok(Connecting::InProgress(conn))
            } else {
                Ok(Connecting::Connected(conn))
            }
        }
    }

    /// mod_jk's socket options: TCP_NODELAY, SO_KEEPALIVE when asked.
    fn options(&self, spec: &AjpWorkerSpec) {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt on our own socket with a c_int option value.
        unsafe {
            let fd = (*self.c).fd;
            let p = &one as *const libc::c_int as *const c_void;
            let n = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, p, n);
            if spec.socket_keepalive {
                libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, p, n);
            }
        }
    }

    /// After the write event of a connect in progress: did it connect?
    pub fn connect_result(&self) -> Result<(), io::Error> {
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt SO_ERROR into a c_int on our own socket.
        let rc = unsafe {
            libc::getsockopt(
                (*self.c).fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                &mut err as *mut libc::c_int as *mut c_void,
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        Ok(())
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn is_closed(&self) -> bool {
        self.state.closed.get()
    }

    /// Events now go to the request `owner` (the driver's context).
    pub fn attach(&self, owner: *mut c_void) {
        self.attach_to(
            owner,
            crate::driver::backend_read,
            crate::driver::backend_write,
        );
    }

    /// Events now go to `read`/`write` with `owner` as the connection's data.
    pub fn attach_to(
        &self,
        owner: *mut c_void,
        read: unsafe extern "C" fn(*mut ffi::ngx_event_t),
        write: unsafe extern "C" fn(*mut ffi::ngx_event_t),
    ) {
        // SAFETY: `c` is open (callers check is_closed first for pooled ones).
        unsafe {
            (*self.c).data = owner;
            (*(*self.c).read).handler = Some(read);
            (*(*self.c).write).handler = Some(write);
            (*self.c).log = (*ffi::ngx_cycle).log;
            (*(*self.c).read).log = (*self.c).log;
            (*(*self.c).write).log = (*self.c).log;
        }
    }

    /// Into the pool: no timers, events to [`idle_event`].
    pub fn park(&self) {
        // SAFETY: `c` is open; its events are nginx's.
        unsafe {
            for ev in [(*self.c).read, (*self.c).write] {
                if (*ev).timer_set() != 0 {
                    ffi::ngx_del_timer(ev);
                }
                (*ev).handler = Some(idle_event);
            }
            (*self.c).data = &*self.state as *const State as *mut c_void;
        }
    }

    /// Not closed by the backend and nothing unasked to read (a non-blocking one-byte peek).
    pub fn is_alive(&self) -> bool {
        !self.is_closed() && unsafe { peek_alive((*self.c).fd) }
    }

    pub fn send(&self, data: &[u8]) -> Io {
        // SAFETY: `c` is open; nginx's send reads `data.len()` bytes from it.
        let n = unsafe {
            ((*self.c).send.expect("send"))(self.c, data.as_ptr() as *mut u8, data.len())
        };
        io_result(n)
    }

    pub fn recv(&self, buf: &mut [u8]) -> Io {
        if buf.is_empty() {
            return Io::Done(0);
        }
        // SAFETY: `c` is open; nginx's recv writes at most `buf.len()` bytes.
        let n = unsafe { ((*self.c).recv.expect("recv"))(self.c, buf.as_mut_ptr(), buf.len()) };
        io_result(n)
    }

    /// Make sure the read (or write) event will come (a no-op with epoll's edge triggering,
    /// needed with level-triggered methods).
    pub fn want(&self, write: bool) -> bool {
        // SAFETY: `c` is open.
        unsafe {
            if write {
                ffi::ngx_handle_write_event((*self.c).write, 0) == ffi::OK
            } else {
                ffi::ngx_handle_read_event((*self.c).read, 0) == ffi::OK
            }
        }
    }

    /// Close the connection (a no-op for one the backend already closed while pooled).
    pub fn close(self) {
        // SAFETY: `c` is this state's connection.
        unsafe { self.state.close(self.c) };
    }
}

fn io_result(n: isize) -> Io {
    if n >= 0 {
        Io::Done(n as usize)
    } else if n == ffi::AGAIN {
        Io::Again
    } else {
        let e = io::Error::last_os_error();
        Io::Failed(if e.raw_os_error().unwrap_or(0) == 0 {
            io::Error::new(io::ErrorKind::BrokenPipe, "backend connection failed")
        } else {
            e
        })
    }
}

/// # Safety
/// `fd` must be an open socket.
unsafe fn peek_alive(fd: libc::c_int) -> bool {
    let mut b = [0u8; 1];
    let n = unsafe {
        libc::recv(
            fd,
            b.as_mut_ptr() as *mut c_void,
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && {
        let e = io::Error::last_os_error().raw_os_error();
        e == Some(libc::EAGAIN) || e == Some(libc::EWOULDBLOCK)
    }
}

/// An event on a pooled connection: the backend closed it, sent something unasked, or nginx
/// is closing idle connections. Close it now (the pool finds it closed later).
unsafe extern "C" fn idle_event(ev: *mut ffi::ngx_event_t) {
    crate::log::guard((), || unsafe {
        let c = (*ev).data as *mut ffi::ngx_connection_t;
        if (*ev).write() != 0 {
            return;
        }
        if (*c).close() == 0 && peek_alive((*c).fd) {
            return;
        }
        (*((*c).data as *const State)).close(c);
    })
}
