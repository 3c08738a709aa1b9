//! Messages into nginx's error log, and the guard that keeps panics out of nginx.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::ffi;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Emerg,
    Error,
    Warn,
    Notice,
    Info,
}

/// `rjk_log_level` (JkLogLevel): the least severe of our messages that is written, on top of
/// nginx's own `error_log` level. Set once per configuration.
static THRESHOLD: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Follow the configuration's `rjk_log_level`.
pub fn set_threshold(level: lb_core::log::Level) {
    use lb_core::log::Level as Jk;
    let ours = match level {
        Jk::Emerg => Level::Emerg,
        Jk::Error => Level::Error,
        Jk::Warn => Level::Warn,
        // nginx has no trace or debug level for modules' own messages; info is the floor.
        Jk::Info | Jk::Debug | Jk::Trace => Level::Info,
    };
    THRESHOLD.store(ours as u8, Ordering::Relaxed);
}

fn wanted(level: Level) -> bool {
    (level as u8) <= THRESHOLD.load(Ordering::Relaxed)
}

impl Level {
    fn ngx(self) -> ffi::ngx_uint_t {
        (match self {
            Level::Emerg => ffi::NGX_LOG_EMERG,
            Level::Error => ffi::NGX_LOG_ERR,
            Level::Warn => ffi::NGX_LOG_WARN,
            Level::Notice => ffi::NGX_LOG_NOTICE,
            Level::Info => ffi::NGX_LOG_INFO,
        }) as ffi::ngx_uint_t
    }
}

/// Whether `log` (or the cycle's) records messages of `level`: format only what is written.
///
/// # Safety
/// `log` must be null or a live nginx log.
pub unsafe fn enabled(log: *mut ffi::ngx_log_t, level: Level) -> bool {
    let log = if log.is_null() {
        unsafe { (*ffi::ngx_cycle).log }
    } else {
        log
    };
    wanted(level) && !log.is_null() && unsafe { (*log).log_level } >= level.ngx()
}

/// Log `msg` to `log` (nginx prefixes time, level and pid; `cf` logs add nothing else).
///
/// # Safety
/// `log` must be null or a live nginx log.
pub unsafe fn to(log: *mut ffi::ngx_log_t, level: Level, msg: &str) {
    let log = if log.is_null() {
        unsafe { (*ffi::ngx_cycle).log }
    } else {
        log
    };
    if !wanted(level) || log.is_null() || unsafe { (*log).log_level } < level.ngx() {
        return;
    }
    let text = ffi::ngx_str_t {
        len: msg.len(),
        data: msg.as_ptr() as *mut _,
    };
    // SAFETY: "%V" takes one ngx_str_t pointer, alive for the call.
    unsafe { ffi::ngx_log_error_core(level.ngx(), log, 0, c"%V".as_ptr(), &text) };
}

/// Log `msg` to the cycle's log (outside requests and configuration).
pub fn cycle(level: Level, msg: &str) {
    // SAFETY: ngx_cycle is set before any module code runs.
    unsafe { to(std::ptr::null_mut(), level, msg) }
}

/// Run `f`; if it panics, log it and return `fallback` instead of unwinding into nginx.
pub fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            let msg = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            cycle(Level::Error, &format!("rjk: internal error: {msg}"));
            fallback
        }
    }
}
