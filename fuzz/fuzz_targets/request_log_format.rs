#![no_main]
//! JkRequestLogFormat strings (operator input) and the line rendered with them: no panic.
use lb_core::request_log::{RequestLogFacts, RequestLogFormat};
use libfuzzer_sys::fuzz_target;

struct Facts;

impl RequestLogFacts for Facts {
    fn duration(&self) -> Option<&[u8]> {
        Some(b"0.000123")
    }
    fn request_line(&self) -> &[u8] {
        b"GET /a?b HTTP/1.1"
    }
    fn uri(&self) -> &[u8] {
        b"/a\xe9"
    }
    fn status(&self) -> u16 {
        200
    }
    fn bytes_sent(&self) -> Option<u64> {
        None
    }
    fn server_name(&self) -> &[u8] {
        b"localhost"
    }
    fn virtual_host(&self) -> &[u8] {
        b"v"
    }
    fn server_port(&self) -> u16 {
        80
    }
    fn protocol(&self) -> &[u8] {
        b"HTTP/1.1"
    }
    fn method(&self) -> &[u8] {
        b"GET"
    }
    fn query(&self) -> Option<&[u8]> {
        Some(b"b")
    }
    fn worker(&self) -> Option<&[u8]> {
        Some(b"lb")
    }
    fn route(&self) -> Option<&[u8]> {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(f) = RequestLogFormat::parse(&text) {
        let _ = f.render(&Facts);
    }
});
