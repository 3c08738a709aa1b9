//! From a raw request-target to the decoded path httpd would call `r->uri`.

use std::borrow::Cow;

use super::UriError;

/// Cut the query (`?...`) and fragment off a raw request-target and percent-decode the path, with
/// httpd's refusals: a malformed escape is 400, an encoded `/` or NUL is 404. A path without `%`
/// is returned borrowed.
pub fn decode(raw: &str) -> Result<Cow<'_, str>, UriError> {
    let path = raw.split(['?', '#']).next().unwrap_or("");
    if !path.contains('%') {
        return Ok(Cow::Borrowed(path));
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let byte = match (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
            (Some(h), Some(l)) => h << 4 | l,
            _ => return Err(UriError::BadEscape(i)),
        };
        match byte {
            b'/' => return Err(UriError::EncodedSlash),
            0 => return Err(UriError::EncodedNul),
            b => out.push(b),
        }
        i += 3;
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| UriError::NotUtf8)
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}
