//! Mount files: duplicates, JkMount lines, and reloads that replace only the file's own rules.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use lb_core::config::Location;
use lb_core::directive::server::MountLine;
use lb_core::mount::{MountFile, MountTable, Reload, SharedTable};

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rjk-mount-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("uriworkermap.properties");
    std::fs::write(&path, text).unwrap();
    path
}

fn line(unmount: bool, uri: &str, worker: &str, n: u32) -> MountLine {
    MountLine {
        unmount,
        uri: uri.into(),
        worker: worker.into(),
        at: Location::new("httpd.conf", n),
        inherited: false,
    }
}

#[test]
fn duplicates_keep_the_later_line_and_say_so() {
    let f = MountFile::parse(
        "/a/*=one\nnonsense\n/a/*=two\n*.jsp=x\n",
        "m.properties".as_ref(),
    );
    assert_eq!(f.rules.len(), 1);
    assert_eq!(f.rules[0].worker, "two");
    assert_eq!(f.rules[0].source.location().line, 3);
    assert!(f
        .warnings
        .iter()
        .any(|(at, m)| at.line == 2 && m.contains("has no `=`")));
    assert!(f
        .warnings
        .iter()
        .any(|(at, m)| at.line == 3 && m.contains("replaces `one` from line 1")));
    assert_eq!(f.errors.len(), 1);
    assert!(
        f.errors[0].to_string().starts_with("m.properties:4:"),
        "{}",
        f.errors[0]
    );
}

#[test]
fn jkmount_lines_last_wins_per_pattern_and_kind() {
    let mut t = MountTable::new();
    let errors = t.add_mount_lines(&[
        line(false, "/app/*", "a", 1),
        line(true, "/app/static/*", "b", 2),
        line(false, "/app/*", "b", 3),
        line(false, "app", "b", 4),
    ]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("httpd.conf:4"));
    assert_eq!(t.rules().len(), 2);
    assert_eq!(t.map("/app/x").unwrap().worker, "b");
    assert!(t.map("/app/static/x").is_none());
}

#[test]
fn a_virtual_hosts_own_line_beats_a_copied_one_in_any_order() {
    let copied = |uri: &str, worker: &str| MountLine {
        inherited: true,
        ..line(false, uri, worker, 1)
    };
    for lines in [
        vec![copied("/app/*", "main"), line(false, "/app/*", "own", 2)],
        vec![line(false, "/app/*", "own", 2), copied("/app/*", "main")],
    ] {
        let mut t = MountTable::new();
        assert!(t.add_mount_lines(&lines).is_empty());
        assert_eq!(t.rules().len(), 1);
        assert_eq!(t.map("/app/x").unwrap().worker, "own");
    }
    // Copied lines among themselves: the last one, as in the main server.
    let mut t = MountTable::new();
    t.add_mount_lines(&[copied("/a", "one"), copied("/a", "two")]);
    assert_eq!(t.map("/a").unwrap().worker, "two");
}

