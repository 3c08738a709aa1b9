//! The module's state of one request (its context slot): the mount rule that mapped it, if a
//! mount did, and the forwarding under way. Freed with the request's pool.

use std::sync::Arc;

use lb_core::mount::MountTable;

use crate::conf::Pass;
use crate::driver::Ctx;
use crate::ffi;

/// The rule a mount matched: the table it came from (a reload may swap in another meanwhile)
/// and its place.
pub struct Mapped {
    pub worker: String,
    pub table: Arc<MountTable>,
    pub rule: usize,
}

/// nginx's pools align to a word; the state lives in one.
const _: () = assert!(std::mem::align_of::<State>() <= std::mem::size_of::<usize>());

#[derive(Default)]
pub struct State {
    pub mapped: Option<Mapped>,
    pub fwd: Option<Ctx>,
    /// nginx's decoded URI before [`normaliser`] replaced it (the ForwardURI* forms start
    /// from it); in the request pool or the client's header buffer.
    pub original_uri: Option<ffi::ngx_str_t>,
}

unsafe extern "C" fn free_state(p: *mut std::ffi::c_void) {
    crate::log::guard((), || {
        // SAFETY: `p` is the State written in `state`, dropped once by the pool's cleanup
        // (the pool frees its memory afterwards).
        let s = unsafe { &mut *(p as *mut State) };
        if let Some(ctx) = s.fwd.as_mut() {
            ctx.abandon();
        }
        unsafe { std::ptr::drop_in_place(s) };
    })
}

/// The request's state, made on first use.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn state<'a>(r: *mut ffi::ngx_http_request_t) -> Option<&'a mut State> {
    unsafe {
        let p = ffi::request_ctx(r) as *mut State;
        if !p.is_null() {
            return Some(&mut *p);
        }
        // In the request's pool: no allocation of our own per request.
        let cln = ffi::ngx_pool_cleanup_add((*r).pool, std::mem::size_of::<State>());
        if cln.is_null() {
            return None;
        }
        let p = (*cln).data as *mut State;
        if p.is_null() || p.align_offset(std::mem::align_of::<State>()) != 0 {
            return None;
        }
        p.write(State::default());
        (*cln).handler = Some(free_state);
        ffi::set_request_ctx(r, p as *mut std::ffi::c_void);
        Some(&mut *p)
    }
}

/// The request's state if the module has any.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn existing<'a>(r: *mut ffi::ngx_http_request_t) -> Option<&'a mut State> {
    unsafe { (ffi::request_ctx(r) as *mut State).as_mut() }
}

/// The forwarding under way for `r`, if any.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn forwarding<'a>(r: *mut ffi::ngx_http_request_t) -> Option<&'a mut Ctx> {
    unsafe { existing(r).and_then(|s| s.fwd.as_mut()) }
}

/// The post-read phase, before nginx picks the location: a URI the server's mounts map once
/// normalised (path parameters cut, `.`/`..` resolved as mod_jk does) carries the normalised
/// form from here on, so that the location and its access control (`deny`, `auth_*`) are
/// nginx's decision on the path the mount maps, not on one that only looks different
/// (`/app/..;/jk-status` is `/jk-status` to the mapper): mod_rjk's translate_name, mod_jk
/// ≥ 1.2.46.
///
/// # Safety
/// Called by nginx with a live request.
pub unsafe extern "C" fn normaliser(r: *mut ffi::ngx_http_request_t) -> ffi::ngx_int_t {
    crate::log::guard(ffi::DECLINED, || unsafe {
        let srv = &*ffi::srv_conf_of(r);
        let Some(mounts) = srv.mounts.as_ref() else {
            return ffi::DECLINED;
        };
        let _ = mounts.reload_if_changed(crate::clock::wall());
        let table = mounts.current();
        if table.rules().is_empty() {
            return ffi::DECLINED;
        }
        let uri = ffi::bytes(&(*r).uri);
        // A URI that does not normalise is refused by the mapper.
        let Ok(normalised) = lb_core::uri::normalise_bytes(uri) else {
            return ffi::DECLINED;
        };
        if normalised.as_slice() == uri || table.map_bytes(&normalised).is_none() {
            return ffi::DECLINED;
        }
        let Some(state) = state(r) else {
            return ffi::NGX_HTTP_INTERNAL_SERVER_ERROR as ffi::ngx_int_t;
        };
        let copy = crate::client::pool_str(r, &normalised);
        if copy.data.is_null() {
            return ffi::NGX_HTTP_INTERNAL_SERVER_ERROR as ffi::ngx_int_t;
        }
        state.original_uri = Some((*r).uri);
        (*r).uri = copy;
        ffi::DECLINED
    })
}

