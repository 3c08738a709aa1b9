//! A private Debian apache2 on loopback: its own ServerRoot, config, logs and pid file in a
//! directory the test owns, stopped by pid when dropped.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::{free_port, wait_for_port, Child};

pub const MODULES: &str = "/usr/lib/apache2/modules";
pub const APACHE2: &str = "/usr/sbin/apache2";

pub struct Httpd {
    pub dir: PathBuf,
    pub port: u16,
    child: Child,
}

/// Which MPM the server runs.
#[derive(Clone, Copy, Debug)]
pub enum Mpm {
    Event,
    Prefork,
    Worker,
}

impl Httpd {
    /// Write `dir/httpd.conf` (the base settings plus `body`) and start apache2 with it.
    /// `body` typically loads the module under test and configures it.
    pub fn start(dir: &Path, mpm: Mpm, body: &str) -> io::Result<Httpd> {
        Httpd::start_wrapped(dir, mpm, body, &[])
    }

    /// `start`, with apache2 run by `wrapper` (e.g. `unshare ... sh -c ... "$@"`): the wrapper
    /// gets apache2 and its arguments as its own trailing arguments.
    pub fn start_wrapped(dir: &Path, mpm: Mpm, body: &str, wrapper: &[&str]) -> io::Result<Httpd> {
        // The port free_port saw may be taken before apache2 binds it (client connections of a
        // loaded test take ephemeral ports from the same range): try another, a bounded number
        // of times.
        let mut tries = 0;
        loop {
            match Httpd::start_on(dir, mpm, body, wrapper, free_port()) {
                Err(e) if tries < 4 && e.to_string().contains("Address already in use") => {
                    tries += 1
                }
                other => return other,
            }
        }
    }

    fn start_on(
        dir: &Path,
        mpm: Mpm,
        body: &str,
        wrapper: &[&str],
        port: u16,
    ) -> io::Result<Httpd> {
        assert!(
            Path::new(APACHE2).exists(),
            "{APACHE2} is missing: install Debian's apache2 (`make deps`)"
        );
        for sub in ["logs", "run", "htdocs"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let (mpm_module, mpm_conf) = match mpm {
            Mpm::Event => (
                "mpm_event",
                "StartServers 2\nThreadsPerChild 16\nMaxRequestWorkers 64\n",
            ),
            Mpm::Worker => (
                "mpm_worker",
                "StartServers 2\nThreadsPerChild 16\nMaxRequestWorkers 64\n",
            ),
            Mpm::Prefork => (
                "mpm_prefork",
                "StartServers 3\nMinSpareServers 2\nMaxRequestWorkers 16\n",
            ),
        };
        let conf = format!(
            "ServerRoot {d}\nListen 127.0.0.1:{port}\nPidFile {d}/httpd.pid\nErrorLog {d}/logs/error.log\n\
             LogLevel warn\nMutex file:{d}/run default\nDefaultRuntimeDir {d}/run\nUser www-data\nGroup www-data\n\
             ServerName localhost\nLoadModule {mpm_module}_module {MODULES}/mod_{mpm_module}.so\n\
             LoadModule authz_core_module {MODULES}/mod_authz_core.so\n{mpm_conf}\
             DocumentRoot {d}/htdocs\n\n{body}\n",
            d = dir.display()
        );
        std::fs::write(dir.join("httpd.conf"), conf)?;
        let pid_file = dir.join("httpd.pid");
        let _ = std::fs::remove_file(&pid_file);
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(APACHE2);
                c
            }
            None => Command::new(APACHE2),
        };
        let out = cmd
            .args(["-d"])
            .arg(dir)
            .args(["-f"])
            .arg(dir.join("httpd.conf"))
            .args(["-k", "start"])
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "apache2 did not start ({}):\n{}{}\nerror.log:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
            )));
        }
        let child = Child::from_pid_file("apache2", &pid_file, Duration::from_secs(10))?;
        let h = Httpd {
            dir: dir.to_owned(),
            port,
            child,
        };
        wait_for_port(h.addr(), Duration::from_secs(10))?;
        Ok(h)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.pid()
    }

    pub fn stop(mut self) {
        self.child.stop(Duration::from_secs(10));
    }
}

/// Run `apache2 -t` on a config body (same base settings as `start`): the config test an
/// operator runs before a restart. Returns the combined output and whether it passed.
pub fn config_test(dir: &Path, body: &str) -> io::Result<(bool, String)> {
    std::fs::create_dir_all(dir.join("logs"))?;
    std::fs::create_dir_all(dir.join("run"))?;
    let conf = format!(
        "ServerRoot {d}\nListen 127.0.0.1:{port}\nPidFile {d}/httpd.pid\nErrorLog {d}/logs/error.log\n\
         Mutex file:{d}/run default\nDefaultRuntimeDir {d}/run\nServerName localhost\n\
         LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\nLoadModule authz_core_module {MODULES}/mod_authz_core.so\n{body}\n",
        d = dir.display(),
        port = free_port()
    );
    std::fs::write(dir.join("httpd.conf"), conf)?;
    let out = Command::new(APACHE2)
        .arg("-d")
        .arg(dir)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .arg("-t")
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}
