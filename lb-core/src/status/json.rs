//! `mime=json` (rjk's addition): the XML's information with stable keys and real types —
//! numbers as numbers, booleans as booleans — for scripts that should not parse mod_jk's
//! formats. Documented in the README.
//!
//! ```json
//! {"server": {"name": "...", "port": 80}, "time": {...}, "software": {...},
//!  "balancers": [{"name": "lb", ..., "members": [{"name": "n1", ...}], "maps": [...]}],
//!  "ajp_workers": [{"name": "app", ..., "maps": [...]}]}
//! ```

use std::fmt::Write;

use super::model::Snapshot;
use super::record::{self, Fields, Value};
use super::View;

pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn value(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Str(s) if s == "True" => "true".into(),
        Value::Str(s) if s == "False" => "false".into(),
        Value::Str(s) | Value::Quoted(s) => string(s),
    }
}

fn object(fields: &Fields, extra: &[(&str, String)]) -> String {
    let mut parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", string(k), value(v)))
        .collect();
    parts.extend(extra.iter().map(|(k, v)| format!("{}:{v}", string(k))));
    format!("{{{}}}", parts.join(","))
}

fn maps(snap: &Snapshot, worker: &str) -> String {
    let items: Vec<String> = snap
        .maps
        .iter()
        .filter(|e| e.worker == worker)
        .enumerate()
        .map(|(i, e)| {
            // Map values are quoted in mod_jk's text format; here numbers are numbers.
            let f: Fields = record::map(i + 1, e)
                .into_iter()
                .map(|(k, v)| match (k, v.plain().parse::<i64>()) {
                    (
                        "reply_timeout" | "sticky_ignore" | "stateless" | "use_server_errors",
                        Ok(n),
                    ) => (k, Value::Int(n)),
                    _ => (k, v),
                })
                .collect();
            object(&f, &[])
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn member(m: &super::model::Member, now: i64) -> String {
    let mut f = vec![("name", Value::Str(m.name.clone()))];
    f.extend(record::member(m, now));
    object(&f, &[])
}

pub fn json(snap: &Snapshot, view: &View<'_>) -> String {
    let (server, time, software) = record::header(snap);
    let balancers: Vec<String> = snap
        .balancers
        .iter()
        .map(|b| {
            let members: Vec<String> = b.members.iter().map(|m| member(m, snap.now)).collect();
            let fields = record::balancer(
                b,
                snap.now,
                view.good,
                view.bad,
                super::map_count(snap, &b.name),
            );
            object(
                &fields,
                &[
                    ("members", format!("[{}]", members.join(","))),
                    ("maps", maps(snap, &b.name)),
                ],
            )
        })
        .collect();
    let ajp: Vec<String> = snap
        .ajp_workers
        .iter()
        .map(|m| {
            let mut f = vec![("name", Value::Str(m.name.clone()))];
            f.extend(record::member(m, snap.now));
            object(&f, &[("maps", maps(snap, &m.name))])
        })
        .collect();
    format!(
        "{{\"server\":{},\"time\":{},\"software\":{},\"balancers\":[{}],\"ajp_workers\":[{}]}}\n",
        object(&server, &[]),
        object(&time, &[]),
        object(&software, &[]),
        balancers.join(","),
        ajp.join(",")
    )
}
