//! Driving a status worker as its page does: read the form nonce off the page, POST changes
//! with it.

use std::net::SocketAddr;

use crate::http;

/// The form nonce of a status page (its forms carry it in a hidden field).
pub fn nonce(page: &str) -> String {
    let at = page
        .find("name=\"nonce\" value=\"")
        .expect("the manager page has forms")
        + 20;
    page[at..].split('"').next().unwrap().to_owned()
}

/// POST a form `body` to the status worker mounted at `/jk-manager`.
pub fn post(addr: SocketAddr, body: &str) -> http::Response {
    http::request(
        addr,
        "POST",
        "/jk-manager",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .unwrap()
}
