//! JkMount / JkUnMount / uriworkermap rules and the precedence mod_jk's code really uses.
//!
//! - [`rule`]: one rule's syntax (`-` disabled, `!` exclusion, `*`/`?` wildcards, `a|b`).
//! - [`extension`]: the `;name=value` rule extensions after the worker name.
//! - [`table`]: rules sorted as mod_jk sorts them, [`MountTable::map`] and
//!   [`MountTable::explain`].
//! - [`file`]: reading a uriworkermap file and reloading it so that only its own rules change.
//!
//! Matching always happens on the normalised path ([`crate::uri::normalise`]).

pub mod extension;
pub mod file;
pub mod rule;
pub mod table;

pub use extension::Extensions;
pub use file::{MountFile, Reload, SharedTable};
pub use rule::{Rule, RuleError, Source};
pub use table::{Explanation, Match, MountTable, Outcome, Verdict, MAX_URI_LEN};
