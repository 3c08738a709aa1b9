//! Forwarding a request to an ajp13 or lb worker: present httpd's request to lb-core
//! ([`RequestFacts`], [`ServerSide`]), let lb-core prepare and forward it, then hand httpd the
//! outcome (status, notes, the connector log line). What to forward and how to retry is all
//! lb-core's.

use std::io;
use std::os::raw::c_int;

use lb_core::config::LbWorker;
use lb_core::forward::blocking::ServerSide;
use lb_core::forward::prepare::{prepare, RequestFacts};
use lb_core::mount::{Extensions, NO_EXTENSIONS};

use crate::ffi;
use crate::request::HttpdRequest;
use crate::runtime::ServerRuntime;
use crate::translate::matched_rule;

impl ServerSide for HttpdRequest<'_> {
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        HttpdRequest::read_body(self, buf)
    }

    fn write_head(&mut self, head: &ajp::SendHeaders<'_>) -> io::Result<()> {
        self.set_head(head.status(), head.reason(), head.headers());
        Ok(())
    }

    fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        if self.header_only() {
            return Ok(());
        }
        self.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        HttpdRequest::flush(self)
    }

    fn client_gone(&self) -> bool {
        HttpdRequest::client_gone(self)
    }

    fn keep_for_error_page(&mut self, name: &[u8], value: &[u8]) {
        self.add_error_header(name, value);
    }
}

impl<'x, 'r: 'x> RequestFacts<'x> for HttpdRequest<'r> {
    fn method(&self) -> &'x [u8] {
        HttpdRequest::method(self)
    }
    fn original_uri(&self) -> &'x [u8] {
        matched_rule(self)
            .and_then(|m| m.original_uri())
            .unwrap_or(self.uri())
    }
    fn unparsed_uri(&self) -> &'x [u8] {
        HttpdRequest::unparsed_uri(self)
    }
    fn protocol(&self) -> &'x [u8] {
        HttpdRequest::protocol(self)
    }
    fn query(&self) -> Option<&'x [u8]> {
        HttpdRequest::query(self)
    }
    fn for_each_header(&self, f: &mut dyn FnMut(&'x [u8], &'x [u8])) {
        for (n, v) in self.headers() {
            f(n, v);
        }
    }
    fn env(&self, name: &str) -> Option<&'x [u8]> {
        HttpdRequest::env(self, name.as_bytes())
    }
    fn no_env(&self) -> bool {
        HttpdRequest::no_env(self)
    }
    fn client(&self) -> (&'x [u8], u16) {
        (self.remote_addr(), self.remote_port())
    }
    fn physical_client(&self) -> (&'x [u8], u16) {
        self.physical_addr()
    }
    fn local(&self) -> (&'x [u8], u16) {
        self.local_addr()
    }
    fn server(&self) -> (&'x [u8], u16) {
        (self.server_name(), self.server_port())
    }
    fn remote_user(&self) -> Option<&'x [u8]> {
        HttpdRequest::remote_user(self)
    }
    fn auth_type(&self) -> Option<&'x [u8]> {
        HttpdRequest::auth_type(self)
    }
}

/// Forward through worker `name`; `given` are extensions that came with the name in
/// `JK_WORKER_NAME` (they replace the matched rule's); `noted` is the request's
/// `JK_WORKER_NAME` note as the handler found it (empty: none).
pub fn serve(
    req: &mut HttpdRequest<'_>,
    rt: &ServerRuntime,
    name: &str,
    lb: Option<&LbWorker>,
    given: Option<&Extensions>,
    noted: &[u8],
) -> c_int {
    let Some(engine) = rt.global.engines.get(name) else {
        return ffi::HTTP_SERVICE_UNAVAILABLE;
    };
    // The rule translate_name matched (none for `SetHandler jakarta-servlet`).
    let matched = matched_rule(req);
    let ext = given
        .unwrap_or_else(|| matched.map_or(&NO_EXTENSIONS, |m| &m.table.rules()[m.rule].extensions));
    let prepared = prepare(req, &rt.settings, lb, ext);
    let started = std::time::Instant::now();
    let done = prepared.with_head(|head| engine.forward(head, req));
    let took = started.elapsed();
    if let Some(log) = &rt.log {
        let id = req
            .env(rt.settings.indicators.request_id.as_bytes())
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let line = (prepared.method, &prepared.uri[..]);
        done.log(log, id.as_deref(), line, engine.worker(), took);
    }
    crate::notes::put(req, &rt.global.notes, &done, engine.worker(), took, noted);
    if done.broke_mid_response() {
        req.abort_connection();
    }
    // When nothing of the response reached httpd (failures, `use_server_errors`), httpd
    // renders its error page (ErrorDocument) for the status.
    if done.response_started {
        ffi::OK
    } else {
        done.status as c_int
    }
}
