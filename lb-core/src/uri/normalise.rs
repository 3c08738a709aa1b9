//! `jk_servlet_normalize`: the copy of the path that mounts are matched against.

use std::borrow::Cow;

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
    normalise_cow(path).map(Cow::into_owned)
}

/// [`normalise_bytes`] borrowing `path` when it is normal already (the usual request: no
/// parameter, no `//`, no `.` or `..` segment), so mapping it allocates nothing.
pub fn normalise_cow(path: &[u8]) -> Result<Cow<'_, [u8]>, UriError> {
    if path == b"*" || is_normal(path) {
        return Ok(Cow::Borrowed(path));
    }
    rebuild(path).map(Cow::Owned)
}

/// The normal form, built segment by segment.
fn rebuild(path: &[u8]) -> Result<Vec<u8>, UriError> {
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

/// `path` is its own normal form: absolute, and every segment but an empty last one is a
/// plain name (no `;`, not empty, not `.` or `..`).
fn is_normal(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/") else {
        return false;
    };
    if path.contains(&b';') {
        return false;
    }
    let mut segments = rest.split(|&b| b == b'/').peekable();
    while let Some(s) = segments.next() {
        let last = segments.peek().is_none();
        match s {
            b"" if last => {}
            b"" | b"." | b".." => return false,
            _ => {}
        }
    }
    true
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_taken_as_normal_is_what_rebuilding_it_gives() {
        let parts: [&[u8]; 7] = [b"a", b"", b".", b"..", b"b;x", b";", b"\xe9"];
        let mut paths: Vec<Vec<u8>> = vec![b"/".to_vec(), b"".to_vec(), b"a/b".to_vec()];
        for x in parts {
            for y in parts {
                for z in parts {
                    paths.push([&b"/"[..], x, b"/", y, b"/", z].concat());
                    paths.push([&b"/"[..], x, b"/", y].concat());
                }
            }
        }
        for p in &paths {
            let fast = normalise_cow(p);
            assert_eq!(fast.as_deref(), rebuild(p).as_deref(), "{p:?}");
            if is_normal(p) {
                assert!(matches!(fast, Ok(Cow::Borrowed(_))), "{p:?}");
            }
        }
        assert!(is_normal(b"/app/x/"));
        assert!(!is_normal(b"/app//x"));
    }
}
