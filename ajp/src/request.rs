//! Messages from the web server to the container: Forward Request, request-body packets,
//! CPing, Shutdown and Ping.

use crate::codes::{self, attr, kind};
use crate::error::{Error, Field};
use crate::packet::{PacketSize, HEADER_LEN, TO_CONTAINER};
use crate::wire::{self, Full, Reader, Writer};

/// One optional attribute of a Forward Request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute<'a> {
    Context(&'a [u8]),
    ServletPath(&'a [u8]),
    RemoteUser(&'a [u8]),
    AuthType(&'a [u8]),
    QueryString(&'a [u8]),
    Route(&'a [u8]),
    SslCert(&'a [u8]),
    SslCipher(&'a [u8]),
    SslSession(&'a [u8]),
    ReqAttribute {
        name: &'a [u8],
        value: &'a [u8],
    },
    /// Sent as a u16, not a string.
    SslKeySize(u16),
    Secret(&'a [u8]),
    StoredMethod(&'a [u8]),
}

impl<'a> Attribute<'a> {
    pub fn code(&self) -> u8 {
        match self {
            Attribute::Context(_) => attr::CONTEXT,
            Attribute::ServletPath(_) => attr::SERVLET_PATH,
            Attribute::RemoteUser(_) => attr::REMOTE_USER,
            Attribute::AuthType(_) => attr::AUTH_TYPE,
            Attribute::QueryString(_) => attr::QUERY_STRING,
            Attribute::Route(_) => attr::ROUTE,
            Attribute::SslCert(_) => attr::SSL_CERT,
            Attribute::SslCipher(_) => attr::SSL_CIPHER,
            Attribute::SslSession(_) => attr::SSL_SESSION,
            Attribute::ReqAttribute { .. } => attr::REQ_ATTRIBUTE,
            Attribute::SslKeySize(_) => attr::SSL_KEY_SIZE,
            Attribute::Secret(_) => attr::SECRET,
            Attribute::StoredMethod(_) => attr::STORED_METHOD,
        }
    }

    /// The one string of an attribute that is a string after its code (empty for the two that
    /// are not: `ReqAttribute`, `SslKeySize`).
    #[inline(always)]
    fn text(&self) -> &'a [u8] {
        match *self {
            Attribute::Context(v)
            | Attribute::ServletPath(v)
            | Attribute::RemoteUser(v)
            | Attribute::AuthType(v)
            | Attribute::QueryString(v)
            | Attribute::Route(v)
            | Attribute::SslCert(v)
            | Attribute::SslCipher(v)
            | Attribute::SslSession(v)
            | Attribute::Secret(v)
            | Attribute::StoredMethod(v) => v,
            Attribute::ReqAttribute { .. } | Attribute::SslKeySize(_) => &[],
        }
    }

    /// Inlined: each caller writes attributes in a loop where the writer stays in registers.
    /// All in a few appends when it fits; field by field (which names the fault) otherwise.
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Full> {
        let written = match *self {
            Attribute::ReqAttribute { name, value } => {
                w.code_and_strings(attr::REQ_ATTRIBUTE, name, Some(value))
            }
            Attribute::SslKeySize(_) => false,
            _ => w.code_and_strings(self.code(), self.text(), None),
        };
        if written {
            return Ok(());
        }
        self.write_fields(w)
    }

    #[cold]
    #[inline(never)]
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Full> {
        const F: Field = Field::new("forward_request.attribute");
        w.u8(self.code(), F)?;
        match *self {
            Attribute::ReqAttribute { name, value } => {
                w.string(Some(name), Field::new("forward_request.req_attribute.name"))?;
                w.string(
                    Some(value),
                    Field::new("forward_request.req_attribute.value"),
                )
            }
            Attribute::SslKeySize(n) => w.u16(n, Field::new("forward_request.ssl_key_size")),
            _ => w.string(Some(self.text()), attr_field(self.code())),
        }
    }

    /// Read one attribute whose code has been read already.
    fn read(code: u8, r: &mut Reader<'a>) -> Result<Attribute<'a>, Error> {
        let f = attr_field(code);
        let s = |r: &mut Reader<'a>| r.string_or_empty(f);
        Ok(match code {
            attr::CONTEXT => Attribute::Context(s(r)?),
            attr::SERVLET_PATH => Attribute::ServletPath(s(r)?),
            attr::REMOTE_USER => Attribute::RemoteUser(s(r)?),
            attr::AUTH_TYPE => Attribute::AuthType(s(r)?),
            attr::QUERY_STRING => Attribute::QueryString(s(r)?),
            attr::ROUTE => Attribute::Route(s(r)?),
            attr::SSL_CERT => Attribute::SslCert(s(r)?),
            attr::SSL_CIPHER => Attribute::SslCipher(s(r)?),
            attr::SSL_SESSION => Attribute::SslSession(s(r)?),
            attr::REQ_ATTRIBUTE => Attribute::ReqAttribute {
                name: r.string_or_empty(Field::new("forward_request.req_attribute.name"))?,
                value: r.string_or_empty(Field::new("forward_request.req_attribute.value"))?,
            },
            attr::SSL_KEY_SIZE => Attribute::SslKeySize(r.u16(f)?),
            attr::SECRET => Attribute::Secret(s(r)?),
            attr::STORED_METHOD => Attribute::StoredMethod(s(r)?),
            _ => {
                return Err(Error::UnknownAttribute {
                    code,
                    at: r.pos() - 1,
                })
            }
        })
    }
}

fn attr_field(code: u8) -> Field {
    Field::new(match code {
        attr::CONTEXT => "forward_request.context",
        attr::SERVLET_PATH => "forward_request.servlet_path",
        attr::REMOTE_USER => "forward_request.remote_user",
        attr::AUTH_TYPE => "forward_request.auth_type",
        attr::QUERY_STRING => "forward_request.query_string",
        attr::ROUTE => "forward_request.route",
        attr::SSL_CERT => "forward_request.ssl_cert",
        attr::SSL_CIPHER => "forward_request.ssl_cipher",
        attr::SSL_SESSION => "forward_request.ssl_session",
        attr::SSL_KEY_SIZE => "forward_request.ssl_key_size",
        attr::SECRET => "forward_request.secret",
        attr::STORED_METHOD => "forward_request.stored_method",
        _ => "forward_request.attribute",
    })
}

/// A request head to send. Header names are matched case-insensitively against the coded table;
/// a method outside the table goes as code 0xFF plus a `stored_method` attribute (added for you).
#[derive(Clone, Copy, Debug)]
pub struct ForwardRequest<'a> {
    pub method: &'a [u8],
    pub protocol: &'a [u8],
    pub uri: &'a [u8],
    pub remote_addr: &'a [u8],
    pub remote_host: Option<&'a [u8]>,
    pub server_name: &'a [u8],
    pub server_port: u16,
    pub is_ssl: bool,
    pub headers: &'a [(&'a [u8], &'a [u8])],
    pub attributes: &'a [Attribute<'a>],
}

impl<'a> ForwardRequest<'a> {
    /// Append the Forward Request packet to `out`.
    pub fn encode(&self, size: PacketSize, out: &mut Vec<u8>) -> Result<(), Error> {
        let mut enc = RequestEncoder::begin(self, size, out)?;
        // The one-byte error path inside the loop; the detailed error is fetched once.
        let body = (|| {
            for &(name, value) in self.headers {
                enc.write_header(name, value)?;
            }
            self.attributes.iter().try_for_each(|a| a.write(&mut enc.w))
        })();
        match body {
            Ok(()) => enc.finish(),
            Err(Full) => Err(enc.w.error()),
        }
    }
}

/// Writes a Forward Request piece by piece, for callers whose headers live in their own
/// structures (an httpd table, an nginx list): no intermediate collection is needed.
pub struct RequestEncoder<'v, 'm> {
    w: Writer<'v>,
    count_at: usize,
    count: u16,
    stored_method: Option<&'m [u8]>,
}

impl<'v, 'm> RequestEncoder<'v, 'm> {
    /// Start with the fixed fields of `head` (its `headers` and `attributes` are not written).
    pub fn begin(
        head: &ForwardRequest<'m>,
        size: PacketSize,
        out: &'v mut Vec<u8>,
    ) -> Result<Self, Error> {
        let mut w = Writer::begin(out, TO_CONTAINER, size);
        let code = codes::method_code(head.method);
        match Self::fixed(&mut w, head, code) {
            Ok(()) => {}
            Err(Full) => return Err(w.error()),
        }
        let count_at = w.pos() - 2;
        Ok(RequestEncoder {
            w,
            count_at,
            count: 0,
            stored_method: if code.is_none() {
                Some(head.method)
            } else {
                None
            },
        })
    }

    fn fixed(w: &mut Writer<'_>, head: &ForwardRequest<'_>, code: Option<u8>) -> Result<(), Full> {
        w.u8(kind::FORWARD_REQUEST, Field::new("forward_request.type"))?;
        w.u8(
            code.unwrap_or(codes::METHOD_STORED),
            Field::new("forward_request.method"),
        )?;
        w.string(Some(head.protocol), Field::new("forward_request.protocol"))?;
        w.string(Some(head.uri), Field::new("forward_request.req_uri"))?;
        w.string(
            Some(head.remote_addr),
            Field::new("forward_request.remote_addr"),
        )?;
        w.string(head.remote_host, Field::new("forward_request.remote_host"))?;
        w.string(
            Some(head.server_name),
            Field::new("forward_request.server_name"),
        )?;
        w.u16(head.server_port, Field::new("forward_request.server_port"))?;
        w.bool(head.is_ssl, Field::new("forward_request.is_ssl"))?;
        w.u16(0, Field::new("forward_request.num_headers"))
    }

    /// Add one request header. Call every `header` before any `attribute`.
    #[inline]
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> Result<(), Error> {
        match self.write_header(name, value) {
            Ok(()) => Ok(()),
            Err(Full) => Err(self.w.error()),
        }
    }

    #[inline(always)]
    fn write_header(&mut self, name: &[u8], value: &[u8]) -> Result<(), Full> {
        // All in a few appends when it fits; field by field (which names the fault)
        // otherwise.
        let code = codes::request_header_code(name);
        let written = match code {
            Some(code) => self.w.u16_and_string(code, value),
            None if name.len() < codes::HEADER_CODE_BASE as usize => {
                self.w.two_strings(name, value)
            }
            None => false,
        };
        if written {
            let f = Field::nth("forward_request.header", self.count);
            return self.counted(f);
        }
        self.write_header_fields(code, name, value)
    }

    #[cold]
    #[inline(never)]
    fn write_header_fields(
        &mut self,
        code: Option<u16>,
        name: &[u8],
        value: &[u8],
    ) -> Result<(), Full> {
        let f = Field::nth("forward_request.header", self.count);
        match code {
            Some(code) => self.w.u16(code, f)?,
            None if name.len() >= codes::HEADER_CODE_BASE as usize => {
                return Err(self.w.fail(Error::StringTooLong {
                    field: f,
                    len: name.len(),
                }))
            }
            None => self.w.string(Some(name), f)?,
        }
        self.w.string(Some(value), f)?;
        self.counted(f)
    }

    /// One more header (`f`: its field, should the count overflow).
    #[inline(always)]
    fn counted(&mut self, f: Field) -> Result<(), Full> {
        match self.count.checked_add(1) {
            Some(n) => self.count = n,
            None => {
                return Err(self.w.fail(Error::StringTooLong {
                    field: f,
                    len: 0x10000,
                }))
            }
        }
        Ok(())
    }

    #[inline]
    pub fn attribute(&mut self, a: &Attribute<'_>) -> Result<(), Error> {
        match a.write(&mut self.w) {
            Ok(()) => Ok(()),
            Err(Full) => Err(self.w.error()),
        }
    }

    /// Write the header count, the stored method if needed, and the terminator.
    pub fn finish(mut self) -> Result<(), Error> {
        let at = self.count_at;
        let count = self.count;
        self.w.patch_u16(at, count);
        let end = match self.stored_method {
            Some(m) => Attribute::StoredMethod(m).write(&mut self.w),
            None => Ok(()),
        }
        .and_then(|()| {
            self.w
                .u8(attr::ARE_DONE, Field::new("forward_request.are_done"))
        });
        match end {
            Ok(()) => {
                self.w.finish();
                Ok(())
            }
            Err(Full) => Err(self.w.error()),
        }
    }
}

/// Add `attributes` to the finished Forward Request packet that starts at `start` in `out`
/// (the last packet there), keeping it within `size`. This lets a caller encode the parts of a
/// request that every backend gets once, and add each backend's own attributes (secret, route)
/// to a copy. On error `out` is left as it was.
pub fn extend_forward_request(
    out: &mut Vec<u8>,
    start: usize,
    size: PacketSize,
    attributes: &[Attribute<'_>],
) -> Result<(), Error> {
    let end = out.len();
    let framed = out.get(start..).filter(|p| {
        p.len() > HEADER_LEN
            && p[..2] == TO_CONTAINER
            && p.last() == Some(&attr::ARE_DONE)
            && usize::from(u16::from_be_bytes([p[2], p[3]])) == p.len() - HEADER_LEN
    });
    if framed.is_none() {
        return Err(Error::Unexpected {
            what: "more attributes",
            state: "the buffer does not end with a finished Forward Request",
        });
    }
    // Reopen the packet before its terminator; the writer checks `size` from `start`.
    out.truncate(end - 1);
    let mut w = Writer::reopen(out, start, size);
    let r = attributes
        .iter()
        .try_for_each(|a| a.write(&mut w))
        .and_then(|()| w.u8(attr::ARE_DONE, Field::new("forward_request.are_done")));
    match r {
        Ok(()) => {
            w.finish();
            Ok(())
        }
        Err(Full) => {
            let e = w.error();
            w.restore(end);
            Err(e)
        }
    }
}

/// A decoded Forward Request, validated once; headers and attributes are read lazily from the
/// payload it borrows, so decoding allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct ForwardRequestRef<'a> {
    method_code: u8,
    method: &'a [u8],
    protocol: &'a [u8],
    uri: &'a [u8],
    remote_addr: &'a [u8],
    remote_host: Option<&'a [u8]>,
    server_name: &'a [u8],
    server_port: u16,
    is_ssl: bool,
    num_headers: u16,
    headers_raw: &'a [u8],
    attributes_raw: &'a [u8],
    content_length: Option<u64>,
}

impl<'a> ForwardRequestRef<'a> {
    /// Decode a Forward Request payload (type byte included).
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        let t = r.u8(Field::new("forward_request.type"))?;
        if t != kind::FORWARD_REQUEST {
            return Err(Error::UnknownMessage { code: t });
        }
        let method_code = r.u8(Field::new("forward_request.method"))?;
        let method_name = match method_code {
            codes::METHOD_STORED => None,
            c => Some(
                codes::method_name(c)
                    .ok_or(Error::InvalidMethod { code: c })?
                    .as_bytes(),
            ),
        };
        let protocol = r.string_or_empty(Field::new("forward_request.protocol"))?;
        let uri = r.string_or_empty(Field::new("forward_request.req_uri"))?;
        let remote_addr = r.string_or_empty(Field::new("forward_request.remote_addr"))?;
        let remote_host = r.string(Field::new("forward_request.remote_host"))?;
        let server_name = r.string_or_empty(Field::new("forward_request.server_name"))?;
        let server_port = r.u16(Field::new("forward_request.server_port"))?;
        let is_ssl = r.bool(Field::new("forward_request.is_ssl"))?;
        let num_headers = r.u16(Field::new("forward_request.num_headers"))?;

        let headers_start = r.pos();
        let mut content_length = None;
        for i in 0..num_headers {
            let (name, value) = read_request_header(&mut r, i)?;
            if codes::is_content_length(name) {
                if content_length.is_some() {
                    return Err(Error::BadContentLength);
                }
                content_length = Some(parse_content_length(value)?);
            }
        }
        let headers_raw = &payload[headers_start..r.pos()];

        let attributes_start = r.pos();
        let mut stored = None;
        loop {
            let code = r.u8(Field::new("forward_request.attribute"))?;
            if code == attr::ARE_DONE {
                break;
            }
            if let Attribute::StoredMethod(m) = Attribute::read(code, &mut r)? {
                stored = Some(m);
            }
        }
        let attributes_raw = &payload[attributes_start..r.pos() - 1];
        let method = match method_name {
            Some(m) => m,
            None => stored.ok_or(Error::MissingStoredMethod)?,
        };
        Ok(ForwardRequestRef {
            method_code,
            method,
            protocol,
            uri,
            remote_addr,
            remote_host,
            server_name,
            server_port,
            is_ssl,
            num_headers,
            headers_raw,
            attributes_raw,
            content_length,
        })
    }

    /// The method name: from the code table, or the stored method for code 0xFF.
    pub fn method(&self) -> &'a [u8] {
        self.method
    }
    pub fn method_code(&self) -> u8 {
        self.method_code
    }
    pub fn protocol(&self) -> &'a [u8] {
        self.protocol
    }
    pub fn uri(&self) -> &'a [u8] {
        self.uri
    }
    pub fn remote_addr(&self) -> &'a [u8] {
        self.remote_addr
    }
    pub fn remote_host(&self) -> Option<&'a [u8]> {
        self.remote_host
    }
    pub fn server_name(&self) -> &'a [u8] {
        self.server_name
    }
    pub fn server_port(&self) -> u16 {
        self.server_port
    }
    pub fn is_ssl(&self) -> bool {
        self.is_ssl
    }
    pub fn num_headers(&self) -> u16 {
        self.num_headers
    }
    /// The Content-Length header, parsed; `None` when absent (a chunked request).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Headers in order; coded names come back lowercase as Tomcat names them.
    pub fn headers(&self) -> Headers<'a> {
        Headers::new(self.headers_raw, self.num_headers)
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Attributes in order, excluding the terminator.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            r: Reader::new(self.attributes_raw),
        }
    }
}

