//! Differential test against the real mod_jk (Debian `libapache2-mod-jk`): for each config in
//! `tests/configs/`, the effective worker settings mod_jk's status worker reports (`mime=prop`)
//! must equal what `rjk check --json` reports, for every property both expose.
//!
//! Lines `#JkWorkerProperty ...` in a config become JkWorkerProperty directives of the httpd
//! config, so the directive-then-file order is compared too. Configs exercising rjk's deliberate
//! differences (lb_factor, recycle_timeout, local_worker) are not here: mod_jk refuses or ignores
//! them, and the unit tests cover what rjk does instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rjk_tests::http;
use rjk_tests::httpd::{Httpd, Mpm, MODULES};
use serde_json::Value;

const MEMBER_PROPS: &[&str] = &[
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
const LB_PROPS: &[&str] = &[
    "sticky_session",
    "sticky_session_force",
    "retries",
    "recover_time",
    "error_escalation_time",
    "max_reply_timeouts",
    "method",
    "lock",
];

fn configs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(v.len() >= 10, "the issue asks for at least 10 configs");
    v
}

/// httpd.conf body for mod_jk with `props` as JkWorkersFile and a status worker at /jkstatus.
fn jk_body(dir: &Path, props: &Path) -> String {
    let text = std::fs::read_to_string(props).unwrap();
    let directives: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("#JkWorkerProperty "))
        .map(|p| format!("JkWorkerProperty {p}\n"))
        .collect();
    format!(
        "LoadModule jk_module {MODULES}/mod_jk.so\n{directives}JkWorkerProperty worker.list=jkstatus\n\
         JkWorkerProperty worker.jkstatus.type=status\nJkWorkersFile {}\nJkShmFile {d}/run/jk.shm\n\
         JkLogFile {d}/logs/mod_jk.log\nJkLogLevel error\nJkMount /jkstatus jkstatus\n",
        props.display(),
        d = dir.display()
    )
}

/// `worker.X.attr=value` lines; repeated keys (balance_workers) keep every value in order.
fn parse_prop(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            m.entry(k.to_owned()).or_default().push(v.to_owned());
        }
    }
    m
}

/// mod_jk prints booleans as True/False.
fn normalise(v: &str) -> String {
    match v {
        "true" => "True".into(),
        "false" => "False".into(),
        _ => v.to_owned(),
    }
}

fn rjk_check(conf: &Path) -> Value {
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

#[test]
fn effective_worker_settings_match_mod_jk() {
    let root = std::env::temp_dir().join(format!("rjk-diff-{}", std::process::id()));
    let mut compared = 0;
    for cfg in configs() {
        let name = cfg.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = root.join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let httpd = Httpd::start(&dir, Mpm::Event, &jk_body(&dir, &cfg))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let resp = http::get(httpd.addr(), "/jkstatus?mime=prop", &[]).unwrap();
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
        let jk = parse_prop(&resp.text());
        let rjk = rjk_check(&dir.join("httpd.conf"));
        httpd.stop();
        assert_eq!(
            rjk["ok"],
            Value::Bool(true),
            "{name}: rjk check failed: {rjk:#}"
        );
        let workers = &rjk["workers"]["workers"];

        let mut diffs = Vec::new();
        let mut check = |key: String, ours: Option<&Value>| {
            let theirs = jk.get(&key).and_then(|v| v.first()).cloned();
            let ours = ours.and_then(Value::as_str).map(normalise);
            compared += 1;
            if theirs != ours {
                diffs.push(format!("{key}: mod_jk {theirs:?}, rjk {ours:?}"));
            }
        };
        // Balancers are listed as `worker.list=X`, plain ajp13 workers as `worker.X.list=X`.
        let mut lbs: Vec<String> = jk.get("worker.list").cloned().unwrap_or_default();
        lbs.extend(
            jk.iter()
                .filter(|(k, _)| k.ends_with(".list") && k.as_str() != "worker.list")
                .flat_map(|(_, v)| v.clone()),
        );
        assert!(
            !lbs.is_empty(),
            "{name}: mod_jk listed no workers:\n{}",
            resp.text()
        );
        for w in &lbs {
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
            if ty == "lb" {
                let members = jk
                    .get(&format!("worker.{w}.balance_workers"))
                    .cloned()
                    .unwrap_or_default();
                let ours_members = ours["properties"]["balance_workers"]["value"]
                    .as_str()
                    .unwrap_or_default();
                assert_eq!(members.join(","), ours_members, "{name}: members of {w}");
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
        }
        assert!(
            diffs.is_empty(),
            "{name}: rjk differs from mod_jk:\n{}",
            diffs.join("\n")
        );
    }
    assert!(compared > 500, "only {compared} values compared");
    let _ = std::fs::remove_dir_all(&root);
}
