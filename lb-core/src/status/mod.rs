//! The status worker's pages, rendered from a [`Snapshot`] of configuration and shared state.
//! The formats mod_jk's users parse (`mime=txt`, `mime=prop`) are reproduced key for key.

pub mod action;
mod edit;
pub mod form;
mod html;
mod json;
mod model;
mod options;
pub mod persist;
mod prometheus;
mod rating;
mod record;
pub mod respond;
mod runtime;
mod snapshot;
mod text;
mod time;
mod xml;

pub use edit::edit;
pub use html::{html, Page};
pub use json::json;
pub use model::{LbMember, LbStatus, MapEntry, Member, Snapshot, State};
pub use options::Show;
pub use prometheus::prometheus;
pub use rating::{rate, Rating};
pub use runtime::connection_over;
pub use snapshot::from_config;
pub use text::{prop, txt};
pub use xml::{xml, Xml};

/// What the status pages announce as the connector version (`jk_version`).
pub const VERSION: &str = concat!("mod_rjk/", env!("CARGO_PKG_VERSION"));

/// How one status worker presents the snapshot (its `prefix`, `good` and `bad` settings).
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub prefix: &'a str,
    pub good: &'a [String],
    pub bad: &'a [String],
}

fn map_count(snap: &Snapshot, worker: &str) -> usize {
    snap.maps.iter().filter(|m| m.worker == worker).count()
}

#[cfg(test)]
mod tests;
