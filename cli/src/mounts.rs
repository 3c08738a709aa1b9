//! The main server's mapping table as mod_rjk builds it: JkMount/JkUnMount lines, the
//! JkMountFile (or `--mounts`), and the workers' `mount` properties; plus the checks mod_jk
//! does not make (a rule naming a worker that does not exist).

use std::path::{Path, PathBuf};

use lb_core::config::{closest, Diagnostic, Location, Severity, Workers};
use lb_core::directive::options::Flag;
use lb_core::directive::server::server_settings;
use lb_core::directive::JkLine;
use lb_core::mount::{MountFile, MountTable};

use crate::jkconf::JkConf;

fn diag(severity: Severity, at: Option<Location>, message: String) -> Diagnostic {
    Diagnostic { severity, at, worker: None, message }
}

/// The table plus what was wrong with its sources.
pub fn main_table(conf: Option<&JkConf>, mounts_file: Option<&Path>, workers: Option<&Workers>, root: &Path) -> (MountTable, Vec<Diagnostic>) {
    let mut table = MountTable::new();
    let mut diags = Vec::new();
    let mut file: Option<PathBuf> = mounts_file.map(Path::to_owned);
    if let Some(c) = conf {
        let main: Vec<JkLine> = c
            .directives
            .iter()
            .filter(|d| d.vhost.is_none())
            .map(|d| JkLine { name: d.name.clone(), args: d.raw.clone(), at: d.at.clone(), location: d.location.clone() })
            .collect();
        let (settings, _) = server_settings(main.iter().map(|l| (l, false)), false, root);
        table.reject_unsafe = settings.options.has(Flag::REJECT_UNSAFE_URI);
        for e in table.add_mount_lines(&settings.mounts) {
            diags.push(diag(Severity::Error, Some(e.source.location().clone()), e.message));
        }
        if file.is_none() {
            file = settings.mount_file.map(|(p, _)| p);
        }
    }
    if let Some(path) = &file {
        match MountFile::read(path) {
            Ok(f) => {
                for e in &f.errors {
                    diags.push(diag(Severity::Error, Some(e.source.location().clone()), e.message.clone()));
                }
                for (at, w) in &f.warnings {
                    diags.push(diag(Severity::Warning, Some(at.clone()), w.clone()));
                }
                table.extend(f.rules);
            }
            Err(e) => diags.push(diag(Severity::Error, None, format!("cannot read mount file {}: {e}", path.display()))),
        }
    }
    if let Some(w) = workers {
        for e in table.add_worker_mounts(w.mounts()) {
            diags.push(diag(Severity::Error, Some(e.source.location().clone()), e.message));
        }
        // mod_jk only finds out per request ("could not find worker"); say it now.
        let listed: Vec<&str> = w.list.value.iter().map(String::as_str).collect();
        for r in table.rules() {
            extension_checks(r, w, &mut diags);
            if r.worker != "*" && !listed.contains(&r.worker.as_str()) {
                let hint = closest(&r.worker, listed.iter().copied()).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
                diags.push(diag(
                    Severity::Error,
                    Some(r.source.location().clone()),
                    format!("mount `{}` names worker `{}`, which is not in worker.list{hint}", r.text(), r.worker),
                ));
            }
        }
    }
    (table, diags)
}

/// Extensions that only make sense for an lb, and member names that must exist (mod_jk warns
/// at runtime, per request; here they are reported once, with the line).
fn extension_checks(r: &lb_core::mount::Rule, w: &Workers, diags: &mut Vec<Diagnostic>) {
    let at = Some(r.source.location().clone());
    let lb = match w.get(&r.worker).map(|x| &x.kind) {
        Some(lb_core::config::Kind::Lb(lb)) => Some(lb),
        _ => None,
    };
    let e = &r.extensions;
    if lb.is_none() && (e.has_activation() || e.has_session()) {
        diags.push(diag(Severity::Warning, at.clone(), format!(
            "mount `{}`: activation and session extensions only apply to lb workers; `{}` is not one", r.text(), r.worker)));
    }
    if let Some(lb) = lb {
        for m in e.active.iter().chain(&e.disabled).chain(&e.stopped) {
            if !lb.balance_workers.value.contains(m) {
                let hint = closest(m, lb.balance_workers.value.iter().map(String::as_str)).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
                diags.push(diag(Severity::Warning, at.clone(), format!("mount `{}`: `{m}` is not a member of lb `{}`{hint}", r.text(), r.worker)));
            }
        }
    }
}
