//! The front end under test, whichever web server and connector it is: the reliability suite is
//! written once against [`FrontEnd`] and runs for each. A front end takes a workers.properties
//! and a uriworkermap (both formats every front end reads), listens on a loopback port, can be
//! reloaded gracefully, and shows its log files (for scans).
//!
//! Adding a front end is one variant here: how to start it with those two files, and how to
//! reload it.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cluster::Connector;
use crate::httpd::{Httpd, Mpm, APACHE2};
use crate::nginx::Nginx;
use crate::proc::wait_until;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontEnd {
    /// Debian's apache2 with our mod_rjk.
    HttpdRjk,
    /// Debian's apache2 with Debian's mod_jk 1.2.x: the reference, reported on, not asserted.
    HttpdModJk,
    /// Debian's nginx with our ngx_module.
    NginxRjk,
}

/// nginx's worker processes: more than one, so that state shared between processes counts.
const NGINX_PROCESSES: usize = 2;

/// What a front end is started with.
pub struct Setup<'a> {
    pub workers: &'a str,
    /// uriworkermap.properties lines (`/app/*=w`, `!/app/private/*=w`).
    pub mounts: &'a str,
    /// JkLogLevel (or the front end's equivalent): `error` .. `trace`.
    pub log_level: &'a str,
    /// Extra server settings in the front end's own syntax (e.g. `JkOptions` lines).
    pub extra: &'a str,
    /// Paths the web server itself denies to everyone (its own access control, in front of
    /// any mount): what path tricks must not get around.
    pub denied: &'a [&'a str],
    /// A command that runs the server (its program and arguments appended), e.g. `unshare`.
    pub wrapper: &'a [&'a str],
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            workers: "",
            mounts: "",
            log_level: "error",
            extra: "",
            denied: &[],
            wrapper: &[],
        }
    }
}

impl FrontEnd {
    /// The front ends whose behaviour the suite asserts.
    pub const ASSERTED: &'static [FrontEnd] = &[FrontEnd::HttpdRjk, FrontEnd::NginxRjk];

    /// Every front end: the asserted ones, then the reference.
    pub const ALL: &'static [FrontEnd] =
        &[FrontEnd::HttpdRjk, FrontEnd::NginxRjk, FrontEnd::HttpdModJk];

    pub fn name(self) -> &'static str {
        match self {
            FrontEnd::HttpdRjk => "httpd+mod_rjk",
            FrontEnd::HttpdModJk => "httpd+mod_jk",
            FrontEnd::NginxRjk => "nginx+ngx_module",
        }
    }

    /// Server settings (for `Setup::extra`) that run the connector's maintenance every second
    /// even without traffic, so recovery tests need not wait long.
    pub fn maintenance_every_second(self) -> String {
        match self {
            FrontEnd::HttpdRjk | FrontEnd::HttpdModJk => "JkWatchdogInterval 1\n".into(),
            // Each worker process runs maintenance on a one-second timer already.
            FrontEnd::NginxRjk => String::new(),
        }
    }

    pub fn start(self, dir: &Path, setup: &Setup<'_>) -> io::Result<Front> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("workers.properties"), setup.workers)?;
        std::fs::write(dir.join("uriworkermap.properties"), setup.mounts)?;
        let server = match self {
            FrontEnd::HttpdRjk => Server::Httpd(start_httpd(Connector::ModRjk, dir, setup)?),
            FrontEnd::HttpdModJk => Server::Httpd(start_httpd(Connector::ModJk, dir, setup)?),
            FrontEnd::NginxRjk => Server::Nginx(start_nginx(dir, setup)?),
        };
        Ok(Front {
            kind: self,
            dir: dir.to_owned(),
            server,
            generations: 1,
        })
    }
}