#[test]
fn reload_replaces_only_the_files_rules() {
    let path = temp_file("reload", "/app/*=one\n/gone=one\n");
    let file = MountFile::read(&path).unwrap();
    let mut table = MountTable::new();
    table.add_mount_lines(&[line(false, "/jk/*", "jk", 1)]);
    let table = table.with_file_rules(&path, file.rules.clone());
    let t0 = SystemTime::now();
    let shared = SharedTable::watching(table, &file, Duration::from_secs(60), t0);
    let before = shared.current();
    assert_eq!(before.map("/app/x").unwrap().worker, "one");

    // Not due yet: nothing is even looked at.
    std::fs::write(&path, "/app/*=two\n").unwrap();
    // Force a different modification time than the first read, whatever the clock resolution.
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000))
        .unwrap();
    assert_eq!(
        shared
            .reload_if_changed(t0 + Duration::from_secs(30))
            .unwrap(),
        Reload::Unchanged
    );

    match shared
        .reload_if_changed(t0 + Duration::from_secs(61))
        .unwrap()
    {
        Reload::Replaced { rules, .. } => assert_eq!(rules, 1),
        other => panic!("expected a reload, got {other:?}"),
    }
    let after = shared.current();
    assert_eq!(after.map("/app/x").unwrap().worker, "two");
    assert!(
        after.map("/gone").is_none(),
        "a rule removed from the file disappears"
    );
    assert_eq!(
        after.map("/jk/x").unwrap().worker,
        "jk",
        "JkMount rules are untouched"
    );
    // A request still holding the old table keeps mapping with it.
    assert_eq!(before.map("/app/x").unwrap().worker, "one");
    // Same time again: unchanged.
    assert_eq!(
        shared
            .reload_if_changed(t0 + Duration::from_secs(200))
            .unwrap(),
        Reload::Unchanged
    );
    // A vanished file keeps the rules and reports the error.
    std::fs::remove_file(&path).unwrap();
    assert!(shared
        .reload_if_changed(t0 + Duration::from_secs(300))
        .is_err());
    assert_eq!(shared.current().map("/app/x").unwrap().worker, "two");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn file_syntax_as_workers_properties() {
    std::env::set_var("RJK_MOUNT_TEST_WORKER", "fromenv");
    let text = "  # a comment line\r\n\
                /a/*  =  one   # trailing comment\r\n\
                /b/*=$(/a/*)\r\n\
                /c/*=$(RJK_MOUNT_TEST_WORKER);stateless=1\r\n\
                /d/*=$(NOT_SET_ANYWHERE_RJK)\r\n\
                /e/*=\r\n\
                =lonely\r\n\
                -!/f/*=one\r\n";
    let f = MountFile::parse(text, "u.properties".as_ref());
    let get = |p: &str| {
        f.rules
            .iter()
            .find(|r| r.pattern == p)
            .map(|r| r.worker.as_str())
    };
    assert_eq!(get("/a/*"), Some("one"), "trimmed, comment cut");
    assert_eq!(get("/b/*"), Some("one"), "$(key) of an earlier line");
    assert_eq!(get("/c/*"), Some("fromenv"), "then the environment");
    assert!(
        f.rules
            .iter()
            .find(|r| r.pattern == "/c/*")
            .unwrap()
            .extensions
            .stateless
    );
    assert_eq!(
        get("/d/*"),
        Some("$(NOT_SET_ANYWHERE_RJK)"),
        "unresolved stays literal"
    );
    assert_eq!(get("/e/*"), None);
    assert!(
        f.warnings
            .iter()
            .any(|(at, m)| at.line == 6 && m.contains("needs both")),
        "{:?}",
        f.warnings
    );
    assert!(f.warnings.iter().any(|(at, _)| at.line == 7));
    let f6 = f.rules.iter().find(|r| r.pattern == "/f/*").unwrap();
    assert!(f6.disabled && f6.exclusion);
    assert_eq!(f6.source.location().line, 8);
    // A line over mod_jk's 8 KiB buffer is ignored with a warning, not cut.
    let long = format!("/x/*={}\n/y/*=ok\n", "w".repeat(9000));
    let f = MountFile::parse(&long, "u.properties".as_ref());
    assert_eq!(f.rules.len(), 1);
    assert!(f.warnings[0].1.contains("longer than 8192"));
}

#[test]
fn bad_lines_are_errors_with_file_and_line_and_the_rest_still_loads() {
    let f = MountFile::parse(
        "/ok/*=w\n/bad/*=w;stickyignore=1\nnoslash=w\n/also/*=w2\n",
        "conf/uri.properties".as_ref(),
    );
    let msgs: Vec<String> = f.errors.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].starts_with("conf/uri.properties:2:")
            && msgs[0].contains("did you mean `sticky_ignore`?"),
        "{msgs:?}"
    );
    assert!(
        msgs[1].starts_with("conf/uri.properties:3:")
            && msgs[1].contains("does not start with `/`"),
        "{msgs:?}"
    );
    assert_eq!(
        f.rules
            .iter()
            .map(|r| r.worker.as_str())
            .collect::<Vec<_>>(),
        ["w", "w2"]
    );
}

#[test]
fn no_reload_when_the_interval_is_zero() {
    let path = temp_file("zero", "/app/*=one\n");
    let file = MountFile::read(&path).unwrap();
    let t0 = SystemTime::now();
    let shared = SharedTable::watching(
        MountTable::new().with_file_rules(&path, file.rules.clone()),
        &file,
        Duration::ZERO,
        t0,
    );
    std::fs::write(&path, "/app/*=two\n").unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000))
        .unwrap();
    assert_eq!(
        shared
            .reload_if_changed(t0 + Duration::from_secs(10_000))
            .unwrap(),
        Reload::Unchanged
    );
    assert_eq!(shared.current().map("/app/x").unwrap().worker, "one");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// A reload swaps the whole table: a reader never sees half of the old rules and half of the new.
