//! `rjk check` as an operator runs it: exit codes, the human output, and `--json`.

use std::path::Path;
use std::process::{Command, Output};

fn rjk(args: &[&str]) -> Output {
    Command::new(rjk_tests::workspace_bin("rjk"))
        .args(args)
        .output()
        .expect("running rjk")
}

fn data(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
        .display()
        .to_string()
}

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../workers.properties.example")
        .display()
        .to_string()
}

#[test]
fn the_example_checks_clean() {
    let out = rjk(&["check", "--workers", &example()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK: 7 worker(s), 0 warning(s)"), "{text}");
    assert!(text.contains("worker cluster (lb) listed"), "{text}");
    // where each value came from
    assert!(
        text.lines().any(|l| l.contains("route")
            && l.contains("A.a1")
            && l.contains("workers.properties.example:34")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("domain") && l.contains("derived: from route `A.a1`")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("ping_timeout") && l.contains("template `node-template`")),
        "{text}"
    );
    assert!(!text.contains("change-me"), "secrets are never printed");
}

#[test]
fn a_mod_jk_1_2_7_config_is_understood() {
    let out = rjk(&["check", "--jk-conf", &data("mod_jk-1.2.7.conf")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for (line, word) in [
        (9, "lb_factor"),
        (10, "cachesize"),
        (11, "recycle_timeout"),
        (20, "balanced_workers"),
    ] {
        let want = format!("mod_jk-1.2.7.conf:{line}: warning:");
        assert!(
            text.lines().any(|l| l.contains(&want) && l.contains(word)),
            "{word}:\n{text}"
        );
    }
    assert!(text.contains("honoured as: tomcat2: distance=1"), "{text}");
    let json: serde_json::Value = serde_json::from_slice(
        &rjk(&["check", "--json", "--jk-conf", &data("mod_jk-1.2.7.conf")]).stdout,
    )
    .unwrap();
    let t2 = &json["workers"]["workers"]["tomcat2"]["properties"];
    assert_eq!(t2["lbfactor"]["value"], "2");
    assert_eq!(t2["lbfactor"]["origin"]["name"], "lb_factor");
    assert_eq!(t2["connection_pool_size"]["value"], "10");
    assert_eq!(t2["distance"]["value"], "1");
    let t1 = &json["workers"]["workers"]["tomcat1"]["properties"];
    assert_eq!(t1["connection_pool_timeout"]["value"], "300");
}

#[test]
fn errors_exit_1_with_file_line_and_suggestion() {
    let dir = std::env::temp_dir().join(format!("rjk-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.properties");
    std::fs::write(&f, "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n3\nworker.n1.lbfactr=2\nworker.n2.port=1\nworker.n1.port=2\n").unwrap();
    let out = rjk(&["check", "--workers", f.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("bad.properties:4: error: worker `n1`: unknown attribute `lbfactr` (did you mean `lbfactor`?)"), "{text}");
    assert!(
        text.contains("bad.properties:3: error: worker `lb`: member `n3` is not defined"),
        "{text}"
    );
    assert!(
        text.contains("2 error(s): the configuration would not start"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&rjk(&["check", "--json", "--workers", f.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(json["ok"], false);
    let errs: Vec<&serde_json::Value> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .collect();
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0]["line"], 4);
    assert_eq!(errs[0]["worker"], "n1");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nothing_to_check_is_an_error() {
    let out = rjk(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("give --workers FILE"));
}

#[test]
fn directive_errors_of_the_httpd_config_are_reported() {
    let dir = std::env::temp_dir().join(format!("rjk-check-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("httpd.conf");
    std::fs::write(&f, "JkOptions +FlushPakets\nJkMount /x ajp13\n<VirtualHost *:80>\n  JkLogLevel loud\n</VirtualHost>\n").unwrap();
    let out = rjk(&["check", "--jk-conf", f.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("httpd.conf:1: error: JkOptions: unknown option `FlushPakets` (did you mean `FlushPackets`?)"), "{text}");
    assert!(
        text.contains("httpd.conf:4: error: JkLogLevel: unknown level `loud`"),
        "{text}"
    );
    assert_eq!(
        text.matches("FlushPakets").count(),
        1,
        "reported once although the vhost inherits it: {text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn map_explains_rules_and_follows_sessions() {
    let dir = std::env::temp_dir().join(format!("rjk-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("httpd.conf");
    std::fs::write(
        &conf,
        format!(
            "JkWorkersFile {}\nJkMount /app/* cluster\nJkUnMount /app/static/* cluster\n",
            example()
        ),
    )
    .unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["map", "--json", "--jk-conf", conf.to_str().unwrap()];
        a.extend_from_slice(args);
        serde_json::from_slice(&rjk(&a).stdout).unwrap()
    };
    let v = json(&["/app/..;/app/x;jsessionid=ABC.B.b1"]);
    assert_eq!(v["normalised"], "/app/x");
    assert_eq!(v["worker"], "cluster");
    assert_eq!(v["session"]["member"], "b1");
    let v = json(&["--cookie", "JSESSIONID=DEF.A", "/app/y"]);
    assert_eq!(
        v["session"]["route"], "A",
        "a domain name reaches a member of that domain"
    );
    let v = json(&["/app/static/a.css"]);
    assert_eq!(v["worker"], serde_json::Value::Null);
    assert!(v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["verdict"].as_str().unwrap().contains("cancels")));
    let out = rjk(&["map", "--jk-conf", conf.to_str().unwrap(), "/%2e%2e/"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("400"));
    // and rjk check names a mount with a misspelt worker
    std::fs::write(&conf, format!("JkWorkersFile {}\nJkMount /app/* cluster\nJkUnMount /app/static/* cluster\nJkMount /x/* clustr\nJkMount /y/* cluster;disabled=a3\n", example())).unwrap();
    let out = rjk(&["check", "--jk-conf", conf.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("httpd.conf:4: error: mount `/x/*=clustr` names worker `clustr`, which is not in worker.list (did you mean `cluster`?)"), "{text}");
    assert!(text.contains("httpd.conf:5: warning: mount `/y/*=cluster`: `a3` is not a member of lb `cluster` (did you mean `a1`?)"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
