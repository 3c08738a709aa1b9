//! Per-server configuration as httpd builds it: the `Jk*` directive lines in the order they
//! were read, each with its file and line, for lb-core to interpret (and to quote in errors).

use std::ffi::{c_void, CStr};
use std::os::raw::c_char;

use crate::ffi;

/// One `Jk*` directive as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectiveLine {
    pub name: &'static str,
    pub args: String,
    pub file: String,
    pub line: u32,
    /// The enclosing `<Location>` path, for `JkMount`/`JkUnMount` written inside one.
    pub location: Option<String>,
    /// Inherited from the main server into a virtual host (lb-core applies JkMountCopy rules).
    pub inherited: bool,
}

/// The module's server config: owned by Rust, freed with the configuration pool.
#[derive(Debug, Default)]
pub struct ServerConf {
    pub is_virtual: bool,
    pub lines: Vec<DirectiveLine>,
    /// Set in post_config: what requests to this server use.
    pub runtime: Option<std::sync::Arc<crate::runtime::ServerRuntime>>,
}

unsafe extern "C" fn free_conf(p: *mut c_void) -> ffi::apr_status_t {
    // SAFETY: `p` is the Box leaked in `alloc`, registered once for this cleanup.
    drop(unsafe { Box::from_raw(p as *mut ServerConf) });
    0
}

unsafe extern "C" fn no_child_cleanup(_: *mut c_void) -> ffi::apr_status_t {
    0
}

/// Leak `conf` into `pool`'s lifetime: the pool's cleanup frees it (graceful restarts destroy
/// the configuration pool, so nothing outlives its configuration).
fn alloc(pool: *mut ffi::apr_pool_t, conf: ServerConf) -> *mut c_void {
    let p = Box::into_raw(Box::new(conf)) as *mut c_void;
    // SAFETY: pool is httpd's live config pool; the callbacks match APR's cleanup signature.
    unsafe { ffi::apr_pool_cleanup_register(pool, p, Some(free_conf), Some(no_child_cleanup)) };
    p
}

pub unsafe extern "C" fn create_server(
    pool: *mut ffi::apr_pool_t,
    s: *mut ffi::server_rec,
) -> *mut c_void {
    crate::guard::guard("create_server_config", std::ptr::null_mut(), || {
        // SAFETY: httpd passes a valid server_rec.
        let is_virtual = unsafe { (*s).is_virtual } != 0;
        alloc(
            pool,
            ServerConf {
                is_virtual,
                lines: Vec::new(),
                runtime: None,
            },
        )
    })
}

pub unsafe extern "C" fn merge_server(
    pool: *mut ffi::apr_pool_t,
    base: *mut c_void,
    add: *mut c_void,
) -> *mut c_void {
    crate::guard::guard("merge_server_config", add, || {
        // SAFETY: both were created by create_server and live as long as the config pool.
        let (base, add) = unsafe { (&*(base as *const ServerConf), &*(add as *const ServerConf)) };
        let mut lines: Vec<DirectiveLine> = base
            .lines
            .iter()
            .map(|l| DirectiveLine {
                inherited: true,
                ..l.clone()
            })
            .collect();
        lines.extend(add.lines.iter().cloned());
        alloc(
            pool,
            ServerConf {
                is_virtual: add.is_virtual,
                lines,
                runtime: None,
            },
        )
    })
}

/// httpd creates a module's server config for a virtual host only when one of the module's
/// directives appears in it; one without any shares the main server's. mod_jk gives such a host
/// its own, merged from the main server's, so that its JkMountCopy rules apply: do the same,
/// before anything reads the virtual hosts' lines.
///
/// # Safety
/// `main` must be the live main server_rec and `pool` the configuration pool.
pub unsafe fn unshare_virtual_hosts(pool: *mut ffi::apr_pool_t, main: *mut ffi::server_rec) {
    // SAFETY: as documented; the server list and config vectors live as long as `pool`.
    unsafe {
        let base = of_server(main) as *const ServerConf;
        let mut s = (*main).next;
        while !s.is_null() {
            if (*s).is_virtual != 0 && std::ptr::eq(of_server(s), base) {
                let lines = (*base)
                    .lines
                    .iter()
                    .map(|l| DirectiveLine {
                        inherited: true,
                        ..l.clone()
                    })
                    .collect();
                let own = ServerConf {
                    is_virtual: true,
                    lines,
                    runtime: None,
                };
                ffi::ap_set_module_config(
                    (*s).module_config,
                    &raw const crate::module::jk_module,
                    alloc(pool, own),
                );
            }
            s = (*s).next;
        }
    }
}

/// The module's config of server `s`.
///
/// # Safety
/// `s` must be a live server_rec whose config vector was built with this module loaded.
pub unsafe fn of_server<'a>(s: *const ffi::server_rec) -> &'a mut ServerConf {
    let v = unsafe {
        ffi::ap_get_module_config((*s).module_config, &raw const crate::module::jk_module)
    };
    unsafe { &mut *(v as *mut ServerConf) }
}

/// A C string from httpd, or "" for NULL.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string alive for `'a`.
pub unsafe fn cstr<'a>(p: *const c_char) -> &'a str {
    if p.is_null() {
        return "";
    }
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}