/// The precontent phase: a request the server's mounts map (and whose location has no content
/// handler of its own) is served by the mapped worker.
///
/// # Safety
/// Called by nginx with a live request.
pub unsafe extern "C" fn mapper(r: *mut ffi::ngx_http_request_t) -> ffi::ngx_int_t {
    crate::log::guard(ffi::DECLINED, || unsafe {
        if (*r).content_handler.is_some() || (*r).internal() != 0 {
            return ffi::DECLINED;
        }
        let srv = &*ffi::srv_conf_of(r);
        let Some(mounts) = srv.mounts.as_ref() else {
            return ffi::DECLINED;
        };
        let _ = mounts.reload_if_changed(crate::clock::wall());
        let table = mounts.current();
        if table.rules().is_empty() {
            return ffi::DECLINED;
        }
        let uri = ffi::bytes(&(*r).uri);
        let normalised = match lb_core::uri::normalise_bytes(uri) {
            Ok(n) => n,
            Err(e) => {
                crate::log::to(
                    (*(*r).connection).log,
                    crate::log::Level::Warn,
                    &format!("rjk: refusing {:?}: {e}", String::from_utf8_lossy(uri)),
                );
                return e.status() as ffi::ngx_int_t;
            }
        };
        let Some(m) = table.map_bytes(&normalised) else {
            return ffi::DECLINED;
        };
        if normalised.as_slice() != uri {
            // The normaliser did not see this URI mapped (the mount file was reloaded since):
            // nginx chose the location and ran its access phase on another path than the one
            // the mount maps, so the mount does not apply (fail closed).
            crate::log::to(
                (*(*r).connection).log,
                crate::log::Level::Warn,
                &format!(
                    "rjk: not mapping {:?}: nginx's location was chosen before it normalised to a mount",
                    String::from_utf8_lossy(uri)
                ),
            );
            return ffi::DECLINED;
        }
        let Some(i) = table.rules().iter().position(|x| std::ptr::eq(x, m.rule)) else {
            return ffi::DECLINED;
        };
        let worker = m.worker.to_owned();
        let Some(state) = state(r) else {
            return ffi::NGX_HTTP_INTERNAL_SERVER_ERROR as ffi::ngx_int_t;
        };
        state.mapped = Some(Mapped {
            worker,
            table: Arc::clone(&table),
            rule: i,
        });
        (*r).content_handler = Some(crate::handler::handler);
        ffi::DECLINED
    })
}

/// The worker serving `r`: its location's `rjk_pass` (a variable's value: empty when it
/// cannot be evaluated or is not UTF-8), else the mount that mapped it. Borrowed from the
/// configuration or the request (pool), which outlive the caller's use.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn worker_name<'a>(r: *mut ffi::ngx_http_request_t) -> Option<&'a str> {
    unsafe {
        match &(*ffi::loc_conf_of(r)).worker {
            Some(Pass::Named(w)) => Some(w.as_str()),
            Some(Pass::Variable { value, .. }) => {
                let mut v = ffi::ngx_str_t::empty();
                if ffi::ngx_http_complex_value(r, *value, &mut v) != ffi::OK {
                    return Some("");
                }
                Some(std::str::from_utf8(ffi::bytes(&v)).unwrap_or(""))
            }
            None => existing(r).and_then(|s| s.mapped.as_ref().map(|m| m.worker.as_str())),
        }
    }
}

/// How the location names its worker, when by a variable: `rjk_pass $x` at file:line.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn pass_variable(r: *mut ffi::ngx_http_request_t) -> Option<String> {
    unsafe {
        match &(*ffi::loc_conf_of(r)).worker {
            Some(Pass::Variable { written, at, .. }) => Some(format!("rjk_pass {written} ({at})")),
            _ => None,
        }
    }
}
