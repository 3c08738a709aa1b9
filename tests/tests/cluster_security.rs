//! The replication port refuses a node with the wrong cluster secret (real processes): the
//! refusal is logged and counted, and nothing the intruder holds or changes reaches the cluster.
//! A member stopped with SIGTERM leaves (logged as a leave, not a loss).
//! (Replay of a recorded conversation and of a frame inside a connection: node/tests/cluster.rs.)

use rjk_tests::http;
use rjk_tests::replicated::{self, set_cookie_id, Member};
use rjk_tests::{free_port, wait_until};
use std::time::Duration;

#[test]
fn a_node_with_the_wrong_secret_is_refused_and_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("rjk-cluster-secret-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut ms = replicated::start(&dir, 2, &[]).unwrap();
    let r = http::get(ms[0].http_addr(), "/session", &[]).unwrap();
    assert!(set_cookie_id(&r).is_some());
    assert_eq!(ms[1].sessions(), Some(1));

    let peers = [ms[0].repl, ms[1].repl];
    let mut intruder = Member::new(
        &dir,
        "x",
        free_port(),
        &peers,
        &["--cluster-secret", "not-the-secret"],
    );
    intruder.start().unwrap();
    let r = http::get(intruder.http_addr(), "/session", &[]).unwrap();
    assert_eq!(r.status, 200);
    wait_until("both members to refuse it", Duration::from_secs(10), || {
        ms.iter()
            .all(|m| m.metric("rejected_peers_total").unwrap_or(0) >= 1)
            .then_some(())
    })
    .unwrap();
    for m in &ms {
        assert!(
            m.log().contains("refused replication peer"),
            "{} logs the refusal:\n{}",
            m.route,
            m.log()
        );
        assert_eq!(
            m.sessions(),
            Some(1),
            "{}: the intruder's session stays out",
            m.route
        );
        assert!(!m.view().contains("\"route\":\"x\""), "{}", m.view());
    }
    assert_eq!(intruder.sessions(), Some(1), "and it got none of theirs");
    assert!(
        intruder.log().contains("authentication failed"),
        "{}",
        intruder.log()
    );
    intruder.kill();
    // A graceful stop is a leave, not a failure.
    ms[1].terminate();
    wait_until("n1 to see n2 leave", Duration::from_secs(10), || {
        ms[0].log().contains("(route n2) left").then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ms[0].log()));
    assert!(!ms[0].log().contains("(route n2) lost"), "{}", ms[0].log());
    for m in &mut ms {
        m.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A member that stops answering (SIGSTOP) costs one request the replication timeout, no
/// more: it becomes suspect, fails its check, is evicted; after SIGCONT it catches up.
#[test]
fn a_silent_member_delays_one_request_then_is_evicted_and_catches_up() {
    let dir = std::env::temp_dir().join(format!("rjk-cluster-silent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut ms = replicated::start(&dir, 2, &["--replication-timeout", "300"]).unwrap();
    let n1 = ms[0].http_addr();
    ms[1].pause();
    let t = std::time::Instant::now();
    let r = http::get(n1, "/session", &[]).unwrap();
    let first = t.elapsed();
    assert_eq!(r.status, 200);
    let id = set_cookie_id(&r).unwrap();
    assert!(
        first >= Duration::from_millis(300) && first < Duration::from_secs(3),
        "waited for the acknowledgement up to the timeout: {first:?}"
    );
    assert!(
        ms[0].log().contains("no acknowledgement within 300ms"),
        "{}",
        ms[0].log()
    );
    // Suspect: the next requests do not wait for it.
    let t = std::time::Instant::now();
    for _ in 0..5 {
        let r = http::get(n1, "/session", &[("Cookie", &format!("JSESSIONID={id}"))]).unwrap();
        assert_eq!(r.status, 200);
    }
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    wait_until("n1 to evict n2", Duration::from_secs(10), || {
        ms[0].log().contains("evicted: check failed").then_some(())
    })
    .unwrap();
    // Changes made while it is evicted reach it only by the re-synchronisation.
    for _ in 0..2 {
        let r = http::get(n1, "/session", &[("Cookie", &format!("JSESSIONID={id}"))]).unwrap();
        assert_eq!(r.status, 200);
    }
    ms[1].signal(libc::SIGCONT);
    // Asking n2 before it caught up would make it take the session over with what it has: the
    // balancer does not send it there while n1 lives, and neither does the test.
    wait_until("n2 to re-synchronise", Duration::from_secs(10), || {
        ms[1]
            .log()
            .contains("is back: re-synchronised")
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", ms[0].log(), ms[1].log()));
    let r = http::get(
        ms[1].http_addr(),
        "/get?counter",
        &[("Cookie", &format!("JSESSIONID={id}"))],
    )
    .unwrap();
    assert_eq!(
        replicated::json_field(&r.text(), "counter").as_deref(),
        Some("8"),
        "n2 caught up: {}",
        r.text()
    );
    for m in &mut ms {
        m.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
