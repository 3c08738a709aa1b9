//! Runtime changes that survive a restart (a status worker's `persist_file`): after every
//! change the members' runtime settings are written as `lb.member.setting=value` lines; at
//! startup they are applied again over workers.properties. mod_jk loses them.

use std::fmt::Write as _;
use std::path::Path;

use crate::balancer::{Balancer, ConnChange, MemberChange};
use crate::config::Activation;
use crate::forward::Worker;

/// The first part of a stand-alone ajp13 worker's lines (no worker name has a `*`).
const STAND_ALONE: &str = "*";

/// The lines for every member of `lbs` (name, balancer) at `now`, and `*.worker.setting` lines
/// for the stand-alone `ajp13` workers whose connection settings changed.
pub fn render<'a>(
    lbs: impl IntoIterator<Item = (&'a str, &'a Balancer)>,
    ajp13: &[(&str, &Worker)],
    now: i64,
) -> String {
    let mut out = String::from(
        "# rjk: runtime changes made through the status worker; applied at startup.\n",
    );
    for (name, lb) in lbs {
        for m in lb.stats(now).members {
            let act = match m.activation {
                Activation::Active => "A",
                Activation::Disabled => "D",
                Activation::Stopped => "S",
            };
            let _ = writeln!(out, "{name}.{}.activation={act}", m.name);
            let _ = writeln!(out, "{name}.{}.lbfactor={}", m.name, m.lbfactor);
            let _ = writeln!(out, "{name}.{}.distance={}", m.name, m.distance);
            let _ = writeln!(out, "{name}.{}.route={}", m.name, m.route);
            let _ = writeln!(out, "{name}.{}.domain={}", m.name, m.domain);
            let _ = writeln!(out, "{name}.{}.redirect={}", m.name, m.redirect);
        }
        // Connection settings of the members changed through the status worker, all of them
        // as the shared record holds them (it does not say which one changed).
        for i in (0..lb.len()).filter(|&i| lb.connection_changed(i)) {
            let (Some(c), Some(m)) = (lb.connection(i), lb.member_name(i)) else {
                continue;
            };
            for (key, v) in conn_lines(&c) {
                let _ = writeln!(out, "{name}.{m}.{key}={v}");
            }
        }
    }
    for (name, w) in ajp13 {
        if w.members()[0].connection_changed() {
            let c = crate::pool::ConnSettings::of(w.members()[0].spec());
            for (key, v) in conn_lines(&c) {
                let _ = writeln!(out, "{STAND_ALONE}.{name}.{key}={v}");
            }
        }
    }
    out
}

/// The connection settings a status worker can change, as `setting=value` pairs.
fn conn_lines(c: &crate::pool::ConnSettings) -> Vec<(&'static str, String)> {
    vec![
        ("host", c.host.clone()),
        ("port", c.port.to_string()),
        (
            "connection_pool_timeout",
            c.connection_pool_timeout.to_string(),
        ),
        ("ping_timeout", c.ping_timeout.to_string()),
        ("connect_timeout", c.connect_timeout.to_string()),
        ("prepost_timeout", c.prepost_timeout.to_string()),
        ("reply_timeout", c.reply_timeout.to_string()),
        ("retries", c.retries.to_string()),
        ("retry_interval", c.retry_interval.to_string()),
        (
            "connection_ping_interval",
            c.connection_ping_interval.to_string(),
        ),
        ("recovery_options", c.recovery_options.to_string()),
        ("busy_limit", c.busy_limit.to_string()),
        ("max_packet_size", c.max_packet_size.to_string()),
    ]
}

/// A saved connection setting as the change that restores it.
fn conn_change(setting: &str, value: &str) -> Option<Result<ConnChange, String>> {
    let num = || {
        value
            .parse::<u32>()
            .map_err(|_| format!("{setting}: `{value}` is not a number"))
    };
    Some(match setting {
        "host" => Ok(ConnChange::Host(value.to_owned())),
        "port" => value
            .parse::<u16>()
            .map(ConnChange::Port)
            .map_err(|_| format!("port: `{value}` is not a port")),
        "connection_pool_timeout" => num().map(ConnChange::ConnectionPoolTimeout),
        "ping_timeout" => num().map(ConnChange::PingTimeout),
        "connect_timeout" => num().map(ConnChange::ConnectTimeout),
        "prepost_timeout" => num().map(ConnChange::PrepostTimeout),
        "reply_timeout" => num().map(ConnChange::ReplyTimeout),
        "retries" => num().map(ConnChange::Retries),
        "retry_interval" => num().map(ConnChange::RetryInterval),
        "connection_ping_interval" => num().map(ConnChange::ConnectionPingInterval),
        "recovery_options" => num().map(ConnChange::RecoveryOptions),
        "busy_limit" => num().map(ConnChange::BusyLimit),
        "max_packet_size" => num().map(ConnChange::MaxPacketSize),
        _ => return None,
    })
}

