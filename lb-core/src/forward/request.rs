//! The Forward Request as mod_jk builds it (mod_jk: ajp_marshal_into_msgb): the head's fields, the
//! client's headers with mod_jk's Content-Length rules, then the attributes. The part every
//! member gets is encoded once per request ([`template`]); each attempt copies it and adds the
//! member's own attributes (secret, route, activation: [`for_member`]). Nothing is allocated
//! beyond the caller's buffers.

use ajp::{Attribute, ForwardRequest, PacketSize, RequestEncoder};

use super::server::{RequestBody, RequestHead};
use super::Activation;

/// What the chosen member adds to the request.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemberFields<'a> {
    pub secret: Option<&'a [u8]>,
    /// The route attribute (lb members only).
    pub route: Option<&'a str>,
    pub activation: Option<Activation>,
}

/// Append the Forward Request for `head` to `out`, for `member` within `size`. `DoesNotFit`
/// and the like mean 413.
pub fn encode(
    head: &RequestHead<'_>,
    member: &MemberFields<'_>,
    size: PacketSize,
    out: &mut Vec<u8>,
) -> Result<(), ajp::Error> {
    let start = out.len();
    template(head, out)?;
    let r = for_member(out, start, member, size);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// Append the Forward Request for `head` without any member's attributes, as large as AJP
/// allows; [`for_member`] completes a copy of it.
pub fn template(head: &RequestHead<'_>, out: &mut Vec<u8>) -> Result<(), ajp::Error> {
    let size = PacketSize::LARGEST;
    let fixed = ForwardRequest {
        method: head.method,
        protocol: head.protocol,
        uri: head.uri,
        remote_addr: head.remote_addr,
        remote_host: head.remote_host,
        server_name: head.server_name,
        server_port: head.server_port,
        is_ssl: head.tls.is_some(),
        headers: &[],
        attributes: &[],
    };
    let start = out.len();
    let r = encode_into(head, RequestEncoder::begin(&fixed, size, out));
    if r.is_err() {
        // Never leave a partial packet behind.
        out.truncate(start);
    }
    r
}

/// Add `member`'s attributes to the finished template at `start` in `out`, checking the
/// member's packet size. On error `out` is left as it was.
pub fn for_member(
    out: &mut Vec<u8>,
    start: usize,
    member: &MemberFields<'_>,
    size: PacketSize,
) -> Result<(), ajp::Error> {
    // Filled in place: once per attempt, no intermediate array of options.
    let mut list = [Attribute::Secret(b""); 3];
    let mut n = 0;
    if let Some(s) = member.secret {
        list[n] = Attribute::Secret(s);
        n += 1;
    }
    if let Some(r) = member.route {
        list[n] = Attribute::Route(r.as_bytes());
        n += 1;
    }
    if let Some(a) = member.activation {
        list[n] = req_attribute(b"JK_LB_ACTIVATION", a.name().as_bytes());
        n += 1;
    }
    ajp::extend_forward_request(out, start, size, &list[..n])
}

fn encode_into(
    head: &RequestHead<'_>,
    enc: Result<RequestEncoder<'_, '_>, ajp::Error>,
) -> Result<(), ajp::Error> {
    let mut enc = enc?;
    let mut has_length = false;
    for &(name, value) in head.headers {
        if ajp::codes::is_content_length(name) {
            // A chunked body has no length: the backend must ask for it.
            if head.body == RequestBody::Chunked {
                continue;
            }
            has_length = true;
        }
        enc.header(name, value)?;
    }
    // In AJP a missing Content-Length means "unknown, maybe non-zero": say 0 explicitly.
    if head.body == RequestBody::None && !has_length {
        enc.header(b"Content-Length", b"0")?;
    }
    for a in attributes(head).into_iter().flatten() {
        enc.attribute(&a)?;
    }
    let mut port = [0u8; 5];
    let port = decimal(head.remote_port, &mut port);
    enc.attribute(&req_attribute(b"AJP_REMOTE_PORT", port))?;
    enc.attribute(&req_attribute(b"AJP_LOCAL_ADDR", head.local_addr))?;
    for &(name, value) in head.env {
        enc.attribute(&req_attribute(name, value))?;
    }
    enc.finish()
}

/// The optional attributes every member gets, in mod_jk's order (the member's own come last).
fn attributes<'a>(head: &RequestHead<'a>) -> [Option<Attribute<'a>>; 8] {
    let tls = head.tls.unwrap_or_default();
    [
        head.remote_user.map(Attribute::RemoteUser),
        head.auth_type.map(Attribute::AuthType),
        head.query_string.map(Attribute::QueryString),
        tls.cert.map(Attribute::SslCert),
        tls.cipher.map(Attribute::SslCipher),
        tls.session.map(Attribute::SslSession),
        tls.key_size.map(Attribute::SslKeySize),
        tls.protocol.map(|p| req_attribute(b"AJP_SSL_PROTOCOL", p)),
    ]
}

