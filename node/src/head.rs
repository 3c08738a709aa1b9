//! Turning a checked Forward Request into an `http::Request` (and the error answers sent
//! when that is impossible).

use std::net::SocketAddr;

use ajp::{Attribute, ForwardRequestRef, PacketSize};
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Method, Request, Uri, Version};

use crate::body::Body;
use crate::request_info::AjpInfo;

/// The request head with an empty body (the connection attaches the streaming body), and
/// the AJP extras as an [`AjpInfo`] extension. `Err` says why the request is unusable (400).
pub(crate) fn build(
    req: &ForwardRequestRef<'_>,
    peer: SocketAddr,
) -> Result<Request<Body>, String> {
    let method = Method::from_bytes(req.method())
        .map_err(|_| format!("invalid method {:?}", String::from_utf8_lossy(req.method())))?;
    let query = req.attributes().find_map(|a| match a {
        Attribute::QueryString(q) => Some(q),
        _ => None,
    });
    let uri = req.uri();
    let mut target = BytesMut::with_capacity(uri.len() + query.map_or(0, |q| q.len() + 1));
    target.put_slice(uri);
    if let Some(q) = query {
        target.put_u8(b'?');
        target.put_slice(q);
    }
    let uri = Uri::from_maybe_shared(target.freeze()).map_err(|e| {
        format!(
            "invalid request URI {:?}: {e}",
            String::from_utf8_lossy(uri)
        )
    })?;
    let version = match req.protocol() {
        b"HTTP/1.0" => Version::HTTP_10,
        b"HTTP/0.9" => Version::HTTP_09,
        b"HTTP/2" | b"HTTP/2.0" => Version::HTTP_2,
        b"HTTP/3" | b"HTTP/3.0" => Version::HTTP_3,
        _ => Version::HTTP_11,
    };
    let mut out = Request::new(Body::empty());
    *out.method_mut() = method;
    *out.uri_mut() = uri;
    *out.version_mut() = version;
    let headers = out.headers_mut();
    headers.reserve(req.num_headers() as usize);
    for (name, value) in req.headers() {
        let n = HeaderName::from_bytes(name)
            .map_err(|_| format!("invalid header name {:?}", String::from_utf8_lossy(name)))?;
        let v =
            HeaderValue::from_bytes(value).map_err(|_| format!("invalid value for header {n}"))?;
        headers.append(n, v);
    }
    out.extensions_mut()
        .insert(AjpInfo::from_request(req, peer));
    Ok(out)
}

/// A complete error answer (head, small HTML page, End Response without reuse) for failures
/// the exchange itself cannot answer any more, such as an oversize packet.
pub(crate) fn error_response(status: u16, size: PacketSize, out: &mut Vec<u8>) {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let page = Bytes::from(format!(
        "<html><body><h1>{status} {reason}</h1></body></html>"
    ));
    let len = page.len().to_string();
    let headers: [(&[u8], &[u8]); 2] = [
        (b"Content-Type", b"text/html;charset=utf-8"),
        (b"Content-Length", len.as_bytes()),
    ];
    if ajp::encode_send_headers(status, reason.as_bytes(), headers, size, out).is_ok() {
        let _ = ajp::encode_body_chunk(&page, size, out);
    }
    ajp::encode_end_response(false, out);
}
