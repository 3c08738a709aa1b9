//! `JkRequestLogFormat`: one line per forwarded request in the connector log, in the items of
//! mod_jk's format (`%w %V %T` ...). The format is read once at startup; a line is rendered from
//! what the web server knows after the response ([`RequestLogFacts`]).
//!
//! Stricter than mod_jk: an unknown `%x` names the valid items at `-t` instead of failing
//! startup with a bare "Unrecognized" message.

use std::fmt::Write as _;

/// What one finished request offers to the format.
pub trait RequestLogFacts {
    /// `%T`: seconds.microseconds the connector took (mod_jk's `JK_REQUEST_DURATION` note).
    fn duration(&self) -> Option<&[u8]>;
    /// `%r`: the request line as received.
    fn request_line(&self) -> &[u8];
    /// `%U`: the decoded path.
    fn uri(&self) -> &[u8];
    fn status(&self) -> u16;
    /// Body bytes sent, `None` when no body went out.
    fn bytes_sent(&self) -> Option<u64>;
    /// `%V`: the server name as `UseCanonicalName` has it.
    fn server_name(&self) -> &[u8];
    /// `%v`: the virtual host's configured name.
    fn virtual_host(&self) -> &[u8];
    fn server_port(&self) -> u16;
    fn protocol(&self) -> &[u8];
    fn method(&self) -> &[u8];
    fn query(&self) -> Option<&[u8]>;
    fn worker(&self) -> Option<&[u8]>;
    /// `%R`: the route of the member that served (`JK_WORKER_ROUTE`).
    fn route(&self) -> Option<&[u8]>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    Duration,
    RequestLine,
    Uri,
    Status,
    BytesClf,
    Bytes,
    ServerName,
    VirtualHost,
    Port,
    Protocol,
    Method,
    Query,
    Worker,
    Route,
}

const ITEMS: &[(char, Item, &str)] = &[
    ('T', Item::Duration, "duration in seconds.microseconds"),
    ('r', Item::RequestLine, "first line of the request"),
    ('U', Item::Uri, "URL path"),
    ('s', Item::Status, "status"),
    ('b', Item::BytesClf, "body bytes sent, `-` for none"),
    ('B', Item::Bytes, "body bytes sent"),
    ('V', Item::ServerName, "server name (UseCanonicalName)"),
    ('v', Item::VirtualHost, "canonical server name"),
    ('p', Item::Port, "server port"),
    ('H', Item::Protocol, "protocol"),
    ('m', Item::Method, "method"),
    ('q', Item::Query, "`?query` or nothing"),
    ('w', Item::Worker, "worker name"),
    ('R', Item::Route, "route of the member that served"),
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Item(Item),
}

/// A parsed `JkRequestLogFormat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLogFormat(Vec<Piece>);

