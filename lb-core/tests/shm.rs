//! The shared state table: layout checks, records claimed by name, file-backed and anonymous
//! mappings, and sharing across real processes.

use std::sync::atomic::Ordering;

use lb_core::shm::{JkShmFile, Region, ShmError, ShmTable, Text};

mod shm_support;
use shm_support::{fork_child, TempDir};

#[test]
fn a_fresh_table_is_attached_by_another_mapping_of_the_same_memory() {
    let dir = TempDir::new("attach");
    let path = dir.path().join("jk.shm");
    let size = ShmTable::size_for(2, 8);
    let t = ShmTable::create(JkShmFile::create(&path, size).unwrap(), 2, 8).unwrap();
    let (lb, fresh) = t.claim_lb("balancer").unwrap();
    assert!(fresh);
    let (m, _) = t.claim_member("balancer", "tc1").unwrap();
    t.member(m).lb_value.store(42, Ordering::Relaxed);

    // A tool (or another process) maps the same file.
    let other = ShmTable::attach(JkShmFile::open(&path).unwrap()).unwrap();
    assert_eq!(other.lb_capacity(), 2);
    assert_eq!(other.member_capacity(), 8);
    assert_eq!(other.used(), (1, 1));
    assert_eq!(other.lb(lb).name.load(), "balancer");
    assert_eq!(other.member(m).lb_value.load(Ordering::Relaxed), 42);
    // Claiming again finds the record instead of making a new one.
    assert_eq!(other.claim_lb("balancer").unwrap(), (lb, false));
    assert_eq!(other.claim_member("balancer", "tc1").unwrap(), (m, false));
    // Writes through one mapping are seen through the other.
    other.member(m).errors.fetch_add(3, Ordering::Relaxed);
    assert_eq!(t.member(m).errors.load(Ordering::Relaxed), 3);
    assert_eq!(t.header().children.load(Ordering::Relaxed), 1);
}

#[test]
fn the_shm_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let path = dir.path().join("jk.shm");
    let _t = ShmTable::create(
        JkShmFile::create(&path, ShmTable::size_for(1, 1)).unwrap(),
        1,
        1,
    )
    .unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len() as usize, ShmTable::size_for(1, 1));
}

#[test]
fn foreign_or_stale_memory_is_refused_with_a_reason() {
    // Zeroed memory is not a table.
    let e = ShmTable::attach(Region::heap(4096)).unwrap_err();
    assert_eq!(e, ShmError::NotATable);
    // Too small for what the configuration needs.
    let e = ShmTable::create(Region::heap(100), 1, 4).unwrap_err();
    assert!(matches!(e, ShmError::TooSmall { .. }));
    let e = ShmTable::create(Region::heap(100), usize::MAX, usize::MAX).unwrap_err();
    assert!(
        matches!(e, ShmError::TooSmall { .. }),
        "absurd counts: {e:?}"
    );
    assert!(e.to_string().contains("JkShmSize"), "{e}");
    // A table written by another layout version.
    let dir = TempDir::new("version");
    let path = dir.path().join("jk.shm");
    let t = ShmTable::create(
        JkShmFile::create(&path, ShmTable::size_for(1, 1)).unwrap(),
        1,
        1,
    )
    .unwrap();
    t.header().layout_version.store(99, Ordering::Relaxed);
    let e = ShmTable::attach(JkShmFile::open(&path).unwrap()).unwrap_err();
    assert!(matches!(e, ShmError::Version { found: 99, .. }), "{e:?}");
    assert!(e.to_string().contains("stale JkShmFile"));
    // A truncated file.
    let t2 = ShmTable::create(
        JkShmFile::create(&path, ShmTable::size_for(1, 4)).unwrap(),
        1,
        4,
    )
    .unwrap();
    drop(t2);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(200)
        .unwrap();
    let e = ShmTable::attach(JkShmFile::open(&path).unwrap()).unwrap_err();
    assert!(matches!(e, ShmError::TooSmall { .. }), "{e:?}");
    // A path that cannot be created names the file.
    let e = JkShmFile::create(&dir.path().join("no/such/dir/jk.shm"), 64).unwrap_err();
    assert!(e.to_string().contains("no/such/dir/jk.shm"), "{e}");
}