fn read_request_header<'a>(r: &mut Reader<'a>, i: u16) -> Result<(&'a [u8], &'a [u8]), Error> {
    let f = Field::nth("forward_request.header", i);
    let n = r.u16(f)?;
    let name = if n >> 8 == 0xA0 {
        codes::request_header_name(n)
            .ok_or(Error::InvalidHeaderCode { field: f, code: n })?
            .as_bytes()
    } else if n == 0xFFFF {
        b""
    } else {
        r.string_body(n, f)?
    };
    let value = r.string_or_empty(f)?;
    Ok((name, value))
}

fn parse_content_length(v: &[u8]) -> Result<u64, Error> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(Error::BadContentLength);
    }
    Ok(v.iter().fold(0u64, |n, d| n * 10 + (d - b'0') as u64))
}

/// Which header codes a [`Headers`] iterator reads: a request's or a response's (decided at
/// compile time).
pub trait HeaderKind {
    const RESPONSE: bool;
}

/// Request headers (codes 0xA001–0xA00E).
#[derive(Clone, Copy, Debug)]
pub struct RequestKind;

impl HeaderKind for RequestKind {
    const RESPONSE: bool = false;
}

/// Iterator over the headers of a validated message (request or response, by `K`); the
/// message was checked when decoded, so reading cannot fail here.
#[derive(Clone)]
pub struct Headers<'a, K: HeaderKind = RequestKind> {
    r: Reader<'a>,
    left: u16,
    index: u16,
    kind: std::marker::PhantomData<K>,
}

