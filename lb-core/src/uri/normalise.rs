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
    let out = normalise_bytes(path.as_bytes())?;
    // Only whole pieces cut at ASCII `/` and `;` were removed, so UTF-8 in is UTF-8 out.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// [`normalise`] for a path that need not be UTF-8: httpd decodes `%E9` to the byte 0xE9 and
/// mod_jk maps and forwards such paths, so an adapter holding `r->uri` as bytes uses this.
pub fn normalise_bytes(path: &[u8]) -> Result<Vec<u8>, UriError> {
    if path == b"*" {
        return Ok(path.to_vec());
    }
    let rest = path.strip_prefix(b"/").ok_or(UriError::NotAbsolute)?;
    let mut kept: Vec<&[u8]> = Vec::new();
    // A path ending in `/`, `/.` or `/..` keeps a trailing slash.
    let mut trailing = false;
    for raw in rest.split(|&b| b == b'/') {
        let segment = strip_parameters(raw);
        trailing = matches!(segment, b"" | b"." | b"..");
        match segment {
            b"" | b"." => {}
            b".." => {
                kept.pop().ok_or(UriError::AboveRoot)?;
            }
            s => kept.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for s in &kept {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if trailing || kept.is_empty() {
        out.push(b'/');
    }
    Ok(out)
}

/// A segment without its path parameter (`name;a=b` → `name`).
fn strip_parameters(segment: &[u8]) -> &[u8] {
    segment.split(|&b| b == b';').next().unwrap_or(b"")
}

/// `JkOptions +RejectUnsafeURI`: a normalised path still holding `%` or `\` is not mapped (a
/// double-encoded or Windows-style path the backend might decode differently).
pub fn is_unsafe(normalised: &str) -> bool {
    normalised.contains(['%', '\\'])
}
