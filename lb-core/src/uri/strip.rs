//! `JkStripSession`: a request that is *not* forwarded loses its session path parameter before
//! httpd serves it itself (mod_jk's `jk_strip_session_id`), so `/img/a.png;jsessionid=X` finds
//! the file `a.png`.

/// Remove the first occurrence of `name` (e.g. `;jsessionid`) and whatever follows it up to the
/// next `;` or `/`, or `None` when `name` does not occur. As in mod_jk the name is looked for
/// anywhere, with or without `=` after it, and only the first occurrence goes.
pub fn strip_session_id(path: &str, name: &str) -> Option<String> {
    let out = strip_session_id_bytes(path.as_bytes(), name.as_bytes())?;
    // The cut starts at a match of valid UTF-8 and ends at an ASCII `;`/`/` or the end.
    Some(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// [`strip_session_id`] for a path that need not be UTF-8.
pub fn strip_session_id_bytes(path: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    if name.is_empty() {
        return None;
    }
    let start = path.windows(name.len()).position(|w| w == name)?;
    let after = start + name.len();
    let end = path[after..]
        .iter()
        .position(|&b| b == b';' || b == b'/')
        .map_or(path.len(), |n| after + n);
    let mut out = Vec::with_capacity(path.len() - (end - start));
    out.extend_from_slice(&path[..start]);
    out.extend_from_slice(&path[end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::strip_session_id as strip;

    #[test]
    fn removes_the_first_parameter_up_to_the_next_segment_or_parameter() {
        assert_eq!(
            strip("/img/a.png;jsessionid=A.n1", ";jsessionid").as_deref(),
            Some("/img/a.png")
        );
        assert_eq!(
            strip("/a;jsessionid=A.n1/b.png", ";jsessionid").as_deref(),
            Some("/a/b.png")
        );
        assert_eq!(
            strip("/a.png;jsessionid=A;v=2", ";jsessionid").as_deref(),
            Some("/a.png;v=2")
        );
        assert_eq!(
            strip("/a;jsessionid=1/b;jsessionid=2", ";jsessionid").as_deref(),
            Some("/a/b;jsessionid=2"),
            "only the first"
        );
        assert_eq!(
            strip("/a;jsessionid", ";jsessionid").as_deref(),
            Some("/a"),
            "no `=` needed"
        );
        assert_eq!(strip("/a.png", ";jsessionid"), None);
        assert_eq!(
            strip("/a;JSESSIONID=1", ";jsessionid"),
            None,
            "case-sensitive"
        );
        assert_eq!(strip("/a;sid=1", ""), None);
        assert_eq!(
            strip("/ü;jsessionid=ä/ö", ";jsessionid").as_deref(),
            Some("/ü/ö")
        );
    }
}
