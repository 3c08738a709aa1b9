//! Forwarding a request to an ajp13 or lb worker through lb-core's engine.

use std::os::raw::c_int;

use crate::ffi;
use crate::request::HttpdRequest;
use crate::runtime::ServerRuntime;

pub fn serve(_req: &mut HttpdRequest<'_>, _rt: &ServerRuntime, _worker: &str) -> c_int {
    ffi::HTTP_SERVICE_UNAVAILABLE
}
