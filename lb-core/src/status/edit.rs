//! `cmd=edit`: the form for one balancer's settings (`w=lb`) or one member's (`w=lb&sw=n1`),
//! with the current values filled in. It posts `cmd=update` with the page's nonce, like the
//! buttons of the list page, and comes back to the list after the change.

use std::fmt::Write;

use super::html::{edit_link, form_start, Page};
use super::model::{LbStatus, Member, Snapshot};
use super::xml::escape;
use crate::config::Activation;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d232a;background:#f7f8fa}\
h1{font-size:1.4rem}form{background:#fff;padding:1rem 1.2rem;box-shadow:0 1px 2px #0002;max-width:36rem}\
label{display:block;margin:.45rem 0}label span{display:inline-block;min-width:13rem}\
input,select{font:inherit}button{font:inherit;margin-top:.6rem;padding:.2rem .8rem}";

/// The edit page for `lb` (and `member`), or `None` when the snapshot has no such balancer or
/// member.
pub fn edit(snap: &Snapshot, page: &Page<'_>, lb: &str, member: Option<&str>) -> Option<String> {
    let b = snap.balancers.iter().find(|b| b.name == lb)?;
    let (title, fields) = match member {
        Some(name) => {
            let m = b.members.iter().find(|m| m.name == name)?;
            (format!("Member {name} of {lb}"), member_fields(m)?)
        }
        None => (format!("Balancer {lb}"), balancer_fields(b)),
    };
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<title>Edit {t}</title><meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style>\n\
         </head><body>\n<h1>Edit {t}</h1>\n<p><a href=\"{back}\">back to the status page</a></p>",
        t = escape(&title),
        back = escape(page.uri)
    );
    form_start(&mut out, page, lb, member);
    out.push_str("<input type=\"hidden\" name=\"cmd\" value=\"update\">");
    out.push_str(&fields);
    let _ = writeln!(
        out,
        "<button>Save</button></form>\n<!-- {} -->\n</body></html>",
        escape(&edit_link(page.uri, lb, member))
    );
    Some(out)
}

fn number(label: &str, param: &str, value: i64, min: i64) -> String {
    format!(
        "<label><span>{}</span><input type=\"number\" name=\"{param}\" min=\"{min}\" value=\"{value}\"></label>",
        escape(label)
    )
}

fn text(label: &str, param: &str, value: &str) -> String {
    format!(
        "<label><span>{}</span><input type=\"text\" name=\"{param}\" value=\"{}\"></label>",
        escape(label),
        escape(value)
    )
}

fn select(label: &str, param: &str, current: &str, options: &[(&str, &str)]) -> String {
    let mut s = format!(
        "<label><span>{}</span><select name=\"{param}\">",
        escape(label)
    );
    for (value, shown) in options {
        let selected = if *shown == current || *value == current {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            s,
            "<option value=\"{}\"{selected}>{}</option>",
            escape(value),
            escape(shown)
        );
    }
    s.push_str("</select></label>");
    s
}

fn flag(label: &str, param: &str, on: bool) -> String {
    let current = if on { "1" } else { "0" };
    select(label, param, current, &[("1", "on"), ("0", "off")])
}

fn member_fields(m: &Member) -> Option<String> {
    let x = m.lb.as_ref()?;
    let activation = match x.activation {
        Activation::Active => "A",
        Activation::Disabled => "D",
        Activation::Stopped => "S",
    };
    Some(
        [
            select(
                "Activation",
                "vwa",
                activation,
                &[("A", "Active"), ("D", "Disabled"), ("S", "Stopped")],
            ),
            number("Load factor", "vwf", x.lbfactor, 1),
            number("Distance", "vwd", x.distance, 0),
            text("Route", "vwn", &x.route),
            text("Redirect to", "vwr", &x.redirect),
            text("Domain", "vwc", &x.domain),
        ]
        .concat(),
    )
}

fn balancer_fields(b: &LbStatus) -> String {
    [
        flag("Sticky sessions", "vls", b.sticky_session),
        flag("Force sticky sessions", "vlf", b.sticky_session_force),
        number("Retries", "vlr", b.retries, 1),
        number("Retry interval (ms)", "vlri", b.retry_interval, 0),
        number("Recover time (s)", "vlt", b.recover_time, 1),
        number(
            "Error escalation time (s)",
            "vlee",
            b.error_escalation_time,
            1,
        ),
        number("Max reply timeouts", "vlx", b.max_reply_timeouts, 0),
        select(
            "Method",
            "vlm",
            b.method,
            &[
                ("R", "Request"),
                ("S", "Sessions"),
                ("T", "Traffic"),
                ("B", "Busyness"),
                ("N", "Next"),
            ],
        ),
        select(
            "Lock",
            "vll",
            b.lock,
            &[("O", "Optimistic"), ("P", "Pessimistic")],
        ),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Show;

    fn page() -> Page<'static> {
        Page {
            uri: "/jk-manager",
            read_only: false,
            nonce: "N0NCE",
            refresh: 0,
            css: None,
            show: Show::default(),
        }
    }

    #[test]
    fn member_form_has_its_values_and_posts_an_update_with_the_nonce() {
        let snap = crate::status::tests::sample();
        let h = edit(&snap, &page(), "lb", Some("n2")).unwrap();
        assert!(h.contains("<form method=\"post\" action=\"/jk-manager\"><input type=\"hidden\" name=\"nonce\" value=\"N0NCE\"><input type=\"hidden\" name=\"w\" value=\"lb\"><input type=\"hidden\" name=\"sw\" value=\"n2\"><input type=\"hidden\" name=\"cmd\" value=\"update\">"), "{h}");
        assert!(
            h.contains("<option value=\"D\" selected>Disabled</option>"),
            "{h}"
        );
        assert!(h.contains("name=\"vwf\" min=\"1\" value=\"3\""), "{h}");
        assert!(h.contains("name=\"vwn\" value=\"n2\""), "{h}");
        assert_eq!(edit(&snap, &page(), "lb", Some("nope")), None);
        assert_eq!(edit(&snap, &page(), "nope", None), None);
    }

    #[test]
    fn balancer_form_selects_the_current_method() {
        let snap = crate::status::tests::sample();
        let h = edit(&snap, &page(), "lb", None).unwrap();
        assert!(
            h.contains("<option value=\"S\" selected>Sessions</option>"),
            "{h}"
        );
        assert!(
            h.contains("<option value=\"1\" selected>on</option>"),
            "sticky is on: {h}"
        );
        assert!(!h.contains("name=\"sw\""));
    }
}
