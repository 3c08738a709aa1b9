//! The code tables of AJP/1.3: message types, methods, coded headers and attributes.

/// Message types (the first payload byte of every message but request-body packets).
pub mod kind {
    pub const FORWARD_REQUEST: u8 = 2;
    pub const SEND_BODY_CHUNK: u8 = 3;
    pub const SEND_HEADERS: u8 = 4;
    pub const END_RESPONSE: u8 = 5;
    pub const GET_BODY_CHUNK: u8 = 6;
    pub const SHUTDOWN: u8 = 7;
    pub const PING: u8 = 8;
    pub const CPONG: u8 = 9;
    pub const CPING: u8 = 10;
}

/// Method code 0xFF: the name travels in the `stored_method` attribute.
pub const METHOD_STORED: u8 = 0xFF;

/// Methods by code (index = code - 1).
pub const METHODS: [&str; 27] = [
    "OPTIONS",
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "TRACE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "ACL",
    "REPORT",
    "VERSION-CONTROL",
    "CHECKIN",
    "CHECKOUT",
    "UNCHECKOUT",
    "SEARCH",
    "MKWORKSPACE",
    "UPDATE",
    "LABEL",
    "MERGE",
    "BASELINE-CONTROL",
    "MKACTIVITY",
];

/// The code for a method name (exact, as HTTP method names are case-sensitive).
pub fn method_code(name: &[u8]) -> Option<u8> {
    // The common ones first; the table scan covers the rest.
    match name {
        b"GET" => Some(2),
        b"POST" => Some(4),
        b"HEAD" => Some(3),
        _ => METHODS
            .iter()
            .position(|m| m.as_bytes() == name)
            .map(|i| i as u8 + 1),
    }
}

/// The method name of a code in 1..=27.
pub fn method_name(code: u8) -> Option<&'static str> {
    METHODS.get((code as usize).wrapping_sub(1)).copied()
}

/// Coded request headers 0xA001..=0xA00E, as Tomcat names them (lowercase).
pub const REQUEST_HEADERS: [&str; 14] = [
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "authorization",
    "connection",
    "content-type",
    "content-length",
    "cookie",
    "cookie2",
    "host",
    "pragma",
    "referer",
    "user-agent",
];

/// Coded response headers 0xA001..=0xA00B, in their canonical spelling.
pub const RESPONSE_HEADERS: [&str; 11] = [
    "Content-Type",
    "Content-Language",
    "Content-Length",
    "Date",
    "Last-Modified",
    "Location",
    "Set-Cookie",
    "Set-Cookie2",
    "Servlet-Engine",
    "Status",
    "WWW-Authenticate",
];

/// Header codes sit in 0xA0xx; a u16 below 0xA000 is a string length instead.
pub const HEADER_CODE_BASE: u16 = 0xA000;

/// A coded name as two overlapping windows (the first and the last 8 bytes, or 4 for names
/// shorter than 8), lowercased, with masks of their letter positions: a name matches when
/// `(window | mask) == lower` for both. Only letters are folded (bit 0x20), so the match is
/// exactly ASCII case-insensitive. The windows are read straight from the name, with no copy:
/// this runs for every header of every request.
#[derive(Clone, Copy)]
struct Key {
    head: u64,
    head_mask: u64,
    tail: u64,
    tail_mask: u64,
}

const fn window(b: &[u8], start: usize, w: usize) -> (u64, u64) {
    let (mut v, mut m, mut i) = (0u64, 0u64, 0);
    while i < w {
        let c = b[start + i];
        if c.is_ascii_alphabetic() {
            v |= ((c | 0x20) as u64) << (8 * i);
            m |= 0x20 << (8 * i);
        } else {
            v |= (c as u64) << (8 * i);
        }
        i += 1;
    }
    (v, m)
}

const fn width(len: usize) -> usize {
    if len >= 8 {
        8
    } else {
        4
    }
}

const fn key(name: &str) -> Key {
    let b = name.as_bytes();
    let w = width(b.len());
    let (head, head_mask) = window(b, 0, w);
    let (tail, tail_mask) = window(b, b.len() - w, w);
    Key {
        head,
        head_mask,
        tail,
        tail_mask,
    }
}

const fn keys<const N: usize>(names: [&str; N]) -> [Key; N] {
    let mut out = [Key {
        head: 0,
        head_mask: 0,
        tail: 0,
        tail_mask: 0,
    }; N];
    let mut i = 0;
    while i < N {
        out[i] = key(names[i]);
        i += 1;
    }
    out
}

const REQUEST_KEYS: [Key; 14] = keys(REQUEST_HEADERS);
const RESPONSE_KEYS: [Key; 11] = keys(RESPONSE_HEADERS);

