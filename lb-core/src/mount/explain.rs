//! Why a URI maps where it does: every rule's verdict in matching order, for `rjk map` and the
//! debug log. Computed with the same steps as [`MountTable::map`], so the story and the
//! decision cannot disagree (a test checks that they agree for every case of the table).

use std::fmt;

use super::rule::Rule;
use super::table::{Match, MountTable};

/// Why one rule is tried before another (mod_jk's `worker_compare`, then insertion order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// It has more `/` in its pattern (the two counts).
    MoreSlashes(usize, usize),
    /// Same number of `/`, longer pattern (the two lengths).
    Longer(usize, usize),
    /// Same `/` and length; its source ranks higher (uriworkermap > JkMount > worker `mount`).
    StrongerSource(&'static str, &'static str),
    /// A tie in everything mod_jk compares: it was added first (mod_jk's qsort leaves this open).
    AddedFirst,
}

impl Order {
    /// Why `first` sorts before `second`.
    pub fn between(first: &Rule, second: &Rule) -> Order {
        let slashes = |r: &Rule| r.pattern.matches('/').count();
        if slashes(first) != slashes(second) {
            Order::MoreSlashes(slashes(first), slashes(second))
        } else if first.pattern.len() != second.pattern.len() {
            Order::Longer(first.pattern.len(), second.pattern.len())
        } else if first.source.rank() != second.source.rank() {
            Order::StrongerSource(first.source.kind(), second.source.kind())
        } else {
            Order::AddedFirst
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Order::MoreSlashes(a, b) => write!(f, "its pattern has more `/` ({a} against {b})"),
            Order::Longer(a, b) => write!(f, "same number of `/`, and its pattern is longer ({a} bytes against {b})"),
            Order::StrongerSource(a, b) => write!(f, "same `/` and length, and a {a} rule beats a {b} rule"),
            Order::AddedFirst => f.write_str("a tie in `/`, length and source; it was added first (mod_jk leaves this order open)"),
        }
    }
}

/// A pattern that misses a URI in one of the ways operators trip over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Near {
    /// `/app/*` and the URI `/app`: the wildcard needs the `/` (and `/app|/*` covers both).
    WantsTrailingSlash { base: String },
    /// The exact rule `/app` and a URI below it such as `/app/x`.
    ExactOnly,
    /// Equal but for upper/lower case: mounts are case-sensitive, as in mod_jk on Unix.
    CaseDiffers,
}

impl Near {
    /// How `rule` (which does not match) nearly matches `uri`, if it does.
    pub fn between(rule: &Rule, uri: &str) -> Option<Near> {
        if let Some(base) = rule
            .pattern
            .strip_suffix("/*")
            .filter(|b| *b == uri && !b.is_empty())
        {
            return Some(Near::WantsTrailingSlash {
                base: base.to_owned(),
            });
        }
        if !rule.is_wildcard()
            && uri
                .strip_prefix(rule.pattern.as_str())
                .is_some_and(|rest| rest.starts_with('/') || rule.pattern.ends_with('/'))
        {
            return Some(Near::ExactOnly);
        }
        let folded = Rule {
            pattern: rule.pattern.to_ascii_lowercase(),
            ..rule.clone()
        };
        folded
            .matches(&uri.to_ascii_lowercase())
            .then_some(Near::CaseDiffers)
    }
}

impl fmt::Display for Near {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Near::WantsTrailingSlash { base } => {
                write!(f, "`{base}/*` needs something after `{base}/`, so `{base}` itself is not covered; mount `{base}|/*` for both")
            }
            Near::ExactOnly => f.write_str("an exact rule (no `*` or `?`) matches only the whole URI, not what is below it; add `/*` for that"),
            Near::CaseDiffers => f.write_str("it differs only in upper/lower case, and mounts are case-sensitive"),
        }
    }
}

