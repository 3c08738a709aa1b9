//! What the differential tests share: reading Debian mod_jk's status worker (`mime=prop`) and
//! comparing its effective worker settings with `rjk check --json`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

pub const MEMBER_PROPS: &[&str] = &[
    "host",
    "port",
    "connection_pool_timeout",
    "ping_timeout",
    "connect_timeout",
    "prepost_timeout",
    "reply_timeout",
    "retries",
    "connection_ping_interval",
    "recovery_options",
    "busy_limit",
    "max_packet_size",
    "activation",
    "lbfactor",
    "route",
    "redirect",
    "domain",
    "distance",
];
pub const LB_PROPS: &[&str] = &[
    "sticky_session",
    "sticky_session_force",
    "retries",
    "recover_time",
    "error_escalation_time",
    "max_reply_timeouts",
    "method",
    "lock",
];

/// `worker.X.attr=value` lines; repeated keys (balance_workers) keep every value in order.
pub fn parse_prop(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            m.entry(k.to_owned()).or_default().push(v.to_owned());
        }
    }
    m
}

/// mod_jk prints booleans as True/False.
pub fn normalise(v: &str) -> String {
    match v {
        "true" => "True".into(),
        "false" => "False".into(),
        _ => v.to_owned(),
    }
}

pub fn rjk_check(conf: &Path) -> Value {
    let out = Command::new(rjk_tests::workspace_bin("rjk"))
        .args(["check", "--json", "--jk-conf"])
        .arg(conf)
        .output()
        .expect("running rjk");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "rjk check --json: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Every worker mod_jk lists: balancers as `worker.list=X`, plain ajp13 workers as
/// `worker.X.list=X`.
pub fn listed(jk: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut lbs: Vec<String> = jk.get("worker.list").cloned().unwrap_or_default();
    lbs.extend(
        jk.iter()
            .filter(|(k, _)| k.ends_with(".list") && k.as_str() != "worker.list")
            .flat_map(|(_, v)| v.clone()),
    );
    lbs
}

/// Compares every listed worker's settings (members' too) that both mod_jk's `mime=prop` and
/// `rjk check --json` expose. Returns how many values were compared and the differences, each
/// `worker.NAME.attr: mod_jk .., rjk ..`.
pub fn compare(jk: &BTreeMap<String, Vec<String>>, rjk: &Value) -> (usize, Vec<String>) {
    let workers = &rjk["workers"]["workers"];
    let mut compared = 0;
    let mut diffs = Vec::new();
    let mut check = |key: String, ours: Option<&Value>| {
        // A repeated key (balance_workers: one line per member) is compared as one list.
        // A member of two balancers is printed twice.
        let theirs = match key.ends_with(".balance_workers") {
            true => jk.get(&key).map(|v| v.join(",")),
            false => jk.get(&key).and_then(|v| v.first()).cloned(),
        };
        let ours = ours.and_then(Value::as_str).map(normalise);
        compared += 1;
        if theirs != ours {
            diffs.push(format!("{key}: mod_jk {theirs:?}, rjk {ours:?}"));
        }
    };
    for w in listed(jk) {
        let ty = jk
            .get(&format!("worker.{w}.type"))
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default();
        let ours = &workers[w.as_str()];
        // A plain ajp13 worker shows its connection settings but no balancing ones.
        let props = if ty == "lb" {
            LB_PROPS
        } else {
            &MEMBER_PROPS[..12]
        };
        for p in props {
            check(
                format!("worker.{w}.{p}"),
                ours["properties"][*p].get("value"),
            );
        }
        if ty != "lb" {
            continue;
        }
        let members = jk
            .get(&format!("worker.{w}.balance_workers"))
            .cloned()
            .unwrap_or_default();
        let ours_members = ours["properties"]["balance_workers"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        check(
            format!("worker.{w}.balance_workers"),
            Some(&Value::String(ours_members.clone())),
        );
        if members.join(",") != ours_members {
            continue;
        }
        check(
            format!("worker.{w}.member_count"),
            Some(&Value::String(ours["member_count"].to_string())),
        );
        for (i, m) in members.iter().enumerate() {
            check(
                format!("worker.{m}.lbmult"),
                Some(&Value::String(ours["members"][i]["lbmult"].to_string())),
            );
        }
        for m in &members {
            for p in MEMBER_PROPS {
                check(
                    format!("worker.{m}.{p}"),
                    workers[m.as_str()]["properties"][*p].get("value"),
                );
            }
        }
    }
    (compared, diffs)
}
