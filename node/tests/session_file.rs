//! `--session-file` with the real binary: sessions survive SIGTERM and (with
//! `--session-save-interval`) kill -9; a corrupt file is reported and set aside.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::procs::{curl, TempDir, START};
use rjk_tests::{free_port, wait_for_port, wait_until, Child};

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;
const SIGINT: i32 = 2;

/// An rjk-node serving HTTP on a free port, its log (info level) in `log`.
struct Running {
    child: Child,
    http: String,
}

fn start(dir: &Path, log: &str, extra: &[&str]) -> Running {
    let http = format!("127.0.0.1:{}", free_port());
    let ajp = format!("127.0.0.1:{}", free_port());
    let child = Child::spawn(
        "rjk-node",
        Command::new(env!("CARGO_BIN_EXE_rjk-node"))
            .args([
                "--route",
                "n1",
                "--no-secret",
                "--ajp",
                &ajp,
                "--http",
                &http,
            ])
            .args(["--log-level", "info"])
            .args(extra)
            .stderr(File::create(dir.join(log)).unwrap()),
    )
    .unwrap();
    wait_for_port(http.parse().unwrap(), START).unwrap();
    Running { child, http }
}

impl Running {
    /// `/session` with the given id (or none): (id, counter).
    fn count(&self, id: Option<&str>) -> (String, u64) {
        let cookie = id.map(|i| format!("JSESSIONID={i}")).unwrap_or_default();
        let r = curl(
            &format!("http://{}/session", self.http),
            &["-H", &format!("Cookie: {cookie}")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let t = r.text();
        (
            common::json_field(&t, "id").unwrap(),
            common::json_field(&t, "counter").unwrap().parse().unwrap(),
        )
    }

    fn exit(&mut self, sig: i32) {
        self.child.signal(sig);
        wait_until("rjk-node to exit", Duration::from_secs(15), || {
            (!self.child.alive()).then_some(())
        })
        .unwrap();
    }
}

fn file_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn sessions_survive_a_graceful_restart() {
    let dir = TempDir::new("sessfile-term");
    let f = dir.path().join("sessions");
    let mut n = start(dir.path(), "1.log", &["--session-file", file_arg(&f)]);
    let (a, _) = n.count(None);
    n.count(Some(&a));
    let (b, _) = n.count(None);
    assert!(!f.exists(), "written on stop, not before");
    n.exit(SIGTERM);
    assert!(f.exists(), "SIGTERM saves the sessions");

    let n = start(dir.path(), "2.log", &["--session-file", file_arg(&f)]);
    assert_eq!(n.count(Some(&a)), (a.clone(), 3), "counter continues");
    assert_eq!(n.count(Some(&b)), (b.clone(), 2));
    let log = std::fs::read_to_string(dir.path().join("2.log")).unwrap();
    assert!(log.contains("restored 2 session(s)"), "{log}");
}

/// Wait until the node wrote the file with a snapshot taken after this call: remove it and
/// let it come back twice (the first one may hold a snapshot older than the removal).
fn await_fresh_save(f: &Path) {
    for _ in 0..2 {
        let _ = std::fs::remove_file(f);
        wait_until("a periodic save", Duration::from_secs(10), || {
            f.exists().then_some(())
        })
        .unwrap();
    }
}

#[test]
fn a_periodic_save_survives_kill_9() {
    let dir = TempDir::new("sessfile-kill");
    let f = dir.path().join("sessions");
    let args = [
        "--session-file",
        file_arg(&f),
        "--session-save-interval",
        "1",
    ];
    let mut n = start(dir.path(), "1.log", &args);
    let (a, _) = n.count(None);
    n.count(Some(&a));
    await_fresh_save(&f);
    n.exit(SIGKILL);

    let n = start(dir.path(), "2.log", &["--session-file", file_arg(&f)]);
    assert_eq!(n.count(Some(&a)), (a.clone(), 3));
}

fn aside_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("sessions.corrupt-"))
        .collect()
}

#[test]
fn a_corrupt_file_is_reported_and_moved_aside() {
    let dir = TempDir::new("sessfile-bad");
    let f = dir.path().join("sessions");
    std::fs::write(&f, b"RJKSESS1 but then garbage that no checksum matches").unwrap();
    let mut n = start(dir.path(), "1.log", &["--session-file", file_arg(&f)]);
    let log = std::fs::read_to_string(dir.path().join("1.log")).unwrap();
    assert!(
        log.contains(&format!("session file {}: checksum mismatch", f.display())),
        "{log}"
    );
    let aside = aside_files(dir.path());
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(log.contains(&aside[0].display().to_string()), "{log}");
    assert_eq!(
        std::fs::read(&aside[0]).unwrap(),
        b"RJKSESS1 but then garbage that no checksum matches"
    );
    // It serves, and the next stop (SIGINT this time) writes a good file.
    let (a, _) = n.count(None);
    n.exit(SIGINT);
    let n = start(dir.path(), "2.log", &["--session-file", file_arg(&f)]);
    assert_eq!(n.count(Some(&a)).1, 2);
}

#[test]
fn session_file_flags_are_checked_before_start() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rjk-node"))
            .args(["--route", "n1", "--no-secret"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, e) = run(&["--session-save-interval", "5"]);
    assert_eq!(code, Some(2));
    assert!(e.contains("--session-file"), "{e}");
    let (code, e) = run(&["--session-file", "/nonexistent-rjk-dir/sessions"]);
    assert_eq!(code, Some(2));
    assert!(
        e.contains("/nonexistent-rjk-dir") && e.contains("does not exist"),
        "{e}"
    );
}
