//! Debian's Tomcat 10 as an AJP backend: a private CATALINA_BASE per instance (its own
//! server.xml, ports, logs and a ROOT webapp whose pages answer like rjk-node's demo), started
//! with `catalina.sh run` and stopped by pid.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::proc::{free_port, wait_for_port, Child};

pub const TOMCAT_HOME: &str = "/usr/share/tomcat10";
/// JVM start and webapp deployment on a busy machine: generous.
pub const START: Duration = Duration::from_secs(90);

/// How one Tomcat is set up.
#[derive(Clone, Debug)]
pub struct TomcatConfig {
    /// The Engine's jvmRoute: the suffix of its session ids (`.t1`).
    pub route: String,
    /// The AJP connector's `secret` (required when set); `None` accepts requests without one.
    pub secret: Option<String>,
    pub packet_size: usize,
}

impl TomcatConfig {
    pub fn new(route: &str, secret: Option<&str>) -> TomcatConfig {
        TomcatConfig {
            route: route.to_owned(),
            secret: secret.map(str::to_owned),
            packet_size: 8192,
        }
    }
}

pub struct Tomcat {
    pub child: Child,
    pub ajp: SocketAddr,
    pub base: PathBuf,
}

impl Tomcat {
    /// Start Tomcat in `base` and wait (up to `START`) until its AJP connector accepts: the
    /// connector starts after the webapps are deployed.
    pub fn start(base: &Path, cfg: &TomcatConfig) -> io::Result<Tomcat> {
        let t = Tomcat::spawn(base, cfg)?;
        wait_for_port(t.ajp, START).map_err(|e| t.explain(e))?;
        Ok(t)
    }

    /// Start several at once (each JVM start takes seconds) and wait for all of them.
    pub fn start_all(configs: &[(PathBuf, TomcatConfig)]) -> io::Result<Vec<Tomcat>> {
        let spawned = configs
            .iter()
            .map(|(base, cfg)| Tomcat::spawn(base, cfg))
            .collect::<io::Result<Vec<_>>>()?;
        for t in &spawned {
            wait_for_port(t.ajp, START).map_err(|e| t.explain(e))?;
        }
        Ok(spawned)
    }

    fn spawn(base: &Path, cfg: &TomcatConfig) -> io::Result<Tomcat> {
        assert!(
            Path::new(TOMCAT_HOME).join("bin/catalina.sh").exists(),
            "{TOMCAT_HOME}/bin/catalina.sh is missing: install the Debian package `tomcat10` (make test installs it)"
        );
        let (http, ajp, shutdown) = (free_port(), free_port(), free_port());
        for sub in ["conf", "logs", "temp", "work", "webapps/ROOT"] {
            std::fs::create_dir_all(base.join(sub))?;
        }
        for f in ["web.xml", "context.xml", "catalina.properties"] {
            std::fs::copy(format!("/etc/tomcat10/{f}"), base.join("conf").join(f))?;
        }
        std::fs::write(
            base.join("conf/logging.properties"),
            "handlers = java.util.logging.ConsoleHandler\n.level = WARNING\n",
        )?;
        let secret_attr = match &cfg.secret {
            Some(s) => format!("secret=\"{s}\" secretRequired=\"true\""),
            None => "secretRequired=\"false\"".into(),
        };
        std::fs::write(
            base.join("conf/server.xml"),
            format!(
                "<Server port=\"{shutdown}\" shutdown=\"SHUTDOWN\"><Service name=\"Catalina\">\n\
                 <Connector port=\"{http}\" address=\"127.0.0.1\" protocol=\"HTTP/1.1\"/>\n\
                 <Connector port=\"{ajp}\" address=\"127.0.0.1\" protocol=\"AJP/1.3\" \
                 {secret_attr} packetSize=\"{size}\" maxThreads=\"50\"/>\n\
                 <Engine name=\"Catalina\" defaultHost=\"localhost\" jvmRoute=\"{route}\">\n\
                 <Host name=\"localhost\" appBase=\"webapps\" unpackWARs=\"false\" \
                 autoDeploy=\"false\"/></Engine></Service></Server>\n",
                size = cfg.packet_size,
                route = cfg.route
            ),
        )?;
        let root = base.join("webapps/ROOT");
        std::fs::write(root.join("1k"), vec![b'x'; 1024])?;
        std::fs::write(root.join("upload.jsp"), UPLOAD_JSP)?;
        std::fs::write(
            root.join("session.jsp"),
            SESSION_JSP.replace("@ROUTE@", &cfg.route),
        )?;
        let child = Child::spawn(
            &format!("tomcat {}", cfg.route),
            Command::new(format!("{TOMCAT_HOME}/bin/catalina.sh"))
                .arg("run")
                .env("CATALINA_BASE", base)
                .env("CATALINA_HOME", TOMCAT_HOME)
                .env(
                    "JAVA_OPTS",
                    "-Xms128m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
                )
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(base.join("logs/console.log"))?),
        )?;
        Ok(Tomcat {
            child,
            ajp: SocketAddr::from(([127, 0, 0, 1], ajp)),
            base: base.to_owned(),
        })
    }

    /// Tomcat's console output (its log at WARNING and above, and any JVM error).
    pub fn console_log(&self) -> String {
        std::fs::read_to_string(self.base.join("logs/console.log")).unwrap_or_default()
    }

    fn explain(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("{e}\nTomcat console.log:\n{}", self.console_log()),
        )
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

/// The demo's `/session`: a counter in the session, and the instance named in `X-Rjk-Node`
/// (as every demo answer does) so a test sees which Tomcat served without trusting the id.
const SESSION_JSP: &str = r#"<%@ page contentType="application/json" trimDirectiveWhitespaces="true" %><%
response.setHeader("X-Rjk-Node", "@ROUTE@");
Integer c = (Integer) session.getAttribute("counter"); c = (c == null) ? 1 : c + 1;
session.setAttribute("counter", c);
out.print("{\"route\":\"@ROUTE@\",\"id\":\"" + session.getId() + "\",\"counter\":" + c + "}");
%>"#;
