//! Multicast membership, in a network namespace the test creates (`unshare --net`, with a
//! multicast route on its own loopback): three nodes find each other by heartbeats alone; a
//! killed node leaves within the drop time; a node stopped with SIGSTOP for longer than that is
//! suspected, fails its TCP check, is evicted, and after SIGCONT comes back and catches up with
//! what changed meanwhile; a restarted node gets every session before its AJP port opens.
//!
//! The test re-runs itself inside the namespace (nothing outside it sees the multicast).

use std::process::Command;
use std::time::{Duration, Instant};

use rjk_tests::http;
use rjk_tests::replicated::{self, set_cookie_id};
use rjk_tests::wait_until;

const INSIDE: &str = "RJK_TEST_IN_NETNS";
const HEARTBEAT_MS: u64 = 100;
const DROP_MS: u64 = 600;

#[test]
fn multicast_membership_in_a_network_namespace() {
    if std::env::var_os(INSIDE).is_some() {
        return scenario();
    }
    let me = std::env::current_exe().unwrap();
    let setup = "ip link set lo up && ip link set lo multicast on && \
                 ip route add 224.0.0.0/4 dev lo && exec \"$0\" \"$@\"";
    let out = Command::new("unshare")
        .args(["--net", "--map-root-user", "sh", "-c", setup])
        .arg(&me)
        .args([
            "--exact",
            "multicast_membership_in_a_network_namespace",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(INSIDE, "1")
        .output()
        .expect("unshare (util-linux) runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "inside the namespace:\n{text}");
    assert!(text.contains("1 passed"), "the scenario ran:\n{text}");
}

fn scenario() {
    let dir = std::env::temp_dir().join(format!("rjk-cluster-mcast-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (hb, drop) = (HEARTBEAT_MS.to_string(), DROP_MS.to_string());
    let flags = [
        "--cluster-multicast",
        "228.0.0.4:45564",
        "--cluster-interface",
        "127.0.0.1",
        "--cluster-heartbeat",
        &hb,
        "--cluster-drop-time",
        &drop,
    ];
    // No static list: they can only have found each other by heartbeats.
    let mut ms = replicated::start_listing(&dir, 3, false, &flags).unwrap();
    let r = http::get(ms[0].http_addr(), "/session", &[]).unwrap();
    let first = set_cookie_id(&r).unwrap();
    for m in &ms {
        assert_eq!(m.sessions(), Some(1), "{}", m.route);
    }

    // kill -9 n3: gone from the others' views within the drop time.
    let t = Instant::now();
    ms[2].kill();
    wait_until("n3 to leave", Duration::from_millis(DROP_MS), || {
        (ms[0].state_of("n3").as_deref() == Some("down")
            && ms[1].state_of("n3").as_deref() == Some("down"))
        .then_some(())
    })
    .unwrap();
    eprintln!("killed n3 left the views after {:?}", t.elapsed());

    // SIGSTOP n2 for longer than the drop time: suspected, checked, evicted.
    ms[1].pause();
    let stopped = Instant::now();
    wait_until(
        "n1 to evict the stopped n2",
        Duration::from_secs(10),
        || (ms[0].state_of("n2").as_deref() == Some("down")).then_some(()),
    )
    .unwrap();
    let evicted_after = stopped.elapsed();
    assert!(
        evicted_after >= Duration::from_millis(DROP_MS),
        "not before the drop time: {evicted_after:?}"
    );
    let log = ms[0].log();
    assert!(log.contains("is suspect (no heartbeat for"), "{log}");
    assert!(log.contains("evicted: check failed"), "{log}");
    // Changes while n2 is away: a new session, and the first one invalidated.
    let r = http::get(ms[0].http_addr(), "/session", &[]).unwrap();
    let during = set_cookie_id(&r).unwrap();
    let r = http::get(
        ms[0].http_addr(),
        "/invalidate",
        &[("Cookie", &format!("JSESSIONID={first}"))],
    )
    .unwrap();
    assert!(r.text().contains("\"invalidated\":true"));

    ms[1].signal(libc::SIGCONT);
    wait_until("n1 and n2 to converge", Duration::from_secs(10), || {
        (ms[0].state_of("n2").as_deref() == Some("live")
            && ms[1].state_of("n1").as_deref() == Some("live")
            && ms[1].log().contains("is back: re-synchronised")
            && ms[1].sessions() == Some(1))
        .then_some(())
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nn1 {} sees {}\n{}\nn2 {:?} sees {}\n{}",
            ms[0].sessions().unwrap_or(0),
            ms[0].view(),
            ms[0].log(),
            ms[1].sessions(),
            ms[1].view(),
            ms[1].log()
        )
    });
    eprintln!("n2 stopped {evicted_after:?} before eviction, converged after SIGCONT");
    let r = http::get(
        ms[1].http_addr(),
        "/get?id",
        &[("Cookie", &format!("JSESSIONID={during}"))],
    )
    .unwrap();
    assert!(
        r.text().contains(&during[..32]),
        "n2 has the session made while it was stopped: {}",
        r.text()
    );
    let r = http::get(
        ms[1].http_addr(),
        "/get?id",
        &[("Cookie", &format!("JSESSIONID={first}"))],
    )
    .unwrap();
    assert_eq!(
        r.text(),
        "{\"id\":null,\"id\":null}",
        "and not the one invalidated meanwhile"
    );

    // n3 comes back: found by heartbeats, and it has the session before serving.
    ms[2].start().unwrap();
    assert_eq!(ms[2].sessions(), Some(1), "{}", ms[2].log());
    for m in &mut ms {
        m.kill();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
