//! Messages into nginx's error log, and the guard that keeps panics out of nginx.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::ffi;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Emerg,
    Error,
    Warn,
    Notice,
    Info,
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
    !log.is_null() && unsafe { (*log).log_level } >= level.ngx()
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
    if log.is_null() || unsafe { (*log).log_level } < level.ngx() {
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