#[test]
fn records_run_out_clearly_and_names_have_a_limit() {
    let t = ShmTable::heap(1, 2);
    t.claim_lb("lb").unwrap();
    let e = t.claim_lb("lb2").unwrap_err();
    assert!(matches!(
        e,
        ShmError::Full {
            what: "balancer",
            capacity: 1
        }
    ));
    t.claim_member("lb", "a").unwrap();
    t.claim_member("lb", "b").unwrap();
    assert!(matches!(
        t.claim_member("lb", "c"),
        Err(ShmError::Full { .. })
    ));
    // Same member name under another parent is another record.
    assert!(t.claim_member("other", "a").is_err());
    let long = "x".repeat(Text::MAX + 1);
    let e = t.claim_lb(&long).unwrap_err();
    assert!(e.to_string().contains("63 bytes"), "{e}");
}

#[test]
fn foreign_memory_must_be_aligned() {
    let mut words = vec![0u64; ShmTable::size_for(1, 1) / 8 + 2];
    let base = std::ptr::NonNull::new(words.as_mut_ptr() as *mut u8).unwrap();
    // SAFETY (test): `words` outlives the table below and is only used through it.
    let misaligned = unsafe { base.add(1) };
    // SAFETY (test): as above; the call itself must refuse the pointer.
    let e = unsafe { Region::from_raw(misaligned, 64) }.unwrap_err();
    assert!(e.to_string().contains("aligned"));
    // SAFETY (test): aligned, zeroed, sized, and `words` outlives `t`.
    let region = unsafe { Region::from_raw(base, words.len() * 8) }.unwrap();
    let t = ShmTable::create(region, 1, 1).unwrap();
    t.claim_lb("lb").unwrap();
    drop(t);
    assert_ne!(
        words[0], 0,
        "the table was written into the caller's memory"
    );
}

#[test]
fn an_anonymous_mapping_is_shared_with_forked_children() {
    let size = ShmTable::size_for(1, 2);
    let t = ShmTable::create(Region::anonymous(size).unwrap(), 1, 2).unwrap();
    let (m, _) = t.claim_member("lb", "tc1").unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            fork_child(|| {
                for _ in 0..10_000 {
                    t.member(m).elected.fetch_add(1, Ordering::Relaxed);
                }
                0
            })
        })
        .collect();
    for c in children {
        assert_eq!(c.wait(), 0);
    }
    assert_eq!(t.member(m).elected.load(Ordering::Relaxed), 30_000);
}

#[test]
fn the_table_lock_excludes_other_processes() {
    let t = ShmTable::create(Region::anonymous(ShmTable::size_for(1, 1)).unwrap(), 1, 1).unwrap();
    let (m, _) = t.claim_member("lb", "a").unwrap();
    // Non-atomic read-modify-write under the lock: lost updates would show without it.
    let children: Vec<_> = (0..3)
        .map(|_| {
            fork_child(|| {
                for _ in 0..5_000 {
                    let _g = t.lock();
                    let v = t.member(m).lb_value.load(Ordering::Relaxed);
                    std::hint::spin_loop();
                    t.member(m).lb_value.store(v + 1, Ordering::Relaxed);
                }
                0
            })
        })
        .collect();
    for c in children {
        assert_eq!(c.wait(), 0);
    }
    assert_eq!(t.member(m).lb_value.load(Ordering::Relaxed), 15_000);
}

#[test]
fn a_lock_left_by_a_dead_process_is_taken_over() {
    let t = ShmTable::create(Region::anonymous(ShmTable::size_for(1, 1)).unwrap(), 1, 1).unwrap();
    let child = fork_child(|| {
        std::mem::forget(t.lock());
        0
    });
    assert_eq!(child.wait(), 0);
    assert_ne!(t.header().lock_owner.load(Ordering::Relaxed), 0);
    // Would spin forever if the dead holder were trusted.
    let g = t.lock();
    drop(g);
    assert_eq!(t.header().lock_owner.load(Ordering::Relaxed), 0);
}

