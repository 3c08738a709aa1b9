//! One mount rule as mod_jk reads it (`uri_worker_map_add`): optional `-` (disabled) then
//! optional `!` (exclusion) before a pattern that must start with `/`; `*` matches any run of
//! characters including `/`, `?` exactly one; a pattern without either must equal the whole URI.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::extension::Extensions;
use crate::config::Location;

/// Where a rule came from. The order matters: on equal slashes and length, a higher rank sorts
/// first (mod_jk: uriworkermap file > JkMount > a worker's `mount` property).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A worker's `mount` property in workers.properties.
    WorkerMount(Location),
    /// A `JkMount`/`JkUnMount` directive.
    JkMount(Location),
    /// A line of a uriworkermap file.
    File(Location),
}

impl Source {
    pub fn rank(&self) -> u8 {
        match self {
            Source::WorkerMount(_) => 1,
            Source::JkMount(_) => 2,
            Source::File(_) => 3,
        }
    }

    pub fn location(&self) -> &Location {
        match self {
            Source::WorkerMount(l) | Source::JkMount(l) | Source::File(l) => l,
        }
    }

    /// The file a rule came from, when it is a uriworkermap file (what a reload replaces).
    pub fn file(&self) -> Option<&Arc<Path>> {
        match self {
            Source::File(l) => Some(&l.file),
            _ => None,
        }
    }

    /// mod_jk's name for the source, as its status page shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::WorkerMount(_) => "worker definition",
            Source::JkMount(_) => "JkMount",
            Source::File(_) => "uriworkermap",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.kind(), self.location())
    }
}

/// A rule that cannot be used, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub source: Source,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.source.location(),
            self.message,
            self.source.kind()
        )
    }
}

impl std::error::Error for RuleError {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The pattern without its `-`/`!` prefixes.
    pub pattern: String,
    /// The worker name (extensions cut off). `*` in an exclusion cancels any worker.
    pub worker: String,
    pub disabled: bool,
    pub exclusion: bool,
    pub extensions: Extensions,
    pub source: Source,
    /// Things worth telling the operator that do not stop the rule (unknown extension, ...).
    pub warnings: Vec<String>,
}

impl Rule {
    /// Parse one `pattern` / `worker[;ext=value...]` pair. `a|b` gives two rules, `a` and `ab`
    /// (`/app|/*` → `/app` and `/app/*`), except in a worker's `mount` property where mod_jk
    /// does not expand it.
    pub fn parse(pattern: &str, worker: &str, source: Source) -> Result<Vec<Rule>, RuleError> {
        let error = |message: String| RuleError {
            source: source.clone(),
            message,
        };
        let parsed = Extensions::parse(worker)
            .map_err(|e| error(format!("`{pattern}` → `{worker}`: {e}")))?;
        let (name, extensions, mut warnings) = (parsed.worker, parsed.extensions, parsed.warnings);
        if name.is_empty() {
            return Err(error(format!("`{pattern}` has no worker name")));
        }
        let patterns = match (pattern.split_once('|'), &source) {
            (Some((first, rest)), Source::JkMount(_) | Source::File(_)) => {
                vec![first.to_owned(), format!("{first}{rest}")]
            }
            (Some(_), Source::WorkerMount(_)) => {
                warnings.push(format!(
                    "`|` is not a shortcut in a worker's mount property (mod_jk does not expand it there): `{pattern}` matches a literal `|`"
                ));
                vec![pattern.to_owned()]
            }
            (None, _) => vec![pattern.to_owned()],
        };
        patterns
            .into_iter()
            .map(|p| {
                let (disabled, p) = strip(&p, '-');
                let (exclusion, p) = strip(p, '!');
                if !p.starts_with('/') {
                    let hint = if p.starts_with(['*', '?']) { format!(" (write `/{p}`: mod_jk refuses patterns that start with a wildcard)") } else { String::new() };
                    return Err(error(format!("pattern `{p}` does not start with `/`{hint}")));
                }
                if name == "*" && !exclusion {
                    return Err(error(format!(
                        "`{p}` mounts worker `*`, which only means \"any worker\" in an exclusion (`!{p}`); mod_jk would answer every request it maps with 500"
                    )));
                }
                Ok(Rule {
                    pattern: p.to_owned(),
                    worker: name.to_owned(),
                    disabled,
                    exclusion,
                    extensions: extensions.clone(),
                    source: source.clone(),
                    warnings: warnings.clone(),
                })
            })
            .collect()
    }

    /// Parse one `pattern=worker[;ext...]` text (a uriworkermap line without its comment, or
    /// `rjk map --mount`), split at the first `=` with both sides trimmed.
    pub fn parse_mapping(text: &str, source: Source) -> Result<Vec<Rule>, RuleError> {
        match text.split_once('=') {
            Some((pattern, worker)) => Rule::parse(pattern.trim(), worker.trim(), source),
            None => Err(RuleError {
                source,
                message: format!("`{text}` is not `pattern=worker`"),
            }),
        }
    }

    /// A pattern with `*` or `?` ("Wildchar" in mod_jk); otherwise the URI must equal it.
    pub fn is_wildcard(&self) -> bool {
        self.pattern.contains(['*', '?'])
    }

    /// Whether this rule's pattern matches a (normalised) URI. Case-sensitive, as on Unix.
    pub fn matches(&self, uri: &str) -> bool {
        if self.is_wildcard() {
            crate::wildcard::matches(&self.pattern, uri)
        } else {
            self.pattern == uri
        }
    }

    /// The rule as mod_jk would print it: `-!/pattern=worker`.
    pub fn text(&self) -> String {
        format!(
            "{}{}{}={}",
            if self.disabled { "-" } else { "" },
            if self.exclusion { "!" } else { "" },
            self.pattern,
            self.worker
        )
    }
}

fn strip(s: &str, prefix: char) -> (bool, &str) {
    match s.strip_prefix(prefix) {
        Some(rest) => (true, rest),
        None => (false, s),
    }
}
