//! The nginx module: its directive table, its HTTP context, its process hooks.

use std::ptr::{addr_of, addr_of_mut, null_mut};

use crate::ffi::{self, ngx_command_t, ngx_http_module_t, ngx_module_t, ngx_string};

const MAIN: usize = ffi::NGX_HTTP_MAIN_CONF as usize;
const SRV: usize = ffi::NGX_HTTP_SRV_CONF as usize;
const LOC: usize = ffi::NGX_HTTP_LOC_CONF as usize;
const TAKE1: usize = ffi::NGX_CONF_TAKE1 as usize;
const TAKE12: usize = ffi::NGX_CONF_TAKE12 as usize;
const MORE: usize = ffi::NGX_CONF_1MORE as usize;

/// An `http`-only directive (the workers, the shared zone).
const fn jk(name: &'static [u8], args: usize) -> ngx_command_t {
    ngx_command_t {
        name: ngx_string(name),
        type_: MAIN | args,
        set: Some(crate::directives::jk_line),
        conf: nginx_sys::NGX_HTTP_MAIN_CONF_OFFSET,
        offset: 0,
        post: null_mut(),
    }
}

/// A directive of `http` or `server` (mounts, options, environment).
const fn srv(name: &'static [u8], args: usize) -> ngx_command_t {
    ngx_command_t {
        name: ngx_string(name),
        type_: MAIN | SRV | args,
        set: Some(crate::directives::srv_line),
        conf: nginx_sys::NGX_HTTP_SRV_CONF_OFFSET,
        offset: 0,
        post: null_mut(),
    }
}

static mut COMMANDS: [ngx_command_t; 13] = [
    jk(b"rjk_workers_file\0", TAKE1),
    jk(b"rjk_worker_property\0", MORE),
    srv(b"rjk_mount\0", TAKE12),
    srv(b"rjk_unmount\0", TAKE12),
    srv(b"rjk_mount_file\0", TAKE1),
    srv(b"rjk_mount_file_reload\0", TAKE1),
    srv(b"rjk_options\0", MORE),
    srv(b"rjk_env_var\0", TAKE12),
    jk(b"rjk_shm_size\0", TAKE1),
    jk(b"rjk_log_level\0", TAKE1),
    srv(b"rjk_strip_session\0", TAKE1),
    ngx_command_t {
        name: ngx_string(b"rjk_pass\0"),
        type_: LOC | TAKE1,
        set: Some(crate::directives::pass),
        conf: nginx_sys::NGX_HTTP_LOC_CONF_OFFSET,
        offset: 0,
        post: null_mut(),
    },
    ngx_command_t::empty(),
];

static mut HTTP_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(crate::variables::add),
    postconfiguration: Some(crate::setup::postconfiguration),
    create_main_conf: Some(crate::conf::create_main),
    init_main_conf: None,
    create_srv_conf: Some(crate::conf::create_srv),
    merge_srv_conf: Some(crate::conf::merge_srv),
    create_loc_conf: Some(crate::conf::create_loc),
    merge_loc_conf: None,
};

#[no_mangle]
#[used]
pub static mut ngx_http_rjk_module: ngx_module_t = ngx_module_t {
    ctx: addr_of_mut!(HTTP_CTX) as *mut _,
    commands: addr_of_mut!(COMMANDS) as *mut _,
    type_: ffi::NGX_HTTP_MODULE as usize,
    init_module: Some(crate::setup::init_module),
    init_process: Some(crate::setup::init_process),
    exit_process: Some(crate::setup::exit_process),
    ..ngx_module_t::default()
};

/// The module's address, as nginx identifies zones and contexts by it.
pub fn tag() -> *mut std::ffi::c_void {
    addr_of!(ngx_http_rjk_module) as *mut std::ffi::c_void
}
