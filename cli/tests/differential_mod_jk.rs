//! Differential test against the real mod_jk (Debian `libapache2-mod-jk`): for each config in
//! `tests/configs/`, the effective worker settings mod_jk's status worker reports (`mime=prop`)
//! must equal what `rjk check --json` reports, for every property both expose.
//!
//! Lines `#JkWorkerProperty ...` in a config become JkWorkerProperty directives of the httpd
//! config, so the directive-then-file order is compared too. Configs exercising rjk's deliberate
//! differences (lb_factor, recycle_timeout, local_worker) are not here: mod_jk refuses or ignores
//! them, and the unit tests cover what rjk does instead.

use std::path::{Path, PathBuf};

use rjk_tests::http;
use rjk_tests::httpd::{Httpd, Mpm, MODULES};
use serde_json::Value;

mod jk_diff;
use jk_diff::{parse_prop, rjk_check};

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
        assert!(
            !jk_diff::listed(&jk).is_empty(),
            "{name}: mod_jk listed no workers:\n{}",
            resp.text()
        );
        let (n, diffs) = jk_diff::compare(&jk, &rjk);
        compared += n;
        assert!(
            diffs.is_empty(),
            "{name}: rjk differs from mod_jk:\n{}",
            diffs.join("\n")
        );
    }
    assert!(compared > 500, "only {compared} values compared");
    let _ = std::fs::remove_dir_all(&root);
}
