//! mod_rjk in Debian's apache2: it loads under mod_jk's names, announces itself, and a bad Jk
//! configuration stops `apache2 -t` with the file:line and the fix.

use rjk_tests::http;
use rjk_tests::httpd::{config_test, Httpd, Mpm};

fn module() -> String {
    format!(
        "LoadModule jk_module {}\n",
        rjk_tests::workspace_bin("libmod_rjk.so").display()
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn config_errors_stop_the_config_test_with_file_line_and_suggestion() {
    let dir = tmp("conftest-bad");
    std::fs::write(dir.join("workers.properties"), "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1\nworker.n1.lbfactr=2\nworker.n1.port=8009\n").unwrap();
    let body = format!(
        "{}JkWorkersFile workers.properties\nJkWorkerProperty worker.n1.hots=x\n",
        module()
    );
    let (ok, out) = config_test(&dir, &body).unwrap();
    assert!(!ok, "apache2 -t passed:\n{out}");
    let conf = dir.join("httpd.conf").display().to_string();
    let wp = dir.join("workers.properties").display().to_string();
    // The config body starts after the 10 base lines config_test writes, so the directive is on line 12.
    assert!(out.contains(&format!("mod_rjk: {conf}:12: error: worker `n1`: unknown attribute `hots` (did you mean `host`?)")), "{out}");
    assert!(out.contains(&format!("mod_rjk: {wp}:4: error: worker `n1`: unknown attribute `lbfactr` (did you mean `lbfactor`?)")), "{out}");
    assert!(out.contains("2 error(s)"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn directive_errors_in_virtual_hosts_are_reported_once_each() {
    let dir = tmp("conftest-vhost");
    let body = format!(
        "{}JkOptions +FlushPakets\n<VirtualHost 127.0.0.1:8080>\n  JkMount app/* ajp13\n  JkMountCopy maybe\n</VirtualHost>\n",
        module()
    );
    let (ok, out) = config_test(&dir, &body).unwrap();
    assert!(!ok, "apache2 -t passed:\n{out}");
    let conf = dir.join("httpd.conf").display().to_string();
    for want in [
        format!("{conf}:11: error: JkOptions: unknown option `FlushPakets` (did you mean `FlushPackets`?)"),
        format!("{conf}:13: error: JkMount context should start with /, not `app/*`"),
        format!("{conf}:14: error: JkMountCopy must be All, On or Off, not `maybe`"),
    ] {
        assert_eq!(out.matches(&want).count(), 1, "{want}\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_good_config_passes_and_the_module_answers_to_mod_jk_names() {
    let dir = tmp("conftest-good");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../workers.properties.example");
    let body = format!(
        "{}<IfModule mod_jk.c>\nJkWorkersFile {example}\n</IfModule>\n<IfModule !jk_module>\nBogusDirectiveThatMustNotBeRead\n</IfModule>\n",
        module()
    );
    let (ok, out) = config_test(&dir, &body).unwrap();
    assert!(ok, "apache2 -t failed:\n{out}");
    assert!(out.contains("Syntax OK"), "{out}");

    let httpd = Httpd::start(&dir, Mpm::Event, &body).expect("apache2 starts with mod_rjk");
    let resp = http::get(httpd.addr(), "/", &[]).unwrap();
    let server = resp.header("Server").unwrap_or_default().to_owned();
    httpd.stop();
    assert!(
        server.contains(concat!("mod_rjk/", env!("CARGO_PKG_VERSION"))),
        "Server: {server}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
