//! The workers.properties syntax, as mod_jk reads it (`jk_map_read_properties`): one
//! `key=value` per line, `#` starts a comment, `$(var)` substitution, and mod_jk's rules for a
//! key given twice. Keys under `worker.` are checked against the known attributes here, so a typo
//! is reported with its line.

use std::collections::HashMap;

use super::attribute::{self, Deprecated, Repeat};
use super::diag::{Diagnostics, Location};
use super::suggest;

/// mod_jk reads lines into an 8 KiB buffer; longer ones are refused.
pub const MAX_LINE: usize = 8192;
/// mod_jk stops substituting after this many `$(...)` in one value.
const MAX_SUBSTITUTIONS: usize = 20;
/// A value that names values that name values grows exponentially (20 references per line
/// doubles twenty-fold per line); mod_jk allocates whatever that comes to. rjk refuses past this.
pub(crate) const MAX_SUBSTITUTED: usize = 64 * 1024;

/// One stored property and the line that (last) set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    pub at: Location,
    /// The deprecated name the line used, when it was read under its successor's name.
    pub via: Option<&'static str>,
    /// Set by template resolution: the worker this was copied from.
    pub template: Option<String>,
}

/// `worker.<name>.<attribute>` split into its parts. Worker names may contain dots (mod_jk only
/// checks the suffix), so the attribute is what follows the last dot.
pub fn split_worker_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("worker.")?;
    let dot = rest.rfind('.')?;
    Some((&rest[..dot], &rest[dot + 1..]))
}

#[derive(Debug, Default)]
pub struct PropertyMap {
    props: Vec<Property>,
    index: HashMap<String, usize>,
}

