//! The status page people use: one self-contained HTML document (no external assets), a table
//! per balancer with colour-coded states and per-member actions. Actions are POST forms carrying
//! the page's nonce, so a link or an image on another site cannot change the cluster. It works
//! without JavaScript; a few lines of script only keep the auto-refresh from interrupting an
//! edit. Every value is escaped.

use std::fmt::Write;

use super::model::{Member, Snapshot, State};
use super::rating::{rate, Rating};
use super::xml::escape;
use super::{Show, View};
use crate::config::Activation;

/// How the page is served.
#[derive(Clone, Copy, Debug)]
pub struct Page<'a> {
    /// The status worker's URI (forms post back to it).
    pub uri: &'a str,
    /// No action buttons.
    pub read_only: bool,
    /// The per-page CSRF token the forms carry; required by the update handler.
    pub nonce: &'a str,
    /// Seconds between automatic reloads (0: none).
    pub refresh: u32,
    /// The status worker's `css` (a stylesheet URL), added after the built-in style.
    pub css: Option<&'a str>,
    /// The request's `opt` bits (the data bits were applied to the snapshot already).
    pub show: Show,
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d232a;background:#f7f8fa}\
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}.sub{color:#5c6670;margin:0 0 1rem}\
div.wrap{overflow-x:auto}table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0002;width:100%}\
th,td{padding:.3rem .45rem;border-bottom:1px solid #e4e7eb;text-align:right;white-space:nowrap}\
th{background:#eef1f4;font-weight:600;white-space:normal}td.l,th.l{text-align:left}td.act{white-space:normal;min-width:13rem}\
a.btn{font-size:.85em;padding:.1rem .45rem;margin:0 .1rem;border:1px solid #8a949e;border-radius:3px;color:inherit;text-decoration:none;background:#f3f4f6}\
label{display:block;margin:.4rem 0}label span{display:inline-block;min-width:12rem}\
.st{display:inline-block;padding:.05rem .45rem;border-radius:.7rem;font-size:.85em;font-weight:600}\
.good{background:#d7f5dd;color:#0f5b22}.degraded{background:#fff1c2;color:#6b4e00}.bad{background:#fbd5d5;color:#8a1111}\
form{display:inline}button{font:inherit;font-size:.85em;padding:.1rem .45rem;margin:0 .1rem;cursor:pointer}\
input[type=number]{width:4em}.cfg{color:#5c6670;margin:.2rem 0 .5rem}";

fn class(r: Rating) -> &'static str {
    match r {
        Rating::Good => "good",
        Rating::Degraded => "degraded",
        Rating::Bad => "bad",
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The `cmd=edit` page of balancer `lb` (or of its member `member`).
pub(super) fn edit_link(uri: &str, lb: &str, member: Option<&str>) -> String {
    let enc = super::action::percent_encode;
    match member {
        Some(m) => format!("{uri}?cmd=edit&w={}&sw={}", enc(lb), enc(m)),
        None => format!("{uri}?cmd=edit&w={}", enc(lb)),
    }
}

/// A POST form back to the status worker with the page's nonce, for `lb` (and `member`).
pub(super) fn form_start(out: &mut String, page: &Page<'_>, lb: &str, member: Option<&str>) {
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"nonce\" value=\"{}\">\
         <input type=\"hidden\" name=\"w\" value=\"{}\">",
        escape(page.uri),
        escape(page.nonce),
        escape(lb)
    );
    if let Some(m) = member {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"sw\" value=\"{}\">",
            escape(m)
        );
    }
}

/// One action button: a POST form with the nonce and the update parameters.
fn button(
    out: &mut String,
    page: &Page<'_>,
    lb: &str,
    member: &str,
    params: &[(&str, &str)],
    label: &str,
) {
    form_start(out, page, lb, Some(member));
    for (k, v) in params {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(k),
            escape(v)
        );
    }
    let _ = write!(out, "<button>{}</button></form>", escape(label));
}

fn member_row(out: &mut String, page: &Page<'_>, view: &View<'_>, lb: &str, m: &Member, now: i64) {
    let Some(x) = &m.lb else { return };
    let r = rate(m, view.good, view.bad);
    // Last error and time to recovery share a cell; the address sits under the name.
    let mut last_error = m
        .error_time
        .map(|t| format!("{} s ago", now - t))
        .unwrap_or_default();
    if x.state == State::Error {
        let _ = write!(
            last_error,
            " (recovery in {}–{} s)",
            x.time_to_recover.0, x.time_to_recover.1
        );
    }
    let _ = write!(
        out,
        "<tr data-member=\"{n}\"><td class=\"l\">{n}",
        n = escape(&m.name)
    );
    if !page.show.contains(Show::NO_AJP_CONF) {
        let _ = write!(
            out,
            "<br><small>{}</small>",
            escape(&format!("{}:{}", m.host, m.port))
        );
    }
    let route = if x.domain.is_empty() {
        x.route.clone()
    } else {
        format!("{} ({})", x.route, x.domain)
    };
    let _ = write!(
        out,
        "</td><td class=\"l\"><span class=\"st {}\">{}</span></td>\
         <td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td class=\"l\">{}</td>",
        class(r),
        escape(x.state.text()),
        escape(x.activation.name()),
        x.lbfactor,
        x.distance,
        escape(&route),
        x.lbvalue,
        m.busy,
        m.used,
        x.sessions,
        m.errors,
        bytes(m.transferred),
        bytes(m.read),
        escape(&last_error),
    );
    if !page.read_only {
        out.push_str("<td class=\"l act\">");
        for (act, letter, label) in [
            (Activation::Active, "A", "Activate"),
            (Activation::Disabled, "D", "Disable"),
            (Activation::Stopped, "S", "Stop"),
        ] {
            if x.activation != act {
                button(
                    out,
                    page,
                    lb,
                    &m.name,
                    &[("cmd", "update"), ("vwa", letter)],
                    label,
                );
            }
        }
        if x.state == State::Error {
            button(out, page, lb, &m.name, &[("cmd", "recover")], "Recover");
        }
        button(out, page, lb, &m.name, &[("cmd", "reset")], "Reset");
        // Factor, distance, domain, route and redirect are set on the member's edit page.
        let _ = write!(
            out,
            "<a class=\"btn\" href=\"{}\">Edit…</a></td>",
            escape(&edit_link(page.uri, lb, Some(&m.name)))
        );
    }
    out.push_str("</tr>\n");
}

pub fn html(snap: &Snapshot, view: &View<'_>, page: &Page<'_>) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    let title = format!("rjk status — {}:{}", snap.server_name, snap.server_port);
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    if page.refresh > 0 {
        let _ = writeln!(
            out,
            "<meta http-equiv=\"refresh\" content=\"{}\">",
            page.refresh
        );
    }
    let _ = writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style>"
    );
    if let Some(css) = page.css {
        let _ = writeln!(out, "<link rel=\"stylesheet\" href=\"{}\">", escape(css));
    }
    // Stop the refresh while someone is typing a new factor.
    out.push_str("<script>document.addEventListener('focusin',e=>{if(e.target.tagName==='INPUT'){for(const m of document.querySelectorAll('meta[http-equiv=refresh]'))m.remove()}});</script>\n");
    let _ = writeln!(out, "</head><body>\n<h1>{}</h1>", escape(&title));
    // httpd's banner names us already unless ServerTokens hides modules.
    let software = if snap.web_server.contains(super::VERSION) {
        snap.web_server.clone()
    } else {
        format!("{} · {}", snap.web_server, super::VERSION)
    };
    let _ = writeln!(
        out,
        "<p class=\"sub\">{} · {}</p>",
        escape(&software),
        if page.read_only {
            "read-only"
        } else {
            "changes take effect at once in every process"
        }
    );
    for b in &snap.balancers {
        let _ = write!(out, "<h2>Balancer {}", escape(&b.name));
        if !page.show.contains(Show::NO_LB_SUMMARY) {
            let (g, d, x) = super::rating::counts(&b.members, view.good, view.bad);
            let _ = write!(out, " <span class=\"st good\">{g} good</span> <span class=\"st degraded\">{d} degraded</span> <span class=\"st bad\">{x} bad</span>");
        }
        out.push_str("</h2>\n");
        if !page.show.contains(Show::NO_LB_CONF) {
            let _ = write!(
                out,
                "<p class=\"cfg\">method {} · sticky {} · force {} · retries {} every {} ms · recover after {} s · busy {} (max {})",
                escape(b.method), b.sticky_session, b.sticky_session_force, b.retries, b.retry_interval, b.recover_time, b.busy, b.max_busy
            );
            if !page.read_only {
                let _ = write!(
                    out,
                    " · <a href=\"{}\">edit</a>",
                    escape(&edit_link(page.uri, &b.name, None))
                );
            }
            out.push_str("</p>\n");
        }
        out.push_str("<div class=\"wrap\"><table><tr><th class=\"l\">Member</th><th class=\"l\">State</th><th class=\"l\">Activation</th>\
                      <th>Factor</th><th>Distance</th><th class=\"l\">Route (domain)</th><th>LB value</th><th>Busy</th>\
                      <th>Requests</th><th>Sessions</th><th>Errors</th><th>Sent / received</th><th class=\"l\">Last error</th>");
        if !page.read_only {
            out.push_str("<th class=\"l\">Actions</th>");
        }
        out.push_str("</tr>\n");
        for m in &b.members {
            member_row(&mut out, page, view, &b.name, m, snap.now);
        }
        out.push_str("</table></div>\n");
    }
    if !snap.ajp_workers.is_empty() {
        out.push_str("<h2>AJP workers</h2>\n<table><tr><th class=\"l\">Worker</th><th class=\"l\">Address</th><th>Requests</th><th>Errors</th><th>Busy</th><th>Sent</th><th>Received</th></tr>\n");
        for m in &snap.ajp_workers {
            let _ = writeln!(
                out,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&m.name), escape(&format!("{}:{}", m.host, m.port)), m.used, m.errors, m.busy, bytes(m.transferred), bytes(m.read)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}
