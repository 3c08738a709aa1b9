//! The content handler of `rjk_pass` locations: prepare the request with lb-core's rules, make
//! its [`Ctx`], start reading the body unbuffered, and let the driver run.

use lb_core::config::Kind;
use lb_core::forward::prepare::prepare_with;
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
        let Some(state) = crate::request::state(r) else {
            return INTERNAL;
        };
        let Some(name) = crate::request::worker_name(r) else {
            return ffi::DECLINED;
        };
        let mapped = state.mapped.as_ref();
        let Some((name, engine, listed)) = rt.engines.listed(name) else {
            return not_forwarded(r, rt, name);
        };
        let settings = (*ffi::srv_conf_of(r))
            .settings
            .as_ref()
            .unwrap_or(&rt.settings);
        let ext = mapped.map_or(&NO_EXTENSIONS, |m| &m.table.rules()[m.rule].extensions);
        let facts = NgxRequest::new(r, &rt.known, Some(settings));
        let facts = &facts;
        let ex = prepare_with(&facts, settings, listed.lb.as_ref(), ext, |prepared| {
            prepared.with_head(|head| {
                rt.spares
                    .borrow_mut()
                    .boxed(|bufs| Exchange::new(std::sync::Arc::clone(engine), head, bufs))
            })
        });
        // The configuration's name: it lives as long as the runtime (a variable's value does
        // not).
        Ctx::start(&mut state.fwd, r, rt, name, listed.pool, ex);
        let rc = crate::client::start_body(r, body_ready);
        if rc >= ffi::NGX_HTTP_SPECIAL_RESPONSE as ffi::ngx_int_t {
            return rc;
        }
        ffi::DONE
    }
}

/// A worker name that is not a listed forwarding worker: the status worker, or an error.
///
/// # Safety
/// `r` must be live.
unsafe fn not_forwarded(
    r: *mut ffi::ngx_http_request_t,
    rt: &crate::runtime::Runtime,
    name: &str,
) -> ffi::ngx_int_t {
    match rt.workers.get(name).filter(|w| w.listed).map(|w| &w.kind) {
        // SAFETY: the caller's promise.
        Some(Kind::Status(_)) => unsafe { crate::status::serve(r) },
        Some(_) => INTERNAL,
        None => {
            let names = rt.workers.list.value.iter().map(String::as_str);
            let hint = lb_core::config::closest(name, names)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            // SAFETY: the caller's promise.
            let from = unsafe { crate::request::pass_variable(r) }
                .map(|p| format!(", from {p}"))
                .unwrap_or_default();
            // SAFETY: as above.
            unsafe {
                log::to(
                    (*(*r).connection).log,
                    Level::Error,
                    &format!("rjk: no worker `{name}` in worker.list{from}{hint}"),
                )
            };
            INTERNAL
        }
    }
}

/// nginx has the first part of the body (or there is none): start forwarding.
unsafe extern "C" fn body_ready(r: *mut ffi::ngx_http_request_t) {
    log::guard((), || unsafe {
        if let Some(ctx) = crate::request::forwarding(r) {
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
    // SAFETY: the request is live (called before it is finalized).
    let log = unsafe { (*(*r).connection).log };
    let level = if done.failure.is_some() {
        Level::Error
    } else {
        Level::Info
    };
    // SAFETY: as above.
    if !unsafe { log::enabled(log, level) } {
        return;
    }
    let took = notes::duration(ctx.started.elapsed());
    // The request line as received, built only for a line that is written.
    // SAFETY: as above.
    let what = unsafe {
        format!(
            "{} {}",
            String::from_utf8_lossy(crate::ffi::bytes(&(*r).method_name)),
            String::from_utf8_lossy(crate::ffi::bytes(&(*r).unparsed_uri))
        )
    };
    match &done.failure {
        Some(f) => unsafe {
            log::to(
                log,
                Level::Error,
                &format!(
                    "rjk: {} → {}: {f} (status {}, {} member(s) tried, {took})",
                    what,
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
                    what,
                    ctx.worker_name(),
                    done.status
                ),
            )
        },
    }
}
