//! Child processes that are always stopped, ports that are free, and polling with a deadline.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A point in time after which polling gives up.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(d: Duration) -> Self {
        Deadline(Instant::now() + d)
    }
    pub fn passed(&self) -> bool {
        Instant::now() >= self.0
    }
}

/// Poll `cond` until it returns `Some`, or fail with `what` once `timeout` has passed.
/// The poll interval grows from 1 ms to 50 ms so fast conditions are seen fast.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> Option<T>,
) -> io::Result<T> {
    let deadline = Deadline::after(timeout);
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = cond() {
            return Ok(v);
        }
        if deadline.passed() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out after {timeout:?} waiting for {what}"),
            ));
        }
        // Polling interval, not synchronisation: the condition is re-checked each round.
        std::thread::park_timeout(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Wait until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> io::Result<()> {
    wait_until(&format!("a listener on {addr}"), timeout, || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200))
            .ok()
            .map(|_| ())
    })
}

/// A loopback port that was free a moment ago (bind to :0, read, release).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral loopback port")
}

/// A process started by a test. Dropping it kills it (and its process group) by pid.
pub struct Child {
    name: String,
    pid: i32,
    inner: Option<std::process::Child>,
    /// For daemons that fork away (apache2 -k start): the pid file they write.
    pid_file: Option<std::path::PathBuf>,
}

impl Child {
    /// Spawn `cmd` in its own process group so that its children are stopped with it.
    pub fn spawn(name: &str, cmd: &mut Command) -> io::Result<Child> {
        use std::os::unix::process::CommandExt;
        cmd.stdin(Stdio::null()).process_group(0);
        let inner = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {name}: {e}")))?;
        Ok(Child {
            name: name.to_string(),
            pid: inner.id() as i32,
            inner: Some(inner),
            pid_file: None,
        })
    }

    /// Track a daemon by the pid it writes into `pid_file` (waits for the file to appear).
    pub fn from_pid_file(name: &str, pid_file: &Path, timeout: Duration) -> io::Result<Child> {
        let pid = wait_until(
            &format!("{name} to write {}", pid_file.display()),
            timeout,
            || {
                std::fs::read_to_string(pid_file)
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok())
                    .filter(|&p| p > 0)
            },
        )?;
        Ok(Child {
            name: name.to_string(),
            pid,
            inner: None,
            pid_file: Some(pid_file.to_path_buf()),
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Is the process still running (not a zombie we have reaped)?
    pub fn alive(&mut self) -> bool {
        match &mut self.inner {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            // SAFETY: kill with signal 0 only checks for existence and permission.
            None => unsafe { libc::kill(self.pid, 0) == 0 },
        }
    }

    /// Send `sig` to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain syscall on a pid we started.
        unsafe {
            libc::kill(self.pid, sig);
        }
    }

    /// Stop the process: SIGTERM, wait up to `grace`, then SIGKILL (the whole group).
    pub fn stop(&mut self, grace: Duration) {
        if !self.alive() {
            self.reap();
            return;
        }
        self.signal(libc::SIGTERM);
        let gone = wait_until(&format!("{} to exit", self.name), grace, || {
            (!self.alive()).then_some(())
        });
        if gone.is_err() {
            // SAFETY: negative pid = the process group we created at spawn (or the daemon's own).
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
        self.reap();
    }

    fn reap(&mut self) {
        if let Some(c) = &mut self.inner {
            let _ = c.wait();
        }
        if let Some(f) = &self.pid_file {
            let _ = std::fs::remove_file(f);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// The pids whose parent is `parent` (from /proc), e.g. httpd's children.
pub fn children_of(parent: i32) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // The parent pid is the 2nd field after the `(comm)`, which may hold spaces.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = &s[s.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<i32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Open file descriptors of `pid`.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Resident memory of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
