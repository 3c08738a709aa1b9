//! From httpd's parsed directives to lb-core's configuration, once per (re)start.

use std::path::PathBuf;

use lb_core::config::{Loaded, Location, Severity};
use lb_core::directive::server::server_settings;
use lb_core::directive::{load_workers, JkLine};

use crate::conf::{cstr, of_server};
use crate::ffi;
use crate::log::{self, Level};

/// A server's lines with their "inherited from the main server" mark, as lb-core reads them.
///
/// # Safety
/// `s` must be a live server_rec.
pub unsafe fn server_lines(s: *const ffi::server_rec) -> Vec<(JkLine, bool)> {
    // SAFETY: as documented.
    let conf = unsafe { of_server(s) };
    conf.lines
        .iter()
        .map(|l| {
            let line = JkLine {
                name: l.name.to_owned(),
                args: l.args.clone(),
                at: Location::new(&l.file, l.line),
                location: l.location.clone(),
            };
            (line, l.inherited)
        })
        .collect()
}

/// Check every server's (main and virtual hosts') settings; false when one has an error.
///
/// # Safety
/// `main` must be the live main server_rec (its `next` chain lists the virtual hosts).
pub unsafe fn check_servers(main: *const ffi::server_rec, root: &std::path::Path) -> bool {
    let mut ok = true;
    let mut s = main;
    let mut seen = std::collections::HashSet::new();
    while !s.is_null() {
        // SAFETY: walking httpd's server list, all alive for the configuration's lifetime.
        let (lines, is_vhost) = unsafe { (server_lines(s), (*s).is_virtual != 0) };
        let (_, diags) = server_settings(lines.iter().map(|(l, i)| (l, *i)), is_vhost, root);
        for d in diags {
            // A vhost repeats the main server's inherited lines: report each problem once.
            if !seen.insert(d.to_string()) {
                continue;
            }
            ok &= d.severity != Severity::Error;
            let level = if d.severity == Severity::Error {
                Level::Error
            } else {
                Level::Warning
            };
            log::server(main, level, true, &format!("mod_rjk: {d}"));
        }
        // SAFETY: as above.
        s = unsafe { (*s).next };
    }
    ok
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
pub fn load_and_report(
    s: *const ffi::server_rec,
    lines: &[JkLine],
    root: &std::path::Path,
) -> Option<Loaded> {
    let loaded = load_workers(lines, root);
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
