//! translate_name and map_to_storage: normalise the URI, find its worker, and mark the request
//! for our handler — the decision is lb-core's mount table; this only moves it into httpd.

use std::ffi::CStr;
use std::os::raw::c_int;

use crate::conf::of_server;
use crate::ffi;

/// The note carrying the worker name from translate to the handler (mod_jk's name).
pub const WORKER_NOTE: &CStr = c"JK_WORKER_NAME";
/// mod_jk's handler name: also what `SetHandler jakarta-servlet` selects.
pub const HANDLER: &CStr = c"jakarta-servlet";

/// What translate_name matched: the mount table, the rule's place in it, and httpd's decoded
/// URI before our normalisation when that changed it (the ForwardURI* forms start from it).
pub struct Matched {
    pub table: std::sync::Arc<lb_core::mount::MountTable>,
    pub rule: usize,
    /// NULL when normalising changed nothing; else a string in the request pool.
    original_uri: *const std::os::raw::c_char,
}

impl Matched {
    /// httpd's decoded URI before normalisation, if that changed it.
    pub fn original_uri(&self) -> Option<&[u8]> {
        // SAFETY: NULL or a C string in the request pool, which outlives this Matched (the
        // pool's cleanup drops it).
        crate::request::opt_bytes(self.original_uri)
    }
}

unsafe extern "C" fn drop_match(p: *mut std::ffi::c_void) -> ffi::apr_status_t {
    // SAFETY: `p` is the Matched translate_name wrote into the request pool, dropped once
    // here (the pool frees the memory).
    unsafe { std::ptr::drop_in_place(p as *mut Matched) };
    0
}

/// What translate_name matched for this request, if it did (borrowed: it lives in the request
/// pool until the request ends). Kept in the request's module config, httpd's per-request
/// slot: an internal redirect starts without it.
pub fn matched_rule<'r>(req: &crate::request::HttpdRequest<'r>) -> Option<&'r Matched> {
    // SAFETY: the request's config vector has a slot per module; ours holds NULL or the
    // `Matched` translate_name wrote, dropped by the pool's cleanup after the request.
    unsafe {
        let data =
            ffi::ap_get_module_config(req.request_config(), &raw const crate::module::jk_module);
        (data as *const Matched).as_ref()
    }
}

/// # Safety
/// `r` must be a live request.
unsafe fn env_set(r: *mut ffi::request_rec, name: &CStr) -> bool {
    unsafe { !ffi::apr_table_get((*r).subprocess_env, name.as_ptr()).is_null() }
}

pub unsafe extern "C" fn translate_name(r: *mut ffi::request_rec) -> c_int {
    crate::guard::guard("translate_name", ffi::DECLINED, || unsafe {
        use lb_core::mount::dispatch::{translate, Translation};
        let Some(rt) = of_server((*r).server).runtime.clone() else {
            return ffi::DECLINED;
        };
        // Bytes, not str: httpd's decoded path may hold any byte (`/caf%E9`), and mod_jk maps
        // and forwards such paths.
        let uri = if (*r).uri.is_null() {
            &b""[..]
        } else {
            std::ffi::CStr::from_ptr((*r).uri).to_bytes()
        };
        let decided = translate(
            env_set(r, c"no-jk"),
            &rt.mounts,
            std::time::SystemTime::now(),
            rt.settings.auto_alias.as_deref(),
            uri,
            |p| p.is_dir(),
        );
        match decided {
            Translation::Decline => ffi::DECLINED,
            Translation::Refuse { status, reason } => {
                crate::log::request(r, crate::log::Level::Warning, &format!("mod_rjk: {reason}"));
                status as c_int
            }
            Translation::Alias(a) => auto_alias(r, a),
            Translation::Mapped {
                table,
                rule,
                normalised,
            } => {
                let pool = (*r).pool;
                let worker = crate::request::pool_copy(pool, table.rules()[rule].worker.as_bytes());
                // The handler needs the rule's extensions: keep the table it came from and the
                // rule's place, for this request only, in the request pool (no malloc).
                let kept = ffi::apr_palloc(pool, std::mem::size_of::<Matched>()) as *mut Matched;
                // apr_palloc aligns to 8 bytes, all a Matched needs.
                debug_assert!(kept.is_aligned());
                let original_uri = match normalised {
                    Some(_) => (*r).uri as *const _,
                    None => std::ptr::null(),
                };
                kept.write(Matched {
                    table,
                    rule,
                    original_uri,
                });
                let kept = kept as *mut std::ffi::c_void;
                ffi::apr_pool_cleanup_register(
                    pool,
                    kept,
                    Some(drop_match),
                    Some(ffi::apr_pool_cleanup_null),
                );
                ffi::ap_set_module_config(
                    (*r).request_config,
                    &raw const crate::module::jk_module,
                    kept,
                );
                ffi::apr_table_setn((*r).notes, WORKER_NOTE.as_ptr(), worker);
                (*r).handler = HANDLER.as_ptr();
                // Later phases (access control on <Location>) see what the mapper saw (mod_jk
                // ≥ 1.2.46).
                if let Some(n) = normalised {
                    (*r).uri = crate::request::pool_copy(pool, &n);
                }
                ffi::DECLINED
            }
        }
    })
}

