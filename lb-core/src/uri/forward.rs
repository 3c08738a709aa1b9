//! The URI sent to the backend, chosen by `JkOptions ForwardURI*`. It is always derived from the
//! path as the client sent it (before normalisation), never from the normalised copy.

use std::borrow::Cow;

use crate::directive::options::ForwardUri;

/// The forwarded URI.
/// - `original`: the decoded path before normalisation (httpd's `r->uri` as mod_jk saved it);
/// - `unparsed`: the raw request-target as the client sent it (query, if any, is cut off here).
///
/// `Proxy` (default) re-encodes `original` as mod_jk's `jk_canonenc` does: letters, digits, `/`
/// and ``~$-_.+!*'(),;:@&=`` stay, every other byte becomes `%XX` (upper-case hex), so
/// `;jsessionid=` survives and `?`, `#`, `%`, space do not reach the backend unescaped.
/// `Escaped` is httpd's `ap_escape_uri`: since httpd 2.4.24 the same set of kept characters
/// (`;` included), written with lower-case hex. `Compat` forwards `original` as is;
/// `CompatUnparsed` forwards `unparsed` up to its `?`.
pub fn forward_uri<'a>(original: &'a str, unparsed: &'a str, mode: ForwardUri) -> Cow<'a, str> {
    match forward_uri_bytes(original.as_bytes(), unparsed.as_bytes(), mode) {
        // Escaping yields ASCII and the other forms are slices of valid input at ASCII `?`.
        Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default()),
        Cow::Owned(v) => Cow::Owned(String::from_utf8(v).unwrap_or_default()),
    }
}

/// [`forward_uri`] for paths that need not be UTF-8 (httpd's `r->uri` after decoding `%E9`):
/// `Proxy` and `Escaped` turn every such byte into `%XX`, exactly as mod_jk does, so a Latin-1
/// URL reaches the backend as the client sent it.
pub fn forward_uri_bytes<'a>(
    original: &'a [u8],
    unparsed: &'a [u8],
    mode: ForwardUri,
) -> Cow<'a, [u8]> {
    match mode {
        ForwardUri::Proxy => escape(original, b"0123456789ABCDEF"),
        ForwardUri::Escaped => escape(original, b"0123456789abcdef"),
        ForwardUri::Compat => Cow::Borrowed(original),
        ForwardUri::CompatUnparsed => {
            Cow::Borrowed(unparsed.split(|&b| b == b'?').next().unwrap_or(b""))
        }
    }
}

/// What both encoders leave alone besides ASCII letters and digits.
const KEEP: &[u8] = b"~$-_.+!*'(),;:@&=/";

/// Which bytes pass unescaped: ASCII alphanumerics and [`KEEP`], one lookup per byte of every
/// forwarded path instead of a scan of `KEEP`.
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < KEEP.len() {
        t[KEEP[i] as usize] = true;
        i += 1;
    }
    t
};

/// `%XX`-encode every byte that is neither ASCII alphanumeric nor in [`KEEP`].
fn escape<'a>(s: &'a [u8], digits: &[u8; 16]) -> Cow<'a, [u8]> {
    let plain = |b: u8| PLAIN[usize::from(b)];
    if s.iter().all(|&b| plain(b)) {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len() + 16);
    for &b in s {
        if plain(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                digits[usize::from(b >> 4)],
                digits[usize::from(b & 15)],
            ]);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod plain_tests {
    use super::*;

    #[test]
    fn the_plain_table_is_alphanumerics_and_keep() {
        for b in 0..=255u8 {
            assert_eq!(
                PLAIN[usize::from(b)],
                b.is_ascii_alphanumeric() || KEEP.contains(&b),
                "{b}"
            );
        }
    }
}
