//! mod_rjk: the Apache httpd adapter. It registers the `Jk*` directives, hands what they say
//! to lb-core, and drives lb-core's forwarding engine from httpd's hooks. It decides nothing
//! itself: mapping, balancing and the protocol all live in `lb-core` and `ajp`, so httpd and
//! nginx behave the same.
//!
//! The module symbol is `jk_module` and its name `mod_jk.c`, so existing configurations load it
//! with only the path of `LoadModule` changed, and `<IfModule mod_jk.c>` / `<IfModule
//! jk_module>` blocks stay active.

mod conf;
mod directives;
mod ffi;
mod forward;
mod guard;
mod handler;
mod hooks;
mod log;
mod module;
mod notes;
mod request;
mod request_log;
mod runtime;
mod setup;
mod status;
mod translate;

pub use conf::{DirectiveLine, ServerConf};