fn req_attribute<'a>(name: &'a [u8], value: &'a [u8]) -> Attribute<'a> {
    Attribute::ReqAttribute { name, value }
}

/// A port in decimal, two digits per division (the client's port goes out with every
/// request).
fn decimal(n: u16, buf: &mut [u8; 5]) -> &[u8] {
    use super::notes::PAIRS;
    let mut n = usize::from(n);
    let mut i = buf.len();
    while n >= 100 {
        let r = n % 100 * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[r..r + 2]);
    }
    if n >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[n * 2..n * 2 + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::super::server::Tls;
    use super::*;
    use ajp::{ForwardRequestRef, ProxyMessage};

    fn decode(out: &[u8]) -> ForwardRequestRef<'_> {
        let (payload, _) =
            ajp::split_packet(out, ajp::Direction::ToContainer, PacketSize::default())
                .unwrap()
                .unwrap();
        match ProxyMessage::decode(payload).unwrap() {
            ProxyMessage::ForwardRequest(r) => r,
            _ => panic!("not a forward request"),
        }
    }

    #[test]
    fn every_attribute_mod_jk_sends() {
        let mut head = RequestHead::get(b"/app/x");
        head.query_string = Some(b"a=1");
        head.remote_user = Some(b"alice");
        head.auth_type = Some(b"Basic");
        head.remote_port = 40123;
        head.local_addr = b"10.0.0.1";
        head.tls = Some(Tls {
            cert: Some(b"PEM"),
            cipher: Some(b"TLS_AES_128_GCM_SHA256"),
            session: Some(b"abcd"),
            key_size: Some(128),
            protocol: Some(b"TLSv1.3"),
        });
        head.env = &[(b"SSL_CLIENT_S_DN", b"CN=x")];
        let member = MemberFields {
            secret: Some(b"s3cret"),
            route: Some("tc1"),
            activation: Some(Activation::Disabled),
        };
        let mut out = Vec::new();
        encode(&head, &member, PacketSize::default(), &mut out).unwrap();
        let req = decode(&out);
        assert!(req.is_ssl());
        let attrs: Vec<_> = req.attributes().collect();
        for want in [
            Attribute::Secret(b"s3cret"),
            Attribute::RemoteUser(b"alice"),
            Attribute::AuthType(b"Basic"),
            Attribute::QueryString(b"a=1"),
            Attribute::Route(b"tc1"),
            Attribute::SslCert(b"PEM"),
            Attribute::SslCipher(b"TLS_AES_128_GCM_SHA256"),
            Attribute::SslSession(b"abcd"),
            Attribute::SslKeySize(128),
            req_attribute(b"AJP_SSL_PROTOCOL", b"TLSv1.3"),
            req_attribute(b"AJP_REMOTE_PORT", b"40123"),
            req_attribute(b"AJP_LOCAL_ADDR", b"10.0.0.1"),
            req_attribute(b"JK_LB_ACTIVATION", b"DIS"),
            req_attribute(b"SSL_CLIENT_S_DN", b"CN=x"),
        ] {
            assert!(attrs.contains(&want), "missing {want:?} in {attrs:?}");
        }
    }

    #[test]
    fn content_length_rules() {
        let mut out = Vec::new();
        let head = RequestHead::get(b"/");
        encode(
            &head,
            &MemberFields::default(),
            PacketSize::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(decode(&out).content_length(), Some(0));

        let mut head = RequestHead::get(b"/");
        head.body = RequestBody::Chunked;
        head.headers = &[
            (b"Content-Length", b"10"),
            (b"Transfer-Encoding", b"chunked"),
        ];
        out.clear();
        encode(
            &head,
            &MemberFields::default(),
            PacketSize::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(decode(&out).content_length(), None);
    }

    #[test]
    fn too_large_leaves_nothing_behind() {
        let big = vec![b'x'; 9000];
        let headers = [(&b"X-Big"[..], &big[..])];
        let mut head = RequestHead::get(b"/");
        head.headers = &headers;
        let mut out = b"keep".to_vec();
        assert!(encode(
            &head,
            &MemberFields::default(),
            PacketSize::default(),
            &mut out
        )
        .is_err());
        assert_eq!(out, b"keep");
    }

    #[test]
    fn decimal_ports() {
        let mut b = [0u8; 5];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(65535, &mut b), b"65535");
        for n in 0..=u16::MAX {
            assert_eq!(decimal(n, &mut b), n.to_string().as_bytes(), "{n}");
        }
    }
}
