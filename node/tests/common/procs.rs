//! Real processes for interop tests: rjk-node binaries, a private Debian apache2, Tomcat 10,
//! and curl as the HTTP client. Every process is stopped by pid (`rjk_tests::Child`), also
//! when a test fails; a missing binary fails the test with what to install.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rjk_tests::{free_port, wait_for_port, Child};

pub const APACHE2: &str = "/usr/sbin/apache2";
pub const MODULES: &str = "/usr/lib/apache2/modules";
pub const TOMCAT_HOME: &str = "/usr/share/tomcat10";
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

/// Tomcat 10 with a private CATALINA_BASE: jvmRoute `route`, an AJP connector (with
/// `secret` when given) and a ROOT webapp whose pages answer like the demo's.
pub struct Tomcat {
    pub child: Child,
    pub ajp: SocketAddr,
}

impl Tomcat {
    pub fn start(base: &Path, route: &str, secret: Option<&str>, packet_size: usize) -> Tomcat {
        require(&format!("{TOMCAT_HOME}/bin/catalina.sh"), "tomcat10");
        let (http, ajp, shutdown) = (free_port(), free_port(), free_port());
        for sub in ["conf", "logs", "temp", "work", "webapps/ROOT"] {
            std::fs::create_dir_all(base.join(sub)).unwrap();
        }
        for f in ["web.xml", "context.xml", "catalina.properties"] {
            std::fs::copy(format!("/etc/tomcat10/{f}"), base.join("conf").join(f)).unwrap();
        }
        std::fs::write(
            base.join("conf/logging.properties"),
            "handlers = java.util.logging.ConsoleHandler\n.level = WARNING\n",
        )
        .unwrap();
        let secret_attr = match secret {
            Some(s) => format!("secret=\"{s}\""),
            None => "secretRequired=\"false\"".into(),
        };
        std::fs::write(
            base.join("conf/server.xml"),
            format!(
                "<Server port=\"{shutdown}\" shutdown=\"SHUTDOWN\"><Service name=\"Catalina\">\n\
                 <Connector port=\"{http}\" address=\"127.0.0.1\" protocol=\"HTTP/1.1\"/>\n\
                 <Connector port=\"{ajp}\" address=\"127.0.0.1\" protocol=\"AJP/1.3\" \
                 {secret_attr} packetSize=\"{packet_size}\" maxThreads=\"50\"/>\n\
                 <Engine name=\"Catalina\" defaultHost=\"localhost\" jvmRoute=\"{route}\">\n\
                 <Host name=\"localhost\" appBase=\"webapps\" unpackWARs=\"false\" \
                 autoDeploy=\"false\"/></Engine></Service></Server>\n"
            ),
        )
        .unwrap();
        let root = base.join("webapps/ROOT");
        std::fs::write(root.join("1k"), vec![b'x'; 1024]).unwrap();
        std::fs::write(root.join("upload.jsp"), UPLOAD_JSP).unwrap();
        std::fs::write(root.join("session.jsp"), SESSION_JSP).unwrap();
        let child = Child::spawn(
            "tomcat",
            Command::new(format!("{TOMCAT_HOME}/bin/catalina.sh"))
                .arg("run")
                .env("CATALINA_BASE", base)
                .env("CATALINA_HOME", TOMCAT_HOME)
                .env(
                    "JAVA_OPTS",
                    "-Xms128m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
                )
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(base.join("logs/console.log")).unwrap()),
        )
        .unwrap();
        let ajp: SocketAddr = format!("127.0.0.1:{ajp}").parse().unwrap();
        wait_for_port(ajp, Duration::from_secs(90)).unwrap();
        Tomcat { child, ajp }
    }
}

/// Reads the body as it streams and answers with the demo's `/upload` JSON.
const UPLOAD_JSP: &str = r#"<%@ page contentType="application/json" trimDirectiveWhitespaces="true" %><%
java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
java.io.InputStream in = request.getInputStream();
byte[] buf = new byte[65536]; long len = 0; int n;
while ((n = in.read(buf)) > 0) { md.update(buf, 0, n); len += n; }
StringBuilder hex = new StringBuilder();
for (byte b : md.digest()) hex.append(String.format("%02x", b));
out.print("{\"length\":" + len + ",\"sha256\":\"" + hex + "\"}");
%>"#;

/// The demo's `/session`: a counter in the session.
const SESSION_JSP: &str = r#"<%@ page contentType="application/json" trimDirectiveWhitespaces="true" %><%
Integer c = (Integer) session.getAttribute("counter"); c = (c == null) ? 1 : c + 1;
session.setAttribute("counter", c);
out.print("{\"id\":\"" + session.getId() + "\",\"counter\":" + c + "}");
%>"#;
