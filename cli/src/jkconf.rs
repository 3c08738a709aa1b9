//! The `Jk*` lines of an httpd configuration, so `rjk check --jk-conf /etc/apache2/apache2.conf`
//! checks an existing mod_jk setup as it is. This reads httpd's syntax only as far as mod_jk's
//! directives need: continuation lines, quoting, `Include`, and the `<VirtualHost>` /
//! `<Location>` blocks a `JkMount` can sit in.

use std::path::{Path, PathBuf};

use lb_core::config::Location;

/// One directive and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// The raw argument text (JkWorkerProperty takes the rest of the line as is).
    pub raw: String,
    pub at: Location,
    /// `<VirtualHost ...>` arguments, when inside one.
    pub vhost: Option<String>,
    /// `<Location path>` path, when inside one.
    pub location: Option<String>,
}

#[derive(Debug, Default)]
pub struct JkConf {
    pub server_root: Option<PathBuf>,
    pub directives: Vec<Directive>,
    pub problems: Vec<String>,
}

impl JkConf {
    pub fn read(path: &Path) -> JkConf {
        let mut c = JkConf::default();
        let mut ctx = Context::default();
        c.read_file(path, &mut ctx, 0);
        c
    }

    pub fn server_root(&self) -> PathBuf {
        self.server_root
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/apache2"))
    }

    /// Relative paths in httpd directives are relative to ServerRoot.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.server_root().join(p)
        }
    }

    fn read_file(&mut self, path: &Path, ctx: &mut Context, depth: usize) {
        if depth > 16 {
            self.problems
                .push(format!("{}: Include nested too deeply", path.display()));
            return;
        }
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                self.problems
                    .push(format!("cannot read {}: {e}", path.display()));
                return;
            }
        };
        let mut pending = String::new();
        let mut first_line = 0;
        for (n, line) in text.lines().enumerate() {
            if pending.is_empty() {
                first_line = n as u32 + 1;
            }
            if let Some(stripped) = line.strip_suffix('\\') {
                pending.push_str(stripped);
                pending.push(' ');
                continue;
            }
            pending.push_str(line);
            let full = std::mem::take(&mut pending);
            self.line(full.trim(), Location::new(path, first_line), ctx, depth);
        }
    }

    fn line(&mut self, line: &str, at: Location, ctx: &mut Context, depth: usize) {
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        if let Some(close) = line.strip_prefix("</") {
            let tag = close.trim_end_matches('>').trim().to_ascii_lowercase();
            match tag.as_str() {
                "virtualhost" => ctx.vhost = None,
                "location" | "locationmatch" => ctx.location = None,
                _ => {}
            }
            return;
        }
        if let Some(open) = line.strip_prefix('<') {
            let open = open.trim_end_matches('>');
            let (tag, arg) = open.split_once(char::is_whitespace).unwrap_or((open, ""));
            let arg = unquote(arg.trim());
            match tag.to_ascii_lowercase().as_str() {
                "virtualhost" => ctx.vhost = Some(arg),
                "location" => ctx.location = Some(arg),
                _ => {}
            }
            return;
        }
        let (name, raw) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let raw = raw.trim();
        match name.to_ascii_lowercase().as_str() {
            "serverroot" => self.server_root = Some(PathBuf::from(unquote(raw))),
            "include" | "includeoptional" => {
                let optional = name.eq_ignore_ascii_case("includeoptional");
                for f in self.expand(&unquote(raw), optional) {
                    self.read_file(&f, ctx, depth + 1);
                }
            }
            n if n.starts_with("jk") => self.directives.push(Directive {
                name: name.to_owned(),
                args: split_args(raw),
                raw: raw.to_owned(),
                at,
                vhost: ctx.vhost.clone(),
                location: ctx.location.clone(),
            }),
            _ => {}
        }
    }

    /// `Include` paths, with a `*` wildcard in the last component (as Debian's configs use).
    fn expand(&mut self, pattern: &str, optional: bool) -> Vec<PathBuf> {
        let full = self.resolve(pattern);
        let name = full
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains('*') {
            if full.is_dir() {
                return sorted_dir(&full, |_| true);
            }
            if !full.exists() && !optional {
                self.problems
                    .push(format!("Include {}: no such file", full.display()));
            }
            return if full.exists() { vec![full] } else { vec![] };
        }
        let dir = full.parent().map(Path::to_owned).unwrap_or_default();
        let (pre, post) = name.split_once('*').unwrap_or((&name, ""));
        let (pre, post) = (pre.to_owned(), post.to_owned());
        sorted_dir(&dir, |n| {
            n.starts_with(&pre) && n.ends_with(&post) && n.len() >= pre.len() + post.len()
        })
    }
}

#[derive(Default)]
struct Context {
    vhost: Option<String>,
    location: Option<String>,
}

fn sorted_dir(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && p.file_name().is_some_and(|n| keep(&n.to_string_lossy())));
    v.sort();
    v
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_owned()
}

/// httpd's word splitting: whitespace, with double-quoted words.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jk_lines_with_blocks_includes_and_continuations() {
        let dir = std::env::temp_dir().join(format!("rjk-jkconf-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("mods")).unwrap();
        std::fs::write(
            dir.join("mods/jk.conf"),
            "JkWorkerProperty worker.a.port=8010\nJkMount /x/* a\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("httpd.conf"),
            format!(
                "ServerRoot \"{}\"\nInclude mods/*.conf\nJkWorkersFile \\\n  workers.properties\n<VirtualHost *:80>\n  JkMount /app/* \"lb\"\n  <Location /jkstatus>\n    JkMount status\n  </Location>\n</VirtualHost>\n# JkMount /commented x\n",
                dir.display()
            ),
        )
        .unwrap();
        let c = JkConf::read(&dir.join("httpd.conf"));
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let names: Vec<(&str, Vec<String>, u32)> = c
            .directives
            .iter()
            .map(|d| (d.name.as_str(), d.args.clone(), d.at.line))
            .collect();
        assert_eq!(
            names,
            vec![
                ("JkWorkerProperty", vec!["worker.a.port=8010".to_owned()], 1),
                ("JkMount", vec!["/x/*".into(), "a".into()], 2),
                ("JkWorkersFile", vec!["workers.properties".into()], 3),
                ("JkMount", vec!["/app/*".into(), "lb".into()], 6),
                ("JkMount", vec!["status".into()], 8),
            ]
        );
        assert_eq!(c.directives[3].vhost.as_deref(), Some("*:80"));
        assert_eq!(c.directives[4].location.as_deref(), Some("/jkstatus"));
        assert_eq!(
            c.resolve("workers.properties"),
            dir.join("workers.properties")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