#[test]
fn convenience_constructors_for_adapters_and_tools() {
    let dir = TempDir::new("helpers");
    let path = dir.path().join("jk.shm");
    let server = ShmTable::file(&path, 1, 2).unwrap();
    let (m, _) = server.claim_member("lb", "tc1").unwrap();
    server.member(m).elected.store(7, Ordering::Relaxed);
    let tool = ShmTable::open_file(&path).unwrap();
    assert_eq!(tool.member(m).elected.load(Ordering::Relaxed), 7);
    assert_eq!(tool.member(m).name.load(), "tc1");
    let e = ShmTable::open_file(&dir.path().join("missing.shm")).unwrap_err();
    assert!(e.to_string().contains("missing.shm"), "{e}");
    let anon = ShmTable::anonymous(1, 1).unwrap();
    assert_eq!(anon.member_capacity(), 1);
}

/// A restart recreates the JkShmFile while the old generation still maps it: the old mapping
/// must stay whole (a truncated file would kill its readers with SIGBUS on the next access).
#[test]
fn recreating_the_shm_file_leaves_the_old_mapping_whole() {
    let dir = TempDir::new("recreate");
    let path = dir.path().join("jk.shm");
    let old = ShmTable::file(&path, 1, 64).unwrap();
    let (_, _) = old.claim_lb("lb").unwrap();
    let (m, _) = old.claim_member("lb", "n1").unwrap();
    old.member(m).lb_value.store(7, Ordering::Relaxed);
    // The new generation: a smaller table at the same path.
    let new = ShmTable::file(&path, 1, 1).unwrap();
    assert_eq!(new.used(), (0, 0), "a fresh table");
    // Every byte of the old mapping is still readable and keeps its values.
    assert_eq!(old.member(m).lb_value.load(Ordering::Relaxed), 7);
    assert_eq!(
        old.member(old.member_capacity() - 1)
            .lb_value
            .load(Ordering::Relaxed),
        0
    );
    let reader = ShmTable::attach(JkShmFile::open(&path).unwrap()).unwrap();
    assert_eq!(
        reader.member_capacity(),
        new.member_capacity(),
        "tools see the new file"
    );
}

#[test]
fn connection_settings_live_in_the_member_record_with_their_own_sequence() {
    use lb_core::balancer::{Balancer, ConnChange, LbSpec, MemberSpec};
    use lb_core::forward::{AjpWorkerSpec, Worker};
    use std::sync::Arc;
    let dir = TempDir::new("conn");
    let path = dir.path().join("jk.shm");
    let t = Arc::new(ShmTable::file(&path, 1, 2).unwrap());
    let lb = Balancer::new(
        &LbSpec::named("lb"),
        &[MemberSpec::named("tc1"), MemberSpec::named("tc2")],
        Arc::clone(&t),
        0,
    )
    .unwrap();
    let mut s1 = AjpWorkerSpec::new("tc1", "127.0.0.1:8009".parse().unwrap(), 1);
    s1.host = "localhost".into();
    let s2 = AjpWorkerSpec::new("tc2", "127.0.0.1:8010".parse().unwrap(), 1);
    let w = Worker::balanced("lb", vec![s1, s2], lb);

    // A tool mapping the file sees what the first process published.
    let tool = ShmTable::open_file(&path).unwrap();
    let (m1, _) = tool.claim_member("lb", "tc1").unwrap();
    let (m2, _) = tool.claim_member("lb", "tc2").unwrap();
    let c1 = &tool.member(m1).conn;
    assert_eq!(c1.host.load(), "localhost");
    assert_eq!(c1.port.load(Ordering::Relaxed), 8009);
    assert_eq!(c1.sequence.load(Ordering::Relaxed), 1);
    assert_eq!(c1.ping_timeout.load(Ordering::Relaxed), 10_000);
    let lb_sequence = tool.lb(0).sequence.load(Ordering::Relaxed);

    // A change bumps that member's sequence only; the lb's stays (choosing is not disturbed).
    w.balancer()
        .unwrap()
        .change_connection(0, ConnChange::ReplyTimeout(700))
        .unwrap();
    assert_eq!(c1.sequence.load(Ordering::Relaxed), 2);
    assert_eq!(c1.reply_timeout.load(Ordering::Relaxed), 700);
    assert_eq!(tool.member(m2).conn.sequence.load(Ordering::Relaxed), 1);
    assert_eq!(tool.lb(0).sequence.load(Ordering::Relaxed), lb_sequence);
}
