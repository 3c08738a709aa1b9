//! Reloading a mount file (`JkMountFileReload`, mod_jk's `uri_worker_map_update`): checked while
//! mapping, at most every interval; when the file's modification time changed it is re-read and
//! a new table, where exactly that file's rules changed, is swapped in whole. Requests already
//! holding the old table (an `Arc`) finish with it.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, TryLockError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::file::MountFile;
use super::rule::RuleError;
use super::table::MountTable;
use crate::config::Location;

/// A server's mount table, shared by request threads and swapped whole on reload.
#[derive(Debug)]
pub struct SharedTable {
    current: RwLock<Arc<MountTable>>,
    file: Option<Watched>,
}

#[derive(Debug)]
struct Watched {
    path: PathBuf,
    /// `JkMountFileReload`; zero turns reloading off.
    interval: Duration,
    /// When the file was last looked at (ms since the epoch): read without a lock on every
    /// request, so only the one request that finds the check due ever waits for the file.
    checked_ms: AtomicU64,
    /// The file's modification time at the last read; held while a check runs.
    modified: Mutex<Option<SystemTime>>,
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// Not due yet, or the file's time has not changed.
    Unchanged,
    /// The file's rules were replaced.
    Replaced {
        rules: usize,
        errors: Vec<RuleError>,
        warnings: Vec<(Location, String)>,
    },
}

impl SharedTable {
    /// A table that never reloads.
    pub fn fixed(table: MountTable) -> Self {
        SharedTable {
            current: RwLock::new(Arc::new(table)),
            file: None,
        }
    }

    /// A table whose rules from `file` (already read into it) are re-read when the file changes,
    /// checked at most every `interval` (mod_jk: `JkMountFileReload`, default 60 s).
    pub fn watching(
        table: MountTable,
        file: &MountFile,
        interval: Duration,
        now: SystemTime,
    ) -> Self {
        let watched = Watched {
            path: file.path.clone(),
            interval,
            checked_ms: AtomicU64::new(epoch_ms(now)),
            modified: Mutex::new(file.modified),
        };
        SharedTable {
            current: RwLock::new(Arc::new(table)),
            file: Some(watched),
        }
    }

    /// The table to map this request with; it stays valid even if a reload swaps in another.
    pub fn current(&self) -> Arc<MountTable> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Called while mapping requests, as mod_jk does: when more than the interval has passed
    /// and the file's modification time changed, re-read it and swap in a table where only its
    /// rules changed. While one request checks, the others go on with the current table. A file
    /// that cannot be read keeps the old rules (the error is returned; the next check retries).
    pub fn reload_if_changed(&self, now: SystemTime) -> io::Result<Reload> {
        let Some(w) = &self.file else {
            return Ok(Reload::Unchanged);
        };
        let interval_ms = u64::try_from(w.interval.as_millis()).unwrap_or(u64::MAX);
        let now_ms = epoch_ms(now);
        let due = |checked: u64| interval_ms > 0 && now_ms.saturating_sub(checked) > interval_ms;
        if !due(w.checked_ms.load(Ordering::Relaxed)) {
            return Ok(Reload::Unchanged);
        }
        let mut modified = match w.modified.try_lock() {
            Ok(m) => m,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return Ok(Reload::Unchanged),
        };
        // Another request may have finished the same check just before we got the lock.
        if !due(w.checked_ms.load(Ordering::Relaxed)) {
            return Ok(Reload::Unchanged);
        }
        w.checked_ms.store(now_ms, Ordering::Relaxed);
        let on_disk = std::fs::metadata(&w.path)?.modified().ok();
        if on_disk == *modified {
            return Ok(Reload::Unchanged);
        }
        let file = MountFile::read(&w.path)?;
        *modified = file.modified;
        Ok(self.replace(file))
    }

    /// Swap in the rules of a freshly read file (also for a forced reload).
    pub fn replace(&self, file: MountFile) -> Reload {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let rules = file.rules.len();
        let next = current.with_file_rules(&file.path, file.rules);
        *current = Arc::new(next);
        Reload::Replaced {
            rules,
            errors: file.errors,
            warnings: file.warnings,
        }
    }
}