impl PropertyMap {
    pub fn get(&self, key: &str) -> Option<&Property> {
        self.index.get(key).map(|&i| &self.props[i])
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|p| p.value.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Property> {
        self.props.iter()
    }

    /// Insert without any duplicate rule (template copies, predefined variables).
    pub fn insert(&mut self, p: Property) {
        match self.index.get(&p.key) {
            Some(&i) => self.props[i] = p,
            None => {
                self.index.insert(p.key.clone(), self.props.len());
                self.props.push(p);
            }
        }
    }

    /// Read a whole file's text. `#` comments are stripped here (not for directive lines, as
    /// in mod_jk).
    pub fn read_file_text(&mut self, text: &str, file: &std::path::Path, diags: &mut Diagnostics) {
        for (n, line) in text.lines().enumerate() {
            let at = Location::new(file, n as u32 + 1);
            let line = line.split('#').next().unwrap_or("");
            self.read_line(line, &at, diags);
        }
    }

    /// One `key=value` line (a file line without its comment, or a `JkWorkerProperty` argument).
    pub fn read_line(&mut self, line: &str, at: &Location, diags: &mut Diagnostics) {
        if line.len() > MAX_LINE {
            diags.error(
                Some(at),
                None,
                format!("line is {} bytes long; the limit is {MAX_LINE}", line.len()),
            );
            return;
        }
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let Some((key, value)) = line.split_once('=') else {
            diags.warn(
                Some(at),
                None,
                format!("ignored: `{line}` has no `=` (expected key=value)"),
            );
            return;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            diags.warn(
                Some(at),
                None,
                "ignored: the line has no key before `=`".into(),
            );
            return;
        }
        if value.is_empty() {
            // mod_jk drops these silently; say so, since the operator probably meant something.
            diags.warn(
                Some(at),
                None,
                format!(
                    "ignored: `{key}` has an empty value (a property cannot be set to nothing)"
                ),
            );
            return;
        }
        let Some((key, via)) = self.check_key(key, at, diags) else {
            return;
        };
        let value = match self.substitute(value) {
            Ok(value) => value,
            Err(e) => return diags.error(Some(at), None, format!("`{key}`: {e}")),
        };
        self.store(key, value, at, via, diags);
    }

    /// Validate a key; returns the name to store it under (successor of a renamed attribute).
    fn check_key(
        &self,
        key: &str,
        at: &Location,
        diags: &mut Diagnostics,
    ) -> Option<(String, Option<&'static str>)> {
        if !key.starts_with("worker.") {
            return Some((key.to_owned(), None)); // a free variable for $(...)
        }
        if key == "worker.list" || key == "worker.maintain" {
            return Some((key.to_owned(), None));
        }
        let Some((worker, attr)) = split_worker_key(key) else {
            let hint = suggest::hint(&key[7..], ["list", "maintain"]);
            diags.error(Some(at), None, format!("`{key}` is neither `worker.list`, `worker.maintain` nor `worker.<name>.<attribute>`{hint}"));
            return None;
        };
        if worker.is_empty() {
            diags.error(Some(at), None, format!("`{key}` has an empty worker name"));
            return None;
        }
        if attr == "list" || attr == "maintain" {
            diags.error(
                Some(at),
                Some(worker),
                format!("`{attr}` is a global property: write `worker.{attr}`, not `{key}`"),
            );
            return None;
        }
        match attribute::find(attr) {
            Some(a) => {
                match a.deprecated {
                    Some(Deprecated::RenamedTo(new)) => {
                        let note = match a.name {
                        "lb_factor" => " (mod_jk refuses this name; the mod_jk 1.2.7 sample config used it)",
                        "recycle_timeout" => " (mod_jk ignores it; rjk honours it as the idle timeout it meant)",
                        _ => "",
                    };
                        diags.warn(
                            Some(at),
                            Some(worker),
                            format!("`{}` is deprecated: read as `{new}`{note}", a.name),
                        );
                        Some((format!("worker.{worker}.{new}"), Some(a.name)))
                    }
                    _ => Some((key.to_owned(), None)),
                }
            }
            None => {
                let hint = suggest::hint(attr, attribute::current_names());
                diags.error(
                    Some(at),
                    Some(worker),
                    format!("unknown attribute `{attr}`{hint}"),
                );
                None
            }
        }
    }

    /// `$(name)`: an earlier property of any name, else the environment.
    fn substitute(&self, value: &str) -> Result<String, String> {
        substitute(value, |name| self.value(name).map(str::to_owned))
    }

    fn store(
        &mut self,
        key: String,
        value: String,
        at: &Location,
        via: Option<&'static str>,
        diags: &mut Diagnostics,
    ) {
        let Some(&i) = self.index.get(&key) else {
            self.insert(Property {
                key,
                value,
                at: at.clone(),
                via,
                template: None,
            });
            return;
        };
        let attr = split_worker_key(&key).map(|(_, a)| a);
        let repeat = match (attr, key.as_str()) {
            (_, "worker.list") => Repeat::List,
            (_, "worker.maintain") => Repeat::Unique,
            (Some(a), _) => attribute::find(a).map_or(Repeat::Unique, |a| a.repeat),
            (None, _) => Repeat::Star,
        };
        let old = &mut self.props[i];
        match repeat {
            Repeat::List => {
                if let Some(note) = deprecated_list_note(old, via, &value) {
                    let worker = split_worker_key(&key).map(|(w, _)| w);
                    diags.warn(Some(at), worker, note);
                }
                old.value = format!("{},{}", old.value, value);
                old.at = at.clone();
            }
            Repeat::Star if attr.is_none() => {
                // A free variable: mod_jk's legacy `*` join, kept so $(var) expands the same.
                old.value = format!("{}*{}", old.value, value);
                old.at = at.clone();
            }
            Repeat::Star => {
                // mod_jk joins with `*` and its number parser then stops at the `*`: the first
                // value is the one in effect. Keep it, and say so.
                diags.warn(Some(at), None, format!(
                    "`{key}` set again: keeping `{}` from {} (as mod_jk does); `{value}` ignored", old.value, old.at
                ));
            }
            _ if via.is_some() && old.via.is_none() => {
                diags.warn(Some(at), None, format!(
                    "`{}` ignored: `{key}` is already set at {} (the current name wins over the deprecated one)",
                    via.unwrap_or_default(), old.at
                ));
            }
            _ => {
                diags.warn(
                    Some(at),
                    None,
                    format!(
                        "`{key}` set again: `{value}` replaces `{}` from {}",
                        old.value, old.at
                    ),
                );
                *old = Property {
                    key,
                    value,
                    at: at.clone(),
                    via,
                    template: None,
                };
            }
        }
    }
}

/// A list key repeated under a deprecated name (`balanced_workers`) is read by mod_jk
/// differently from rjk, which joins every line with `,`: mod_jk joins two deprecated lines
/// with `*` (one bogus member `a*b`), and ignores the deprecated name once the current one is
/// set. Says what mod_jk would have done, or `None` when mod_jk joins with `,` too.
fn deprecated_list_note(old: &Property, via: Option<&'static str>, value: &str) -> Option<String> {
    let joined = format!("{},{}", old.value, value);
    let current = split_worker_key(&old.key).map_or(old.key.as_str(), |(_, a)| a);
    match (old.via, via) {
        (Some(dep), Some(_)) => Some(format!(
            "`{dep}` set again (first at {}): rjk reads both as `{joined}`; mod_jk joins them \
             with `*` into one member `{}*{value}` (write `{current}` to have the same in both)",
            old.at, old.value
        )),
        (Some(dep), None) | (None, Some(dep)) => Some(format!(
            "`{dep}` and `{current}` both set (first at {}): rjk reads both as `{joined}`; \
             mod_jk reads only `{current}` and ignores `{dep}`",
            old.at
        )),
        (None, None) => None,
    }
}

/// mod_jk's `$(name)` substitution (workers.properties and uriworkermap files alike): `known`
/// first, then the environment; unknown names stay as written; the substituted text is not
/// scanned again; at most 20 substitutions per value, as mod_jk. Refuses a result longer than
/// [`MAX_SUBSTITUTED`].
pub(crate) fn substitute(
    value: &str,
    known: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut count = 0;
    while let Some(start) = rest.find("$(") {
        let Some(len) = rest[start + 2..].find(')') else {
            break;
        };
        count += 1;
        if count > MAX_SUBSTITUTIONS {
            break;
        }
        let name = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        match known(name).or_else(|| std::env::var(name).ok()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 3 + len]),
        }
        rest = &rest[start + 3 + len..];
        if out.len() + rest.len() > MAX_SUBSTITUTED {
            return Err(too_long());
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn too_long() -> String {
    format!(
        "not read: `$(...)` substitution makes the value longer than {} KiB (values that name \
         values that name values grow exponentially; mod_jk would allocate it all)",
        MAX_SUBSTITUTED / 1024
    )
}
