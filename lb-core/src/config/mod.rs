//! workers.properties (and `JkWorkerProperty` lines) read exactly as mod_jk reads them, resolved
//! into typed workers with mod_jk's defaults — and every mistake reported at once, with its
//! file:line and, for a misspelt name, the closest valid one.
//!
//! ```no_run
//! # use lb_core::config::{Loader, Location};
//! let mut l = Loader::new();
//! l.directive_property("worker.node1.port=8010", Location::new("/etc/apache2/httpd.conf", 12));
//! l.workers_file("/etc/apache2/workers.properties".as_ref());
//! let loaded = l.finish();
//! for d in &loaded.diagnostics { eprintln!("{d}"); }
//! ```

mod ajp;
mod attribute;
mod diag;
mod lb;
mod local;
mod properties;
mod read;
mod reference;
mod setting;
mod status_worker;
mod suggest;
mod value;
mod workers;

pub use ajp::AjpWorker;
pub use attribute::{Attribute, ATTRIBUTES};
pub use diag::{Diagnostic, Diagnostics, Location, Severity};
pub use lb::LbWorker;
pub(crate) use properties::substitute;
pub use properties::{Property, PropertyMap};
pub use setting::{Origin, Row, Setting};
pub use status_worker::StatusWorker;
pub use suggest::closest;
pub use value::{boolean as value_bool, int as value_int, Activation, Lock, Method, PingMode};
pub use workers::{Kind, Worker, WorkerMount, Workers};

use std::path::{Path, PathBuf};

/// Worker names longer than this cannot be looked up by mod_jk.
pub const MAX_NAME: usize = 60;
/// Host names, routes and domains live in 64-byte shared-memory fields in mod_jk.
pub const MAX_SHM_STRING: usize = 63;

/// Collects property lines (directives first, then the file, as mod_jk applies them) and
/// resolves them.
#[derive(Debug, Default)]
pub struct Loader {
    map: PropertyMap,
    diags: Diagnostics,
    files: Vec<PathBuf>,
}

/// The outcome of a load: the workers (absent when there were errors) and everything worth
/// telling the operator.
#[derive(Debug)]
pub struct Loaded {
    pub workers: Option<Workers>,
    pub diagnostics: Vec<Diagnostic>,
    /// The property map after template resolution (what mod_jk's status `dump` shows).
    pub properties: PropertyMap,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// The properties the status worker's `dump` may show: every secret hidden (mod_jk hides
    /// `.secret` but shows `.secretkey`; rjk hides both).
    pub fn dump(&self) -> Vec<(String, String)> {
        self.properties
            .iter()
            .filter(|p| !is_secret(&p.key))
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect()
    }
}

/// A property whose value is a secret: never shown in dumps, status output or logs.
pub fn is_secret(key: &str) -> bool {
    key.ends_with(".secret") || key.ends_with(".secretkey")
}

impl Loader {
    pub fn new() -> Self {
        Self::default()
    }

    /// `$(ServerRoot)` is predefined in mod_jk's property map.
    pub fn server_root(&mut self, root: &Path) {
        self.map.insert(Property {
            key: "ServerRoot".into(),
            value: root.display().to_string(),
            at: Location::new("(httpd ServerRoot)", 0),
            via: None,
            template: None,
        });
    }

    /// A `JkWorkerProperty` argument.
    pub fn directive_property(&mut self, line: &str, at: Location) {
        self.map.read_line(line, &at, &mut self.diags);
    }

    /// An error found by whoever feeds the loader (a directive's own problem).
    pub fn error(&mut self, at: &Location, message: String) {
        self.diags.error(Some(at), None, message);
    }

    /// Read a workers.properties file (an unreadable file is an error naming it).
    pub fn workers_file(&mut self, path: &Path) {
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                self.map.read_file_text(&text, path, &mut self.diags);
                self.files.push(path.to_owned());
            }
            Err(e) => self.diags.error(
                None,
                None,
                format!("cannot read workers file {}: {e}", path.display()),
            ),
        }
    }

    /// Read workers.properties text given directly (tests, `rjk check -`).
    pub fn workers_text(&mut self, text: &str, name: &Path) {
        self.map.read_file_text(text, name, &mut self.diags);
    }

    /// Resolve templates and build the typed workers; `threads` is the web server's threads per
    /// process (the default connection_pool_size), when known.
    pub fn finish(mut self) -> Loaded {
        reference::resolve(&mut self.map, &mut self.diags);
        let workers = workers::build(&self.map, &mut self.diags);
        let failed = self.diags.has_errors();
        Loaded {
            workers: (!failed).then_some(workers),
            diagnostics: self.diags.list,
            properties: self.map,
        }
    }
}

#[cfg(test)]
mod tests;
