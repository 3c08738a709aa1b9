//! Serving a status worker: parse the request, check it may run, render the page. The pages
//! and the rules are lb-core's; this reads the request and writes the answer.

use std::os::raw::c_int;

use lb_core::config::StatusWorker;
use lb_core::status::action::{self, Access, Cmd, Mime};
use lb_core::status::{from_config, html, json, prometheus, prop, txt, xml, Page, View, Xml};

use crate::ffi;
use crate::request::HttpdRequest;
use crate::runtime::ServerRuntime;

/// Largest form body read from a POST.
const MAX_FORM: usize = 64 * 1024;

fn answer(req: &mut HttpdRequest<'_>, status: u16, ctype: &str, body: &str) -> c_int {
    req.set_head(status, None, [(&b"Content-Type"[..], ctype.as_bytes())].into_iter());
    if !req.header_only() {
        let _ = req.write(body.as_bytes());
    }
    ffi::OK
}

pub fn serve(req: &mut HttpdRequest<'_>, rt: &ServerRuntime, s: &StatusWorker, uri: &str) -> c_int {
    let mut query = String::from_utf8_lossy(req.query().unwrap_or_default()).into_owned();
    let method = String::from_utf8_lossy(req.method()).into_owned();
    if method == "POST" {
        let mut body = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = req.read_body(&mut buf) {
            if n == 0 || body.len() + n > MAX_FORM {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        if !query.is_empty() && !body.is_empty() {
            query.push('&');
        }
        query.push_str(&String::from_utf8_lossy(&body));
    }
    let parsed = match action::parse(&query) {
        Ok(p) => p,
        Err(e) => return answer(req, e.status, "text/plain; charset=utf-8", &format!("{}\n", e.message)),
    };
    let access = Access {
        read_only: s.read_only.value,
        users: &s.user.value,
        user_case_insensitive: s.user_case_insensitive.value,
        allow_get_updates: false,
    };
    let user = req.remote_user().map(|u| String::from_utf8_lossy(u).into_owned());
    if let Err(e) = action::authorize(&parsed, &method, user.as_deref(), &access, &rt.global.nonce) {
        return answer(req, e.status, "text/plain; charset=utf-8", &format!("{}\n", e.message));
    }
    match parsed.cmd() {
        Cmd::List | Cmd::Show => {}
        Cmd::Version => {
            let v = format!("Server: {}\nJK Version: {}\n", crate::hooks::server_banner(), lb_core::status::VERSION);
            return answer(req, 200, "text/plain; charset=utf-8", &v);
        }
        Cmd::Dump => {
            let body: String = rt.global.dump.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            return answer(req, 200, "text/plain; charset=utf-8", &body);
        }
        other => {
            let msg = format!("cmd={other:?} needs the shared state table, which this build of mod_rjk does not have yet\n").to_lowercase();
            return answer(req, 501, "text/plain; charset=utf-8", &msg);
        }
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let table = rt.mounts.current();
    let mut snap = from_config(&rt.global.workers, &table, now);
    snap.server_name = String::from_utf8_lossy(req.server_name()).into_owned();
    snap.server_port = req.server_port();
    snap.web_server = crate::hooks::server_banner();
    if let (Cmd::Show, Some(w)) = (parsed.cmd(), &parsed.worker) {
        snap.balancers.retain(|b| &b.name == w);
        snap.ajp_workers.retain(|m| &m.name == w);
    }
    let view = View { prefix: &s.prefix.value, good: &s.good.value, bad: &s.bad.value };
    let mime = parsed.mime();
    let body = match mime {
        Mime::Html => html(
            &snap,
            &view,
            &Page { uri, read_only: s.read_only.value, nonce: &rt.global.nonce, refresh: parsed.refresh.unwrap_or(0), css: s.css.value.as_deref() },
        ),
        Mime::Xml => xml(&snap, &view, Xml { ns: &s.ns.value, xmlns: &s.xmlns.value }),
        Mime::Txt => txt(&snap, &view),
        Mime::Prop => prop(&snap, &view),
        Mime::Json => json(&snap, &view),
        Mime::Prometheus => prometheus(&snap, &view),
    };
    answer(req, 200, mime.content_type(), &body)
}
