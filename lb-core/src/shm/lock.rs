//! The table lock: a cross-process lock in the header, for `lock=P` and for configuration
//! changes. The word holds the holder's pid (so a process that died holding it does not wedge
//! the others: the lock is then taken over) and a "someone sleeps" bit.
//!
//! Uncontended it is one compare-exchange each way. A waiter spins briefly, then sleeps on the
//! word itself (a futex, which works across processes on a shared mapping) until the holder's
//! release wakes it — no fixed-length sleeps. The wait has a timeout only to notice a holder
//! that died without releasing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Set while at least one process may be sleeping on the word; pids never reach this bit.
const WAITERS: u32 = 1 << 31;
/// How long a waiter sleeps before checking whether the holder still exists.
const DEAD_HOLDER_CHECK: Duration = Duration::from_millis(20);

/// Held while alive; released on drop.
pub struct TableLock<'a> {
    owner: &'a AtomicU32,
}

impl<'a> TableLock<'a> {
    pub(crate) fn acquire(owner: &'a AtomicU32) -> TableLock<'a> {
        let me = std::process::id() & !WAITERS;
        if owner
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return TableLock { owner };
        }
        // Once this process has slept, it takes the lock marked contended, so its release wakes
        // whoever still sleeps (a plain `me` would lose their wake-up).
        let mut mine = me;
        let mut spins = 0u32;
        loop {
            let cur = owner.load(Ordering::Relaxed);
            if cur == 0 {
                if owner
                    .compare_exchange(0, mine, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return TableLock { owner };
                }
                continue;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
                continue;
            }
            if spins < 128 {
                std::thread::yield_now();
                continue;
            }
            let holder = cur & !WAITERS;
            if holder != me && !alive(holder) {
                // The holder died: take the lock over (keeping the bit, so others are woken).
                let next = me | (cur & WAITERS);
                if owner
                    .compare_exchange(cur, next, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return TableLock { owner };
                }
                continue;
            }
            if cur & WAITERS == 0
                && owner
                    .compare_exchange(cur, cur | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            futex_wait(owner, cur | WAITERS, DEAD_HOLDER_CHECK);
            mine = me | WAITERS;
        }
    }
}

impl Drop for TableLock<'_> {
    fn drop(&mut self) {
        if self.owner.swap(0, Ordering::Release) & WAITERS != 0 {
            futex_wake(self.owner);
        }
    }
}

/// Sleep while `word` still holds `expected`, at most `timeout`; any wake-up or change returns.
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned 32-bit atomic (in the shared table); FUTEX_WAIT (not
    // the private variant) keys on the physical page, so it works across processes mapping it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0,
        );
    }
}

/// Wake every process sleeping on `word` (they race for the lock; the losers sleep again).
fn futex_wake(word: &AtomicU32) {
    // SAFETY: as above; waking has no memory effects.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0,
        );
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
