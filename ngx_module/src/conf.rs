//! The module's configuration as nginx reads it: the `rjk_*` directives of the `http` block,
//! kept as the `Jk*` lines mod_rjk hands lb-core (each with its file and line), and per
//! location the worker `rjk_pass` names.

use std::ffi::c_void;

use lb_core::config::Location;
use lb_core::directive::server::ServerSettings;
use lb_core::directive::JkLine;
use lb_core::mount::SharedTable;

use crate::ffi;

/// The `http` block's configuration and, once the cycle is set up, what requests use.
#[derive(Default)]
pub struct MainConf {
    /// The `Jk*` lines in the order read.
    pub lines: Vec<JkLine>,
    /// Every `rjk_pass` (worker, where), checked against the workers once they are loaded.
    pub passes: Vec<(String, Location)>,
    /// The shared zone holding the state table (added at configuration time).
    pub zone: Option<crate::setup::Zone>,
    /// The checked configuration, between postconfiguration and init_module.
    pub loaded: Option<crate::runtime::Loaded>,
    /// Built by init_module, in the master before the fork; each worker process has its copy.
    pub runtime: Option<Box<crate::runtime::Runtime>>,
}

/// A server's connector lines (mounts, options, environment), the `http` block's first (nginx
/// inheritance: `http`-level mounts apply to every server), and what they mean once checked.
#[derive(Default)]
pub struct ServerConf {
    pub lines: Vec<JkLine>,
    pub settings: Option<ServerSettings>,
    pub mounts: Option<SharedTable>,
}

/// A location's worker (`rjk_pass`).
#[derive(Default)]
pub struct LocConf {
    pub worker: Option<Pass>,
}

/// What `rjk_pass` names: a worker, or (mod_jk's `JK_WORKER_NAME`) a value with variables
/// that names one per request.
pub enum Pass {
    Named(String),
    Variable {
        /// Compiled by nginx, in the configuration's pool.
        value: *mut ffi::ngx_http_complex_value_t,
        /// As written, for the error log.
        written: String,
        at: Location,
    },
}

/// Allocate `value` in `pool`, dropped with the pool (nginx frees configurations with their
/// cycle).
///
/// # Safety
/// `pool` must be a live nginx pool.
unsafe fn in_pool<T>(pool: *mut ffi::ngx_pool_t, value: T) -> *mut c_void {
    unsafe extern "C" fn drop_it<T>(p: *mut c_void) {
        // SAFETY: `p` is the Box leaked below, dropped once by its pool's cleanup.
        drop(unsafe { Box::from_raw(p as *mut T) });
    }
    let cln = unsafe { ffi::ngx_pool_cleanup_add(pool, 0) };
    if cln.is_null() {
        return std::ptr::null_mut();
    }
    let p = Box::into_raw(Box::new(value)) as *mut c_void;
    unsafe {
        (*cln).handler = Some(drop_it::<T>);
        (*cln).data = p;
    }
    p
}

pub unsafe extern "C" fn create_main(cf: *mut ffi::ngx_conf_t) -> *mut c_void {
    crate::log::guard(std::ptr::null_mut(), || unsafe {
        in_pool((*cf).pool, MainConf::default())
    })
}

pub unsafe extern "C" fn create_srv(cf: *mut ffi::ngx_conf_t) -> *mut c_void {
    crate::log::guard(std::ptr::null_mut(), || unsafe {
        in_pool((*cf).pool, ServerConf::default())
    })
}

pub unsafe extern "C" fn merge_srv(
    _cf: *mut ffi::ngx_conf_t,
    parent: *mut c_void,
    child: *mut c_void,
) -> *mut std::os::raw::c_char {
    crate::log::guard(ffi::conf_error(), || unsafe {
        let parent = &*(parent as *const ServerConf);
        let child = &mut *(child as *mut ServerConf);
        let mut lines = parent.lines.clone();
        lines.append(&mut child.lines);
        child.lines = lines;
        std::ptr::null_mut()
    })
}

pub unsafe extern "C" fn create_loc(cf: *mut ffi::ngx_conf_t) -> *mut c_void {
    crate::log::guard(std::ptr::null_mut(), || unsafe {
        in_pool((*cf).pool, LocConf::default())
    })
}

/// Where the directive being read is (`file:line`).
///
/// # Safety
/// `cf` must be the live configuration being parsed.
pub unsafe fn here(cf: *mut ffi::ngx_conf_t) -> Location {
    unsafe {
        let f = (*cf).conf_file;
        if f.is_null() {
            return Location::new("nginx.conf", 0);
        }
        let name = String::from_utf8_lossy(ffi::bytes(&(*f).file.name)).into_owned();
        Location::new(name, (*f).line as u32)
    }
}

/// The directive's arguments (without its name).
///
/// # Safety
/// As [`here`].
pub unsafe fn args(cf: *mut ffi::ngx_conf_t) -> Vec<String> {
    unsafe {
        let a = (*cf).args;
        let all: &[ffi::ngx_str_t] =
            std::slice::from_raw_parts((*a).elts as *const ffi::ngx_str_t, (*a).nelts);
        all.iter()
            .skip(1)
            .map(|s| String::from_utf8_lossy(ffi::bytes(s)).into_owned())
            .collect()
    }
}
