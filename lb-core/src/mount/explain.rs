//! Why a URI maps where it does: every rule's verdict in matching order, for `rjk map` and the
//! debug log. Computed with the same steps as [`MountTable::map`], so the story and the
//! decision cannot disagree (a test checks that they agree for every case of the table).

use super::rule::Rule;
use super::table::{Match, MountTable};

/// What one rule did for a URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A `-` rule: never tried.
    Disabled,
    /// The pattern does not match.
    NoMatch,
    /// The first matching rule: the URI goes to its worker.
    Matched,
    /// Matched, but an earlier (more specific) rule had already won.
    Shadowed { by: usize },
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
            None => self.rules().iter().position(|r| !r.disabled && !r.exclusion && r.matches(uri)),
        };
        let cancel = winner.and_then(|w| self.cancelling(uri, &self.rules()[w].worker));
        let verdicts = self
            .rules()
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let outcome = if rule.disabled {
                    Outcome::Disabled
                } else if refused.is_some() || !rule.matches(uri) {
                    Outcome::NoMatch
                } else if rule.exclusion {
                    match winner {
                        None => Outcome::NothingToCancel,
                        Some(w) if cancel == Some(i) => Outcome::Cancels { winner: w },
                        Some(w) if rule.worker == self.rules()[w].worker || rule.worker == "*" => Outcome::Cancels { winner: w },
                        Some(_) => Outcome::OtherWorker,
                    }
                } else {
                    match (winner, cancel) {
                        (Some(w), Some(by)) if w == i => Outcome::Excluded { by },
                        (Some(w), None) if w == i => Outcome::Matched,
                        (Some(w), _) => Outcome::Shadowed { by: w },
                        (None, _) => Outcome::Matched, // unreachable: a match would be the winner
                    }
                };
                Verdict { rule, outcome }
            })
            .collect();
        let result = match (winner, cancel) {
            (Some(w), None) => Some(Match { worker: &self.rules()[w].worker, rule: &self.rules()[w], extensions: &self.rules()[w].extensions }),
            _ => None,
        };
        Explanation { verdicts, result, refused }
    }
}

impl Outcome {
    /// One line for people: why this rule did or did not decide.
    pub fn describe(&self, rules: &[Rule]) -> String {
        let at = |i: usize| format!("`{}` ({})", rules[i].text(), rules[i].source);
        match self {
            Outcome::Disabled => "disabled (`-` prefix): never tried".into(),
            Outcome::NoMatch => "pattern does not match".into(),
            Outcome::Matched => "matches: this rule decides".into(),
            Outcome::Shadowed { by } => format!("matches, but {} comes first (more `/`, or longer, or a stronger source)", at(*by)),
            Outcome::Excluded { by } => format!("matches, but is cancelled by the exclusion {}", at(*by)),
            Outcome::Cancels { winner } => format!("exclusion matches and cancels {}", at(*winner)),
            Outcome::OtherWorker => "exclusion matches, but names another worker than the one that matched: ignored".into(),
            Outcome::NothingToCancel => "exclusion matches, but no rule mapped the URI".into(),
        }
    }
}
