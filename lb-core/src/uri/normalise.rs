//! `jk_servlet_normalize`: the copy of the path that mounts are matched against.

use super::UriError;

/// Normalise a decoded path the way mod_jk does before mapping:
/// 1. it must start with `/` (`*` alone, from `OPTIONS *`, is returned as is and maps nowhere);
/// 2. every path parameter (`;...` up to the next `/`) is removed, in every segment;
/// 3. runs of `/` collapse to one;
/// 4. `.` segments go away (a trailing `/.` leaves the `/`);
/// 5. `..` drops the segment before it; climbing above `/` is an error (400).
///
/// The steps run in this order, so `/app/..;/x` becomes `/app/../x` and then `/x`.
pub fn normalise(path: &str) -> Result<String, UriError> {
    if path == "*" {
        return Ok(path.to_owned());
    }
    let rest = path.strip_prefix('/').ok_or(UriError::NotAbsolute)?;
    let mut kept: Vec<&str> = Vec::new();
    // A path ending in `/`, `/.` or `/..` keeps a trailing slash.
    let mut trailing = false;
    for raw in rest.split('/') {
        let segment = strip_parameters(raw);
        trailing = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop().ok_or(UriError::AboveRoot)?;
            }
            s => kept.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &kept {
        out.push('/');
        out.push_str(s);
    }
    if trailing || kept.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// A segment without its path parameter (`name;a=b` → `name`).
fn strip_parameters(segment: &str) -> &str {
    segment.split(';').next().unwrap_or("")
}

/// `JkOptions +RejectUnsafeURI`: a normalised path still holding `%` or `\` is not mapped (a
/// double-encoded or Windows-style path the backend might decode differently).
pub fn is_unsafe(normalised: &str) -> bool {
    normalised.contains(['%', '\\'])
}
