//! Real processes for interop tests: rjk-node binaries, a private Debian apache2 and curl as
//! the HTTP client (Tomcat 10 is `rjk_tests::tomcat`, shared with the workspace's end-to-end
//! tests). Every process is stopped by pid (`rjk_tests::Child`), also when a test fails; a
//! missing binary fails the test with what to install.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rjk_tests::{free_port, wait_for_port, Child};

pub const APACHE2: &str = "/usr/sbin/apache2";
pub const MODULES: &str = "/usr/lib/apache2/modules";
pub const START: Duration = Duration::from_secs(30);

/// Fail (never skip) when a tool the test needs is missing: CI installs all of them.
pub fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the Debian package `{package}` (make test installs it)"
    );
}

/// A fresh directory for one test's state, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("rjk-node-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        // httpd children run as www-data and Tomcat may too: let them write here.
        let _ = Command::new("chmod").arg("0777").arg(&d).status();
        TempDir(d)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// An rjk-node process on a free loopback port.
pub struct NodeProc {
    pub child: Child,
    pub ajp: SocketAddr,
}

pub fn rjk_node(route: &str, args: &[&str]) -> NodeProc {
    let port = free_port();
    let ajp: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Child::spawn(
        &format!("rjk-node {route}"),
        Command::new(env!("CARGO_BIN_EXE_rjk-node"))
            .args([
                "--route",
                route,
                "--ajp",
                &ajp.to_string(),
                "--log-level",
                "warn",
            ])
            .args(args),
    )
    .unwrap();
    wait_for_port(ajp, START).unwrap();
    NodeProc { child, ajp }
}

/// A private apache2 (event MPM) on loopback with `body` appended to the base settings: the
/// workspace's launcher, with one child process and room for the 100-header tests.
pub struct Httpd(rjk_tests::httpd::Httpd);

impl Httpd {
    pub fn start(dir: &Path, body: &str) -> Httpd {
        require(APACHE2, "apache2");
        let body = format!("StartServers 1\nKeepAlive On\nLimitRequestFields 200\n{body}");
        Httpd(rjk_tests::httpd::Httpd::start(dir, rjk_tests::httpd::Mpm::Event, &body).unwrap())
    }

    pub fn port(&self) -> u16 {
        self.0.port
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.0.port)
    }

    pub fn error_log(&self) -> String {
        self.0.error_log()
    }
}

/// One HTTP exchange made with curl.
#[derive(Debug, Default)]
pub struct Http {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Http {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Run curl with `args` (plus a time limit), returning status, headers and body.
pub fn curl(url: &str, args: &[&str]) -> Http {
    require("/usr/bin/curl", "curl");
    let out = Command::new("curl")
        .args([
            "-s",
            "-S",
            "--max-time",
            "30",
            "-D",
            "/dev/stderr",
            "-o",
            "-",
        ])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = String::from_utf8_lossy(&out.stderr);
    // With 100-continue there are several heads: the last one is the answer.
    let last = head
        .split("\r\n\r\n")
        .filter(|h| h.starts_with("HTTP/"))
        .last()
        .unwrap_or("");
    let mut lines = last.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Http {
        status,
        headers,
        body: out.stdout,
    }
}
