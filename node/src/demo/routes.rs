//! The demo's pages, one small function each.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use sha2::{Digest, Sha256};

use super::json::{self, Obj};
use super::pattern::Pattern;
use super::query;
use super::DemoBody;
use crate::body::Body;
use crate::context::ContextPath;
use crate::request_info::AjpInfo;
use crate::session::Session;

/// Largest `/download` and `/headers` answers, so a typo cannot exhaust memory or time.
const MAX_DOWNLOAD: u64 = 1 << 32;
const MAX_HEADERS: usize = 10_000;
const MAX_SLOW_MS: u64 = 600_000;

/// Every demo answer names the node that produced it (`X-Rjk-Node: <route>`), so tests and
/// operators see which member a balancer chose without creating a session.
pub(crate) async fn handle(route: &str, req: Request<Body>) -> Response<DemoBody> {
    let mut resp = route_request(route, req).await;
    if let Ok(v) = HeaderValue::from_str(route) {
        resp.headers_mut().insert("x-rjk-node", v);
    }
    resp
}

async fn route_request(route: &str, req: Request<Body>) -> Response<DemoBody> {
    let full = req.uri().path();
    let Some(path) = req
        .extensions()
        .get::<ContextPath>()
        .cloned()
        .unwrap_or_default()
        .relative(full)
        .map(str::to_string)
    else {
        return text(StatusCode::NOT_FOUND, "text/plain", "not found\n");
    };
    match path.as_str() {
        "/" => index(route, &req),
        "/session" => session(route, &req),
        "/echo" => echo(req).await,
        "/upload" => upload(req).await,
        "/download" => download(&req),
        "/slow" => slow(&req).await,
        "/headers" => headers(&req),
        "/invalidate" => invalidate(&req),
        "/set" => set(&req),
        "/get" => get(&req),
        "/1k" => text(StatusCode::OK, "text/plain", Bytes::from_static(&ONE_KIB)),
        p if p.starts_with("/status/") => status(&p["/status/".len()..], &req),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

static ONE_KIB: [u8; 1024] = [b'x'; 1024];

fn full(b: impl Into<Bytes>) -> DemoBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

fn text(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Response<DemoBody> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

fn json_ok(body: String) -> Response<DemoBody> {
    text(StatusCode::OK, "application/json", body)
}

fn session_of(req: &Request<Body>) -> Option<&Session> {
    req.extensions().get::<Session>()
}

fn counter(s: &Session) -> u64 {
    s.get("counter")
        .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
        .unwrap_or(0)
}

fn index(route: &str, req: &Request<Body>) -> Response<DemoBody> {
    let (id, count) = match session_of(req) {
        Some(s) => (s.create(), counter(s)),
        None => (String::new(), 0),
    };
    let html = format!(
        "<!doctype html>\n<html><head><title>rjk-node {route}</title></head><body>\n\
         <h1>rjk-node {route}</h1>\n<p>session <code>{id}</code>, counter {count}</p>\n\
         <ul><li><a href=\"/session\">/session</a> (count)</li>\
         <li><a href=\"/echo\">/echo</a></li>\
         <li><a href=\"/download?bytes=1048576&amp;chunk=65536\">/download</a></li>\
         <li><a href=\"/invalidate\">/invalidate</a></li></ul>\n</body></html>\n"
    );
    text(StatusCode::OK, "text/html;charset=utf-8", html)
}

fn session(route: &str, req: &Request<Body>) -> Response<DemoBody> {
    let Some(s) = session_of(req) else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "no sessions\n",
        );
    };
    let n = counter(s) + 1;
    s.set("counter", n.to_string());
    json_ok(
        Obj::new()
            .str("route", route)
            .str("id", &s.id().unwrap_or_default())
            .num("counter", n)
            .bool("new", s.is_new())
            .end(),
    )
}

/// Read the whole body as it streams in: its length and SHA-256.
async fn digest(body: Body) -> Result<(u64, String), String> {
    let mut body = body;
    let mut h = Sha256::new();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(d) = frame.into_data() {
            len += d.len() as u64;
            h.update(&d);
        }
    }
    Ok((len, hex(&h.finalize())))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn echo(req: Request<Body>) -> Response<DemoBody> {
    let (parts, body) = req.into_parts();
    let (len, sha) = match digest(body).await {
        Ok(d) => d,
        Err(e) => return text(StatusCode::BAD_REQUEST, "text/plain", e),
    };
    let headers = json::pairs(
        parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("<non-ascii>"))),
    );
    let info = parts
        .extensions
        .get::<AjpInfo>()
        .cloned()
        .unwrap_or_default();
    let attrs = json::pairs(
        info.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let tls = match &info.tls {
        None => "null".to_string(),
        Some(t) => Obj::new()
            .opt_str("cipher", t.cipher.as_deref())
            .opt_str("session", t.session.as_deref())
            .opt_str("cert", t.cert.as_deref())
            .raw(
                "key_size",
                &t.key_size.map_or("null".into(), |k| k.to_string()),
            )
            .end(),
    };
    let ajp = Obj::new()
        .bool("via_ajp", info.via_ajp)
        .str("remote_addr", &info.remote_addr)
        .raw(
            "remote_port",
            &info.remote_port.map_or("null".into(), |p| p.to_string()),
        )
        .opt_str("remote_host", info.remote_host.as_deref())
        .str("server_name", &info.server_name)
        .num("server_port", info.server_port)
        .bool("is_ssl", info.is_ssl)
        .raw("tls", &tls)
        .opt_str("remote_user", info.remote_user.as_deref())
        .opt_str("auth_type", info.auth_type.as_deref())
        .opt_str("route", info.route.as_deref())
        .opt_str("context", info.context.as_deref())
        .opt_str("servlet_path", info.servlet_path.as_deref())
        .raw("attributes", &attrs)
        .end();
    json_ok(
        Obj::new()
            .str("method", parts.method.as_str())
            .str("uri", &parts.uri.to_string())
            .str("path", parts.uri.path())
            .opt_str("query", parts.uri.query())
            .str("protocol", &format!("{:?}", parts.version))
            .raw("headers", &headers)
            .raw("ajp", &ajp)
            .num("body_length", len)
            .str("body_sha256", &sha)
            .end(),
    )
}

