//! The content handler: requests translate_name marked for a worker (or `SetHandler
//! jakarta-servlet` with `JK_WORKER_NAME` set) are served by that worker.

use std::os::raw::c_int;

use lb_core::config::Kind;
use lb_core::mount::Extensions;

use crate::conf::{cstr, of_server};
use crate::ffi;
use crate::request::HttpdRequest;
use crate::translate::{HANDLER, WORKER_NOTE};

/// httpd's handler name for a directory (`DIR_MAGIC_TYPE`).
const DIRECTORY: &str = "httpd/unix-directory";

pub unsafe extern "C" fn handler(r: *mut ffi::request_rec) -> c_int {
    crate::guard::guard("handler", ffi::HTTP_INTERNAL_SERVER_ERROR, || unsafe {
        let Some(rt) = of_server((*r).server).runtime.clone() else {
            return ffi::DECLINED;
        };
        let handler = if (*r).handler.is_null() {
            ""
        } else {
            cstr((*r).handler)
        };
        // JkOptions +ForwardDirectories: directory requests httpd has no index for go to the
        // worker too (mod_jk's DIR_MAGIC_TYPE case).
        let directory = handler == DIRECTORY
            && rt
                .settings
                .options
                .has(lb_core::directive::options::Flag::FORWARD_DIRECTORIES);
        if handler != HANDLER.to_str().unwrap_or_default() && !directory {
            return ffi::DECLINED;
        }
        let mut name = cstr(ffi::apr_table_get((*r).notes, WORKER_NOTE.as_ptr())).to_owned();
        if name.is_empty() {
            let indicator =
                std::ffi::CString::new(rt.settings.indicators.worker.clone()).unwrap_or_default();
            name = cstr(ffi::apr_table_get((*r).subprocess_env, indicator.as_ptr())).to_owned();
        }
        if name.is_empty() {
            // As mod_jk: map the (normalised) URI once more.
            let uri = cstr((*r).uri).as_bytes();
            if let Ok(n) = lb_core::uri::normalise_bytes(uri) {
                if let Some(m) = rt.mounts.current().map_bytes(&n) {
                    name = m.worker.to_owned();
                }
            }
        }
        if name.is_empty() {
            return ffi::DECLINED;
        }
        // `JK_WORKER_NAME=lb;stopped=n1`: extensions given with the name apply to this request
        // (mod_jk parses them per request too; it drops an unknown one, rjk says so).
        let (name, extensions) = if !name.contains(';') {
            (name, None)
        } else {
            match Extensions::parse(&name) {
                Ok(p) => (p.worker.to_owned(), Some(p.extensions)),
                Err(e) => {
                    crate::log::request(
                        r,
                        crate::log::Level::Error,
                        &format!("mod_rjk: worker name `{name}` for {}: {e}", cstr((*r).uri)),
                    );
                    return ffi::HTTP_INTERNAL_SERVER_ERROR;
                }
            }
        };
        let Some(worker) = rt.global.workers.get(&name) else {
            crate::log::request(
                r,
                crate::log::Level::Error,
                &format!("mod_rjk: no worker `{name}` for {}", cstr((*r).uri)),
            );
            return ffi::HTTP_INTERNAL_SERVER_ERROR;
        };
        let uri = cstr((*r).uri).to_owned();
        let mut req = HttpdRequest::new(r);
        match &worker.kind {
            Kind::Status(s) => crate::status::serve(&mut req, &rt, s, &uri),
            Kind::Ajp(_) | Kind::Lb(_) => {
                crate::forward::serve(&mut req, &rt, &name, extensions.as_ref())
            }
        }
    })
}
