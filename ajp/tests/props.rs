//! Property tests: every message survives encode → decode, and no input panics any decoder or
//! either exchange.

use std::sync::Arc;

use ajp::*;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn method() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (1u8..=27).prop_map(|c| ajp::codes::method_name(c).unwrap().as_bytes().to_vec()),
        Just(b"PATCH".to_vec()),
        "[A-Z]{1,12}".prop_map(|s| s.into_bytes()),
    ]
}

fn header_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0usize..14).prop_map(|i| ajp::codes::REQUEST_HEADERS[i]
            .to_ascii_uppercase()
            .into_bytes()),
        "[A-Za-z][A-Za-z0-9-]{0,30}".prop_map(|s| s.into_bytes()),
    ]
}

#[derive(Debug, Clone)]
enum OwnedAttr {
    S(u8, Vec<u8>),
    Req(Vec<u8>, Vec<u8>),
    KeySize(u16),
}

fn attribute() -> impl Strategy<Value = OwnedAttr> {
    prop_oneof![
        (
            prop::sample::select(vec![1u8, 2, 3, 4, 5, 6, 7, 8, 9, 12]),
            bytes(40)
        )
            .prop_map(|(c, v)| OwnedAttr::S(c, v)),
        (bytes(20), bytes(20)).prop_map(|(n, v)| OwnedAttr::Req(n, v)),
        any::<u16>().prop_map(OwnedAttr::KeySize),
    ]
}