#[inline]
fn load(b: &[u8], start: usize, w: usize) -> Option<u64> {
    let s = b.get(start..start + w)?;
    Some(match *s {
        [a, b, c, d] => u32::from_le_bytes([a, b, c, d]) as u64,
        [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => return None,
    })
}

/// Look `name` up among the candidates of its length only (at most three per length; every
/// coded name is 4 to 16 bytes long).
#[inline]
fn code_in(keys: &[Key], candidates: &[u8], name: &[u8]) -> Option<u16> {
    let w = width(name.len());
    let head = load(name, 0, w)?;
    let tail = load(name, name.len().checked_sub(w)?, w)?;
    candidates
        .iter()
        .find(|&&i| {
            let k = keys[i as usize];
            head | k.head_mask == k.head && tail | k.tail_mask == k.tail
        })
        .map(|&i| HEADER_CODE_BASE + 1 + i as u16)
}

/// The code of a request header name, matched case-insensitively. Every request header goes
/// through here, so the one candidate is picked by length and first letter (and byte 7 for
/// the two 15-byte names), then compared whole: one comparison per header instead of up to
/// three. A byte that only looks like a letter after `| 0x20` picks a candidate that the
/// whole-name comparison then refuses.
#[inline]
pub fn request_header_code(name: &[u8]) -> Option<u16> {
    let first = *name.first()? | 0x20;
    let i: u8 = match (name.len(), first) {
        (4, b'h') => 10,
        (6, b'a') => 0,
        (6, b'c') => 8,
        (6, b'p') => 11,
        (7, b'c') => 9,
        (7, b'r') => 12,
        (10, b'c') => 5,
        (10, b'u') => 13,
        (12, b'c') => 6,
        (13, b'a') => 4,
        (14, b'a') => 1,
        (14, b'c') => 7,
        (15, b'a') if name[7] | 0x20 == b'e' => 2,
        (15, b'a') => 3,
        _ => return None,
    };
    code_in(&REQUEST_KEYS, &[i], name)
}

/// The code of a response header name, matched case-insensitively.
#[inline]
pub fn response_header_code(name: &[u8]) -> Option<u16> {
    let candidates: &[u8] = match name.len() {
        4 => &[3],
        6 => &[9],
        8 => &[5],
        10 => &[6],
        11 => &[7],
        12 => &[0],
        13 => &[4],
        14 => &[2, 8],
        16 => &[1, 10],
        _ => return None,
    };
    code_in(&RESPONSE_KEYS, candidates, name)
}

fn name_in(table: &'static [&'static str], code: u16) -> Option<&'static str> {
    code.checked_sub(HEADER_CODE_BASE + 1)
        .and_then(|i| table.get(i as usize))
        .copied()
}

pub fn request_header_name(code: u16) -> Option<&'static str> {
    name_in(&REQUEST_HEADERS, code)
}

pub fn response_header_name(code: u16) -> Option<&'static str> {
    name_in(&RESPONSE_HEADERS, code)
}

/// Whether `name` is `Content-Length` in any case: exactly
/// `name.eq_ignore_ascii_case(b"content-length")`, as two overlapping 8-byte windows where
/// only the letters fold (bit 0x20), not a loop over the bytes. For checks that run on every
/// header of every request or response.
#[inline]
pub fn is_content_length(name: &[u8]) -> bool {
    const HEAD: u64 = u64::from_le_bytes(*b"content-");
    const TAIL: u64 = u64::from_le_bytes(*b"t-length");
    // Letter bytes: 0..=6 of "content-", and all but byte 1 of "t-length".
    const HEAD_LETTERS: u64 = 0x0020_2020_2020_2020;
    const TAIL_LETTERS: u64 = 0x2020_2020_2020_0020;
    let Ok(n) = <&[u8; 14]>::try_from(name) else {
        return false;
    };
    let (head, tail) = (n.first_chunk::<8>(), n.last_chunk::<8>());
    let (Some(head), Some(tail)) = (head, tail) else {
        return false;
    };
    u64::from_le_bytes(*head) | HEAD_LETTERS == HEAD
        && u64::from_le_bytes(*tail) | TAIL_LETTERS == TAIL
}

/// Attribute codes of the Forward Request.
pub mod attr {
    pub const CONTEXT: u8 = 0x01;
    pub const SERVLET_PATH: u8 = 0x02;
    pub const REMOTE_USER: u8 = 0x03;
    pub const AUTH_TYPE: u8 = 0x04;
    pub const QUERY_STRING: u8 = 0x05;
    pub const ROUTE: u8 = 0x06;
    pub const SSL_CERT: u8 = 0x07;
    pub const SSL_CIPHER: u8 = 0x08;
    pub const SSL_SESSION: u8 = 0x09;
    pub const REQ_ATTRIBUTE: u8 = 0x0A;
    pub const SSL_KEY_SIZE: u8 = 0x0B;
    pub const SECRET: u8 = 0x0C;
    pub const STORED_METHOD: u8 = 0x0D;
    pub const ARE_DONE: u8 = 0xFF;
}

