//! The rules of one server, in the order mod_jk's code tries them (`worker_compare`): more `/`
//! in the pattern first, then the longer pattern, then the source (file > JkMount > worker
//! `mount`). Exact and wildcard rules are interleaved by that order; nothing else ranks them.
//! Rules that tie keep the order they were added (mod_jk's qsort leaves that undefined).
//!
//! Mapping: the first enabled, non-exclusion rule that matches wins; then every enabled
//! exclusion naming the same worker, or `*`, is tried and any match cancels the mapping (the web
//! server keeps the request). Exclusions for other workers are ignored.

use std::cmp::Reverse;
use std::path::Path;

use super::extension::Extensions;
use super::rule::{Rule, RuleError, Source};
use crate::directive::server::MountLine;

/// mod_jk does not map URIs longer than this.
pub const MAX_URI_LEN: usize = 4095;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountTable {
    rules: Vec<Rule>,
    /// `JkOptions +RejectUnsafeURI`.
    pub reject_unsafe: bool,
    /// The server the table belongs to, as mod_jk's status worker names it in each map's
    /// `server` key (see [`server_label`]); `None` where the web server has no such name.
    pub server: Option<String>,
}

/// mod_jk's name for a server (`ws_vhost_to_text`): the main server is `host` or `host:port`
/// (`port` 0 = not given in ServerName); a virtual host is `host [addr:port]` from its first
/// `<VirtualHost>` address (port 0 = none).
pub fn server_label(host: &str, vhost_addr: Option<(&str, u16)>, port: u16) -> String {
    match vhost_addr {
        None if port != 0 => format!("{host}:{port}"),
        None => host.to_owned(),
        Some((addr, 0)) => format!("{host} [{addr}]"),
        Some((addr, p)) => format!("{host} [{addr}:{p}]"),
    }
}

/// The rule that maps a URI, and its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match<'a> {
    pub worker: &'a str,
    pub rule: &'a Rule,
    pub extensions: &'a Extensions,
}

impl MountTable {
    pub fn new() -> Self {
        MountTable::default()
    }

    /// Every rule, in matching order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Add rules and restore the matching order.
    pub fn extend(&mut self, rules: impl IntoIterator<Item = Rule>) {
        self.rules.extend(rules);
        self.rules.sort_by_key(|r| {
            (
                Reverse(r.pattern.matches('/').count()),
                Reverse(r.pattern.len()),
                Reverse(r.source.rank()),
            )
        });
    }