impl RequestLogFormat {
    /// Read a format as mod_jk does: `%x` items, `\n`, `\t` and `\\` escapes in the text, any
    /// other backslash kept as written.
    pub fn parse(format: &str) -> Result<RequestLogFormat, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let Some(k) = chars.next() else {
                        return Err("JkRequestLogFormat: the format ends with a lone `%`".into());
                    };
                    let Some(&(_, item, _)) = ITEMS.iter().find(|(ch, _, _)| *ch == k) else {
                        let known: Vec<String> = ITEMS
                            .iter()
                            .map(|(ch, _, what)| format!("%{ch} ({what})"))
                            .collect();
                        return Err(format!(
                            "JkRequestLogFormat: unknown item `%{k}`; the items are {}",
                            known.join(", ")
                        ));
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Item(item));
                }
                '\\' => {
                    let rest = chars.as_str();
                    let escaped = match rest.chars().next() {
                        Some('n') => Some('\n'),
                        Some('t') => Some('\t'),
                        Some('\\') => Some('\\'),
                        _ => None,
                    };
                    match escaped {
                        Some(e) => {
                            text.push(e);
                            chars.next();
                        }
                        None => text.push('\\'),
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(RequestLogFormat(pieces))
    }

    /// The line for one request (without the time stamp and newline the logger adds). A value
    /// the request does not have is `-`, as in mod_jk.
    pub fn render(&self, f: &dyn RequestLogFacts) -> String {
        let mut out = String::new();
        let bytes = |b: Option<&[u8]>| match b {
            Some(b) => String::from_utf8_lossy(b).into_owned(),
            None => "-".to_owned(),
        };
        for piece in &self.0 {
            let _ = match piece {
                Piece::Text(t) => {
                    out.push_str(t);
                    Ok(())
                }
                Piece::Item(item) => match item {
                    Item::Duration => write!(out, "{}", bytes(f.duration())),
                    Item::RequestLine => write!(out, "{}", bytes(Some(f.request_line()))),
                    Item::Uri => write!(out, "{}", bytes(Some(f.uri()))),
                    Item::Status => match f.status() {
                        0 => write!(out, "-"),
                        s => write!(out, "{s}"),
                    },
                    Item::BytesClf => match f.bytes_sent() {
                        Some(n) => write!(out, "{n}"),
                        None => write!(out, "-"),
                    },
                    Item::Bytes => write!(out, "{}", f.bytes_sent().unwrap_or(0)),
                    Item::ServerName => write!(out, "{}", bytes(Some(f.server_name()))),
                    Item::VirtualHost => write!(out, "{}", bytes(Some(f.virtual_host()))),
                    Item::Port => write!(out, "{}", f.server_port()),
                    Item::Protocol => write!(out, "{}", bytes(Some(f.protocol()))),
                    Item::Method => write!(out, "{}", bytes(Some(f.method()))),
                    Item::Query => match f.query() {
                        Some(q) => write!(out, "?{}", String::from_utf8_lossy(q)),
                        None => Ok(()),
                    },
                    Item::Worker => write!(out, "{}", bytes(f.worker())),
                    Item::Route => write!(out, "{}", bytes(f.route())),
                },
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Done {
        query: Option<&'static [u8]>,
        sent: Option<u64>,
    }

    impl RequestLogFacts for Done {
        fn duration(&self) -> Option<&[u8]> {
            Some(b"0.001234")
        }
        fn request_line(&self) -> &[u8] {
            b"GET /app/x?a=1 HTTP/1.1"
        }
        fn uri(&self) -> &[u8] {
            b"/app/x"
        }
        fn status(&self) -> u16 {
            200
        }
        fn bytes_sent(&self) -> Option<u64> {
            self.sent
        }
        fn server_name(&self) -> &[u8] {
            b"www.example.com"
        }
        fn virtual_host(&self) -> &[u8] {
            b"example"
        }
        fn server_port(&self) -> u16 {
            8080
        }
        fn protocol(&self) -> &[u8] {
            b"HTTP/1.1"
        }
        fn method(&self) -> &[u8] {
            b"GET"
        }
        fn query(&self) -> Option<&[u8]> {
            self.query
        }
        fn worker(&self) -> Option<&[u8]> {
            Some(b"lb")
        }
        fn route(&self) -> Option<&[u8]> {
            None
        }
    }

    #[test]
    fn every_item_renders_like_mod_jk() {
        let f = RequestLogFormat::parse("%w %R %V %v %p %T %m %U%q %H %s %b %B \"%r\"").unwrap();
        let line = f.render(&Done {
            query: Some(b"a=1"),
            sent: Some(1024),
        });
        assert_eq!(
            line,
            "lb - www.example.com example 8080 0.001234 GET /app/x?a=1 HTTP/1.1 200 1024 1024 \"GET /app/x?a=1 HTTP/1.1\""
        );
        let line = f.render(&Done {
            query: None,
            sent: None,
        });
        assert!(line.contains(" /app/x HTTP/1.1 200 - 0 "), "{line}");
    }

    #[test]
    fn escapes_and_unknown_items() {
        let f = RequestLogFormat::parse(r"a\tb\\c\x %s").unwrap();
        let line = f.render(&Done {
            query: None,
            sent: None,
        });
        assert_eq!(line, "a\tb\\c\\x 200");
        let e = RequestLogFormat::parse("%w %Z").unwrap_err();
        assert!(
            e.starts_with("JkRequestLogFormat: unknown item `%Z`; the items are %T (duration"),
            "{e}"
        );
        assert!(RequestLogFormat::parse("100%").is_err());
    }
}
