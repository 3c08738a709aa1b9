//! `rjk map URI`: which rule maps a URI (and why the others did not), which worker, and which
//! member a session cookie or `;jsessionid` would stick to.

use std::fmt::Write as _;
use std::process::ExitCode;

use lb_core::config::{Kind, Workers};
use lb_core::mount::{MountTable, Outcome};
use lb_core::{route, uri};
use serde_json::{json, Value};

use crate::style::Style;

pub struct Answer {
    pub json: Value,
    pub text: String,
    pub ok: bool,
}

/// The member an lb sends a route to: the member whose route is it, else one in that domain.
fn member_for<'a>(workers: &'a Workers, lb: &str, r: &str) -> Option<(&'a str, &'static str)> {
    let Kind::Lb(l) = &workers.get(lb)?.kind else {
        return None;
    };
    let members = l
        .balance_workers
        .value
        .iter()
        .filter_map(|m| workers.ajp(m).map(|a| (m.as_str(), a)));
    let members: Vec<_> = members.collect();
    if let Some((m, _)) = members.iter().find(|(_, a)| a.route.value == r) {
        return Some((m, "route"));
    }
    members
        .iter()
        .find(|(_, a)| a.domain.value == r)
        .map(|(m, _)| (*m, "domain"))
}

pub fn map(
    table: &MountTable,
    workers: Option<&Workers>,
    raw: &str,
    cookies: &[String],
    st: Style,
) -> Answer {
    let mut text = String::new();
    let mut j = json!({ "uri": raw });
    let decoded = match uri::decode(raw) {
        Ok(d) => d.into_owned(),
        Err(e) => {
            let _ = writeln!(
                text,
                "{} {raw}: {e} → httpd answers {}",
                st.error("refused:"),
                e.status()
            );
            j["refused"] = json!({ "status": e.status(), "reason": e.to_string() });
            return Answer {
                json: j,
                text,
                ok: false,
            };
        }
    };
    let normalised = match uri::normalise(&decoded) {
        Ok(n) => n,
        Err(e) => {
            let _ = writeln!(text, "{} {raw}: {e} → {}", st.error("refused:"), e.status());
            j["refused"] = json!({ "status": e.status(), "reason": e.to_string() });
            return Answer {
                json: j,
                text,
                ok: false,
            };
        }
    };
    let _ = writeln!(text, "{} {normalised}", st.bold("normalised"));
    j["normalised"] = json!(normalised);
    let ex = table.explain(&normalised);
    if let Some(why) = ex.refused {
        let _ = writeln!(text, "not mapped: {why}");
        j["not_mapped"] = json!(why);
    }
    let mut rules = Vec::new();
    let width = ex
        .verdicts
        .iter()
        .map(|v| v.rule.text().len())
        .max()
        .unwrap_or(0);
    for v in &ex.verdicts {
        let mark = match v.outcome {
            Outcome::Matched => st.bold("→"),
            Outcome::Excluded { .. } | Outcome::Cancels { .. } => st.warn("✗"),
            Outcome::NoMatch | Outcome::Disabled => st.dim("·"),
            _ => "·".to_owned(),
        };
        let why = v.outcome.describe(table.rules());
        let _ = writeln!(
            text,
            "  {mark} {:width$}  {}  {}",
            v.rule.text(),
            st.dim(&v.rule.source.to_string()),
            why
        );
        rules.push(json!({ "rule": v.rule.text(), "worker": v.rule.worker, "source": v.rule.source.kind(),
            "file": v.rule.source.location().file.display().to_string(), "line": v.rule.source.location().line, "verdict": why }));
    }
    j["rules"] = json!(rules);
    let Some(m) = ex.result else {
        let _ = writeln!(text, "no worker: httpd serves {normalised} itself");
        j["worker"] = Value::Null;
        return Answer {
            json: j,
            text,
            ok: true,
        };
    };
    let kind = workers
        .and_then(|w| w.get(m.worker))
        .map(|w| w.kind.type_name())
        .unwrap_or("unknown");
    let _ = writeln!(text, "{} {} ({kind})", st.bold("worker"), m.worker);
    j["worker"] = json!(m.worker);
    j["worker_type"] = json!(kind);
    // Stickiness: the lb's session names, overridden by the rule's extensions.
    if let Some(Kind::Lb(lb)) = workers.and_then(|w| w.get(m.worker)).map(|w| &w.kind) {
        let path = m
            .extensions
            .session_path
            .clone()
            .unwrap_or_else(|| lb.session_path.value.clone());
        let cookie = m
            .extensions
            .session_cookie
            .clone()
            .unwrap_or_else(|| lb.session_cookie.value.clone());
        let headers: Vec<&str> = cookies.iter().map(String::as_str).collect();
        // The URI as mod_rjk forwards it by default (ForwardURIProxy), where ;jsessionid is read.
        let forwarded = uri::forward_uri(
            &decoded,
            raw,
            lb_core::directive::options::ForwardUri::Proxy,
        );
        let rs = route::RequestSession {
            uri: &forwarded,
            cookies: &headers,
            sticky_ignore_env: None,
            route_env: None,
        };
        let sticky = lb.sticky_session.value && !m.extensions.sticky_ignore;
        let session = if sticky {
            route::sticky_session_id(lb, Some(m.extensions), &rs)
        } else {
            route::session_id(&forwarded, &headers, &path, &cookie)
        };
        match session {
            Some(id) if sticky => {
                let mut found = None;
                for r in route::routes(&id) {
                    if let Some((member, how)) = workers.and_then(|w| member_for(w, m.worker, r)) {
                        found = Some((r.to_owned(), member.to_owned(), how));
                        break;
                    }
                }
                match &found {
                    Some((r, member, how)) => {
                        let _ = writeln!(
                            text,
                            "{} session {id} → route {r} → member {member} (by {how})",
                            st.bold("sticky")
                        );
                    }
                    None => {
                        let _ = writeln!(text, "{} session {id}: no member has its route; the balancer chooses (sticky_session_force={})", st.bold("sticky"), lb.sticky_session_force.value);
                    }
                }
                j["session"] = json!({ "id": id, "route": found.as_ref().map(|f| f.0.clone()), "member": found.as_ref().map(|f| f.1.clone()) });
            }
            Some(id) => {
                let _ = writeln!(
                    text,
                    "session {id} ignored: stickiness is off for this request"
                );
                j["session"] = json!({ "id": id, "ignored": true });
            }
            None => {
                let _ = writeln!(
                    text,
                    "no session ({cookie} cookie or {path}= path parameter): the balancer chooses"
                );
                j["session"] = Value::Null;
            }
        }
    }
    Answer {
        json: j,
        text,
        ok: true,
    }
}

pub fn print(a: &Answer, as_json: bool) -> ExitCode {
    if as_json {
        crate::check::print(&(serde_json::to_string_pretty(&a.json).unwrap_or_default() + "\n"));
    } else {
        crate::check::print(&a.text);
    }
    if a.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
