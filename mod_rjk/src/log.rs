//! Messages into httpd's error log (and, at startup, the terminal of whoever runs apache2).

use std::ffi::CString;

use crate::ffi;

#[derive(Clone, Copy)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

/// Log `msg` for server `s` (may be null at startup). `startup` also prints it to stderr
/// without a timestamp, as httpd does for configuration problems.
pub fn server(s: *const ffi::server_rec, level: Level, startup: bool, msg: &str) {
    let lvl = match level {
        Level::Error => ffi::APLOG_ERR,
        Level::Warning => ffi::APLOG_WARNING,
        Level::Notice => ffi::APLOG_NOTICE,
    } | if startup { ffi::APLOG_STARTUP } else { 0 };
    let text = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: jk_module is initialised by httpd before any hook runs; the format is a literal
    // "%s" with one C string argument, both alive for the call.
    unsafe {
        let index = crate::module::jk_module.module_index;
        ffi::ap_log_error_(
            c"mod_rjk".as_ptr(),
            0,
            index,
            lvl as _,
            0,
            s,
            c"%s".as_ptr(),
            text.as_ptr(),
        );
    }
}

/// Log `msg` for request `r` (its server's error log).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn request(r: *const ffi::request_rec, level: Level, msg: &str) {
    server(unsafe { (*r).server }, level, false, msg);
}

/// An operator-visible event of a request (status changes): logged at notice level.
pub fn request_info(req: &crate::request::HttpdRequest<'_>, msg: &str) {
    server(req.server_rec(), Level::Notice, false, msg);
}
