//! The table lock: a cross-process spin lock in the header, for `lock=P` and for
//! configuration changes. It records the holder's pid so a process that died holding it does
//! not wedge the others (the lock is then taken over).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Held while alive; released on drop.
pub struct TableLock<'a> {
    owner: &'a AtomicU32,
}

impl<'a> TableLock<'a> {
    pub(crate) fn acquire(owner: &'a AtomicU32) -> TableLock<'a> {
        let me = std::process::id();
        let mut spins = 0u32;
        loop {
            match owner.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return TableLock { owner },
                Err(holder) => {
                    spins += 1;
                    if holder != 0 && holder != me && spins.is_multiple_of(1024) && !alive(holder) {
                        // The holder died: take the lock over.
                        if owner
                            .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                            .is_ok()
                        {
                            return TableLock { owner };
                        }
                    }
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else if spins < 4096 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
            }
        }
    }
}

impl Drop for TableLock<'_> {
    fn drop(&mut self) {
        self.owner.store(0, Ordering::Release);
    }
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence; no signal is delivered.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}
