//! URI handling before and after mapping, as mod_jk ≥ 1.2.46 does it (CVE-2018-11759).
//!
//! The adapter keeps two forms of a request's path:
//! - the *original* decoded path (httpd's `r->uri`, nginx's `$uri` before any rewriting by us),
//!   which is what gets forwarded (see [`forward_uri`]);
//! - a *normalised* copy ([`normalise`]) that the mount table matches against, so that
//!   `/app/..;/jkstatus` cannot reach a worker that `/jkstatus` would not.
//!
//! [`decode`] turns a raw request-target (as typed into `rjk map` or read from the wire) into
//! the decoded path the adapters already have. [`is_unsafe`] is `JkOptions +RejectUnsafeURI`;
//! [`strip_session_id`] is `JkStripSession` for requests that are not forwarded, and
//! [`auto_alias`] is `JkAutoAlias` for them;
//! [`normalise_steps`] tells which of mod_jk's passes changed a path (for `rjk map`).
//!
//! httpd's decoded path may hold bytes that are not UTF-8 (`/caf%E9` → `caf\xE9`); mod_jk maps
//! and forwards those, so every step has a `_bytes` form an adapter can use on `r->uri` as is.

mod alias;
mod decode;
mod forward;
mod normalise;
mod steps;
mod strip;

pub use alias::{auto_alias, AutoAlias};
pub use decode::{decode, decode_bytes};
pub use forward::{forward_uri, forward_uri_bytes};
pub use normalise::{is_unsafe, normalise, normalise_bytes, normalise_cow};
pub use steps::{normalise_steps, Pass, Step};
pub use strip::{strip_session_id, strip_session_id_bytes};

use std::fmt;

/// Why a request path cannot be mapped at all. The adapter answers with [`UriError::status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UriError {
    /// Not `/...` (and not the `*` of `OPTIONS *`).
    NotAbsolute,
    /// A `..` segment would climb above `/`.
    AboveRoot,
    /// `%` not followed by two hex digits, at this byte offset of the raw path.
    BadEscape(usize),
    /// `%2F` in the path: httpd refuses it by default (`AllowEncodedSlashes Off`).
    EncodedSlash,
    /// `%00` in the path.
    EncodedNul,
    /// The decoded bytes are not UTF-8 (rjk works on `str`; mod_jk would pass them through).
    NotUtf8,
}

impl UriError {
    /// The HTTP status an adapter should answer with (httpd's choice for the same request).
    pub fn status(&self) -> u16 {
        match self {
            UriError::EncodedSlash | UriError::EncodedNul => 404,
            _ => 400,
        }
    }
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::NotAbsolute => f.write_str("the path does not start with `/`"),
            UriError::AboveRoot => f.write_str("a `..` segment climbs above the root"),
            UriError::BadEscape(at) => {
                write!(f, "`%` at offset {at} is not followed by two hex digits")
            }
            UriError::EncodedSlash => {
                f.write_str("an encoded slash (`%2F`) is not allowed in the path")
            }
            UriError::EncodedNul => {
                f.write_str("an encoded NUL (`%00`) is not allowed in the path")
            }
            UriError::NotUtf8 => f.write_str("the decoded path is not UTF-8"),
        }
    }
}

impl std::error::Error for UriError {}