/// At startup: for every status worker with `persist_file`, apply the saved changes to the
/// running balancers. Returns "file: problem" lines for the log.
pub fn restore<'a>(
    workers: &crate::config::Workers,
    lookup: impl Fn(&str) -> Option<&'a Balancer>,
    ajp13: impl Fn(&str) -> Option<&'a Worker>,
) -> Vec<String> {
    let mut out = Vec::new();
    for w in workers.workers.values() {
        let crate::config::Kind::Status(st) = &w.kind else {
            continue;
        };
        let Some(path) = &st.persist_file.value else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        out.extend(
            apply(&text, &lookup, &ajp13)
                .into_iter()
                .map(|p| format!("{path}: {p}")),
        );
    }
    out
}

/// Write atomically (a temporary file renamed over the old one).
pub fn save(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Apply saved lines to the balancers found by `lookup` and the stand-alone workers found by
/// `ajp13`; returns what could not be applied.
pub fn apply<'a>(
    text: &str,
    lookup: impl Fn(&str) -> Option<&'a Balancer>,
    ajp13: impl Fn(&str) -> Option<&'a Worker>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((key, value)) = line.split_once('=') else {
            problems.push(format!("`{line}` is not key=value"));
            continue;
        };
        let parts: Vec<&str> = key.rsplitn(3, '.').collect();
        let [setting, member, lb] = parts[..] else {
            problems.push(format!("`{key}` is not lb.member.setting"));
            continue;
        };
        if lb == STAND_ALONE {
            let Some(w) = ajp13(member).filter(|w| !w.is_lb()) else {
                problems.push(format!("no ajp13 worker `{member}` any more"));
                continue;
            };
            let m = &w.members()[0];
            let same = conn_lines(&crate::pool::ConnSettings::of(m.spec()))
                .iter()
                .any(|(k, v)| *k == setting && v == value);
            match conn_change(setting, value) {
                _ if same => {}
                Some(Ok(c)) => {
                    if let Err(e) = m.change_connection(c) {
                        problems.push(format!("ajp13 worker `{member}`: {e}"));
                    }
                }
                Some(Err(e)) => problems.push(e),
                None => problems.push(format!("unknown setting `{setting}`")),
            }
            continue;
        }
        let Some(b) = lookup(lb) else {
            problems.push(format!("no balancer `{lb}` any more"));
            continue;
        };
        let Some(i) = b.member_index(member) else {
            problems.push(format!("no member `{member}` in `{lb}` any more"));
            continue;
        };
        let num = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("{key}: `{v}` is not a number"))
        };
        if let Some(c) = conn_change(setting, value) {
            let same = b.connection(i).is_some_and(|cur| {
                conn_lines(&cur)
                    .iter()
                    .any(|(k, v)| *k == setting && v == value)
            });
            // Unchanged: no resolving, no new sequence for every process to adopt.
            if !same {
                match c.map(|c| b.change_connection(i, c).map_err(|e| e.to_string())) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) | Err(e) => problems.push(e),
                }
            }
            continue;
        }
        let change = match setting {
            "activation" => Activation::parse(value).map(MemberChange::Activation),
            "lbfactor" => num(value).map(MemberChange::LbFactor),
            "distance" => num(value).map(MemberChange::Distance),
            "route" => Ok(MemberChange::Route(value.to_owned())),
            "domain" => Ok(MemberChange::Domain(value.to_owned())),
            "redirect" => Ok(MemberChange::Redirect(value.to_owned())),
            other => Err(format!("unknown setting `{other}`")),
        };
        match change.map(|c| b.change(i, c).map_err(|e| e.to_string())) {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => problems.push(e),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::{LbSpec, MemberSpec};
    use crate::shm::ShmTable;
    use std::sync::Arc;

    #[test]
    fn saved_changes_are_applied_to_a_fresh_balancer() {
        let members = [MemberSpec::named("n1"), MemberSpec::named("n2")];
        let old = Balancer::new(
            &LbSpec::named("lb"),
            &members,
            Arc::new(ShmTable::heap(1, 2)),
            0,
        )
        .unwrap();
        old.change(0, MemberChange::Activation(Activation::Disabled))
            .unwrap();
        old.change(1, MemberChange::LbFactor(4)).unwrap();
        let text = render([("lb", &old)], &[], 0);
        let fresh = Balancer::new(
            &LbSpec::named("lb"),
            &members,
            Arc::new(ShmTable::heap(1, 2)),
            0,
        )
        .unwrap();
        let problems = apply(&text, |n| (n == "lb").then_some(&fresh), |_| None);
        assert!(problems.is_empty(), "{problems:?}");
        let s = fresh.stats(0);
        assert_eq!(s.members[0].activation, Activation::Disabled);
        assert_eq!(s.members[1].lbfactor, 4);
        let problems = apply(
            "lb.n9.activation=S\nlb.n1.colour=red\nother.n1.lbfactor=1\n",
            |n| (n == "lb").then_some(&fresh),
            |_| None,
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
