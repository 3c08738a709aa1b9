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

fn code_in(table: &[&str], name: &[u8]) -> Option<u16> {
    table
        .iter()
        .position(|h| h.len() == name.len() && h.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| HEADER_CODE_BASE + 1 + i as u16)
}

/// The code of a request header name, matched case-insensitively.
pub fn request_header_code(name: &[u8]) -> Option<u16> {
    code_in(&REQUEST_HEADERS, name)
}

/// The code of a response header name, matched case-insensitively.
pub fn response_header_code(name: &[u8]) -> Option<u16> {
    code_in(&RESPONSE_HEADERS, name)
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
    fn header_codes() {
        assert_eq!(request_header_code(b"Content-Type"), Some(0xA007));
        assert_eq!(request_header_code(b"USER-AGENT"), Some(0xA00E));
        assert_eq!(request_header_code(b"x-foo"), None);
        assert_eq!(request_header_name(0xA00B), Some("host"));
        assert_eq!(request_header_name(0xA00F), None);
        assert_eq!(request_header_name(0xA000), None);
        assert_eq!(response_header_code(b"set-cookie"), Some(0xA007));
        assert_eq!(response_header_name(0xA00B), Some("WWW-Authenticate"));
        assert_eq!(response_header_name(0xA00C), None);
    }
}
