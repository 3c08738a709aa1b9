//! The content handler: requests translate_name marked for a worker (or `SetHandler
//! jakarta-servlet` with `JK_WORKER_NAME` set) are served by that worker.

use std::os::raw::c_int;

use lb_core::config::Kind;
use lb_core::mount::dispatch::{find_worker, Target};

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
        // Bytes, not str: no UTF-8 check of every request's handler name and URI.
        let handler = crate::request::bytes((*r).handler);
        // JkOptions +ForwardDirectories: directory requests httpd has no index for go to the
        // worker too (mod_jk's DIR_MAGIC_TYPE case).
        let directory = handler == DIRECTORY.as_bytes()
            && rt
                .settings
                .options
                .has(lb_core::directive::options::Flag::FORWARD_DIRECTORIES);
        if handler != HANDLER.to_bytes() && !directory {
            return ffi::DECLINED;
        }
        let note = cstr(ffi::apr_table_get((*r).notes, WORKER_NOTE.as_ptr()));
        let env = crate::request::table_get(
            (*r).subprocess_env,
            rt.settings.indicators.worker.as_bytes(),
        )
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("");
        let uri = crate::request::bytes((*r).uri);
        let table = rt.mounts.current();
        let (name, extensions) =
            match find_worker(Some(note), Some(env), uri, &table, &rt.global.workers) {
                Target::Decline => return ffi::DECLINED,
                Target::Fail { reason } => {
                    crate::log::request(r, crate::log::Level::Error, &format!("mod_rjk: {reason}"));
                    return ffi::HTTP_INTERNAL_SERVER_ERROR;
                }
                Target::Worker { worker, given } => (worker, given),
            };
        let Some(worker) = rt.global.workers.get(name) else {
            return ffi::HTTP_INTERNAL_SERVER_ERROR;
        };
        match &worker.kind {
            Kind::Status(s) => {
                let uri = cstr((*r).uri).to_owned();
                crate::status::serve(&mut HttpdRequest::new(r), &rt, s, &uri)
            }
            Kind::Ajp(_) | Kind::Lb(_) => {
                let lb = match &worker.kind {
                    Kind::Lb(lb) => Some(lb),
                    _ => None,
                };
                let req = &mut HttpdRequest::new(r);
                crate::forward::serve(req, &rt, name, lb, extensions.as_ref(), note.as_bytes())
            }
        }
    })
}
