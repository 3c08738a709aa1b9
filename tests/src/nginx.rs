//! A private Debian nginx on loopback with our module loaded: its own prefix, config, logs and
//! pid file in a directory the test owns, stopped by pid when dropped.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::{free_port, wait_for_port, wait_until, Child};

pub const NGINX: &str = "/usr/sbin/nginx";

pub struct Nginx {
    pub dir: PathBuf,
    pub port: u16,
    master: Child,
}

/// The module built from this workspace.
pub fn module() -> PathBuf {
    crate::workspace_bin("libngx_http_rjk_module.so")
}

/// The whole nginx.conf: `processes` worker processes, `http` lines in the `http` block (the
/// `rjk_*` settings), `locations` inside the one server on `port`.
fn conf(dir: &Path, port: u16, processes: usize, http: &str, locations: &str) -> String {
    let d = dir.display();
    format!(
        "load_module {m};\npid {d}/nginx.pid;\nlock_file {d}/nginx.lock;\nerror_log {d}/error.log info;\n\
         worker_processes {processes};\nevents {{ worker_connections 1024; }}\n\
         http {{\n  log_format rjk '$pid $status $request_uri';\n  access_log {d}/access.log rjk;\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n  \
         fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
         {http}\n  server {{\n    listen 127.0.0.1:{port};\n{locations}\n  }}\n}}\n",
        m = module().display()
    )
}

/// nginx on `dir/nginx.conf` with `dir` as its prefix and error log there, run through
/// `wrapper` (a program and its arguments, nginx's command line appended) when one is given.
fn command(dir: &Path, wrapper: &[&str]) -> Command {
    let mut c = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(NGINX);
            c
        }
        None => Command::new(NGINX),
    };
    c.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"));
    c
}

fn prepare(dir: &Path) -> io::Result<()> {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} is missing: install Debian's nginx (`make deps`)"
    );
    std::fs::create_dir_all(dir.join("tmp"))
}

impl Nginx {
    /// Write `dir/nginx.conf` and start nginx (a master and `processes` workers).
    pub fn start(dir: &Path, processes: usize, http: &str, locations: &str) -> io::Result<Nginx> {
        Nginx::start_wrapped(dir, processes, http, locations, &[])
    }

    /// As [`Nginx::start`], the server run through `wrapper` (e.g. `unshare`).
    pub fn start_wrapped(
        dir: &Path,
        processes: usize,
        http: &str,
        locations: &str,
        wrapper: &[&str],
    ) -> io::Result<Nginx> {
        prepare(dir)?;
        let port = free_port();
        std::fs::write(
            dir.join("nginx.conf"),
            conf(dir, port, processes, http, locations),
        )?;
        let pid_file = dir.join("nginx.pid");
        let _ = std::fs::remove_file(&pid_file);
        let out = command(dir, wrapper).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "nginx did not start ({}):\n{}{}\nerror.log:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            )));
        }
        let master = Child::from_pid_file("nginx", &pid_file, Duration::from_secs(10))?;
        let n = Nginx {
            dir: dir.to_owned(),
            port,
            master,
        };
        wait_for_port(n.addr(), Duration::from_secs(10))?;
        Ok(n)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.master.pid()
    }

    /// The worker processes now running (children of the master that are not shutting down).
    pub fn workers(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return out;
        };
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            // Fields after the `(comm)`: state, ppid.
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(self.pid()) && cmd.starts_with("nginx: worker process\0") {
                out.push(pid);
            }
        }
        out
    }

    /// `nginx -s reload` (SIGHUP to the master), then wait until `processes` new workers run.
    pub fn reload(&self, processes: usize) -> io::Result<()> {
        let before = self.workers();
        self.master.signal(libc::SIGHUP);
        wait_until(
            "nginx to start new workers",
            Duration::from_secs(10),
            || {
                let now = self.workers();
                (now.iter().filter(|p| !before.contains(p)).count() >= processes).then_some(())
            },
        )
    }

    pub fn stop(mut self) {
        self.master.stop(Duration::from_secs(10));
    }
}

/// `nginx -t` on a configuration (same base as `start`): whether it passed and what it said.
pub fn config_test(dir: &Path, http: &str, locations: &str) -> io::Result<(bool, String)> {
    prepare(dir)?;
    std::fs::write(
        dir.join("nginx.conf"),
        conf(dir, free_port(), 1, http, locations),
    )?;
    let out = command(dir, &[]).arg("-t").output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}
