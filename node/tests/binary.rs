//! The `rjk-node` binary: flags, refusal to start without a secret, and SIGTERM.

mod common;

use std::process::Command;
use std::time::Duration;

use common::procs::rjk_node;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rjk-node"))
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn help_lists_every_flag() {
    let (code, text) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--route",
        "--ajp",
        "--secret",
        "--secret-file",
        "--no-secret",
        "--packet-size",
        "--allowed-request-attributes",
        "--max-connections",
        "--idle-timeout",
        "--http",
        "--log-level",
        "--app",
        "--session-timeout",
        "--shutdown-grace",
        "--session-file",
        "--context-path",
        "--session-save-interval",
        "--session-store",
        "--session-store-password-file",
        "--session-cache",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn refuses_to_start_without_a_secret_or_with_bad_flags() {
    let (code, text) = run(&["--route", "n1"]);
    assert_eq!(code, 2);
    assert!(text.contains("--no-secret"), "{text}");
    let (code, text) = run(&["--route", "n1", "--no-secret", "--packet-size", "100"]);
    assert_eq!(code, 2);
    assert!(text.contains("between 8192 and 65536"), "{text}");
    let (code, _) = run(&["--no-secret"]);
    assert_eq!(code, 2, "--route is required");
    // Sessions live in Redis or in the nodes' replication, not both.
    let (code, text) = run(&[
        "--route",
        "n1",
        "--no-secret",
        "--session-store",
        "redis://127.0.0.1:6379",
        "--cluster",
        "delta",
        "--cluster-insecure",
    ]);
    assert_eq!(code, 2);
    assert!(
        text.contains("--session-store and --cluster delta"),
        "{text}"
    );
}

#[test]
fn sigterm_stops_the_node_cleanly() {
    let mut n = rjk_node("n1", &["--no-secret"]);
    n.child.signal(15);
    rjk_tests::wait_until(
        "rjk-node to exit after SIGTERM",
        Duration::from_secs(15),
        || (!n.child.alive()).then_some(()),
    )
    .unwrap();
    assert!(std::net::TcpStream::connect(n.ajp).is_err());
}

#[test]
fn http_flag_serves_the_same_application() {
    let http = rjk_tests::free_port();
    let addr = format!("127.0.0.1:{http}");
    let _n = rjk_node("n7", &["--no-secret", "--http", &addr]);
    rjk_tests::wait_for_port(addr.parse().unwrap(), Duration::from_secs(15)).unwrap();
    let r = common::procs::curl(&format!("http://{addr}/session"), &[]);
    assert_eq!(r.status, 200);
    assert!(r
        .header("Set-Cookie")
        .unwrap()
        .contains(".n7; Path=/; HttpOnly"));
    let r = common::procs::curl(
        &format!("http://{addr}/upload"),
        &["--data-binary", "hello"],
    );
    assert_eq!(
        common::json_field(&r.text(), "sha256").unwrap(),
        common::sha256(b"hello")
    );
}