impl<'a, K: HeaderKind> Headers<'a, K> {
    pub(crate) fn new(raw: &'a [u8], count: u16) -> Self {
        Headers {
            r: Reader::new(raw),
            left: count,
            index: 0,
            kind: std::marker::PhantomData,
        }
    }
}

impl<'a, K: HeaderKind> Iterator for Headers<'a, K> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let h = if K::RESPONSE {
            crate::response::read_response_header(&mut self.r, self.index)
        } else {
            read_request_header(&mut self.r, self.index)
        }
        .ok();
        self.index += 1;
        h
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// Iterator over a validated request's attributes.
#[derive(Clone)]
pub struct Attributes<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let code = self.r.u8(Field::new("forward_request.attribute")).ok()?;
        Attribute::read(code, &mut self.r).ok()
    }
}

/// Append a request-body packet holding `data` (at most `size.max_body_to_container()` bytes).
/// Empty `data` writes the empty end-of-body packet `12 34 00 00`.
pub fn encode_body(data: &[u8], size: PacketSize, out: &mut Vec<u8>) -> Result<(), Error> {
    if data.is_empty() {
        out.extend_from_slice(&[0x12, 0x34, 0, 0]);
        return Ok(());
    }
    if data.len() > size.max_body_to_container() {
        return Err(Error::BodyOverrun {
            len: data.len(),
            allowed: size.max_body_to_container(),
        });
    }
    wire::packet(out, TO_CONTAINER, size, |w| {
        let f = Field::new("body");
        w.u16(data.len() as u16, f)?;
        w.raw(data, f)
    })
}

