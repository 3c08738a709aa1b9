//! `mime=xml`, laid out as mod_jk's status worker lays it out (namespace prefix `ns`, the
//! `xmlns` attribute, one attribute per line), so XML consumers of mod_jk keep working.
//! Unlike mod_jk, attribute values are escaped.

use std::fmt::Write;

use super::model::Snapshot;
use super::record::{self, Fields, Value};
use super::View;

/// The namespace settings of the status worker (`ns`, `xmlns`; `-` means none).
#[derive(Clone, Copy, Debug)]
pub struct Xml<'a> {
    pub ns: &'a str,
    pub xmlns: &'a str,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

struct W<'a> {
    out: String,
    ns: &'a str,
}

impl W<'_> {
    fn open(&mut self, indent: usize, name: &str, fields: &Fields, children: bool) {
        let _ = writeln!(self.out, "{:indent$}<{}{name}", "", self.ns);
        for (k, v) in fields {
            let _ = writeln!(
                self.out,
                "{:i$}{k}=\"{}\"",
                "",
                escape(&v.plain()),
                i = indent + 2
            );
        }
        let _ = writeln!(
            self.out,
            "{:indent$}{}",
            "",
            if children { ">" } else { "/>" }
        );
    }

    fn close(&mut self, indent: usize, name: &str) {
        let _ = writeln!(self.out, "{:indent$}</{}{name}>", "", self.ns);
    }
}

/// mod_jk prints an XML member's `connection_ping_interval` before `retries`.
fn xml_order(mut f: Fields) -> Fields {
    if let (Some(r), Some(c)) = (
        f.iter().position(|x| x.0 == "retries"),
        f.iter().position(|x| x.0 == "connection_ping_interval"),
    ) {
        let cpi = f.remove(c);
        f.insert(r, cpi);
    }
    f
}

pub fn xml(snap: &Snapshot, view: &View<'_>, x: Xml<'_>) -> String {
    let ns = if x.ns == "-" { "" } else { x.ns };
    let mut w = W {
        out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n"),
        ns,
    };
    let _ = write!(w.out, "<{ns}status");
    if x.xmlns != "-" {
        let _ = write!(w.out, "\n  {}", x.xmlns);
    }
    w.out.push_str(">\n");
    let (server, time, software) = record::header(snap);
    let software: Fields = software
        .into_iter()
        .map(|(k, v)| (k, Value::Str(v.plain())))
        .collect();
    w.open(0, "server", &server, false);
    w.open(0, "time", &time, false);
    w.open(0, "software", &software, false);
    if !snap.balancers.is_empty() {
        w.open(
            0,
            "balancers",
            &vec![("count", Value::Int(snap.balancers.len() as i64))],
            true,
        );
        for b in &snap.balancers {
            let fields = record::balancer(
                b,
                snap.now,
                view.good,
                view.bad,
                super::map_count(snap, &b.name),
            );
            w.open(2, "balancer", &fields, true);
            for m in &b.members {
                let mut f = vec![("name", Value::Str(m.name.clone()))];
                f.extend(record::member(m, snap.now));
                w.open(6, "member", &xml_order(f), false);
            }
            maps(&mut w, snap, &b.name, 6);
            w.close(2, "balancer");
        }
        w.close(0, "balancers");
    }
    if !snap.ajp_workers.is_empty() {
        w.open(
            0,
            "ajp_workers",
            &vec![("count", Value::Int(snap.ajp_workers.len() as i64))],
            true,
        );
        for m in &snap.ajp_workers {
            let mut f = vec![("name", Value::Str(m.name.clone()))];
            f.extend(record::member(m, snap.now));
            w.open(2, "ajp", &xml_order(f), false);
            maps(&mut w, snap, &m.name, 2);
        }
        w.close(0, "ajp_workers");
    }
    let result = vec![
        ("type", Value::Str("OK".into())),
        ("message", Value::Str("Action finished".into())),
    ];
    w.open(2, "result", &result, false);
    w.close(0, "status");
    w.out
}

fn maps(w: &mut W<'_>, snap: &Snapshot, worker: &str, indent: usize) {
    for (i, e) in snap.maps.iter().filter(|e| e.worker == worker).enumerate() {
        w.open(indent, "map", &record::map(i + 1, e), false);
    }
}