/// `req_attribute` names Tomcat accepts without `allowedRequestAttributesPattern`.
pub const WELL_KNOWN_REQ_ATTRIBUTES: [&str; 22] = [
    "AJP_LOCAL_ADDR",
    "AJP_REMOTE_PORT",
    "AJP_SSL_PROTOCOL",
    "JK_LB_ACTIVATION",
    "javax.servlet.request.cipher_suite",
    "javax.servlet.request.key_size",
    "javax.servlet.request.ssl_session",
    "javax.servlet.request.X509Certificate",
    "jakarta.servlet.request.cipher_suite",
    "jakarta.servlet.request.key_size",
    "jakarta.servlet.request.ssl_session",
    "jakarta.servlet.request.X509Certificate",
    "jakarta.servlet.request.secure_protocol",
    "CERT_ISSUER",
    "CERT_SUBJECT",
    "CERT_COOKIE",
    "HTTPS_SERVER_SUBJECT",
    "CERT_FLAGS",
    "HTTPS_SECRETKEYSIZE",
    "CERT_SERIALNUMBER",
    "HTTPS_SERVER_ISSUER",
    "HTTPS_KEYSIZE",
];

pub fn is_well_known_req_attribute(name: &[u8]) -> bool {
    WELL_KNOWN_REQ_ATTRIBUTES
        .iter()
        .any(|n| n.as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_name_is_matched_as_eq_ignore_ascii_case() {
        let name = b"content-length";
        assert!(is_content_length(name));
        assert!(is_content_length(b"Content-Length"));
        assert!(is_content_length(b"CONTENT-LENGTH"));
        assert!(!is_content_length(b"content-lengt"));
        assert!(!is_content_length(b"content-lengths"));
        assert!(!is_content_length(b""));
        // Every byte changed to every value: a match exactly when the names are equal
        // ignoring ASCII case.
        for i in 0..name.len() {
            for c in 0..=255u8 {
                let mut n = *name;
                n[i] = c;
                assert_eq!(
                    is_content_length(&n),
                    n.eq_ignore_ascii_case(name),
                    "{i} {c:#x}"
                );
            }
        }
    }

    #[test]
    fn methods_round_trip() {
        for code in 1..=27u8 {
            let name = method_name(code).unwrap();
            assert_eq!(method_code(name.as_bytes()), Some(code));
        }
        assert_eq!(method_name(0), None);
        assert_eq!(method_name(28), None);
        assert_eq!(method_code(b"PATCH"), None);
        assert_eq!(method_code(b"get"), None);
    }

    #[test]
    fn request_codes_match_a_plain_case_insensitive_scan() {
        let reference = |n: &[u8]| {
            REQUEST_HEADERS
                .iter()
                .position(|h| h.as_bytes().eq_ignore_ascii_case(n))
                .map(|i| 0xA001 + i as u16)
        };
        // Every name in three casings, and every one-byte change of it (which must be refused
        // unless it spells another coded name), against a scan of the table.
        for h in REQUEST_HEADERS {
            for name in [h.to_string(), h.to_ascii_uppercase(), {
                let mut m = h.to_string();
                m[..1].make_ascii_uppercase();
                m
            }] {
                assert_eq!(
                    request_header_code(name.as_bytes()),
                    reference(name.as_bytes())
                );
                for p in 0..name.len() {
                    for c in [b'x', b'E', b'L', b'-', b'@', 0, 0xC1] {
                        let mut v = name.clone().into_bytes();
                        v[p] = c;
                        assert_eq!(request_header_code(&v), reference(&v), "{v:?}");
                    }
                }
            }
        }
        assert_eq!(request_header_code(b""), None);
    }

    #[test]
    fn length_dispatch_covers_every_name() {
        for (i, h) in REQUEST_HEADERS.iter().enumerate() {
            assert_eq!(
                request_header_code(h.as_bytes()),
                Some(0xA001 + i as u16),
                "{h}"
            );
        }
        for (i, h) in RESPONSE_HEADERS.iter().enumerate() {
            assert_eq!(
                response_header_code(h.as_bytes()),
                Some(0xA001 + i as u16),
                "{h}"
            );
        }
    }

    #[test]
    fn header_codes() {
        assert_eq!(request_header_code(b"Content-Type"), Some(0xA007));
        assert_eq!(request_header_code(b"USER-AGENT"), Some(0xA00E));
        assert_eq!(request_header_code(b"x-foo"), None);
        // Only letters fold: CR is not '-', '@' is not '`'.
        assert_eq!(request_header_code(b"content\rlength"), None);
        assert_eq!(request_header_code(b"@ccept"), None);
        assert_eq!(request_header_code(b"cookie\x12"), None);
        assert_eq!(request_header_code(b"COOKIE2"), Some(0xA00A));
        assert_eq!(request_header_name(0xA00B), Some("host"));
        assert_eq!(request_header_name(0xA00F), None);
        assert_eq!(request_header_name(0xA000), None);
        assert_eq!(response_header_code(b"set-cookie"), Some(0xA007));
        assert_eq!(response_header_name(0xA00B), Some("WWW-Authenticate"));
        assert_eq!(response_header_name(0xA00C), None);
    }
}