/// `JkAutoAlias`: an unmapped request for a webapp's static file is served from its
/// directory (lb-core decides; httpd serves the file).
///
/// # Safety
/// `r` must be a live request.
unsafe fn auto_alias(r: *mut ffi::request_rec, decided: lb_core::uri::AutoAlias) -> c_int {
    use lb_core::uri::AutoAlias;
    use std::os::unix::ffi::OsStrExt;
    match decided {
        AutoAlias::Serve(file) => {
            let file = std::ffi::CString::new(file.as_os_str().as_bytes()).unwrap_or_default();
            unsafe { (*r).filename = ffi::apr_pstrdup((*r).pool, file.as_ptr()) };
            ffi::OK
        }
        refused => refused.status().map_or(ffi::DECLINED, c_int::from),
    }
}

/// Mapped requests have no file behind them: skip httpd's directory walk and file checks.
/// Unmapped ones lose their session path parameter under `JkStripSession`, so httpd finds the
/// file (`/img/a.png;jsessionid=...`).
pub unsafe extern "C" fn map_to_storage(r: *mut ffi::request_rec) -> c_int {
    crate::guard::guard("map_to_storage", ffi::DECLINED, || unsafe {
        // Mapped by translate_name (its match in our slot), or a worker named by a note.
        let mapped =
            !ffi::ap_get_module_config((*r).request_config, &raw const crate::module::jk_module)
                .is_null();
        if mapped || !ffi::apr_table_get((*r).notes, WORKER_NOTE.as_ptr()).is_null() {
            return ffi::OK;
        }
        let name = of_server((*r).server)
            .runtime
            .as_ref()
            .and_then(|rt| rt.settings.strip_session.clone());
        if let Some(name) = name {
            for field in [&mut (*r).uri, &mut (*r).filename] {
                strip(field, (*r).pool, name.as_bytes());
            }
        }
        ffi::DECLINED
    })
}

/// Replace the C string in `field` by its copy without the session parameter `name`.
///
/// # Safety
/// `field` must hold NULL or a NUL-terminated string; `pool` must be the request pool.
unsafe fn strip(field: &mut *mut std::os::raw::c_char, pool: *mut ffi::apr_pool_t, name: &[u8]) {
    if field.is_null() {
        return;
    }
    let current = unsafe { CStr::from_ptr(*field) }.to_bytes();
    if let Some(stripped) = lb_core::uri::strip_session_id_bytes(current, name) {
        let c = std::ffi::CString::new(stripped).unwrap_or_default();
        *field = unsafe { ffi::apr_pstrdup(pool, c.as_ptr()) };
    }
}
