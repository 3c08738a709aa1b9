//! mod_jk's two line formats: `mime=txt` (`Member: name=n1 type=ajp13 ...`) and `mime=prop`
//! (`worker.n1.port=8009`), byte-compatible with what its status worker prints so existing
//! scripts keep parsing them.

use std::fmt::Write;

use super::model::Snapshot;
use super::record::{self, Fields, Value};
use super::View;

fn txt_fields(out: &mut String, fields: &Fields) {
    for (k, v) in fields {
        let _ = match v {
            Value::Quoted(s) => write!(out, " {k}=\"{s}\""),
            other => write!(out, " {k}={}", other.plain()),
        };
    }
    out.push('\n');
}

pub fn txt(snap: &Snapshot, view: &View<'_>) -> String {
    let mut out = String::new();
    let (server, time, software) = record::header(snap);
    for (label, f) in [
        ("Server:", &server),
        ("Time:", &time),
        ("Software:", &software),
    ] {
        out.push_str(label);
        txt_fields(&mut out, f);
    }
    if !snap.balancers.is_empty() {
        let _ = writeln!(out, "Balancer Workers: count={}", snap.balancers.len());
    }
    for b in &snap.balancers {
        out.push_str("Balancer Worker:");
        txt_fields(
            &mut out,
            &record::balancer(
                b,
                snap.now,
                view.good,
                view.bad,
                super::map_count(snap, &b.name),
            ),
        );
        for m in &b.members {
            out.push_str("Member:");
            let mut f = vec![("name", Value::Str(m.name.clone()))];
            f.extend(record::member(m, snap.now));
            txt_fields(&mut out, &f);
        }
        maps_txt(&mut out, snap, &b.name);
    }
    if !snap.ajp_workers.is_empty() {
        let _ = writeln!(out, "AJP Workers: count={}", snap.ajp_workers.len());
    }
    for m in &snap.ajp_workers {
        out.push_str("AJP Worker:");
        let mut f = vec![("name", Value::Str(m.name.clone()))];
        f.extend(record::member(m, snap.now));
        txt_fields(&mut out, &f);
        maps_txt(&mut out, snap, &m.name);
    }
    out.push_str("Result: type=OK message=\"Action finished\"\n");
    out
}

fn maps_txt(out: &mut String, snap: &Snapshot, worker: &str) {
    for (i, e) in snap.maps.iter().filter(|e| e.worker == worker).enumerate() {
        out.push_str("Map:");
        txt_fields(out, &record::map(i + 1, e));
    }
}

pub fn prop(snap: &Snapshot, view: &View<'_>) -> String {
    let p = view.prefix;
    let mut out = String::new();
    let mut line = |key: &str, v: &str| {
        let _ = writeln!(out, "{p}.{key}={v}");
    };
    let (server, time, software) = record::header(snap);
    for (prefix, f) in [("server_", &server), ("time_", &time), ("", &software)] {
        for (k, v) in f {
            line(&format!("{prefix}{k}"), &v.plain());
        }
    }
    if !snap.balancers.is_empty() {
        line("lb_count", &snap.balancers.len().to_string());
    }
    for b in &snap.balancers {
        line("list", &b.name);
        for (k, v) in record::balancer(
            b,
            snap.now,
            view.good,
            view.bad,
            super::map_count(snap, &b.name),
        )
        .iter()
        .skip(1)
        {
            line(&format!("{}.{k}", b.name), &v.plain());
        }
        for m in &b.members {
            line(&format!("{}.balance_workers", b.name), &m.name);
            for (k, v) in record::member(m, snap.now) {
                line(
                    &format!("{}.{}", member_owner(k, &b.name, &m.name), prop_key(k)),
                    &v.plain(),
                );
            }
        }
        maps_prop(&mut line, snap, &b.name);
    }
    if !snap.ajp_workers.is_empty() {
        line("ajp_count", &snap.ajp_workers.len().to_string());
    }
    for m in &snap.ajp_workers {
        line(&format!("{}.list", m.name), &m.name);
        for (k, v) in record::member(m, snap.now) {
            line(&format!("{}.{}", m.name, prop_key(k)), &v.plain());
        }
        maps_prop(&mut line, snap, &m.name);
    }
    line("result.type", "OK");
    line("result.message", "Action finished");
    out
}

/// mod_jk files a member's reset and error times under its balancer's name in this format.
fn member_owner<'a>(key: &str, lb: &'a str, member: &'a str) -> &'a str {
    if key.starts_with("last_reset_") || key.starts_with("error_time_") {
        lb
    } else {
        member
    }
}

/// Two keys carry a space in mod_jk's properties output; consumers match them as printed.
fn prop_key(k: &str) -> &str {
    match k {
        "error_time_unix_seconds" => "error_time_unix seconds",
        "error_time_ago" => "error_time_ago seconds",
        other => other,
    }
}

fn maps_prop(line: &mut impl FnMut(&str, &str), snap: &Snapshot, worker: &str) {
    for (i, e) in snap.maps.iter().filter(|e| e.worker == worker).enumerate() {
        for (k, v) in record::map(i + 1, e).iter().skip(1) {
            line(&format!("{worker}.map.{}.{k}", i + 1), &v.plain());
        }
    }
}
