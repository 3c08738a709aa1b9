//! Serving a status worker: parse the request, check it may run, render the page. The pages
//! and the rules are lb-core's; this reads the request and writes the answer.

use std::os::raw::c_int;

use lb_core::config::StatusWorker;
use lb_core::status::action::{self, Access, Cmd, Mime};
use lb_core::balancer::{LbChange, MemberChange};
use lb_core::status::action::{Change, Refusal};
use lb_core::status::{from_config, html, json, overlay, prometheus, prop, txt, xml, Page, View, Xml};

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
        allow_get_updates: s.allow_get_updates.value,
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
        Cmd::Edit => {}
        Cmd::Update | Cmd::Reset | Cmd::Recover => {
            let who = user.as_deref().unwrap_or("-");
            let from = String::from_utf8_lossy(req.remote_addr()).into_owned();
            return match apply(rt, &parsed) {
                Ok(done) => {
                    if let Some(path) = &s.persist_file.value {
                        let now = crate::runtime::unix_now();
                        let lbs = rt.global.engines.iter().filter_map(|(n, e)| e.balancer().map(|b| (n.as_str(), b)));
                        if let Err(e) = lb_core::status::persist::save(std::path::Path::new(path), &lb_core::status::persist::render(lbs, now)) {
                            crate::log::request_info(req, &format!("mod_rjk: cannot save runtime changes to {path}: {e}"));
                        }
                    }
                    crate::log::request_info(req, &format!("mod_rjk: status change by {who} from {from}: {done}"));
                    if parsed.mime() == Mime::Html {
                        // Back to the page the form was on (POST-redirect-GET).
                        req.set_head(303, None, [(&b"Location"[..], uri.as_bytes())].into_iter());
                        ffi::OK
                    } else {
                        answer(req, 200, "text/plain; charset=utf-8", &format!("OK: {done}\n"))
                    }
                }
                Err(e) => answer(req, e.status, "text/plain; charset=utf-8", &format!("{}\n", e.message)),
            };
        }
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let table = rt.mounts.current();
    let mut snap = from_config(&rt.global.workers, &table, now);
    for (name, engine) in &rt.global.engines {
        if let Some(b) = engine.balancer() {
            overlay(&mut snap, name, &b.stats(now));
        }
    }
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

fn refuse(status: u16, message: String) -> Refusal {
    Refusal { status, message }
}

/// Apply an update/reset/recover to the balancer named by `w` (members by `sw`, wildcards
/// allowed for update). Every process sees it through the shared table.
fn apply(rt: &ServerRuntime, p: &action::StatusRequest) -> Result<String, Refusal> {
    let name = p.worker.as_deref().ok_or_else(|| refuse(400, "which worker? (w=...)".into()))?;
    let lb = rt
        .global
        .engines
        .get(name)
        .and_then(|e| e.balancer())
        .ok_or_else(|| refuse(400, format!("`{name}` is not a load balancer of this server")))?;
    let now = crate::runtime::unix_now();
    let names: Vec<String> = lb.stats(now).members.iter().map(|m| m.name.clone()).collect();
    let members: Vec<usize> = match &p.sub_worker {
        Some(sw) => {
            let hit = action::matching(sw, names.iter().map(String::as_str));
            if hit.is_empty() {
                return Err(refuse(400, format!("no member of `{name}` matches `{sw}`")));
            }
            hit.iter().filter_map(|n| lb.member_index(n)).collect()
        }
        None => Vec::new(),
    };
    match p.cmd() {
        Cmd::Reset => {
            if members.is_empty() {
                lb.reset(None, now);
            }
            for &m in &members {
                lb.reset(Some(m), now);
            }
            Ok(format!("reset {name}{}", p.sub_worker.as_ref().map(|s| format!("/{s}")).unwrap_or_default()))
        }
        Cmd::Recover => {
            for &m in &members {
                lb.recover_now(m);
            }
            Ok(format!("recover {name}/{}", p.sub_worker.as_deref().unwrap_or("")))
        }
        _ => {
            let changes = action::changes(p).map_err(|e| e)?;
            if changes.is_empty() {
                return Err(refuse(400, "nothing to change: give a v... parameter".into()));
            }
            let mut done = Vec::new();
            for (index, c) in changes {
                let targets: Vec<usize> = match index {
                    Some(i) => names.get(i).and_then(|n| lb.member_index(n)).into_iter().collect(),
                    None => members.clone(),
                };
                let text = format!("{c:?}");
                if let Some(lc) = lb_change(&c) {
                    lb.change_lb(lc);
                } else if let Some(mc) = member_change(&c) {
                    if targets.is_empty() {
                        return Err(refuse(400, format!("{text} needs a member (sw=...)")));
                    }
                    for &m in &targets {
                        lb.change(m, mc.clone()).map_err(|e| refuse(400, e.to_string()))?;
                    }
                } else {
                    return Err(refuse(501, format!("{text}: connection settings are changed by editing workers.properties and reloading httpd")));
                }
                done.push(text);
            }
            Ok(format!("{name}{}: {}", p.sub_worker.as_ref().map(|s| format!("/{s}")).unwrap_or_default(), done.join(", ")))
        }
    }
}

fn lb_change(c: &Change) -> Option<LbChange> {
    let u = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    Some(match c {
        Change::Retries(v) => LbChange::Retries(u(*v)),
        Change::RetryInterval(v) => LbChange::RetryIntervalMs(u(*v)),
        Change::RecoverTime(v) => LbChange::RecoverTime(u(*v)),
        Change::ErrorEscalationTime(v) => LbChange::ErrorEscalationTime(u(*v)),
        Change::MaxReplyTimeouts(v) => LbChange::MaxReplyTimeouts(u(*v)),
        Change::StickySession(b) => LbChange::StickySession(*b),
        Change::StickySessionForce(b) => LbChange::StickySessionForce(*b),
        Change::Method(m) => LbChange::Method(*m),
        Change::Lock(l) => LbChange::Lock(*l),
        _ => return None,
    })
}

fn member_change(c: &Change) -> Option<MemberChange> {
    let u = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    Some(match c {
        Change::Activation(a) => MemberChange::Activation(*a),
        Change::LbFactor(v) => MemberChange::LbFactor(u(*v)),
        Change::Route(s) => MemberChange::Route(s.clone()),
        Change::Redirect(s) => MemberChange::Redirect(s.clone()),
        Change::Domain(s) => MemberChange::Domain(s.clone()),
        Change::Distance(v) => MemberChange::Distance(u(*v)),
        _ => return None,
    })
}
