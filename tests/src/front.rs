//! The front end under test, whichever web server and connector it is: the reliability suite is
//! written once against [`FrontEnd`] and runs for each. A front end takes a workers.properties
//! and a uriworkermap (both formats every front end reads), listens on a loopback port, can be
//! reloaded gracefully, and shows its log files (for scans).
//!
//! Adding a front end (nginx + ngx_module) is one variant here: how to start it with those two
//! files, and how to reload it.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cluster::Connector;
use crate::httpd::{Httpd, Mpm, APACHE2};
use crate::proc::wait_until;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontEnd {
    /// Debian's apache2 with our mod_rjk.
    HttpdRjk,
    /// Debian's apache2 with Debian's mod_jk 1.2.x: the reference, reported on, not asserted.
    HttpdModJk,
}

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
    pub const ASSERTED: &'static [FrontEnd] = &[FrontEnd::HttpdRjk];

    pub fn name(self) -> &'static str {
        match self {
            FrontEnd::HttpdRjk => "httpd+mod_rjk",
            FrontEnd::HttpdModJk => "httpd+mod_jk",
        }
    }

    /// Server settings (for `Setup::extra`) that run the connector's maintenance every second
    /// even without traffic, so recovery tests need not wait long.
    pub fn maintenance_every_second(self) -> String {
        match self {
            FrontEnd::HttpdRjk | FrontEnd::HttpdModJk => "JkWatchdogInterval 1\n".into(),
        }
    }

    pub fn start(self, dir: &Path, setup: &Setup<'_>) -> io::Result<Front> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("workers.properties"), setup.workers)?;
        std::fs::write(dir.join("uriworkermap.properties"), setup.mounts)?;
        let connector = match self {
            FrontEnd::HttpdRjk => Connector::ModRjk,
            FrontEnd::HttpdModJk => Connector::ModJk,
        };
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
        let httpd = Httpd::start_wrapped(dir, Mpm::Event, &body, setup.wrapper)?;
        Ok(Front {
            kind: self,
            dir: dir.to_owned(),
            httpd,
            generations: 1,
        })
    }
}

/// A running front end.
pub struct Front {
    pub kind: FrontEnd,
    pub dir: PathBuf,
    httpd: Httpd,
    generations: usize,
}

impl Front {
    pub fn addr(&self) -> SocketAddr {
        self.httpd.addr()
    }

    /// Reload without dropping connections (`apache2 -k graceful`), and wait until the new
    /// generation serves.
    pub fn reload(&mut self) -> io::Result<()> {
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

    /// Every log file the front end wrote, by file name.
    pub fn logs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.dir.join("logs")) {
            for e in rd.flatten() {
                let text = std::fs::read(e.path()).unwrap_or_default();
                out.push((
                    e.file_name().to_string_lossy().into_owned(),
                    String::from_utf8_lossy(&text).into_owned(),
                ));
            }
        }
        out
    }

    /// The server's main pid (its children are found under it).
    pub fn pid(&self) -> i32 {
        self.httpd.pid()
    }

    pub fn stop(self) {
        let dir = self.dir.clone();
        self.httpd.stop();
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