    /// A server's `JkMount`/`JkUnMount` lines. The same pattern twice (per kind) keeps the last,
    /// as mod_jk's per-server map does, except that a virtual host's own line always beats one
    /// copied from the main server (`JkMountCopy` keeps existing entries). Bad lines are
    /// returned; the others are added.
    pub fn add_mount_lines<'l>(
        &mut self,
        lines: impl IntoIterator<Item = &'l MountLine>,
    ) -> Vec<RuleError> {
        let mut last: Vec<&MountLine> = Vec::new();
        for line in lines {
            let same = |l: &&MountLine| l.unmount == line.unmount && l.uri == line.uri;
            if line.inherited && last.iter().any(|l| same(l) && !l.inherited) {
                continue;
            }
            last.retain(|l| !same(l));
            last.push(line);
        }
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        for line in last {
            let source = Source::JkMount(line.at.clone());
            if !line.uri.starts_with('/') {
                let what = if line.unmount { "JkUnMount" } else { "JkMount" };
                errors.push(RuleError {
                    source,
                    message: format!("{what} `{}`: the path must start with `/`", line.uri),
                });
                continue;
            }
            let pattern = if line.unmount {
                format!("!{}", line.uri)
            } else {
                line.uri.clone()
            };
            match Rule::parse(&pattern, &line.worker, source) {
                Ok(r) => rules.extend(r),
                Err(e) => errors.push(e),
            }
        }
        self.extend(rules);
        errors
    }

    /// Patterns from workers' `mount` properties.
    pub fn add_worker_mounts<'w>(
        &mut self,
        mounts: impl IntoIterator<Item = &'w crate::config::WorkerMount>,
    ) -> Vec<RuleError> {
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        for m in mounts {
            match Rule::parse(&m.pattern, &m.worker, Source::WorkerMount(m.at.clone())) {
                Ok(r) => rules.extend(r),
                Err(e) => errors.push(e),
            }
        }
        self.extend(rules);
        errors
    }

    /// A copy with every rule from `file` replaced by `rules` (a mount file reload).
    pub fn with_file_rules(&self, file: &Path, rules: Vec<Rule>) -> MountTable {
        let mut next = MountTable {
            rules: Vec::with_capacity(self.rules.len()),
            reject_unsafe: self.reject_unsafe,
            server: self.server.clone(),
        };
        next.rules.extend(
            self.rules
                .iter()
                .filter(|r| r.source.file().is_none_or(|f| &**f != file))
                .cloned(),
        );
        next.extend(rules);
        next
    }

    /// Why a (normalised) URI is not even tried against the rules.
    pub(super) fn refusal(&self, uri: &str) -> Option<&'static str> {
        if !uri.starts_with('/') {
            Some("the URI does not start with `/`")
        } else if uri.len() > MAX_URI_LEN {
            Some("the URI is longer than 4095 bytes")
        } else if self.reject_unsafe && crate::uri::is_unsafe(uri) {
            Some("RejectUnsafeURI: the URI contains `%` or `\\`")
        } else {
            None
        }
    }

    /// The worker for a normalised URI, or `None` if the web server keeps the request.
    pub fn map(&self, uri: &str) -> Option<Match<'_>> {
        if self.refusal(uri).is_some() {
            return None;
        }
        let rule = self
            .rules
            .iter()
            .find(|r| !r.disabled && !r.exclusion && r.matches(uri))?;
        if self.cancelling(uri, &rule.worker).is_some() {
            return None;
        }
        Some(Match {
            worker: &rule.worker,
            rule,
            extensions: &rule.extensions,
        })
    }

    /// [`map`](Self::map) for a normalised path that need not be UTF-8 ([`crate::uri::normalise_bytes`]).
    /// Each byte that is not part of valid UTF-8 stands in as one byte no pattern contains, so
    /// `?` and `*` still count it as one byte and no literal matches it — as in mod_jk, whose
    /// patterns are bytes too.
    pub fn map_bytes(&self, uri: &[u8]) -> Option<Match<'_>> {
        match std::str::from_utf8(uri) {
            Ok(s) => self.map(s),
            Err(_) => self.map(&stand_in(uri)),
        }
    }

    /// The first enabled exclusion for `worker` (or `*`) that matches.
    pub(super) fn cancelling(&self, uri: &str, worker: &str) -> Option<usize> {
        self.rules.iter().position(|r| {
            r.exclusion && !r.disabled && (r.worker == worker || r.worker == "*") && r.matches(uri)
        })
    }
}

/// Valid UTF-8 kept, every other byte replaced by U+0001 (one byte, never in a pattern).
fn stand_in(uri: &[u8]) -> String {
    let mut out = String::with_capacity(uri.len());
    for chunk in uri.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('\u{1}', chunk.invalid().len()));
    }
    out
}

#[cfg(test)]
mod label_tests {
    use super::server_label;

    #[test]
    fn servers_are_named_as_mod_jk_names_them() {
        assert_eq!(server_label("localhost", None, 0), "localhost");
        assert_eq!(server_label("www.example", None, 8080), "www.example:8080");
        assert_eq!(
            server_label("shop", Some(("127.0.0.1", 8081)), 0),
            "shop [127.0.0.1:8081]"
        );
        assert_eq!(server_label("any", Some(("*", 0)), 0), "any [*]");
    }
}
