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
    match mode {
        ForwardUri::Proxy => escape(original, KEEP, b"0123456789ABCDEF"),
        ForwardUri::Escaped => escape(original, KEEP, b"0123456789abcdef"),
        ForwardUri::Compat => Cow::Borrowed(original),
        ForwardUri::CompatUnparsed => Cow::Borrowed(unparsed.split('?').next().unwrap_or("")),
    }
}

/// What both encoders leave alone besides ASCII letters and digits.
const KEEP: &[u8] = b"~$-_.+!*'(),;:@&=/";

/// `%XX`-encode every byte that is neither ASCII alphanumeric nor in `keep`.
fn escape<'a>(s: &'a str, keep: &[u8], digits: &[u8; 16]) -> Cow<'a, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || keep.contains(&b);
    if s.bytes().all(plain) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for b in s.bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(digits[(b >> 4) as usize] as char);
            out.push(digits[(b & 15) as usize] as char);
        }
    }
    Cow::Owned(out)
}
