//! The sticky route of a request, as mod_jk finds it (`get_sessionid`, `get_path_param`,
//! `get_cookie`): the session path parameter in the forwarded URI first, then the session cookie
//! in every `Cookie` header; the route is what follows the first `.` of a session id.
//!
//! Adapters call [`sticky_session_id`] (lb settings, the mapping rule's extensions and the
//! `JK_STICKY_IGNORE`/`JK_ROUTE` variables together), then try [`routes`] in order.

use std::borrow::Cow;

use crate::config::LbWorker;
use crate::mount::extension::atoi;
use crate::mount::Extensions;

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
pub fn session_id<'a>(
    uri: &'a str,
    cookie_headers: &[&'a str],
    session_path: &str,
    session_cookie: &str,
) -> Option<Cow<'a, str>> {
    let id = match path_parameter(uri, session_path) {
        Some(v) => Cow::Borrowed(v),
        None => cookie(cookie_headers, session_cookie)?,
    };
    Some(id).filter(|id| !id.is_empty())
}

/// What a request carries about stickiness, as the web server hands it over.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestSession<'a> {
    /// The forwarded URI ([`crate::uri::forward_uri`]), where `;jsessionid=` is looked for.
    pub uri: &'a str,
    /// Every `Cookie` header value, in order.
    pub cookies: &'a [&'a str],
    /// The `JK_STICKY_IGNORE` environment variable: empty or a non-zero number ignores
    /// stickiness, `0` restores it, unset leaves the rule's `sticky_ignore`.
    pub sticky_ignore_env: Option<&'a str>,
    /// The `JK_ROUTE` environment variable: a non-empty value forces that route.
    pub route_env: Option<&'a str>,
}

/// The session id an lb uses for a request, as mod_jk's `service` + `get_sessionid` decide:
/// none unless the lb is sticky and neither the rule nor `JK_STICKY_IGNORE` turn that off;
/// `JK_ROUTE` wins over the request; the rule's `session_path`/`session_cookie` replace the
/// lb's. Feed the result to [`routes`].
pub fn sticky_session_id<'a>(
    lb: &LbWorker,
    rule: Option<&Extensions>,
    req: &RequestSession<'a>,
) -> Option<Cow<'a, str>> {
    let mut ignore = rule.is_some_and(|e| e.sticky_ignore);
    if let Some(v) = req.sticky_ignore_env {
        ignore = v.is_empty() || atoi(v).0 != 0;
    }
    if !lb.sticky_session.value || ignore {
        return None;
    }
    if let Some(route) = req.route_env.filter(|r| !r.is_empty()) {
        return Some(Cow::Owned(forced_session_id(route)));
    }
    let path = rule
        .and_then(|e| e.session_path.as_deref())
        .unwrap_or(&lb.session_path.value);
    let cookie = rule
        .and_then(|e| e.session_cookie.as_deref())
        .unwrap_or(&lb.session_cookie.value);
    session_id(req.uri, req.cookies, path, cookie)
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

/// The session id mod_jk makes up when the web server forces a route (`JK_ROUTE` env var, only
/// when stickiness applies): `.route`, so [`route_of`] gives the route and no real id is used.
pub fn forced_session_id(route: &str) -> String {
    format!(".{route}")
}

/// The first `name=value` with something after `=` (mod_jk skips `name=` at the very end and
/// keeps looking); the value ends at `?`, `;` or `/` and may be empty (`;jsessionid=;x`).
fn path_parameter<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    if name.is_empty() {
        return None;
    }
    let bytes = uri.as_bytes();
    let mut from = 0;
    while let Some(at) = find(bytes, name.as_bytes(), from) {
        let eq = at + name.len();
        if bytes.get(eq) == Some(&b'=') && eq + 1 < bytes.len() {
            let value = &uri[eq + 1..];
            let end = value.find(['?', ';', '/']).unwrap_or(value.len());
            return Some(&value[..end]);
        }
        from = at + 1;
    }
    None
}

fn cookie<'a>(headers: &[&'a str], name: &str) -> Option<Cow<'a, str>> {
    if name.is_empty() {
        return None;
    }
    let mut found: Option<Cow<'a, str>> = None;
    for header in headers {
        let bytes = header.as_bytes();
        let mut from = 0;
        while let Some(at) = find(bytes, name.as_bytes(), from) {
            // Where mod_jk resumes: one byte past the occurrence, or past what it consumed.
            let mut resume = at + 1;
            let starts_cookie =
                at == 0 || matches!(bytes[at - 1], b';' | b',') || is_c_space(bytes[at - 1]);
            if starts_cookie {
                let mut i = at + name.len();
                while i < bytes.len() && is_c_space(bytes[i]) {
                    i += 1;
                }
                // `name=` must be followed by something; a lone `name` or `name=` at the end is skipped.
                if bytes.get(i) == Some(&b'=') && i + 1 < bytes.len() {
                    let start = i + 1;
                    let end = bytes[start..]
                        .iter()
                        .position(|&b| b == b';' || b == b',')
                        .map_or(bytes.len(), |n| start + n);
                    let id = unquote(&header[start..end]);
                    found = Some(match found {
                        None => Cow::Borrowed(id),
                        Some(prev) => Cow::Owned(format!("{prev};{id}")),
                    });
                    resume = end + 1;
                } else {
                    resume = i + 1;
                }
            }
            from = resume;
        }
    }
    found
}

/// A cookie value without surrounding double quotes (`"A.n1"` → `A.n1`).
fn unquote(raw: &str) -> &str {
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if raw.len() > 1 => inner,
        _ => raw,
    }
}

/// The first occurrence of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = hay.get(from..)?;
    rest.windows(needle.len())
        .position(|w| w == needle)
        .map(|n| from + n)
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}