/// Decode a request-body packet payload: the data, empty at end of body.
pub fn decode_body(payload: &[u8]) -> Result<&[u8], Error> {
    if payload.is_empty() {
        return Ok(b"");
    }
    let mut r = Reader::new(payload);
    let n = r.u16(Field::new("body.length"))?;
    r.bytes(n as usize, Field::new("body.data"))
}

/// CPing, sent to check that a container answers before (or between) requests.
pub const CPING: &[u8] = &[0x12, 0x34, 0x00, 0x01, kind::CPING];
/// Shutdown (unused by modern containers; Tomcat closes the connection).
pub const SHUTDOWN: &[u8] = &[0x12, 0x34, 0x00, 0x01, kind::SHUTDOWN];
/// Ping (unused by modern containers; Tomcat closes the connection).
pub const PING: &[u8] = &[0x12, 0x34, 0x00, 0x01, kind::PING];

/// A message that starts a cycle on an idle connection, as the container reads it.
#[derive(Clone, Copy, Debug)]
pub enum ProxyMessage<'a> {
    ForwardRequest(ForwardRequestRef<'a>),
    CPing,
    Shutdown,
    Ping,
}

impl<'a> ProxyMessage<'a> {
    /// Decode the payload of a packet that arrives on an idle connection. (Request-body packets
    /// have no type byte; read them with [`decode_body`] when one is expected.)
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        match payload.first() {
            None => Err(Error::EmptyPacket),
            Some(&kind::FORWARD_REQUEST) => {
                ForwardRequestRef::decode(payload).map(ProxyMessage::ForwardRequest)
            }
            Some(&kind::CPING) => Ok(ProxyMessage::CPing),
            Some(&kind::SHUTDOWN) => Ok(ProxyMessage::Shutdown),
            Some(&kind::PING) => Ok(ProxyMessage::Ping),
            Some(&code) => Err(Error::UnknownMessage { code }),
        }
    }
}

