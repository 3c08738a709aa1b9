//! `connection_ping_interval` (ping_mode I): maintenance takes idle connections unused that
//! long out of their pool (the policy's `due_for_ping`), sends each a CPing without blocking,
//! and puts it back when the CPong arrives within `ping_timeout`; otherwise it is closed.

use std::ffi::c_void;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::backend::{Conn, Io};
use crate::ffi;
use crate::runtime::{PoolId, Runtime};

/// One idle connection out for a CPing.
struct Ping {
    conn: Option<Conn>,
    peer: SocketAddr,
    rt: *const Runtime,
    pool: PoolId,
    member: usize,
    size: ajp::PacketSize,
    got: [u8; 16],
    have: usize,
    timer: ffi::ngx_event_t,
}

/// CPing `conn` (taken out of `pool`'s slots of `member`); it goes back or is closed later.
pub fn start(
    rt: &Runtime,
    pool: PoolId,
    member: usize,
    conn: Conn,
    peer: SocketAddr,
    timeout: Duration,
    size: ajp::PacketSize,
) {
    if conn.is_closed() || !matches!(conn.send(ajp::CPING), Io::Done(n) if n == ajp::CPING.len()) {
        conn.close();
        rt.give_back(pool, member, None, Instant::now());
        return;
    }
    let mut p = Box::new(Ping {
        conn: None,
        peer,
        rt,
        pool,
        member,
        size,
        got: [0; 16],
        have: 0,
        // SAFETY: a zeroed event is nginx's initial state.
        timer: unsafe { std::mem::zeroed() },
    });
    let me = &mut *p as *mut Ping as *mut c_void;
    conn.attach_to(me, pong_read, ignore);
    p.conn = Some(conn);
    p.timer.handler = Some(timed_out);
    p.timer.data = me;
    // SAFETY: the cycle's log lives as long as the cycle.
    p.timer.log = unsafe { (*ffi::ngx_cycle).log };
    // Never holds up a graceful shutdown.
    p.timer.set_cancelable(1);
    // SAFETY: the timer lives in the leaked box until `finish` deletes it.
    unsafe { ffi::ngx_add_timer(&mut p.timer, timeout.as_millis().max(1) as ffi::ngx_msec_t) };
    let _ = Box::into_raw(p);
}

/// The CPing is over: back into the pool when it answered, else closed.
///
/// # Safety
/// `p` must be the box leaked by `start`, not yet finished.
unsafe fn finish(p: *mut Ping, alive: bool) {
    let mut p = unsafe { Box::from_raw(p) };
    if p.timer.timer_set() != 0 {
        // SAFETY: the timer is ours.
        unsafe { ffi::ngx_del_timer(&mut p.timer) };
    }
    // SAFETY: the runtime lives as long as the cycle, longer than any of its pings.
    let rt = unsafe { &*p.rt };
    let back = match p.conn.take() {
        Some(c) if alive => {
            c.park();
            Some((c, p.peer))
        }
        Some(c) => {
            c.close();
            None
        }
        None => None,
    };
    rt.give_back(p.pool, p.member, back, Instant::now());
}

unsafe extern "C" fn pong_read(ev: *mut ffi::ngx_event_t) {
    crate::log::guard((), || unsafe {
        let c = (*ev).data as *mut ffi::ngx_connection_t;
        let p = (*c).data as *mut Ping;
        let ping = &mut *p;
        let Some(conn) = ping.conn.as_ref() else {
            return;
        };
        let have = ping.have;
        match conn.recv(&mut ping.got[have..]) {
            Io::Again => {}
            Io::Done(0) | Io::Failed(_) => finish(p, false),
            Io::Done(n) => {
                ping.have += n;
                match ajp::receive_cpong(&ping.got[..ping.have], ping.size) {
                    Ok(None) if ping.have < ping.got.len() => {}
                    Ok(Some(used)) if used == ping.have => finish(p, true),
                    _ => finish(p, false),
                }
            }
        }
    })
}

unsafe extern "C" fn ignore(_ev: *mut ffi::ngx_event_t) {}

unsafe extern "C" fn timed_out(ev: *mut ffi::ngx_event_t) {
    crate::log::guard((), || unsafe { finish((*ev).data as *mut Ping, false) })
}
