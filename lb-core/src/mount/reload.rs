//! Reloading a mount file (`JkMountFileReload`, mod_jk's `uri_worker_map_update`): checked while
//! mapping, at most every interval; when the file's modification time changed it is re-read and
//! a new table, where exactly that file's rules changed, is swapped in whole. Requests already
//! holding the old table (an `Arc`) finish with it.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

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
    state: Mutex<WatchState>,
}

#[derive(Debug)]
struct WatchState {
    checked: SystemTime,
    modified: Option<SystemTime>,
}

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// Not due yet, or the file's time has not changed.
    Unchanged,
    /// The file's rules were replaced.
    Replaced { rules: usize, errors: Vec<RuleError>, warnings: Vec<(Location, String)> },
}

impl SharedTable {
    /// A table that never reloads.
    pub fn fixed(table: MountTable) -> Self {
        SharedTable { current: RwLock::new(Arc::new(table)), file: None }
    }

    /// A table whose rules from `file` (already read into it) are re-read when the file changes,
    /// checked at most every `interval` (mod_jk: `JkMountFileReload`, default 60 s).
    pub fn watching(table: MountTable, file: &MountFile, interval: Duration, now: SystemTime) -> Self {
        let state = Mutex::new(WatchState { checked: now, modified: file.modified });
        SharedTable { current: RwLock::new(Arc::new(table)), file: Some(Watched { path: file.path.clone(), interval, state }) }
    }

    /// The table to map this request with; it stays valid even if a reload swaps in another.
    pub fn current(&self) -> Arc<MountTable> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Called while mapping requests, as mod_jk does: when the interval has passed and the file's
    /// modification time changed, re-read it and swap in a table where only its rules changed.
    /// A file that cannot be read keeps the old rules (the error is returned).
    pub fn reload_if_changed(&self, now: SystemTime) -> io::Result<Reload> {
        let Some(w) = &self.file else { return Ok(Reload::Unchanged) };
        if w.interval.is_zero() {
            return Ok(Reload::Unchanged);
        }
        let mut state = w.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(state.checked).unwrap_or_default() <= w.interval {
            return Ok(Reload::Unchanged);
        }
        state.checked = now;
        let modified = std::fs::metadata(&w.path)?.modified().ok();
        if modified == state.modified {
            return Ok(Reload::Unchanged);
        }
        let file = MountFile::read(&w.path)?;
        state.modified = file.modified;
        Ok(self.replace(file))
    }

    /// Swap in the rules of a freshly read file (also for a forced reload).
    pub fn replace(&self, file: MountFile) -> Reload {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let rules = file.rules.len();
        let next = current.with_file_rules(&file.path, file.rules);
        *current = Arc::new(next);
        Reload::Replaced { rules, errors: file.errors, warnings: file.warnings }
    }
}
