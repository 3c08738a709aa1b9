//! Installing Debian packages on this machine for a test, and putting the machine back: a
//! machine-wide lock (two test runs cannot both install), a snapshot of the directories packages
//! and `a2enmod` touch, and the apache2 module state (which modules are enabled, and by whom).

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::proc::wait_until;

/// Run a command to completion; `Err` carries the command line and everything it printed.
pub fn run(cmd: &mut Command) -> io::Result<String> {
    let out = cmd
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{cmd:?}: {e}")))?;
    let text = text(&out);
    if out.status.success() {
        Ok(text)
    } else {
        Err(io::Error::other(format!("{cmd:?}: {}\n{text}", out.status)))
    }
}

/// Run a command that may fail: its exit status and combined output.
pub fn try_run(cmd: &mut Command) -> (bool, String) {
    match cmd.output() {
        Ok(out) => (out.status.success(), text(&out)),
        Err(e) => (false, format!("{cmd:?}: {e}")),
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// dpkg's view of a package: `Some(version)` when installed, `None` when unknown or purged.
/// A package removed but not purged ("rc": its conffiles are still there) counts as present.
pub fn installed_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Abbrev} ${Version}", package])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    let (status, version) = s.split_once(' ')?;
    (status.trim() != "un" && !status.trim().is_empty()).then(|| version.trim().to_string())
}

/// Held while a test owns the machine's package state; released when dropped.
pub struct MachineLock {
    _file: File,
}

impl MachineLock {
    /// Wait (up to `timeout`) for another test run installing packages to finish.
    pub fn acquire(name: &str, timeout: Duration) -> io::Result<MachineLock> {
        let path = Path::new("/run/lock").join(format!("{name}.lock"));
        let file = File::create(&path)?;
        wait_until(&format!("the lock {}", path.display()), timeout, || {
            // SAFETY: flock on a descriptor this function owns; the lock ends with the file.
            (unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0)
                .then_some(())
        })?;
        Ok(MachineLock { _file: file })
    }
}

/// The paths under `roots` (recursively), with symlink targets: what "nothing left behind"
/// compares. Missing roots are simply absent.
pub fn snapshot(roots: &[&str]) -> BTreeSet<String> {
    fn walk(p: &Path, out: &mut BTreeSet<String>) {
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            return;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(p).unwrap_or_default();
            out.insert(format!("{} -> {}", p.display(), target.display()));
        } else if meta.is_dir() {
            out.insert(format!("{}/", p.display()));
            if let Ok(entries) = std::fs::read_dir(p) {
                for e in entries.flatten() {
                    walk(&e.path(), out);
                }
            }
        } else {
            out.insert(p.display().to_string());
        }
    }
    let mut out = BTreeSet::new();
    for r in roots {
        walk(Path::new(r), &mut out);
    }
    out
}

/// Lines only in `before` (-) or only in `after` (+).
pub fn difference(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<String> {
    let gone = before.difference(after).map(|p| format!("- {p}"));
    let new = after.difference(before).map(|p| format!("+ {p}"));
    gone.chain(new).collect()
}

const A2_STATE: &str = "/var/lib/apache2/module";

/// An apache2 module's state as `a2enmod` keeps it: enabled or not, and its marker
/// (`enabled_by_maint/jk`, `disabled_by_admin/jk`...), which says who decided.
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleState {
    pub name: String,
    pub enabled: bool,
    pub marker: Option<PathBuf>,
}

impl ModuleState {
    pub fn read(name: &str) -> ModuleState {
        let enabled = Path::new("/etc/apache2/mods-enabled")
            .join(format!("{name}.load"))
            .exists();
        let marker = std::fs::read_dir(A2_STATE).ok().and_then(|dirs| {
            dirs.flatten()
                .map(|d| d.path().join(name))
                .find(|m| m.exists())
        });
        ModuleState {
            name: name.to_string(),
            enabled,
            marker,
        }
    }

    /// Put the module back into this state: enable or disable it the way it was decided
    /// (`-m`: by a maintainer script), then the marker exactly as it was.
    pub fn restore(&self) -> io::Result<()> {
        let now = ModuleState::read(&self.name);
        if now.enabled != self.enabled {
            let tool = if self.enabled { "a2enmod" } else { "a2dismod" };
            let by_maint = self
                .marker
                .as_deref()
                .is_some_and(|m| m.to_string_lossy().contains("_by_maint"));
            let mut cmd = Command::new(tool);
            if by_maint {
                cmd.arg("-m");
            }
            run(cmd.args(["-q", &self.name]))?;
        }
        let now = ModuleState::read(&self.name);
        if now.marker != self.marker {
            if let Some(m) = &now.marker {
                std::fs::remove_file(m)?;
            }
            if let Some(m) = &self.marker {
                std::fs::create_dir_all(m.parent().unwrap_or(Path::new(A2_STATE)))?;
                File::create(m)?;
            }
        }
        Ok(())
    }
}

/// Remove the marker directories a2enmod created during the test (empty ones only), so the
/// state tree is as it was.
pub fn remove_new_marker_dirs(before: &BTreeSet<String>) {
    if let Ok(dirs) = std::fs::read_dir(A2_STATE) {
        for d in dirs.flatten() {
            let listed = format!("{}/", d.path().display());
            if !before.contains(&listed) {
                let _ = std::fs::remove_dir(d.path());
            }
        }
    }
}
