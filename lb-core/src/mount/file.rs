//! uriworkermap files: `pattern=worker[;ext...]` lines read like workers.properties (`#`
//! comments, trimming, split at the first `=`, `$(name)` from earlier lines or the environment; a
//! pattern given twice keeps the later line, with a warning), and reloading: a changed file
//! replaces exactly its own rules, all at once, while requests keep mapping with the old table.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::rule::{Rule, RuleError, Source};
use super::table::MountTable;
use crate::config::Location;

/// mod_jk reads lines into an 8 KiB buffer.
const MAX_LINE: usize = 8192;

/// One read of a mount file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountFile {
    pub path: PathBuf,
    pub rules: Vec<Rule>,
    pub errors: Vec<RuleError>,
    /// Duplicates, lines without `=`, and the rules' own warnings, each with its line.
    pub warnings: Vec<(Location, String)>,
    pub modified: Option<SystemTime>,
}

impl MountFile {
    pub fn read(path: &Path) -> io::Result<MountFile> {
        let text = std::fs::read_to_string(path)?;
        let mut file = MountFile::parse(&text, path);
        file.modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok(file)
    }

    /// Parse a file's text; `path` names the rules' source.
    pub fn parse(text: &str, path: &Path) -> MountFile {
        let mut warnings = Vec::new();
        // pattern → (line, worker text), in first-seen order as mod_jk's map keeps it.
        let mut entries: Vec<(String, Location, String)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let at = Location::new(path, n as u32 + 1);
            if line.len() > MAX_LINE {
                warnings.push((at, format!("ignored: the line is longer than {MAX_LINE} bytes")));
                continue;
            }
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                warnings.push((at, format!("ignored: `{line}` has no `=` (expected pattern=worker)")));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || value.is_empty() {
                warnings.push((at, format!("ignored: `{line}` needs both a pattern and a worker")));
                continue;
            }
            let value = substitute(value, &entries, &seen);
            match seen.get(key) {
                Some(&i) => {
                    let old = &mut entries[i];
                    warnings.push((at.clone(), format!("`{key}` is mapped again: `{value}` replaces `{}` from line {}", old.2, old.1.line)));
                    old.1 = at;
                    old.2 = value;
                }
                None => {
                    seen.insert(key.to_owned(), entries.len());
                    entries.push((key.to_owned(), at, value));
                }
            }
        }
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (pattern, at, worker) in entries {
            match Rule::parse(&pattern, &worker, Source::File(at.clone())) {
                Ok(parsed) => {
                    if let Some(first) = parsed.first() {
                        warnings.extend(first.warnings.iter().map(|w| (at.clone(), w.clone())));
                    }
                    rules.extend(parsed);
                }
                Err(e) => errors.push(e),
            }
        }
        MountFile { path: path.to_owned(), rules, errors, warnings, modified: None }
    }
}

/// `$(name)`: an earlier line's value, else the environment, else left as written.
fn substitute(value: &str, entries: &[(String, Location, String)], seen: &HashMap<String, usize>) -> String {
    let mut out = String::new();
    let mut rest = value;
    // Bounded: every round consumes the text up to a `$(`.
    while let Some(start) = rest.find("$(") {
        let Some(len) = rest[start + 2..].find(')') else { break };
        let name = &rest[start + 2..start + 2 + len];
        let found = seen.get(name).map(|&i| entries[i].2.clone()).or_else(|| std::env::var(name).ok());
        out.push_str(&rest[..start]);
        match found {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 3 + len]),
        }
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    out
}

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
