//! nginx's cached clocks as the driver's `now`. nginx reads the time once per event-loop turn
//! (after it waits for events) and runs its own timers on that reading; the module's deadlines
//! use the same reading instead of two clock calls per event. Only a request's duration
//! (`$rjk_duration`, microseconds as mod_jk writes it) reads the clock itself.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lb_core::forward::Now;

use crate::ffi;

/// An `Instant` and nginx's millisecond clock at the same moment: `Instant` has no
/// constructor from a clock reading, so later readings are offsets from this one.
static BASE: OnceLock<(Instant, ffi::ngx_msec_t)> = OnceLock::new();

fn msec() -> ffi::ngx_msec_t {
    // SAFETY: nginx's global, written by the same thread between events.
    unsafe { std::ptr::read_volatile(std::ptr::addr_of!(ffi::ngx_current_msec)) }
}

/// The monotonic time of this event-loop turn.
pub fn instant() -> Instant {
    let &(at, ms) = BASE.get_or_init(|| (Instant::now(), msec()));
    at + Duration::from_millis(msec().wrapping_sub(ms) as u64)
}

/// The wall-clock time of this event-loop turn.
pub fn wall() -> SystemTime {
    // SAFETY: nginx's cached time, updated by the same thread between events.
    let t = unsafe { std::ptr::read_volatile(std::ptr::addr_of!(ffi::ngx_cached_time)) };
    if t.is_null() {
        return SystemTime::now();
    }
    // SAFETY: nginx keeps the slot it points at valid (it rotates among 64).
    let (sec, ms) = unsafe { ((*t).sec, (*t).msec) };
    UNIX_EPOCH + Duration::from_secs(sec.max(0) as u64) + Duration::from_millis(ms as u64)
}

/// The machine's `now` for this event-loop turn.
pub fn now() -> Now {
    // SAFETY: as in wall.
    let t = unsafe { std::ptr::read_volatile(std::ptr::addr_of!(ffi::ngx_cached_time)) };
    if t.is_null() {
        return Now::system();
    }
    Now {
        at: instant(),
        // SAFETY: as in wall.
        unix: unsafe { (*t).sec as i64 },
    }
}
