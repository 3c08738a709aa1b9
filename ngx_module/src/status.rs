//! Serving a status worker (`rjk_pass jk-status;`): read the query and a POSTed form, let
//! lb-core answer, log any change, write the reply.

use lb_core::status::form::Form;
use lb_core::status::respond::{respond, Context, Reply};

use crate::client;
use crate::facts::NgxRequest;
use crate::ffi;
use crate::log::{self, Level};
use crate::runtime::unix_now;

const INTERNAL: ffi::ngx_int_t = ffi::NGX_HTTP_INTERNAL_SERVER_ERROR as ffi::ngx_int_t;

/// # Safety
/// `r` must be the live request in its content handler.
pub unsafe fn serve(r: *mut ffi::ngx_http_request_t) -> ffi::ngx_int_t {
    unsafe {
        // The form is small: nginx reads it whole, then `answer` runs.
        (*r).set_request_body_in_single_buf(1);
        let rc = ffi::ngx_http_read_client_request_body(r, Some(answer));
        if rc >= ffi::NGX_HTTP_SPECIAL_RESPONSE as ffi::ngx_int_t {
            return rc;
        }
        ffi::DONE
    }
}

/// The body is in memory (or there is none).
unsafe extern "C" fn answer(r: *mut ffi::ngx_http_request_t) {
    log::guard((), || unsafe {
        let rc = reply(r);
        ffi::ngx_http_finalize_request(r, rc);
    })
}

/// The POSTed form, whole, or the answer refusing it (lb-core's limit: 413, never truncated).
///
/// # Safety
/// `r` must be the live request whose body nginx has read.
unsafe fn form(r: *mut ffi::ngx_http_request_t) -> Result<Form, Reply> {
    let mut form = Form::new();
    unsafe {
        let rb = (*r).request_body;
        if rb.is_null() {
            return Ok(form);
        }
        let mut cl = (*rb).bufs;
        while !cl.is_null() {
            let b = (*cl).buf;
            if (*b).in_file() != 0 && (*b).memory() == 0 && (*b).temporary() == 0 {
                // nginx spilled it to a temporary file: larger than client_body_buffer_size,
                // far larger than any status form.
                return Err(Reply::text(
                    413,
                    "the form is larger than client_body_buffer_size; nothing was changed\n".into(),
                ));
            }
            let n = (*b).last.offset_from((*b).pos).max(0) as usize;
            form.push(std::slice::from_raw_parts((*b).pos, n))?;
            cl = (*cl).next;
        }
    }
    Ok(form)
}

unsafe fn reply(r: *mut ffi::ngx_http_request_t) -> ffi::ngx_int_t {
    unsafe {
        let Some(rt) = (*ffi::main_conf_of(r)).runtime.as_deref() else {
            return INTERNAL;
        };
        let Some(name) = crate::request::worker_name(r) else {
            return INTERNAL;
        };
        let Some(lb_core::config::Kind::Status(s)) = rt.workers.get(name).map(|w| &w.kind) else {
            return INTERNAL;
        };
        let request = NgxRequest::new(r, &rt.known, None);
        let facts = &request;
        use lb_core::forward::prepare::RequestFacts;
        let method = String::from_utf8_lossy(facts.method()).into_owned();
        let posted = if method == "POST" {
            form(r)
        } else {
            Ok(Form::new())
        };
        let user = facts
            .remote_user()
            .map(|u| String::from_utf8_lossy(u).into_owned());
        let table = match (*ffi::srv_conf_of(r)).mounts.as_ref() {
            Some(m) => m.current(),
            None => std::sync::Arc::new(lb_core::mount::MountTable::new()),
        };
        let balancers = rt.engines.balancers();
        let ajp13 = rt.engines.ajp13();
        let server_name = String::from_utf8_lossy(facts.server().0).into_owned();
        let uri = String::from_utf8_lossy(facts.original_uri()).into_owned();
        // The nginx the module was built against (its signature matches the running one).
        let banner = format!(
            "{} ngx_http_rjk_module/{}",
            ffi::NGINX_VER.to_str().unwrap_or("nginx"),
            env!("CARGO_PKG_VERSION")
        );
        let ctx = Context {
            workers: &rt.workers,
            table: &table,
            balancers: &balancers,
            ajp13: &ajp13,
            nonce: &rt.nonce,
            server_name: &server_name,
            server_port: facts.server().1,
            web_server: &banner,
            uri: &uri,
            dump: &rt.dump,
            now: unix_now(),
        };
        let reply = match posted {
            Ok(f) => {
                let params = f.params(facts.query().unwrap_or_default());
                respond(&ctx, s, &method, &params, user.as_deref())
            }
            Err(refused) => refused,
        };
        let log = (*(*r).connection).log;
        if let Some(change) = &reply.change {
            let from = String::from_utf8_lossy(facts.client().0).into_owned();
            log::to(
                log,
                Level::Notice,
                &format!(
                    "rjk: status change by {} from {from}: {change}",
                    user.as_deref().unwrap_or("-")
                ),
            );
        }
        if let Some(e) = &reply.persist_error {
            log::to(
                log,
                Level::Notice,
                &format!("rjk: cannot save runtime changes to {e}"),
            );
        }
        (*r).headers_out.status = reply.status as ffi::ngx_uint_t;
        let ct = reply.content_type.as_bytes();
        client::add_header(r, b"X-Content-Type-Options", b"nosniff");
        (*r).headers_out.content_type_len = ct.len();
        (*r).headers_out.content_type = ffi::ngx_str_t {
            len: ct.len(),
            data: ct.as_ptr() as *mut u8,
        };
        if let Some(l) = &reply.location {
            client::add_header(r, b"Location", l.as_bytes());
        }
        let body = reply.body.as_bytes();
        (*r).headers_out.content_length_n = body.len() as i64;
        if body.is_empty() {
            (*r).set_header_only(1);
        }
        let rc = ffi::ngx_http_send_header(r);
        if rc == ffi::ERROR || rc > ffi::OK || (*r).header_only() != 0 {
            return rc;
        }
        let b = ffi::ngx_create_temp_buf((*r).pool, body.len());
        if b.is_null() {
            return ffi::ERROR;
        }
        std::ptr::copy_nonoverlapping(body.as_ptr(), (*b).pos, body.len());
        (*b).last = (*b).pos.add(body.len());
        (*b).set_last_buf(1);
        (*b).set_last_in_chain(1);
        let mut out = ffi::ngx_chain_t {
            buf: b,
            next: std::ptr::null_mut(),
        };
        ffi::ngx_http_output_filter(r, &mut out)
    }
}
