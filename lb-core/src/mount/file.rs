//! uriworkermap files: `pattern=worker[;ext...]` lines read like workers.properties (`#`
//! comments, trimming, split at the first `=`, `$(name)` from earlier lines or the environment; a
//! pattern given twice keeps the later line, with a warning). Reloading is in [`super::reload`].

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::rule::{Rule, RuleError, Source};
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
        let mut errors = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let at = Location::new(path, n as u32 + 1);
            if line.len() > MAX_LINE {
                warnings.push((
                    at,
                    format!("ignored: the line is longer than {MAX_LINE} bytes"),
                ));
                continue;
            }
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                warnings.push((
                    at,
                    format!("ignored: `{line}` has no `=` (expected pattern=worker)"),
                ));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || value.is_empty() {
                warnings.push((
                    at,
                    format!("ignored: `{line}` needs both a pattern and a worker"),
                ));
                continue;
            }
            let value = match crate::config::substitute(value, |name| {
                seen.get(name).map(|&i| entries[i].2.clone())
            }) {
                Ok(value) => value,
                Err(e) => {
                    errors.push(RuleError {
                        source: Source::File(at),
                        message: format!("`{key}`: {e}"),
                    });
                    continue;
                }
            };
            match seen.get(key) {
                Some(&i) => {
                    let old = &mut entries[i];
                    warnings.push((
                        at.clone(),
                        format!(
                            "`{key}` is mapped again: `{value}` replaces `{}` from line {}",
                            old.2, old.1.line
                        ),
                    ));
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
        MountFile {
            path: path.to_owned(),
            rules,
            errors,
            warnings,
            modified: None,
        }
    }
}
