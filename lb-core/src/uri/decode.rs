//! From a raw request-target to the decoded path httpd would call `r->uri`.

use std::borrow::Cow;

use super::UriError;

/// Cut the query (`?...`) and fragment off a raw request-target and percent-decode the path, with
/// httpd's refusals: a malformed escape is 400, an encoded `/` or NUL is 404. A path without `%`
/// is returned borrowed. Decoded bytes that are not UTF-8 are [`UriError::NotUtf8`]; use
/// [`decode_bytes`] to go on with them as httpd does.
pub fn decode(raw: &str) -> Result<Cow<'_, str>, UriError> {
    match decode_bytes(raw)? {
        Cow::Borrowed(b) => std::str::from_utf8(b)
            .map(Cow::Borrowed)
            .map_err(|_| UriError::NotUtf8),
        Cow::Owned(v) => String::from_utf8(v)
            .map(Cow::Owned)
            .map_err(|_| UriError::NotUtf8),
    }
}

/// [`decode`] without the UTF-8 requirement: the bytes httpd would put in `r->uri`.
pub fn decode_bytes(raw: &str) -> Result<Cow<'_, [u8]>, UriError> {
    let path = raw.split(['?', '#']).next().unwrap_or("");
    if !path.contains('%') {
        return Ok(Cow::Borrowed(path.as_bytes()));
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
        let byte = match (
            bytes.get(i + 1).and_then(hex),
            bytes.get(i + 2).and_then(hex),
        ) {
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
    Ok(Cow::Owned(out))
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}
