//! The log_transaction hook: `JkRequestLogFormat` lines for the requests a worker served. The
//! format and its items are lb-core's; this presents the finished `request_rec`.

use std::ffi::CStr;
use std::os::raw::c_int;

use lb_core::request_log::RequestLogFacts;

use crate::conf::of_server;
use crate::ffi;
use crate::request::{bytes, opt_bytes};
use crate::translate::WORKER_NOTE;

struct Finished<'r>(&'r ffi::request_rec);

impl Finished<'_> {
    fn note(&self, name: &CStr) -> Option<&[u8]> {
        // SAFETY: the request and its notes table are live during log_transaction.
        opt_bytes(unsafe { ffi::apr_table_get(self.0.notes, name.as_ptr()) })
    }
}

impl RequestLogFacts for Finished<'_> {
    fn duration(&self) -> Option<&[u8]> {
        self.note(c"JK_REQUEST_DURATION")
    }
    fn request_line(&self) -> &[u8] {
        bytes(self.0.the_request)
    }
    fn uri(&self) -> &[u8] {
        bytes(self.0.uri)
    }
    fn status(&self) -> u16 {
        self.0.status.clamp(0, 999) as u16
    }
    fn bytes_sent(&self) -> Option<u64> {
        (self.0.sent_bodyct != 0).then_some(self.0.bytes_sent.max(0) as u64)
    }
    fn server_name(&self) -> &[u8] {
        // SAFETY: r is live; the name lives in its pools.
        bytes(unsafe { ffi::ap_get_server_name(self.0 as *const _ as *mut _) })
    }
    fn virtual_host(&self) -> &[u8] {
        // SAFETY: every request has its server.
        unsafe { self.0.server.as_ref() }.map_or(&b""[..], |s| bytes(s.server_hostname))
    }
    fn server_port(&self) -> u16 {
        match unsafe { self.0.server.as_ref() }.map_or(0, |s| s.port) {
            0 => unsafe { ffi::ap_get_server_port(self.0) },
            p => p,
        }
    }
    fn protocol(&self) -> &[u8] {
        bytes(self.0.protocol)
    }
    fn method(&self) -> &[u8] {
        bytes(self.0.method)
    }
    fn query(&self) -> Option<&[u8]> {
        opt_bytes(self.0.args)
    }
    fn worker(&self) -> Option<&[u8]> {
        self.note(WORKER_NOTE)
    }
    fn route(&self) -> Option<&[u8]> {
        self.note(c"JK_WORKER_ROUTE")
    }
}

pub unsafe extern "C" fn log_transaction(r: *mut ffi::request_rec) -> c_int {
    crate::guard::guard("log_transaction", ffi::DECLINED, || unsafe {
        // Runs for every request: borrow, and leave at once without a format.
        let Some(rt) = of_server((*r).server).runtime.as_ref() else {
            return ffi::DECLINED;
        };
        let (Some(log), Some(format)) = (&rt.log, &rt.settings.request_log_format) else {
            return ffi::DECLINED;
        };
        let done = Finished(&*r);
        if done.worker().is_some_and(|w| !w.is_empty()) {
            log.request(&format.render(&done));
        }
        ffi::DECLINED
    })
}
