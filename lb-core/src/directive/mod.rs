//! What the web server's `Jk*` directives mean, independent of the server that read them:
//! httpd's module, nginx's module and `rjk check --jk-conf` hand their lines here.

pub mod mounts;
pub mod options;
pub mod server;

use std::path::{Path, PathBuf};

use crate::config::{Loaded, Loader, Location};

/// One directive as written: its name, its raw argument text, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JkLine {
    pub name: String,
    pub args: String,
    pub at: Location,
    /// The enclosing `<Location>` path (for `JkMount worker` written inside one).
    pub location: Option<String>,
}

/// Load the workers as mod_jk does at startup (other `Jk*` lines are ignored here): every `JkWorkerProperty` first, then the one
/// `JkWorkersFile` (relative to `server_root`). A second `JkWorkersFile` is an error, as in
/// mod_jk; with neither, mod_jk's default single `ajp13` worker results.
pub fn load_workers<'a>(lines: impl IntoIterator<Item = &'a JkLine>, server_root: &Path) -> Loaded {
    let mut l = Loader::new();
    l.server_root(server_root);
    let mut file: Option<(PathBuf, Location)> = None;
    for line in lines {
        if line.name.eq_ignore_ascii_case("JkWorkerProperty") {
            l.directive_property(&line.args, line.at.clone());
        } else if line.name.eq_ignore_ascii_case("JkWorkersFile") {
            let arg = unquote(line.args.trim());
            let path = if Path::new(arg).is_absolute() {
                PathBuf::from(arg)
            } else {
                server_root.join(arg)
            };
            match &file {
                Some((_, first)) => l.error(&line.at, format!("JkWorkersFile given again (first at {first}): only one workers file is allowed")),
                None => file = Some((path, line.at.clone())),
            }
        }
    }
    if let Some((path, at)) = &file {
        if path.is_file() {
            l.workers_file(path);
        } else {
            l.error(
                at,
                format!("JkWorkersFile {}: no such file", path.display()),
            );
        }
    }
    l.finish()
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, args: &str, n: u32) -> JkLine {
        JkLine {
            name: name.into(),
            args: args.into(),
            at: Location::new("httpd.conf", n),
            location: None,
        }
    }

    #[test]
    fn properties_then_file_relative_to_server_root() {
        let dir = std::env::temp_dir().join(format!("rjk-directive-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("w.properties"),
            "worker.list=a\nworker.a.port=8012\n",
        )
        .unwrap();
        let lines = [
            line("JkWorkersFile", "w.properties", 1),
            line("JkWorkerProperty", "worker.a.host=h", 2),
        ];
        let r = load_workers(&lines, &dir);
        let w = r.workers.expect("loads");
        let a = w.ajp("a").unwrap();
        assert_eq!((a.host.value.as_str(), a.port.value), ("h", 8012));
        let twice = [
            line("JkWorkersFile", "w.properties", 1),
            line("JkWorkersFile", "other", 5),
        ];
        let r = load_workers(&twice, &dir);
        assert!(r.workers.is_none());
        assert_eq!(r.diagnostics[0].to_string(), "httpd.conf:5: error: JkWorkersFile given again (first at httpd.conf:1): only one workers file is allowed");
        let missing = [line("JkWorkersFile", "\"nope.properties\"", 3)];
        let r = load_workers(&missing, &dir);
        assert!(
            r.diagnostics[0]
                .to_string()
                .starts_with("httpd.conf:3: error: JkWorkersFile"),
            "{:?}",
            r.diagnostics
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
