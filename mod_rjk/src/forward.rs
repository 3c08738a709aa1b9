//! Forwarding a request to an ajp13 or lb worker: translate httpd's request into lb-core's
//! [`RequestHead`], implement [`ServerSide`] over it, call the engine, then hand httpd the
//! outcome (status, notes). What to forward and how to retry is all lb-core's.

use std::borrow::Cow;
use std::io;
use std::os::raw::c_int;

use lb_core::config::Kind;
use lb_core::directive::options::Flag;
use lb_core::forward::{self, ForwardOptions, RequestBody, RequestHead, ServerSide, Tls};
use lb_core::log::Level;
use lb_core::{route, uri};

use crate::ffi;
use crate::request::HttpdRequest;
use crate::runtime::ServerRuntime;
use crate::translate::ORIGINAL_URI_NOTE;

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
}

/// mod_jk's reading of JK_STICKY_IGNORE / JK_STATELESS: set and empty or non-zero means on.
fn env_flag(v: Option<&[u8]>) -> bool {
    v.is_some_and(|v| v.is_empty() || v != b"0")
}

fn text(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

pub fn serve(req: &mut HttpdRequest<'_>, rt: &ServerRuntime, name: &str) -> c_int {
    let Some(engine) = rt.global.engines.get(name) else {
        return ffi::HTTP_SERVICE_UNAVAILABLE;
    };
    let s = &rt.settings;
    let ind = &s.indicators;
    // Every borrowed piece of the head is collected first, then the head borrows them.
    let original = req.note(ORIGINAL_URI_NOTE.to_bytes()).unwrap_or(req.uri()).to_vec();
    let unparsed = req.unparsed_uri().to_vec();
    // Bytes in, bytes out: a path that is not UTF-8 is forwarded %-encoded, as mod_jk does.
    let fwd_bytes = uri::forward_uri_bytes(&original, &unparsed, s.options.forward_uri).into_owned();
    let fwd_uri = text(&fwd_bytes).into_owned();
    let method = req.method().to_vec();
    let protocol = req.protocol().to_vec();
    let query = req.query().map(<[u8]>::to_vec);
    let chunked = req.header(b"transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
    let ignore_cl = req.env(ind.ignore_cl.as_bytes()).is_some();
    let length = req.header(b"content-length").and_then(|v| text(v).trim().parse::<u64>().ok());
    let body = match (chunked, length) {
        (true, _) => RequestBody::Chunked,
        (false, Some(n)) if ignore_cl && n > 0 => RequestBody::Chunked,
        (false, Some(n)) if n > 0 => RequestBody::Length(n),
        _ => RequestBody::None,
    };
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = req
        .headers()
        .filter(|(n, _)| !(chunked || ignore_cl) || !n.eq_ignore_ascii_case(b"content-length"))
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    if body == RequestBody::None && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"content-length")) {
        // In AJP an absent Content-Length means "unknown, non-zero": say 0, as mod_jk does.
        headers.push((b"Content-Length".to_vec(), b"0".to_vec()));
    }
    let env_or = |name: &str, default: Vec<u8>| req.env(name.as_bytes()).map(<[u8]>::to_vec).unwrap_or(default);
    let (remote_addr, remote_port) = if s.options.has(Flag::FORWARD_PHYSICAL_ADDRESS) {
        let (a, p) = req.physical_addr();
        (a.to_vec(), p)
    } else if s.options.has(Flag::FORWARD_LOCAL_ADDRESS) {
        (req.local_addr().0.to_vec(), 0)
    } else {
        (req.remote_addr().to_vec(), req.remote_port())
    };
    let remote_addr = env_or(&ind.remote_addr, remote_addr);
    let remote_port = req.env(ind.remote_port.as_bytes()).and_then(|p| text(p).parse().ok()).unwrap_or(remote_port);
    let local_addr = env_or(&ind.local_addr, req.local_addr().0.to_vec());
    let server_name = env_or(&ind.local_name, req.server_name().to_vec());
    let server_port = req.env(ind.local_port.as_bytes()).and_then(|p| text(p).parse().ok()).unwrap_or(req.server_port());
    let remote_user = req.env(ind.remote_user.as_bytes()).map(<[u8]>::to_vec).or_else(|| req.remote_user().map(<[u8]>::to_vec));
    let auth_type = req.env(ind.auth_type.as_bytes()).map(<[u8]>::to_vec).or_else(|| req.auth_type().map(<[u8]>::to_vec));
    let https = req.env(ind.https.as_bytes()).is_some_and(|v| v.eq_ignore_ascii_case(b"on"));
    let tls_parts = https.then(|| {
        let get = |n: &str| req.env(n.as_bytes()).map(<[u8]>::to_vec);
        let key_size = s.options.has(Flag::FORWARD_KEY_SIZE).then(|| get(&ind.key_size)).flatten().and_then(|k| text(&k).parse::<u16>().ok());
        (get(&ind.certs), get(&ind.cipher), get(&ind.session), key_size, get(&ind.ssl_protocol))
    });
    let env: Vec<(Vec<u8>, Vec<u8>)> = s
        .env_vars
        .iter()
        .filter_map(|(n, default)| req.env(n.as_bytes()).map(<[u8]>::to_vec).or_else(|| default.as_ref().map(|d| d.as_bytes().to_vec())).map(|v| (n.as_bytes().to_vec(), v)))
        .collect();
    // The rule that mapped the request may override the worker's settings.
    let table = rt.mounts.current();
    let extensions = table.map_bytes(req.uri()).map(|m| m.extensions.clone()).unwrap_or_default();
    // The sticky session of an lb request (JK_ROUTE, JK_STICKY_IGNORE, the rule's session names
    // over the lb's, then ;jsessionid before cookies): lb-core's decision.
    let session = match &rt.global.workers.get(name).map(|w| &w.kind) {
        Some(Kind::Lb(lb)) => {
            let cookies: Vec<String> = req.headers().filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie")).map(|(_, v)| text(v).into_owned()).collect();
            let cookies: Vec<&str> = cookies.iter().map(String::as_str).collect();
            let ignore_env = req.env(b"JK_STICKY_IGNORE").map(|v| text(v).into_owned());
            let route_env = req.env(b"JK_ROUTE").map(|v| text(v).into_owned());
            let rs = route::RequestSession { uri: &fwd_uri, cookies: &cookies, sticky_ignore_env: ignore_env.as_deref(), route_env: route_env.as_deref() };
            route::sticky_session_id(lb, Some(&extensions), &rs).map(Cow::into_owned)
        }
        _ => None,
    };
    let reply_timeout = req
        .env(b"JK_REPLY_TIMEOUT")
        .and_then(|v| text(v).parse::<i64>().ok())
        .filter(|&v| v >= 0)
        .or(extensions.reply_timeout.filter(|&v| v >= 0))
        .map(|v| std::time::Duration::from_millis(v as u64));

    let header_refs: Vec<(&[u8], &[u8])> = headers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect();
    let env_refs: Vec<(&[u8], &[u8])> = env.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect();
    let tls = tls_parts.as_ref().map(|(cert, cipher, session, key_size, protocol)| Tls {
        cert: cert.as_deref(),
        cipher: cipher.as_deref(),
        session: session.as_deref(),
        key_size: *key_size,
        protocol: protocol.as_deref(),
    });
    let head = RequestHead {
        method: &method,
        uri: &fwd_bytes,
        query_string: query.as_deref(),
        protocol: &protocol,
        headers: &header_refs,
        body,
        remote_addr: &remote_addr,
        remote_port,
        remote_host: None,
        local_addr: &local_addr,
        server_name: &server_name,
        server_port,
        remote_user: remote_user.as_deref(),
        auth_type: auth_type.as_deref(),
        tls,
        env: &env_refs,
        session_id: session.as_deref(),
        route: session.as_deref().and_then(route::route_of),
        options: ForwardOptions {
            flush_packets: s.options.has(Flag::FLUSH_PACKETS),
            flush_header: s.options.has(Flag::FLUSH_HEADER),
            reply_timeout,
            // Decided above with the session (lb-core's sticky_session_id).
            sticky_ignore: session.is_none(),
            stateless: env_flag(req.env(b"JK_STATELESS")) || extensions.stateless,
        },
    };
    let started = std::time::Instant::now();
    let done = forward::forward(engine, &head, req);
    rt.global.maintain_if_due();
    if let Some(log) = &rt.log {
        let id = req.env(s.indicators.request_id.as_bytes()).map(|v| text(v).into_owned());
        let member = done.last.as_ref().map(|a| a.name.to_owned()).unwrap_or_else(|| "-".into());
        match &done.failure {
            Some(f) => log.log(Level::Error, id.as_deref(), format_args!(
                "{} {} → worker {name} member {member}: {f} (status {}, {} member(s) tried)",
                text(&method), fwd_uri, done.status, done.members_tried)),
            None => log.log(Level::Debug, id.as_deref(), format_args!(
                "{} {} → worker {name} member {member}: {} in {} µs",
                text(&method), fwd_uri, done.status, started.elapsed().as_micros())),
        }
    }
    for (k, v) in done.notes() {
        req.set_note(k.as_bytes(), v.as_bytes());
    }
    if done.response_started {
        ffi::OK
    } else {
        // httpd renders its error page for the status (503/502/504/500/413...).
        done.status as c_int
    }
}