async fn upload(req: Request<Body>) -> Response<DemoBody> {
    match digest(req.into_body()).await {
        Ok((len, sha)) => json_ok(Obj::new().num("length", len).str("sha256", &sha).end()),
        Err(e) => text(StatusCode::BAD_REQUEST, "text/plain", e),
    }
}

fn num_param<T: std::str::FromStr>(req: &Request<Body>, key: &str, default: T) -> Option<T> {
    match query::get(req.uri().query(), key) {
        None => Some(default),
        Some(v) => v.parse().ok(),
    }
}

fn bad(msg: &str) -> Response<DemoBody> {
    text(StatusCode::BAD_REQUEST, "text/plain", format!("{msg}\n"))
}

fn download(req: &Request<Body>) -> Response<DemoBody> {
    let (Some(bytes), Some(chunk)) = (
        num_param(req, "bytes", 1024u64),
        num_param(req, "chunk", 8192usize),
    ) else {
        return bad("bytes and chunk must be numbers");
    };
    if bytes > MAX_DOWNLOAD || chunk == 0 || chunk > 16 << 20 {
        return bad("bytes must be at most 4 GiB and chunk 1..16 MiB");
    }
    let Some(pause) = num_param(req, "pause_ms", 0u64).filter(|&m| m <= MAX_SLOW_MS) else {
        return bad("pause_ms must be a number up to 600000");
    };
    let flush = query::get(req.uri().query(), "flush").is_some_and(|v| v == "1");
    let body = Pattern::new(bytes, chunk, flush).with_pause(Duration::from_millis(pause));
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r
}

async fn slow(req: &Request<Body>) -> Response<DemoBody> {
    let Some(ms) = num_param(req, "ms", 1000u64).filter(|&m| m <= MAX_SLOW_MS) else {
        return bad("ms must be a number up to 600000");
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    text(StatusCode::OK, "text/plain", format!("slept {ms} ms\n"))
}

/// `/status/N`: answer N with a short text, or with no body at all given `?empty=1` (what a
/// servlet's `sendError` without an error page looks like to the connector).
fn status(code: &str, req: &Request<Body>) -> Response<DemoBody> {
    let Some(s) = code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|s| !s.is_informational())
    else {
        return bad("status must be a number from 200 to 999");
    };
    let empty = query::get(req.uri().query(), "empty").is_some_and(|v| v == "1");
    if empty || s == StatusCode::NO_CONTENT || s == StatusCode::NOT_MODIFIED {
        let mut r = Response::new(Empty::new().map_err(|never| match never {}).boxed());
        *r.status_mut() = s;
        return r;
    }
    text(s, "text/plain", format!("status {}\n", s.as_u16()))
}

fn headers(req: &Request<Body>) -> Response<DemoBody> {
    let (Some(count), Some(size)) = (
        num_param(req, "count", 10usize),
        num_param(req, "size", 16usize),
    ) else {
        return bad("count and size must be numbers");
    };
    if count > MAX_HEADERS || size > 65536 {
        return bad("count must be at most 10000 and size at most 65536");
    }
    let mut r = text(StatusCode::OK, "text/plain", format!("{count} headers\n"));
    let value = HeaderValue::from_str(&"v".repeat(size)).expect("ASCII is a valid header value");
    for i in 0..count {
        if let Ok(name) = http::HeaderName::from_bytes(format!("x-test-{i}").as_bytes()) {
            r.headers_mut().insert(name, value.clone());
        }
    }
    r
}

fn invalidate(req: &Request<Body>) -> Response<DemoBody> {
    let done = session_of(req).is_some_and(|s| s.invalidate());
    json_ok(Obj::new().bool("invalidated", done).end())
}

fn set(req: &Request<Body>) -> Response<DemoBody> {
    let Some(s) = session_of(req) else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "no sessions\n",
        );
    };
    let pairs = query::pairs(req.uri().query().unwrap_or(""));
    for (k, v) in &pairs {
        s.set(k, v.clone());
    }
    if pairs.is_empty() {
        s.create();
    }
    json_ok(
        Obj::new()
            .str("id", &s.id().unwrap_or_default())
            .num("set", pairs.len())
            .end(),
    )
}

fn get(req: &Request<Body>) -> Response<DemoBody> {
    let s = session_of(req);
    let mut obj = Obj::new().opt_str("id", s.and_then(|s| s.id()).as_deref());
    for (k, _) in query::pairs(req.uri().query().unwrap_or("")) {
        let v = s.and_then(|s| s.get(&k));
        let v = v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        obj = obj.opt_str(&k, v.as_deref());
    }
    json_ok(obj.end())
}
