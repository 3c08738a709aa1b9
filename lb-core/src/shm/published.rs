//! A per-process value that readers load without a lock while a rare writer replaces it (the
//! process's copy of configuration pulled from the table). Replaced values are kept until the
//! owner is dropped, so a reader's reference can never dangle; configuration changes are rare
//! and small, so that costs nothing that matters.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

pub struct Published<T> {
    current: AtomicPtr<T>,
    /// Every value ever published, owning them; only touched by writers.
    all: Mutex<Vec<Box<T>>>,
}

impl<T> Published<T> {
    pub fn new(value: T) -> Self {
        let mut b = Box::new(value);
        let p: *mut T = &mut *b;
        Published {
            current: AtomicPtr::new(p),
            all: Mutex::new(vec![b]),
        }
    }

    /// The current value.
    pub fn load(&self) -> &T {
        // SAFETY: the pointer always points into a Box held in `all`, which is only ever
        // appended to until `self` is dropped; boxes do not move when the Vec grows. The
        // returned reference cannot outlive `self`.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }

    /// Publish a new value; readers see it from their next `load`.
    pub fn store(&self, value: T) {
        let mut b = Box::new(value);
        let p: *mut T = &mut *b;
        let mut all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        all.push(b);
        self.current.store(p, Ordering::Release);
    }
}

// SAFETY: readers get `&T` from several threads (needs T: Sync); the values are moved in from
// any thread and dropped by whichever thread drops `self` (needs T: Send).
unsafe impl<T: Send + Sync> Sync for Published<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Published<T> {}

impl<T: std::fmt::Debug> std::fmt::Debug for Published<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.load().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_old_values_valid() {
        let p = Published::new(String::from("a"));
        let old = p.load();
        p.store(String::from("b"));
        assert_eq!(old, "a");
        assert_eq!(p.load(), "b");
    }

    #[test]
    fn readers_never_see_a_half_written_value() {
        // Each value holds the same number twice; a torn or freed value would differ.
        let p = Published::new((0u64, vec![0u64; 16]));
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    let mut seen = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let (n, v) = p.load();
                        assert!(v.iter().all(|x| x == n));
                        assert!(*n >= seen, "values only move forward");
                        seen = *n;
                    }
                });
            }
            for n in 1..=2000u64 {
                p.store((n, vec![n; 16]));
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(p.load().0, 2000);
    }
}
