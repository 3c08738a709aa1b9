//! Helpers for the shared-memory tests: forked children that are always reaped (killed if the
//! test fails first) and a temporary directory removed on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A forked child process; killed and reaped on drop unless waited for.
pub struct ForkedChild {
    pid: libc::pid_t,
    reaped: bool,
}

/// Fork; the child runs `f` and exits with its code (101 if it panics). The child must only
/// touch memory shared with the parent through a shared mapping to report anything.
pub fn fork_child(f: impl FnOnce() -> i32) -> ForkedChild {
    // SAFETY (test): the child runs `f`, which only uses atomics in a shared mapping and the
    // allocator (glibc's is fork-safe), then leaves with _exit, skipping the parent's
    // destructors and atexit handlers.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: ends the child immediately, as intended.
        unsafe { libc::_exit(code) };
    }
    ForkedChild { pid, reaped: false }
}

impl ForkedChild {
    /// Wait up to 60 s for the child's exit code (killed and reported on timeout). The wait
    /// blocks on a pidfd that becomes readable when the child exits: no polling sleeps.
    pub fn wait(mut self) -> i32 {
        // SAFETY: pidfd_open on our own, not yet reaped child; the descriptor is closed below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid, 0) } as libc::c_int;
        assert!(
            fd >= 0,
            "pidfd_open failed: {}",
            std::io::Error::last_os_error()
        );
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let ready = loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as libc::c_int;
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, left) };
            if r > 0 || left == 0 {
                break r > 0;
            }
            if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break false;
            }
        };
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
        assert!(ready, "child {} did not finish in 60 s", self.pid);
        let mut status = 0;
        // SAFETY: our own child, now exited; `status` is a valid out pointer.
        let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        assert_eq!(
            r,
            self.pid,
            "waitpid failed: {}",
            std::io::Error::last_os_error()
        );
        self.reaped = true;
        if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        }
    }
}

impl Drop for ForkedChild {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: our own unreaped child; kill then reap it.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// A directory under the system temp dir, removed with its contents on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "rjk-shm-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