fn borrow(a: &OwnedAttr) -> Attribute<'_> {
    match a {
        OwnedAttr::S(c, v) => match c {
            1 => Attribute::Context(v),
            2 => Attribute::ServletPath(v),
            3 => Attribute::RemoteUser(v),
            4 => Attribute::AuthType(v),
            5 => Attribute::QueryString(v),
            6 => Attribute::Route(v),
            7 => Attribute::SslCert(v),
            8 => Attribute::SslCipher(v),
            9 => Attribute::SslSession(v),
            _ => Attribute::Secret(v),
        },
        OwnedAttr::Req(n, v) => Attribute::ReqAttribute { name: n, value: v },
        OwnedAttr::KeySize(k) => Attribute::SslKeySize(*k),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn forward_request_round_trip(
        m in method(), proto in bytes(16), uri in bytes(200), ra in bytes(40),
        rh in prop::option::of(bytes(40)), sn in bytes(40), port in any::<u16>(), ssl in any::<bool>(),
        hs in prop::collection::vec((header_name(), bytes(100)), 0..30),
        attrs in prop::collection::vec(attribute(), 0..8),
    ) {
        let headers: Vec<(&[u8], &[u8])> = hs.iter().filter(|(n, _)| !n.eq_ignore_ascii_case(b"content-length")).map(|(n, v)| (&n[..], &v[..])).collect();
        let attributes: Vec<Attribute> = attrs.iter().map(borrow).collect();
        let req = ForwardRequest {
            method: &m, protocol: &proto, uri: &uri, remote_addr: &ra, remote_host: rh.as_deref(),
            server_name: &sn, server_port: port, is_ssl: ssl, headers: &headers, attributes: &attributes,
        };
        let mut out = Vec::new();
        req.encode(PacketSize::new(65536).unwrap(), &mut out).unwrap();
        let (payload, used) = split_packet(&out, Direction::ToContainer, PacketSize::new(65536).unwrap()).unwrap().unwrap();
        prop_assert_eq!(used, out.len());
        let d = ForwardRequestRef::decode(payload).unwrap();
        prop_assert_eq!(d.method(), &m[..]);
        prop_assert_eq!(d.protocol(), &proto[..]);
        prop_assert_eq!(d.uri(), &uri[..]);
        prop_assert_eq!(d.remote_addr(), &ra[..]);
        prop_assert_eq!(d.remote_host(), rh.as_deref());
        prop_assert_eq!(d.server_name(), &sn[..]);
        prop_assert_eq!(d.server_port(), port);
        prop_assert_eq!(d.is_ssl(), ssl);
        let got: Vec<_> = d.headers().collect();
        prop_assert_eq!(got.len(), headers.len());
        for ((gn, gv), (n, v)) in got.iter().zip(&headers) {
            prop_assert!(gn.eq_ignore_ascii_case(n));
            prop_assert_eq!(gv, v);
        }
        let got: Vec<_> = d.attributes().filter(|a| !matches!(a, Attribute::StoredMethod(_))).collect();
        prop_assert_eq!(got, attributes);
    }

    #[test]
    fn send_headers_round_trip(status in any::<u16>(), reason in bytes(30),
        hs in prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,20}", bytes(60)), 0..20)) {
        let headers: Vec<(&[u8], &[u8])> = hs.iter().map(|(n, v)| (n.as_bytes(), &v[..])).collect();
        let mut out = Vec::new();
        encode_send_headers(status, &reason, headers.iter().copied(), PacketSize::default(), &mut out).unwrap();
        let ContainerMessage::SendHeaders(h) = ContainerMessage::decode(&out[4..]).unwrap() else { panic!() };
        prop_assert_eq!(h.status(), status);
        prop_assert_eq!(h.reason(), Some(&reason[..]));
        let got: Vec<_> = h.headers().collect();
        prop_assert_eq!(got.len(), headers.len());
        for ((gn, gv), (n, v)) in got.iter().zip(&headers) {
            prop_assert!(gn.eq_ignore_ascii_case(n));
            prop_assert_eq!(gv, v);
        }
        // Read again without validating: the same message.
        let again = SendHeaders::decode_again(&out[4..]).unwrap();
        prop_assert_eq!((again.status(), again.reason()), (status, Some(&reason[..])));
        prop_assert_eq!(again.headers().collect::<Vec<_>>(), got);
    }

    #[test]
    fn small_messages_round_trip(data in bytes(8184), len in any::<u16>(), reuse in any::<bool>()) {
        let size = PacketSize::default();
        let mut out = Vec::new();
        encode_body_chunk(&data, size, &mut out).unwrap();
        let is_chunk = matches!(ContainerMessage::decode(&out[4..]).unwrap(), ContainerMessage::BodyChunk(d) if d == &data[..]);
        prop_assert!(is_chunk);
        out.clear();
        encode_get_body_chunk(len, &mut out);
        let is_gbc = matches!(ContainerMessage::decode(&out[4..]).unwrap(), ContainerMessage::GetBodyChunk { len: l } if l == len);
        prop_assert!(is_gbc);
        out.clear();
        encode_end_response(reuse, &mut out);
        let is_end = matches!(ContainerMessage::decode(&out[4..]).unwrap(), ContainerMessage::EndResponse { reuse: r } if r == reuse);
        prop_assert!(is_end);
        out.clear();
        let body = &data[..data.len().min(8186)];
        encode_body(body, size, &mut out).unwrap();
        prop_assert_eq!(decode_body(&out[4..]).unwrap(), body);
    }

    /// Arbitrary bytes never panic a decoder, and errors are errors, not crashes.
    #[test]
    fn arbitrary_bytes_never_panic_decoders(buf in bytes(600)) {
        let _ = ForwardRequestRef::decode(&buf).map(|r| (r.headers().count(), r.attributes().count()));
        let _ = SendHeaders::decode(&buf).map(|h| h.headers().count());
        let _ = SendHeaders::decode_again(&buf).map(|h| h.headers().count());
        let _ = ContainerMessage::decode(&buf);
        let _ = ProxyMessage::decode(&buf);
        let _ = decode_body(&buf);
        for dir in [Direction::ToContainer, Direction::FromContainer] {
            let _ = split_packet(&buf, dir, PacketSize::default());
        }
        let _ = receive_cpong(&buf, PacketSize::default());
    }

    /// Arbitrary packet streams (valid headers around arbitrary payloads, to get past framing)
    /// never panic either exchange, whatever the calls in between.
    #[test]
    fn arbitrary_streams_never_panic_exchanges(payloads in prop::collection::vec(bytes(300), 1..6), ops in bytes(8)) {
        for magic in [[0x12u8, 0x34], [0x41, 0x42]] {
            let mut stream = Vec::new();
            for p in &payloads {
                stream.extend_from_slice(&magic);
                stream.extend_from_slice(&(p.len() as u16).to_be_bytes());
                stream.extend_from_slice(p);
            }
            let mut c = ContainerExchange::new(Arc::new(ContainerConfig { secret: Some(b"k".to_vec()), ..Default::default() }));
            let mut p = ProxyExchange::new(PacketSize::default());
            let _ = p.start(&ForwardRequest { method: b"POST", protocol: b"HTTP/1.1", uri: b"/", remote_addr: b"", remote_host: None,
                server_name: b"", server_port: 0, is_ssl: false, headers: &[], attributes: &[] }, BodyMode::Chunked, &mut Vec::new());
            let mut out = Vec::new();
            let mut pos = 0;
            for (i, op) in ops.iter().enumerate() {
                match c.receive(&stream[pos..]) {
                    Ok(Some((_, n))) => pos += n,
                    _ => break,
                }
                match op % 6 {
                    0 => { let _ = c.want_body(&mut out); }
                    1 => { let _ = c.send_headers(200, b"200", [], &mut out); }
                    2 => { let _ = c.send_body(b"x", &mut out); }
                    3 => { let _ = c.end(i % 2 == 0, &mut out); }
                    4 => c.fail(500, &mut out),
                    _ => c.cpong(&mut out),
                }
            }
            let mut pos = 0;
            while let Ok(Some((_, n))) = p.receive(&stream[pos..]) {
                pos += n;
                if let Some(n) = p.body_wanted() { let _ = p.send_body(&vec![0; n.min(10)], &mut out); }
            }
        }
    }
}
