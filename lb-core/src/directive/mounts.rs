//! One server's mapping table from its settings: `JkMount`/`JkUnMount` (incl. `<Location>`),
//! its `JkMountFile`, and the workers' `mount` properties — plus the checks mod_jk leaves to
//! request time: a rule naming a worker that is not in `worker.list`, extensions that only an lb
//! understands, member names that are not the lb's.

use std::path::Path;

use super::options::Flag;
use super::server::ServerSettings;
use crate::config::{closest, Diagnostic, Kind, Location, Severity, Workers};
use crate::mount::{MountFile, MountTable, Rule};

fn diag(severity: Severity, at: Option<Location>, message: String) -> Diagnostic {
    Diagnostic {
        severity,
        at,
        worker: None,
        message,
    }
}

/// The table, the mount file as read (for reloads), and everything worth reporting.
/// `file_override` replaces the settings' JkMountFile (`rjk check --mounts`).
pub fn mount_table(
    settings: &ServerSettings,
    workers: Option<&Workers>,
    file_override: Option<&Path>,
) -> (MountTable, Option<MountFile>, Vec<Diagnostic>) {
    let mut table = MountTable::new();
    let mut diags = Vec::new();
    table.reject_unsafe = settings.options.has(Flag::REJECT_UNSAFE_URI);
    for e in table.add_mount_lines(&settings.mounts) {
        diags.push(diag(
            Severity::Error,
            Some(e.source.location().clone()),
            e.message,
        ));
    }
    let path = file_override
        .map(Path::to_owned)
        .or_else(|| settings.mount_file.as_ref().map(|(p, _)| p.clone()));
    let mut file = None;
    if let Some(path) = path {
        match MountFile::read(&path) {
            Ok(f) => {
                for e in &f.errors {
                    diags.push(diag(
                        Severity::Error,
                        Some(e.source.location().clone()),
                        e.message.clone(),
                    ));
                }
                for (at, w) in &f.warnings {
                    diags.push(diag(Severity::Warning, Some(at.clone()), w.clone()));
                }
                table.extend(f.rules.iter().cloned());
                file = Some(f);
            }
            Err(e) => {
                let at = settings.mount_file.as_ref().map(|(_, at)| at.clone());
                diags.push(diag(
                    Severity::Error,
                    at,
                    format!("cannot read mount file {}: {e}", path.display()),
                ));
            }
        }
    }
    if let Some(w) = workers {
        for e in table.add_worker_mounts(w.mounts()) {
            diags.push(diag(
                Severity::Error,
                Some(e.source.location().clone()),
                e.message,
            ));
        }
        let listed: Vec<&str> = w.list.value.iter().map(String::as_str).collect();
        for r in table.rules() {
            extension_checks(r, w, &mut diags);
            if r.worker != "*" && !listed.contains(&r.worker.as_str()) {
                let hint = closest(&r.worker, listed.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                diags.push(diag(
                    Severity::Error,
                    Some(r.source.location().clone()),
                    format!(
                        "mount `{}` names worker `{}`, which is not in worker.list{hint}",
                        r.text(),
                        r.worker
                    ),
                ));
            }
        }
    }
    (table, file, diags)
}

fn extension_checks(r: &Rule, w: &Workers, diags: &mut Vec<Diagnostic>) {
    let at = Some(r.source.location().clone());
    let lb = match w.get(&r.worker).map(|x| &x.kind) {
        Some(Kind::Lb(lb)) => Some(lb),
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
                let hint = closest(m, lb.balance_workers.value.iter().map(String::as_str))
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                diags.push(diag(
                    Severity::Warning,
                    at.clone(),
                    format!(
                        "mount `{}`: `{m}` is not a member of lb `{}`{hint}",
                        r.text(),
                        r.worker
                    ),
                ));
            }
        }
    }
}
