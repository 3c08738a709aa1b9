//! From httpd's parsed directives to lb-core's configuration, once per (re)start.

use std::path::PathBuf;

use lb_core::config::{Loaded, Location, Severity};
use lb_core::directive::{load_workers, JkLine};

use crate::conf::{cstr, of_server};
use crate::ffi;
use crate::log::{self, Level};

/// The main server's `Jk*` lines, as lb-core reads them.
///
/// # Safety
/// `s` must be the live main server_rec.
pub unsafe fn main_lines(s: *const ffi::server_rec) -> Vec<JkLine> {
    // SAFETY: as documented.
    let conf = unsafe { of_server(s) };
    conf.lines
        .iter()
        .map(|l| JkLine {
            name: l.name.to_owned(),
            args: l.args.clone(),
            at: Location::new(&l.file, l.line),
            location: l.location.clone(),
        })
        .collect()
}

/// ServerRoot, which relative paths in Jk directives are resolved against.
///
/// # Safety
/// `pool` must be a live pool.
pub unsafe fn server_root(pool: *mut ffi::apr_pool_t) -> PathBuf {
    // SAFETY: ap_server_root_relative with "" returns ServerRoot, allocated in `pool`.
    PathBuf::from(unsafe { cstr(ffi::ap_server_root_relative(pool, c"".as_ptr())) })
}

/// Load the workers and report every diagnostic; `None` when the configuration cannot run.
pub fn load_and_report(s: *const ffi::server_rec, lines: &[JkLine], root: &std::path::Path) -> Option<Loaded> {
    let loaded = load_workers(lines.iter().filter(|l| {
        l.name.eq_ignore_ascii_case("JkWorkerProperty") || l.name.eq_ignore_ascii_case("JkWorkersFile")
    }), root);
    for d in &loaded.diagnostics {
        let level = match d.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        log::server(s, level, true, &format!("mod_rjk: {d}"));
    }
    if loaded.workers.is_none() {
        let n = loaded.errors().count();
        log::server(s, Level::Error, true, &format!(
            "mod_rjk: {n} error(s) in the workers configuration; `rjk check --jk-conf <httpd.conf>` shows the effective settings"));
        return None;
    }
    Some(loaded)
}