fn start_httpd(connector: Connector, dir: &Path, setup: &Setup<'_>) -> io::Result<Httpd> {
    let denied: String = setup
        .denied
        .iter()
        .map(|p| format!("<Location {p}>\n  Require all denied\n</Location>\n"))
        .collect();
    let body = format!(
        "{load}{denied}\
         LogFormat \"%h %r %>s %b\" plain\nCustomLog {d}/logs/access.log plain\n\
         JkWorkersFile {d}/workers.properties\nJkMountFile {d}/uriworkermap.properties\n\
         JkShmFile {d}/run/jk.shm\nJkLogFile {d}/logs/jk.log\nJkLogLevel {level}\n{extra}\n",
        load = connector.load_line(),
        d = dir.display(),
        level = setup.log_level,
        extra = setup.extra,
    );
    Httpd::start_wrapped(dir, Mpm::Event, &body, setup.wrapper)
}

/// nginx reads both files in its `http` block. The module normalises a mapped URI before nginx
/// picks the location and serves it after the access phase, so `deny all` holds for the path a
/// mount maps, as httpd's `Require` does in front of mod_rjk.
fn start_nginx(dir: &Path, setup: &Setup<'_>) -> io::Result<Nginx> {
    let http = format!(
        "  rjk_workers_file {d}/workers.properties;\n  rjk_mount_file {d}/uriworkermap.properties;\n  \
         rjk_log_level {level};\n{extra}",
        d = dir.display(),
        level = setup.log_level,
        extra = setup.extra,
    );
    let locations: String = setup
        .denied
        .iter()
        .map(|p| format!("    location {p} {{ deny all; }}\n"))
        .collect();
    Nginx::start_wrapped(dir, NGINX_PROCESSES, &http, &locations, setup.wrapper)
}

enum Server {
    Httpd(Httpd),
    Nginx(Nginx),
}

/// A running front end.
pub struct Front {
    pub kind: FrontEnd,
    pub dir: PathBuf,
    server: Server,
    generations: usize,
}

impl Front {
    pub fn addr(&self) -> SocketAddr {
        match &self.server {
            Server::Httpd(h) => h.addr(),
            Server::Nginx(n) => n.addr(),
        }
    }

    /// Reload without dropping connections (`apache2 -k graceful`, `nginx -s reload`), and
    /// wait until the new generation serves.
    pub fn reload(&mut self) -> io::Result<()> {
        if let Server::Nginx(n) = &self.server {
            // `nginx -s reload` is SIGHUP to the master named in the pid file.
            return n.reload(NGINX_PROCESSES);
        }
        let out = Command::new(APACHE2)
            .arg("-d")
            .arg(&self.dir)
            .arg("-f")
            .arg(self.dir.join("httpd.conf"))
            .args(["-k", "graceful"])
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        self.generations += 1;
        let want = self.generations;
        let log = self.dir.join("logs/error.log");
        wait_until("the new generation", Duration::from_secs(20), || {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|l| l.matches("resuming normal operations").count() >= want)
                .map(|_| ())
        })
    }

    /// Every log file the front end wrote, by file name: all of httpd's `logs/`, nginx's
    /// `*.log` in the directory itself (next to the configuration, which is no log).
    pub fn logs(&self) -> Vec<(String, String)> {
        let files = |dir: PathBuf| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect::<Vec<_>>()
        };
        let mut paths = files(self.dir.join("logs"));
        paths.extend(
            files(self.dir.clone())
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "log")),
        );
        paths
            .into_iter()
            .map(|p| {
                let text = std::fs::read(&p).unwrap_or_default();
                (
                    p.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                    String::from_utf8_lossy(&text).into_owned(),
                )
            })
            .collect()
    }

    /// The server's main pid (its children are found under it).
    pub fn pid(&self) -> i32 {
        match &self.server {
            Server::Httpd(h) => h.pid(),
            Server::Nginx(n) => n.pid(),
        }
    }

    pub fn stop(self) {
        let dir = self.dir.clone();
        match self.server {
            Server::Httpd(h) => h.stop(),
            Server::Nginx(n) => n.stop(),
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A fresh per-test directory under the system temp dir.
pub fn test_dir(suite: &str, case: &str, fe: FrontEnd) -> PathBuf {
    std::env::temp_dir().join(format!(
        "rjk-{suite}-{case}-{}-{}",
        fe.name().replace('+', "-"),
        std::process::id()
    ))
}
