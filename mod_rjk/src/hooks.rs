//! httpd's hooks, each a thin call into lb-core.

use std::os::raw::c_int;

use crate::ffi;
use crate::setup;

pub unsafe extern "C" fn register(_p: *mut ffi::apr_pool_t) {
    crate::guard::guard("register_hooks", (), || unsafe {
        ffi::ap_hook_check_config(Some(check_config), std::ptr::null(), std::ptr::null(), ffi::APR_HOOK_MIDDLE);
        ffi::ap_hook_post_config(Some(post_config), std::ptr::null(), std::ptr::null(), ffi::APR_HOOK_MIDDLE);
    })
}

/// Runs for `apache2 -t` as well as for a start: the whole Jk configuration is validated here,
/// so a config test catches what mod_jk would only find at startup.
unsafe extern "C" fn check_config(
    _pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    ptemp: *mut ffi::apr_pool_t,
    s: *mut ffi::server_rec,
) -> c_int {
    crate::guard::guard("check_config", ffi::HTTP_INTERNAL_SERVER_ERROR, || {
        // SAFETY: httpd passes the live main server and a temporary pool.
        let (lines, root) = unsafe { (setup::server_lines(s), setup::server_root(ptemp)) };
        let lines: Vec<_> = lines.into_iter().map(|(l, _)| l).collect();
        let workers_ok = setup::load_and_report(s, &lines, &root).is_some();
        // SAFETY: s is the main server; its vhost chain is complete at check_config time.
        let servers_ok = unsafe { setup::check_servers(s, &root) };
        if workers_ok && servers_ok { ffi::OK } else { ffi::HTTP_INTERNAL_SERVER_ERROR }
    })
}

/// Announce ourselves (`mod_rjk/<version>` in the Server banner and the error log).
unsafe extern "C" fn post_config(
    pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    _ptemp: *mut ffi::apr_pool_t,
    _s: *mut ffi::server_rec,
) -> c_int {
    crate::guard::guard("post_config", ffi::HTTP_INTERNAL_SERVER_ERROR, || {
        const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
            concat!("mod_rjk/", env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
        ) {
            Ok(v) => v,
            Err(_) => c"mod_rjk",
        };
        // SAFETY: pconf is the live configuration pool; the string is 'static.
        unsafe { ffi::ap_add_version_component(pconf, VERSION.as_ptr()) };
        ffi::OK
    })
}
