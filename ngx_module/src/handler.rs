//! The content handler of `rjk_pass` locations: prepare the request with lb-core's rules, make
//! its [`Ctx`], start reading the body unbuffered, and let the driver run.

use lb_core::config::Kind;
use lb_core::forward::prepare::prepare;
use lb_core::forward::{notes, Exchange};
use lb_core::mount::NO_EXTENSIONS;

use crate::driver::Ctx;
use crate::facts::NgxRequest;
use crate::ffi;
use crate::log::{self, Level};

const INTERNAL: ffi::ngx_int_t = ffi::NGX_HTTP_INTERNAL_SERVER_ERROR as ffi::ngx_int_t;

pub unsafe extern "C" fn handler(r: *mut ffi::ngx_http_request_t) -> ffi::ngx_int_t {
    log::guard(INTERNAL, || unsafe { handle(r) })
}

unsafe fn handle(r: *mut ffi::ngx_http_request_t) -> ffi::ngx_int_t {
    unsafe {
        let Some(rt) = (*ffi::main_conf_of(r)).runtime.as_deref() else {
            return ffi::DECLINED;
        };
        let Some(name) = (*ffi::loc_conf_of(r)).worker.clone() else {
            return ffi::DECLINED;
        };
        let Some(worker) = rt.workers.get(&name) else {
            return INTERNAL;
        };
        let lb = match &worker.kind {
            Kind::Status(s) => return crate::status::serve(r, rt, s),
            Kind::Lb(l) => Some(l),
            Kind::Ajp(_) => None,
        };
        let Some(engine) = rt.engines.get(&name) else {
            return INTERNAL;
        };
        let facts = NgxRequest::new(r);
        let prepared = prepare(&facts, &rt.settings, lb, &NO_EXTENSIONS);
        let ex = prepared.with_head(|head| {
            Exchange::new(
                std::sync::Arc::clone(engine.worker()),
                head,
                Default::default(),
            )
        });
        let what = format!(
            "{} {}",
            String::from_utf8_lossy(&prepared.method),
            String::from_utf8_lossy(&prepared.uri)
        );
        let ctx = Ctx::new(r, rt, &name, ex, what);
        let cln = ffi::ngx_pool_cleanup_add((*r).pool, 0);
        if cln.is_null() {
            return INTERNAL;
        }
        let p = Box::into_raw(ctx);
        (*cln).handler = Some(free_ctx);
        (*cln).data = p as *mut std::ffi::c_void;
        ffi::set_request_ctx(r, p as *mut std::ffi::c_void);
        let rc = crate::client::start_body(r, body_ready);
        if rc >= ffi::NGX_HTTP_SPECIAL_RESPONSE as ffi::ngx_int_t {
            return rc;
        }
        ffi::DONE
    }
}

/// The request pool goes: the context goes with it (stopping whatever it still waits for).
unsafe extern "C" fn free_ctx(p: *mut std::ffi::c_void) {
    log::guard((), || unsafe {
        let mut ctx = Box::from_raw(p as *mut Ctx);
        ctx.abandon();
    })
}

/// nginx has the first part of the body (or there is none): start forwarding.
unsafe extern "C" fn body_ready(r: *mut ffi::ngx_http_request_t) {
    log::guard((), || unsafe {
        if let Some(ctx) = (ffi::request_ctx(r) as *mut Ctx).as_mut() {
            ctx.drive();
        }
    })
}

/// The error log line for a forwarded request: failures at `error`, the rest at `info`.
///
/// # Safety
/// `r` must be the live request of `ctx`.
pub unsafe fn log_result(ctx: &Ctx, r: *mut ffi::ngx_http_request_t) {
    let Some(done) = ctx.result.as_ref() else {
        return;
    };
    let took = notes::duration(ctx.started.elapsed());
    // SAFETY: the request is live (called before it is finalized).
    let log = unsafe { (*(*r).connection).log };
    match &done.failure {
        Some(f) => unsafe {
            log::to(
                log,
                Level::Error,
                &format!(
                    "rjk: {} → {}: {f} (status {}, {} member(s) tried, {took})",
                    ctx.what,
                    ctx.worker_name(),
                    done.status,
                    done.members_tried
                ),
            )
        },
        None => unsafe {
            log::to(
                log,
                Level::Info,
                &format!(
                    "rjk: {} → {}: {} in {took}",
                    ctx.what,
                    ctx.worker_name(),
                    done.status
                ),
            )
        },
    }
}
