//! The sticky route of a request, as mod_jk finds it (`get_sessionid`, `get_path_param`,
//! `get_cookie`): the session path parameter in the forwarded URI first, then the session cookie
//! in every `Cookie` header; the route is what follows the first `.` of a session id.

use std::borrow::Cow;

/// mod_jk's defaults for an lb's `session_path` and `session_cookie`.
pub const DEFAULT_SESSION_PATH: &str = ";jsessionid";
pub const DEFAULT_SESSION_COOKIE: &str = "JSESSIONID";

/// The session id of a request, or `None`.
/// - `uri`: the forwarded URI (after the `ForwardURI*` encoding), searched for `session_path`
///   followed by `=` in any segment; the value ends at `?`, `;` or `/`.
/// - `cookie_headers`: the value of every `Cookie` header, in order. `session_cookie` counts at
///   the start of a header or after `;`, `,` or a blank, with optional blanks before `=`; the
///   value ends at `;` or `,` and loses surrounding double quotes. Several such cookies are
///   joined with `;` (see [`routes`]).
///
/// An empty id — also an empty path parameter, which hides any cookie — is no session.
pub fn session_id<'a>(uri: &'a str, cookie_headers: &[&'a str], session_path: &str, session_cookie: &str) -> Option<Cow<'a, str>> {
    let id = match path_parameter(uri, session_path) {
        Some(v) => Cow::Borrowed(v),
        None => cookie(cookie_headers, session_cookie)?,
    };
    Some(id).filter(|id| !id.is_empty())
}

/// The route of one session id: the text after its first `.` (`ABC.node1` → `node1`).
pub fn route_of(session_id: &str) -> Option<&str> {
    session_id.split_once('.').map(|(_, route)| route)
}

/// The routes to try, in order, for a session id that may join several cookies with `;`;
/// partial ids without a `.` give no route.
pub fn routes(session_id: &str) -> impl Iterator<Item = &str> {
    session_id.split(';').filter_map(route_of)
}

/// The first `name=value` with a non-empty remainder after `=` (mod_jk skips `name=` at the very
/// end and keeps looking).
fn path_parameter<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    if name.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(pos) = uri[from..].find(name) {
        let start = from + pos + name.len();
        if let Some(value) = uri[start..].strip_prefix('=') {
            if !value.is_empty() {
                let end = value.find(['?', ';', '/']).unwrap_or(value.len());
                return Some(&value[..end]);
            }
        }
        from += pos + 1;
        if from >= uri.len() {
            break;
        }
        while !uri.is_char_boundary(from) {
            from += 1;
        }
    }
    None
}

fn cookie<'a>(headers: &[&'a str], name: &str) -> Option<Cow<'a, str>> {
    if name.is_empty() {
        return None;
    }
    let mut found: Option<Cow<'a, str>> = None;
    for header in headers {
        let mut from = 0;
        while let Some(pos) = header[from..].find(name) {
            let at = from + pos;
            let before_ok = at == 0 || matches!(header.as_bytes()[at - 1], b';' | b',' | b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c);
            let mut next = at + 1;
            if before_ok {
                let rest = header[at + name.len()..].trim_start_matches([' ', '\t', '\r', '\n', '\x0b', '\x0c']);
                if let Some(value) = rest.strip_prefix('=').filter(|v| !v.is_empty()) {
                    let end = value.find([';', ',']).unwrap_or(value.len());
                    let raw = &value[..end];
                    let id = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                        Some(inner) if raw.len() > 1 => inner,
                        _ => raw,
                    };
                    found = Some(match found {
                        None => Cow::Borrowed(id),
                        Some(prev) => Cow::Owned(format!("{prev};{id}")),
                    });
                    next = header.len() - value.len() + end;
                }
            }
            if next >= header.len() {
                break;
            }
            from = next;
            while !header.is_char_boundary(from) {
                from += 1;
            }
        }
    }
    found
}