/// What one rule did for a URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A `-` rule: never tried.
    Disabled,
    /// The pattern does not match.
    NoMatch,
    /// The pattern does not match, in a way that often surprises (see [`Near`]).
    NearMiss(Near),
    /// The first matching rule: the URI goes to its worker.
    Matched,
    /// Matched, but the rule at `by` comes first in mod_jk's order, `because` of this.
    Shadowed { by: usize, because: Order },
    /// The first matching rule, cancelled by the exclusion at this index.
    Excluded { by: usize },
    /// An exclusion that matches and cancels the winner.
    Cancels { winner: usize },
    /// An exclusion that matches but names another worker than the winner.
    OtherWorker,
    /// An exclusion with no winner to cancel.
    NothingToCancel,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub rule: &'a Rule,
    pub outcome: Outcome,
}

/// The whole story of one URI: every rule's verdict, the result, and why nothing was tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation<'a> {
    pub verdicts: Vec<Verdict<'a>>,
    pub result: Option<Match<'a>>,
    /// Set when the URI was refused before any rule was tried.
    pub refused: Option<&'static str>,
}

impl MountTable {
    /// Every rule's verdict for a normalised URI, in matching order, and the result.
    pub fn explain(&self, uri: &str) -> Explanation<'_> {
        let refused = self.refusal(uri);
        let winner = match refused {
            Some(_) => None,
            None => self
                .rules()
                .iter()
                .position(|r| !r.disabled && !r.exclusion && r.matches(uri)),
        };
        let cancel = winner.and_then(|w| self.cancelling(uri, &self.rules()[w].worker));
        let verdicts = self
            .rules()
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let outcome = if rule.disabled {
                    Outcome::Disabled
                } else if refused.is_some() {
                    Outcome::NoMatch
                } else if !rule.matches(uri) {
                    Near::between(rule, uri).map_or(Outcome::NoMatch, Outcome::NearMiss)
                } else if rule.exclusion {
                    match winner {
                        None => Outcome::NothingToCancel,
                        Some(w) if cancel == Some(i) => Outcome::Cancels { winner: w },
                        Some(w) if rule.worker == self.rules()[w].worker || rule.worker == "*" => {
                            Outcome::Cancels { winner: w }
                        }
                        Some(_) => Outcome::OtherWorker,
                    }
                } else {
                    match (winner, cancel) {
                        (Some(w), Some(by)) if w == i => Outcome::Excluded { by },
                        (Some(w), None) if w == i => Outcome::Matched,
                        (Some(w), _) => Outcome::Shadowed {
                            by: w,
                            because: Order::between(&self.rules()[w], rule),
                        },
                        (None, _) => Outcome::Matched, // unreachable: a match would be the winner
                    }
                };
                Verdict { rule, outcome }
            })
            .collect();
        let result = match (winner, cancel) {
            (Some(w), None) => Some(Match {
                worker: &self.rules()[w].worker,
                rule: &self.rules()[w],
                extensions: &self.rules()[w].extensions,
            }),
            _ => None,
        };
        Explanation {
            verdicts,
            result,
            refused,
        }
    }
}

impl Outcome {
    /// One line for people: why this rule did or did not decide.
    pub fn describe(&self, rules: &[Rule]) -> String {
        // `rules` should be the explained table's; any other slice gives a vaguer text, never a panic.
        let at = |i: usize| match rules.get(i) {
            Some(r) => format!("`{}` ({})", r.text(), r.source),
            None => format!("rule #{i}"),
        };
        match self {
            Outcome::Disabled => "disabled (`-` prefix): never tried".into(),
            Outcome::NoMatch => "pattern does not match".into(),
            Outcome::NearMiss(near) => format!("pattern does not match: {near}"),
            Outcome::Matched => "matches: this rule decides".into(),
            Outcome::Shadowed { by, because } => {
                format!("matches, but {} comes first: {because}", at(*by))
            }
            Outcome::Excluded { by } => {
                format!("matches, but is cancelled by the exclusion {}", at(*by))
            }
            Outcome::Cancels { winner } => format!("exclusion matches and cancels {}", at(*winner)),
            Outcome::OtherWorker => {
                "exclusion matches, but names another worker than the one that matched: ignored"
                    .into()
            }
            Outcome::NothingToCancel => "exclusion matches, but no rule mapped the URI".into(),
        }
    }
}
