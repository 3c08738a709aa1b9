//! nginx's C API as the module uses it: nginx-sys bindings plus the constants and macros
//! bindgen cannot carry (casts, inline helpers).

pub use nginx_sys::*;

pub const OK: ngx_int_t = NGX_OK as ngx_int_t;
pub const ERROR: ngx_int_t = NGX_ERROR as ngx_int_t;
pub const AGAIN: ngx_int_t = NGX_AGAIN as ngx_int_t;
pub const DONE: ngx_int_t = NGX_DONE as ngx_int_t;
pub const DECLINED: ngx_int_t = NGX_DECLINED as ngx_int_t;

/// `NGX_CONF_ERROR` (`(char *) -1`).
pub fn conf_error() -> *mut std::os::raw::c_char {
    usize::MAX as *mut std::os::raw::c_char
}

/// A `'static` nginx string from a NUL-terminated literal (nginx compares directive names
/// with `strcmp`, so the NUL must be there; it is not counted).
pub const fn ngx_string(s: &'static [u8]) -> ngx_str_t {
    ngx_str_t {
        len: s.len() - 1,
        data: s.as_ptr() as *mut u_char,
    }
}

/// The bytes of an nginx string (empty for a NULL one).
///
/// # Safety
/// `s` must describe `len` readable bytes (or have a NULL `data`), alive for `'a`.
pub unsafe fn bytes<'a>(s: &ngx_str_t) -> &'a [u8] {
    if s.data.is_null() || s.len == 0 {
        return &[];
    }
    unsafe { std::slice::from_raw_parts(s.data, s.len) }
}

/// The module's context slot of request `r` (`ngx_http_get_module_ctx`).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn request_ctx(r: *mut ngx_http_request_t) -> *mut std::ffi::c_void {
    let i = unsafe { (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index };
    unsafe { *(*r).ctx.add(i) }
}

/// # Safety
/// `r` must be a live request.
pub unsafe fn set_request_ctx(r: *mut ngx_http_request_t, v: *mut std::ffi::c_void) {
    let i = unsafe { (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index };
    unsafe { *(*r).ctx.add(i) = v };
}

/// The module's main configuration of request `r`.
///
/// # Safety
/// `r` must be a live request of a configuration with this module loaded.
pub unsafe fn main_conf_of(r: *mut ngx_http_request_t) -> *mut crate::conf::MainConf {
    let i = unsafe { (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index };
    unsafe { *(*r).main_conf.add(i) as *mut crate::conf::MainConf }
}

/// The module's server configuration of request `r`.
///
/// # Safety
/// As [`main_conf_of`].
pub unsafe fn srv_conf_of(r: *mut ngx_http_request_t) -> *mut crate::conf::ServerConf {
    let i = unsafe { (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index };
    unsafe { *(*r).srv_conf.add(i) as *mut crate::conf::ServerConf }
}

/// The module's location configuration of request `r`.
///
/// # Safety
/// As [`main_conf_of`].
pub unsafe fn loc_conf_of(r: *mut ngx_http_request_t) -> *mut crate::conf::LocConf {
    let i = unsafe { (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index };
    unsafe { *(*r).loc_conf.add(i) as *mut crate::conf::LocConf }
}

/// nginx's core location configuration of request `r`.
///
/// # Safety
/// As [`main_conf_of`].
pub unsafe fn core_loc_conf_of(r: *mut ngx_http_request_t) -> *mut ngx_http_core_loc_conf_t {
    let i = unsafe { (*std::ptr::addr_of!(ngx_http_core_module)).ctx_index };
    unsafe { *(*r).loc_conf.add(i) as *mut ngx_http_core_loc_conf_t }
}

/// The module's main configuration in `cycle` (null without an `http` block).
///
/// # Safety
/// `cycle` must be a live, configured cycle.
pub unsafe fn main_conf_of_cycle(cycle: *mut ngx_cycle_t) -> *mut crate::conf::MainConf {
    unsafe {
        let http = *(*cycle).conf_ctx.add(ngx_http_module.index) as *mut ngx_http_conf_ctx_t;
        if http.is_null() {
            return std::ptr::null_mut();
        }
        let i = (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index;
        *(*http).main_conf.add(i) as *mut crate::conf::MainConf
    }
}

/// nginx's core http main configuration of request `r`.
///
/// # Safety
/// As [`main_conf_of`].
pub unsafe fn core_main_conf_of(r: *mut ngx_http_request_t) -> *mut ngx_http_core_main_conf_t {
    let i = unsafe { (*std::ptr::addr_of!(ngx_http_core_module)).ctx_index };
    unsafe { *(*r).main_conf.add(i) as *mut ngx_http_core_main_conf_t }
}
