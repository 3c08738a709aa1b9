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
    MountLine { unmount, uri: uri.into(), worker: worker.into(), at: Location::new("httpd.conf", n), inherited: false }
}

#[test]
fn duplicates_keep_the_later_line_and_say_so() {
    let f = MountFile::parse("/a/*=one\nnonsense\n/a/*=two\n*.jsp=x\n", "m.properties".as_ref());
    assert_eq!(f.rules.len(), 1);
    assert_eq!(f.rules[0].worker, "two");
    assert_eq!(f.rules[0].source.location().line, 3);
    assert!(f.warnings.iter().any(|(at, m)| at.line == 2 && m.contains("has no `=`")));
    assert!(f.warnings.iter().any(|(at, m)| at.line == 3 && m.contains("replaces `one` from line 1")));
    assert_eq!(f.errors.len(), 1);
    assert!(f.errors[0].to_string().starts_with("m.properties:4:"), "{}", f.errors[0]);
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
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)).unwrap();
    assert_eq!(shared.reload_if_changed(t0 + Duration::from_secs(30)).unwrap(), Reload::Unchanged);

    match shared.reload_if_changed(t0 + Duration::from_secs(61)).unwrap() {
        Reload::Replaced { rules, .. } => assert_eq!(rules, 1),
        other => panic!("expected a reload, got {other:?}"),
    }
    let after = shared.current();
    assert_eq!(after.map("/app/x").unwrap().worker, "two");
    assert!(after.map("/gone").is_none(), "a rule removed from the file disappears");
    assert_eq!(after.map("/jk/x").unwrap().worker, "jk", "JkMount rules are untouched");
    // A request still holding the old table keeps mapping with it.
    assert_eq!(before.map("/app/x").unwrap().worker, "one");
    // Same time again: unchanged.
    assert_eq!(shared.reload_if_changed(t0 + Duration::from_secs(200)).unwrap(), Reload::Unchanged);
    // A vanished file keeps the rules and reports the error.
    std::fs::remove_file(&path).unwrap();
    assert!(shared.reload_if_changed(t0 + Duration::from_secs(300)).is_err());
    assert_eq!(shared.current().map("/app/x").unwrap().worker, "two");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
