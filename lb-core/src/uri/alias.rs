//! `JkAutoAlias dir`: a request no mount matched is served by the web server from the
//! application's directory, `/ctx/rest` → `dir/ctx/rest`, when `dir/ctx` is a directory — the
//! static half of a webapp without a line of Alias config. What a servlet container hides stays
//! hidden: `/ctx/WEB-INF/...` and `/ctx/META-INF/...` are 404, a `ctx.war` archive is 403.
//!
//! Unlike mod_jk (which %-escapes the path it hands to the file system, so `/ctx/a b.png` is
//! looked up as `a%20b.png`), the file name is the decoded, normalised path.

use std::path::{Path, PathBuf};

/// What the web server does with an unmapped request under `JkAutoAlias`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoAlias {
    /// Serve this file (it may not exist: the web server answers 404 then, as for any file).
    Serve(PathBuf),
    /// A webapp's private directory: 404, as mod_jk.
    Hidden,
    /// A web archive: 403, as mod_jk.
    Archive,
}

impl AutoAlias {
    pub fn status(&self) -> Option<u16> {
        match self {
            AutoAlias::Serve(_) => None,
            AutoAlias::Hidden => Some(404),
            AutoAlias::Archive => Some(403),
        }
    }
}

/// Decide for `path` (decoded and normalised, starting with `/`) under `dir`. `is_dir` is the
/// file-system question, asked only for `dir/ctx`. `None`: not ours, the server goes on.
pub fn auto_alias(dir: &Path, path: &[u8], is_dir: impl Fn(&Path) -> bool) -> Option<AutoAlias> {
    use std::os::unix::ffi::OsStrExt;
    // httpd collapses `//` before mod_jk looks (ap_no2slash); the normaliser already did.
    let rest = path.strip_prefix(b"/")?;
    let mut segments = rest.split(|&b| b == b'/');
    let ctx = segments.next().filter(|c| !c.is_empty())?;
    let child = segments.next();
    if child
        .is_some_and(|c| c.eq_ignore_ascii_case(b"WEB-INF") || c.eq_ignore_ascii_case(b"META-INF"))
    {
        return Some(AutoAlias::Hidden);
    }
    let ctx_dir = dir.join(std::ffi::OsStr::from_bytes(ctx));
    if is_dir(&ctx_dir) {
        return Some(AutoAlias::Serve(
            dir.join(std::ffi::OsStr::from_bytes(rest)),
        ));
    }
    let war = ctx.len() > 4 && ctx[ctx.len() - 4..].eq_ignore_ascii_case(b".war");
    war.then_some(AutoAlias::Archive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(path: &str) -> Option<AutoAlias> {
        auto_alias(Path::new("/srv/webapps"), path.as_bytes(), |p| {
            p == Path::new("/srv/webapps/shop") || p == Path::new("/srv/webapps/a b")
        })
    }

    #[test]
    fn a_webapp_directory_serves_its_files() {
        assert_eq!(
            decide("/shop/img/logo.png"),
            Some(AutoAlias::Serve("/srv/webapps/shop/img/logo.png".into()))
        );
        assert_eq!(
            decide("/shop"),
            Some(AutoAlias::Serve("/srv/webapps/shop".into()))
        );
        assert_eq!(
            decide("/a b/c d.png"),
            Some(AutoAlias::Serve("/srv/webapps/a b/c d.png".into())),
            "the decoded name, not mod_jk's %-escaped one"
        );
        assert_eq!(decide("/other/x.png"), None, "no such webapp");
        assert_eq!(decide("/"), None);
    }

    #[test]
    fn private_directories_and_archives_are_refused() {
        for p in ["/shop/WEB-INF/web.xml", "/shop/web-inf", "/any/META-INF/x"] {
            assert_eq!(decide(p), Some(AutoAlias::Hidden), "{p}");
            assert_eq!(decide(p).unwrap().status(), Some(404));
        }
        assert_eq!(decide("/shop.war"), Some(AutoAlias::Archive));
        assert_eq!(decide("/shop.WAR/x").unwrap().status(), Some(403));
        assert_eq!(decide("/.war"), None, "a name that is only the suffix");
    }
}
