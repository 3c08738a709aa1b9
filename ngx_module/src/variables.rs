//! mod_jk's notes as nginx variables for `log_format`: `$rjk_worker`, `$rjk_member` (the last
//! member tried), `$rjk_route` (the route of the member that served), `$rjk_duration`
//! (seconds, as mod_jk's `JK_REQUEST_DURATION`). Not found for requests the module did not
//! forward.

use crate::ffi;

const NAMES: [&[u8]; 4] = [b"rjk_worker", b"rjk_member", b"rjk_route", b"rjk_duration"];

/// preconfiguration: declare the variables.
///
/// # Safety
/// Called by nginx with the live configuration.
pub unsafe extern "C" fn add(cf: *mut ffi::ngx_conf_t) -> ffi::ngx_int_t {
    crate::log::guard(ffi::ERROR, || unsafe {
        for (i, name) in NAMES.iter().enumerate() {
            let mut n = ffi::ngx_str_t {
                len: name.len(),
                data: name.as_ptr() as *mut u8,
            };
            let v = ffi::ngx_http_add_variable(
                cf,
                &mut n,
                ffi::NGX_HTTP_VAR_NOCACHEABLE as ffi::ngx_uint_t,
            );
            if v.is_null() {
                return ffi::ERROR;
            }
            (*v).get_handler = Some(get);
            (*v).data = i;
        }
        ffi::OK
    })
}

/// The value of variable `data` for `r`.
fn value(r: *mut ffi::ngx_http_request_t, which: usize) -> Option<String> {
    // SAFETY: nginx asks for variables of live requests.
    let ctx = unsafe { crate::request::forwarding(r) }?;
    let done = ctx.result.as_ref()?;
    let worker = &ctx.worker_ref;
    Some(match which {
        0 => ctx.worker_name().to_owned(),
        1 => done.last_member_name(worker)?.to_owned(),
        2 => worker.member(done.served_by()?)?.spec().route.clone(),
        _ => lb_core::forward::notes::duration(ctx.took?),
    })
}

unsafe extern "C" fn get(
    r: *mut ffi::ngx_http_request_t,
    v: *mut ffi::ngx_http_variable_value_t,
    data: usize,
) -> ffi::ngx_int_t {
    crate::log::guard(ffi::ERROR, || unsafe {
        match value(r, data) {
            Some(s) if !s.is_empty() => {
                let p = ffi::ngx_pnalloc((*r).pool, s.len()) as *mut u8;
                if p.is_null() {
                    return ffi::ERROR;
                }
                std::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
                (*v).set_len(s.len() as u32);
                (*v).set_valid(1);
                (*v).set_no_cacheable(0);
                (*v).set_not_found(0);
                (*v).data = p;
            }
            _ => (*v).set_not_found(1),
        }
        ffi::OK
    })
}
