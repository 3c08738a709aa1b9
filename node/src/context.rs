//! The context path: where the web server mounts the application (`JkMount /app/*`), as a
//! Tomcat context deployed from `app.war` lives under `/app`. The session cookie is scoped to
//! it (`Path=/app`), and the application finds it as a request extension to route on the rest
//! of the path (the URI itself stays whole, as Tomcat's `getRequestURI`).

use std::sync::Arc;

/// The application's context path: `/` (the root) or `/seg[/seg…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextPath(Arc<str>);

impl Default for ContextPath {
    fn default() -> Self {
        ContextPath("/".into())
    }
}

impl ContextPath {
    /// Check a configured path: `/`, or segments without a trailing `/`, `.`/`..`, `;`, `?`,
    /// `#` or `%` (the web server compares it with decoded paths).
    pub fn new(p: &str) -> Result<ContextPath, String> {
        if p == "/" {
            return Ok(ContextPath::default());
        }
        let ok = p.starts_with('/')
            && p[1..].split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b";?#%".contains(&b))
            });
        if ok {
            Ok(ContextPath(p.into()))
        } else {
            Err(format!(
                "{p:?}: use / or a path like /app (no trailing /, no ., .., ;, ?, # or %)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part of `path` below the context (`/app/x` → `/x`, `/app` → `/`), or `None` when
    /// `path` is outside it (`/apple`, `/other`).
    pub fn relative<'p>(&self, path: &'p str) -> Option<&'p str> {
        if &*self.0 == "/" {
            return Some(path);
        }
        match path.strip_prefix(&*self.0)? {
            "" => Some("/"),
            rest if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_and_outside() {
        let root = ContextPath::default();
        assert_eq!(root.relative("/x"), Some("/x"));
        let app = ContextPath::new("/app").unwrap();
        assert_eq!(app.relative("/app/session"), Some("/session"));
        assert_eq!(app.relative("/app"), Some("/"));
        assert_eq!(app.relative("/app/"), Some("/"));
        assert_eq!(app.relative("/apple"), None);
        assert_eq!(app.relative("/other/app"), None);
        assert_eq!(
            ContextPath::new("/a/b").unwrap().relative("/a/b/c"),
            Some("/c")
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in [
            "", "app", "/app/", "//", "/a//b", "/..", "/a;b", "/a%2F", "/a b",
        ] {
            assert!(ContextPath::new(bad).is_err(), "{bad:?}");
        }
    }
}
