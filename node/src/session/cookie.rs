//! Where a request names its session: the `JSESSIONID` cookie or a `;jsessionid=` path
//! parameter, and the `Set-Cookie` line that hands a new id to the client.

/// The cookie (and path parameter) name Tomcat uses.
pub const COOKIE_NAME: &str = "JSESSIONID";
const PATH_PARAM: &[u8] = b";jsessionid=";

/// Every `JSESSIONID` value in one `Cookie` header, in order (a client can send several, one
/// per path; the caller picks the first one that names a live session, as Tomcat does).
pub fn cookie_ids(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    header.split(|&b| b == b';').filter_map(|pair| {
        let pair = trim(pair);
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = (trim(&pair[..eq]), trim(&pair[eq + 1..]));
        if !name.eq_ignore_ascii_case(COOKIE_NAME.as_bytes()) {
            return None;
        }
        let value = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        (!value.is_empty()).then_some(value)
    })
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// Split a `;jsessionid=ID` parameter out of a request path: the path without it, and the id.
/// The parameter ends at the next `/`, `;` or `?`. `None` when the path has none (the common
/// case, so nothing is copied).
pub fn strip_path_param(path: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let start = find_ignore_case(path, PATH_PARAM)?;
    let value_start = start + PATH_PARAM.len();
    let value_len = path[value_start..]
        .iter()
        .position(|&b| b == b'/' || b == b';' || b == b'?')
        .unwrap_or(path.len() - value_start);
    let id = &path[value_start..value_start + value_len];
    let mut rest = Vec::with_capacity(path.len() - PATH_PARAM.len() - value_len);
    rest.extend_from_slice(&path[..start]);
    rest.extend_from_slice(&path[value_start + value_len..]);
    Some((rest, id))
}

fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// The `Set-Cookie` value for session `id`: `Path` = the context path, `HttpOnly` always,
/// `Secure` when the request came over TLS (as Tomcat does by default).
pub fn set_cookie(id: &str, path: &str, secure: bool) -> String {
    let mut s = String::with_capacity(COOKIE_NAME.len() + id.len() + path.len() + 32);
    s.push_str(COOKIE_NAME);
    s.push('=');
    s.push_str(id);
    s.push_str("; Path=");
    s.push_str(path);
    if secure {
        s.push_str("; Secure");
    }
    s.push_str("; HttpOnly");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_values() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"JSESSIONID=ABC.tc1", &[b"ABC.tc1"]),
            (b"a=1; JSESSIONID=X.r; b=2", &[b"X.r"]),
            (b"JSESSIONID=\"Q.r\"", &[b"Q.r"]),
            (b"jsessionid=L; JSESSIONID=M", &[b"L", b"M"]),
            (b"JSESSIONIDX=1; other=JSESSIONID", &[]),
            (b"JSESSIONID=", &[]),
            (b"", &[]),
        ];
        for (header, want) in cases {
            let got: Vec<&[u8]> = cookie_ids(header).collect();
            assert_eq!(&got, want, "{}", String::from_utf8_lossy(header));
        }
    }

    #[test]
    fn path_params() {
        let (p, id) = strip_path_param(b"/a/b;jsessionid=ABC.tc1").unwrap();
        assert_eq!((&p[..], id), (&b"/a/b"[..], &b"ABC.tc1"[..]));
        let (p, id) = strip_path_param(b"/x;JSESSIONID=I.r/y").unwrap();
        assert_eq!((&p[..], id), (&b"/x/y"[..], &b"I.r"[..]));
        let (p, id) = strip_path_param(b"/x;jsessionid=I;v=1").unwrap();
        assert_eq!((&p[..], id), (&b"/x;v=1"[..], &b"I"[..]));
        assert!(strip_path_param(b"/plain/path").is_none());
    }

    #[test]
    fn set_cookie_line() {
        assert_eq!(
            set_cookie("A.r", "/", false),
            "JSESSIONID=A.r; Path=/; HttpOnly"
        );
        assert_eq!(
            set_cookie("A.r", "/app", true),
            "JSESSIONID=A.r; Path=/app; Secure; HttpOnly"
        );
    }
}