#[test]
fn readers_see_one_table_or_the_other_never_a_mix() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let path: PathBuf = "swap.properties".into();
    let version = |w: &str| MountFile::parse(&format!("/a/*={w}\n/b/*={w}\n/c/*={w}\n"), &path);
    let first = version("old");
    let shared = Arc::new(SharedTable::fixed(
        MountTable::new().with_file_rules(&path, first.rules),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seen = 0u32;
                while !stop.load(Ordering::Relaxed) || seen == 0 {
                    let t = shared.current();
                    let ws: Vec<&str> = ["/a/1", "/b/1", "/c/1"]
                        .iter()
                        .map(|u| t.map(u).unwrap().worker)
                        .collect();
                    assert!(ws.iter().all(|w| *w == ws[0]), "a mixed table: {ws:?}");
                    assert_eq!(t.rules().len(), 3);
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    for i in 0..2_000 {
        shared.replace(version(if i % 2 == 0 { "new" } else { "old" }));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}

/// Many requests find the check due at once: one of them reloads, the others go on.
#[test]
fn one_request_reloads_the_others_do_not_wait() {
    use std::sync::{Arc, Barrier};
    let path = temp_file("race", "/app/*=one\n");
    let file = MountFile::read(&path).unwrap();
    let t0 = SystemTime::now();
    let shared = Arc::new(SharedTable::watching(
        MountTable::new().with_file_rules(&path, file.rules.clone()),
        &file,
        Duration::from_secs(60),
        t0,
    ));
    std::fs::write(&path, "/app/*=two\n").unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(3_000_000))
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (shared, barrier) = (Arc::clone(&shared), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                matches!(
                    shared
                        .reload_if_changed(t0 + Duration::from_secs(61))
                        .unwrap(),
                    Reload::Replaced { .. }
                )
            })
        })
        .collect();
    let reloads = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|&r| r)
        .count();
    assert_eq!(reloads, 1);
    assert_eq!(shared.current().map("/app/x").unwrap().worker, "two");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// Generated junk never panics the file reader, and every problem points at a real line.
#[test]
fn any_text_parses_without_panic_and_problems_have_real_lines() {
    let bits = [
        "/",
        "*",
        "?",
        "|",
        "!",
        "-",
        "=",
        ";",
        "#",
        " ",
        "\n",
        "\r\n",
        "$(",
        ")",
        "a",
        "ü",
        "reply_timeout=",
        "active=",
        "session_path=",
        "lb",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3_000 {
        let mut text = String::new();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for i in 0..(x % 40) {
            text.push_str(bits[((x >> (i % 50)) as usize + i as usize * 7) % bits.len()]);
        }
        let lines = text.lines().count() as u32;
        let f = MountFile::parse(&text, "fuzz.properties".as_ref());
        for e in &f.errors {
            let line = e.source.location().line;
            assert!(line >= 1 && line <= lines, "{e} in {text:?}");
        }
        for (at, _) in &f.warnings {
            assert!(at.line >= 1 && at.line <= lines, "{text:?}");
        }
        let mut t = MountTable::new();
        t.extend(f.rules);
        let _ = t.explain("/a/ü");
    }
}

#[test]
fn substitution_that_grows_exponentially_is_refused_at_its_line() {
    // Found by fuzzing: each line names the previous value 20 times, so line 5 would be 480 KB
    // and line 8 would be 3.8 GB.
    let mut text = String::from("v0=/ab\n");
    for i in 1..8 {
        text.push_str(&format!("v{i}={}\n", format!("$(v{})", i - 1).repeat(20)));
    }
    let f = MountFile::parse(&text, "u.properties".as_ref());
    let msgs: Vec<String> = f.errors.iter().map(ToString::to_string).collect();
    let big: Vec<&String> = msgs.iter().filter(|m| m.contains("64 KiB")).collect();
    assert_eq!(big.len(), 1, "{msgs:?}");
    assert!(
        big[0].starts_with("u.properties:5:") && big[0].contains("`v4`"),
        "{msgs:?}"
    );
}