#[cfg(test)]
mod extend_tests {
    use super::*;
    use crate::packet::{split_packet, Direction};

    fn get() -> ForwardRequest<'static> {
        ForwardRequest {
            method: b"GET",
            protocol: b"HTTP/1.1",
            uri: b"/x",
            remote_addr: b"127.0.0.1",
            remote_host: None,
            server_name: b"localhost",
            server_port: 80,
            is_ssl: false,
            headers: &[(b"Host", b"localhost")],
            attributes: &[Attribute::QueryString(b"a=1")],
        }
    }

    #[test]
    fn extending_adds_attributes_to_a_copy_and_refuses_what_does_not_fit() {
        let mut template = Vec::new();
        get().encode(PacketSize::LARGEST, &mut template).unwrap();
        let mut out = b"prefix".to_vec();
        out.extend_from_slice(&template);
        extend_forward_request(
            &mut out,
            6,
            PacketSize::default(),
            &[Attribute::Secret(b"s"), Attribute::Route(b"tc1")],
        )
        .unwrap();
        let (payload, used) =
            split_packet(&out[6..], Direction::ToContainer, PacketSize::default())
                .unwrap()
                .unwrap();
        assert_eq!(used, out.len() - 6);
        let ProxyMessage::ForwardRequest(r) = ProxyMessage::decode(payload).unwrap() else {
            panic!("not a forward request")
        };
        let attrs: Vec<_> = r.attributes().collect();
        assert_eq!(
            attrs,
            vec![
                Attribute::QueryString(b"a=1"),
                Attribute::Secret(b"s"),
                Attribute::Route(b"tc1")
            ]
        );
        assert_eq!(r.header(b"host"), Some(&b"localhost"[..]));

        // Too large for the member's packet size: the copy is left as it was.
        let before = out.clone();
        let big = vec![b'r'; 9000];
        let e = extend_forward_request(
            &mut out,
            6,
            PacketSize::default(),
            &[Attribute::Route(&big)],
        );
        assert!(matches!(e, Err(Error::DoesNotFit { .. })), "{e:?}");
        assert_eq!(out, before);
        // Not a finished Forward Request.
        assert!(extend_forward_request(&mut out, 0, PacketSize::default(), &[]).is_err());
    }
}
