//! `JkMount`/`JkUnMount` lines, uriworkermap files and workers' `mount` properties: which
//! worker, if any, a request goes to — with the precedence mod_jk's code really uses (not the one its docs
//! describe) — and why.
//!
//! - [`rule`]: one rule's syntax (`-` disabled, `!` exclusion, `*`/`?` wildcards, `a|b`) and
//!   where it came from;
//! - [`extension`]: the `;name=value` rule extensions after the worker name;
//! - [`table`]: a server's rules in mod_jk's order, and [`MountTable::map`];
//! - [`explain`]: every rule's verdict for one URI ([`MountTable::explain`], `rjk map`);
//! - [`file`](mod@file): reading a uriworkermap file;
//! - [`reload`]: a shared table whose file's rules are re-read and swapped in whole;
//! - [`dispatch`]: the order in which a request's worker is found (URI phase, handler).
//!
//! Matching always happens on the normalised path ([`crate::uri::normalise`]):
//! ```
//! use lb_core::config::Location;
//! use lb_core::mount::{MountTable, Rule, Source};
//!
//! let mut table = MountTable::new();
//! let at = Location::new("httpd.conf", 12);
//! table.extend(Rule::parse("/app/*", "lb", Source::JkMount(at.clone())).unwrap());
//! table.extend(Rule::parse("/jkstatus", "status", Source::JkMount(at.clone())).unwrap());
//! table.extend(Rule::parse("!/app/*.css", "lb", Source::JkMount(at)).unwrap());
//!
//! // httpd's decoded r->uri; a normalisation error is answered with UriError::status() (400).
//! let uri = lb_core::uri::normalise("/app/..;/jkstatus").unwrap();
//! assert_eq!(table.map(&uri).map(|m| m.worker), Some("status"));
//! assert!(table.map("/app/site.css").is_none());
//! ```

pub mod dispatch;
pub mod explain;
pub mod extension;
pub mod file;
pub mod reload;
pub mod rule;
pub mod table;

pub use explain::{Explanation, Near, Order, Outcome, Verdict};
pub use extension::{Extensions, NO_EXTENSIONS};
pub use file::MountFile;
pub use reload::{Reload, SharedTable};
pub use rule::{Rule, RuleError, Source};
pub use table::server_label;
pub use table::{Match, MountTable, MAX_URI_LEN};
