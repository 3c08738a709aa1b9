//! `rjk_pass` behind nginx's other request paths: HTTP/2 (cleartext, prior knowledge, curl as
//! the client) with request bodies of known and unknown length, and subrequests (an SSI
//! include, `auth_request`) whose target location forwards to the backend.

use std::path::{Path, PathBuf};
use std::process::Command;

use rjk_tests::cluster::{lb_workers, nodes};
use rjk_tests::nginx::Nginx;
use rjk_tests::proc::free_port;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-ngx-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// curl with `args`; its stdout, or a panic with its stderr.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256_hex(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn http2_requests_and_bodies_reach_the_backend() {
    let nodes = nodes(&["n1"]);
    let d = dir("h2");
    std::fs::write(d.join("workers.properties"), lb_workers(&nodes, &[], "")).unwrap();
    let h2 = free_port();
    let http = format!(
        "  rjk_workers_file {}/workers.properties;\n  \
         server {{ listen 127.0.0.1:{h2} http2; location / {{ rjk_pass lb; }} }}",
        d.display()
    );
    let nginx = Nginx::start(&d, 2, &http, "    location / { rjk_pass lb; }").unwrap();
    let base = format!("http://127.0.0.1:{h2}");
    let h2c = |path: &str, more: &[&str]| {
        let url = format!("{base}{path}");
        let mut args = vec![
            "--http2-prior-knowledge",
            "-D",
            "-",
            "-w",
            "\n%{http_version} %{http_code}",
        ];
        args.extend_from_slice(more);
        args.push(&url);
        curl(&args)
    };
    let out = h2c("/1k", &[]);
    assert!(out.ends_with("\n2 200"), "{out}");
    assert!(out.contains("x-rjk-node: n1"), "{out}");

    // 1 MiB with a Content-Length.
    let body: Vec<u8> = (0..1_048_576u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let file = d.join("body");
    std::fs::write(&file, &body).unwrap();
    let sha = sha256_hex(&file);
    let at = format!("@{}", file.display());
    let out = h2c("/upload", &["--data-binary", &at]);
    assert!(out.ends_with("\n2 200"), "{out}");
    assert!(out.contains(&sha), "with a length: {out}");
    assert!(out.contains("\"length\":1048576"), "{out}");

    // The same without a length (HTTP/2 has no chunked encoding: the body just ends).
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat {} | curl -sS --max-time 20 --http2-prior-knowledge -X POST -T - \
             -w '\n%{{http_version}} %{{http_code}}' {base}/upload",
            file.display()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.ends_with("\n2 200"),
        "{out}{err}\n{}",
        nginx.error_log()
    );
    assert!(out.contains(&sha), "without a length: {out}");

    // A client that gives up while the backend thinks: its stream ends, so does the request
    // (499), long before the backend would have answered.
    let started = std::time::Instant::now();
    let gave_up = Command::new("curl")
        .args(["-sS", "--max-time", "1", "--http2-prior-knowledge"])
        .arg(format!("{base}/slow?ms=8000"))
        .output()
        .unwrap();
    assert!(!gave_up.status.success());
    let logged = rjk_tests::wait_until("the 499", std::time::Duration::from_secs(5), || {
        std::fs::read_to_string(d.join("access.log"))
            .ok()?
            .lines()
            .any(|l| l.ends_with(" 499 /slow?ms=8000"))
            .then_some(())
    });
    assert!(logged.is_ok(), "{}", nginx.error_log());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn subrequests_forward_ssi_includes_and_auth_request() {
    let nodes = nodes(&["n1"]);
    let d = dir("subrequests");
    std::fs::write(d.join("workers.properties"), lb_workers(&nodes, &[], "")).unwrap();
    let http = format!("  rjk_workers_file {}/workers.properties;", d.display());
    let nginx = Nginx::start(
        &d,
        2,
        &http,
        "    location = /page.html { root html; ssi on; }\n    \
         location /1k { rjk_pass lb; }\n    \
         location /status/ { rjk_pass lb; }\n    \
         location /open/ { auth_request /status/204; rjk_pass lb; }\n    \
         location /closed/ { auth_request /status/401; rjk_pass lb; }",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("html")).unwrap();
    std::fs::write(
        d.join("html/page.html"),
        "before\n<!--# include virtual=\"/1k\" -->\nafter\n",
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", nginx.port);
    let code = "\n%{http_code}";

    let page = curl(&["-w", code, &format!("{base}/page.html")]);
    let one_k = curl(&[&format!("{base}/1k")]);
    assert_eq!(one_k.len(), 1024);
    assert_eq!(
        page,
        format!("before\n{one_k}\nafter\n\n200"),
        "the include"
    );

    // auth_request's subrequest answers 204: the request goes on (to the node: 404 there).
    let open = curl(&["-w", code, &format!("{base}/open/x")]);
    assert!(open.ends_with("\n404"), "{open}");
    let closed = curl(&["-w", code, &format!("{base}/closed/x")]);
    assert!(closed.ends_with("\n401"), "{closed}");

    // And the same once more on reused connections.
    let page = curl(&["-w", code, &format!("{base}/page.html")]);
    assert!(page.ends_with("after\n\n200"), "{page}");
    assert!(
        !nginx.error_log().contains("[alert]"),
        "{}",
        nginx.error_log()
    );
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}
