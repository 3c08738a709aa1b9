//! Every decoding error path: truncation in each field, bad strings, unknown codes.

use ajp::*;

mod fixtures;

fn browser_payload() -> Vec<u8> {
    let mut out = Vec::new();
    fixtures::browser_request()
        .encode(PacketSize::default(), &mut out)
        .unwrap();
    out.split_off(4)
}

#[test]
fn truncated_forward_request_at_every_byte_names_the_field() {
    let full = browser_payload();
    let mut fields = std::collections::BTreeSet::new();
    for cut in 0..full.len() {
        match ForwardRequestRef::decode(&full[..cut]) {
            Err(Error::Truncated { field, at }) | Err(Error::Unterminated { field, at }) => {
                assert!(at <= cut, "offset {at} past the cut {cut}");
                assert!(field.name.starts_with("forward_request."), "{field}");
                fields.insert(field.name);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Truncation was detected in each fixed field and in the repeated ones.
    for f in [
        "forward_request.type",
        "forward_request.method",
        "forward_request.protocol",
        "forward_request.req_uri",
        "forward_request.remote_addr",
        "forward_request.remote_host",
        "forward_request.server_name",
        "forward_request.server_port",
        "forward_request.is_ssl",
        "forward_request.num_headers",
        "forward_request.header",
        "forward_request.attribute",
        "forward_request.query_string",
        "forward_request.ssl_key_size",
        "forward_request.req_attribute.name",
        "forward_request.req_attribute.value",
        "forward_request.secret",
    ] {
        assert!(
            fields.contains(f),
            "no truncation reported in {f}: {fields:?}"
        );
    }
}

#[test]
fn truncated_send_headers_at_every_byte() {
    let mut out = Vec::new();
    let h: [(&[u8], &[u8]); 3] = [
        (b"Content-Type", b"text/html"),
        (b"X-Custom", b"v"),
        (b"Set-Cookie", b"a=b"),
    ];
    encode_send_headers(302, b"Found", h, PacketSize::default(), &mut out).unwrap();
    let full = &out[4..];
    assert!(SendHeaders::decode(full).is_ok());
    for cut in 0..full.len() {
        let e = SendHeaders::decode(&full[..cut]).unwrap_err();
        assert!(
            matches!(e, Error::Truncated { .. } | Error::Unterminated { .. }),
            "{cut}: {e:?}"
        );
        assert!(e.to_string().contains("send_headers"), "{e}");
    }
}

#[test]
fn bad_codes() {
    let mut p = browser_payload();
    p[1] = 0; // method 0
    assert_eq!(
        ForwardRequestRef::decode(&p).unwrap_err(),
        Error::InvalidMethod { code: 0 }
    );
    p[1] = 28;
    assert_eq!(
        ForwardRequestRef::decode(&p).unwrap_err(),
        Error::InvalidMethod { code: 28 }
    );
    // Method 0xFF without a stored_method attribute.
    p[1] = 0xFF;
    assert_eq!(
        ForwardRequestRef::decode(&p).unwrap_err(),
        Error::MissingStoredMethod
    );

    // Header code 0xA00F: the first header is coded Host (a0 0b) right after num_headers.
    let mut p = browser_payload();
    let at = p.windows(2).position(|w| w == [0xa0, 0x0b]).unwrap();
    p[at + 1] = 0x0f;
    assert!(matches!(
        ForwardRequestRef::decode(&p).unwrap_err(),
        Error::InvalidHeaderCode { code: 0xA00F, field } if field.index == Some(0)
    ));

    // An attribute code outside the table.
    let mut p = browser_payload();
    let at = p.iter().rposition(|&b| b == 0x0c).unwrap(); // the secret's code
    p[at] = 0x0e;
    assert!(matches!(
        ForwardRequestRef::decode(&p).unwrap_err(),
        Error::UnknownAttribute { code: 0x0e, .. }
    ));

    // Response header code outside 0xA001..=0xA00B.
    let mut out = Vec::new();
    encode_send_headers(
        200,
        b"200",
        [(&b"Status"[..], &b"x"[..])],
        PacketSize::default(),
        &mut out,
    )
    .unwrap();
    let at = out.windows(2).position(|w| w == [0xa0, 0x0a]).unwrap();
    out[at + 1] = 0x0c;
    assert!(matches!(
        SendHeaders::decode(&out[4..]).unwrap_err(),
        Error::InvalidHeaderCode { code: 0xA00C, .. }
    ));

    // Unknown message types in each direction.
    assert_eq!(
        ContainerMessage::decode(&[0x02]).unwrap_err(),
        Error::UnknownMessage { code: 2 }
    );
    assert_eq!(
        ContainerMessage::decode(&[]).unwrap_err(),
        Error::EmptyPacket
    );
    assert_eq!(
        ProxyMessage::decode(&[0x10]).unwrap_err(),
        Error::UnknownMessage { code: 0x10 }
    );
}

#[test]
fn bad_string_lengths() {
    // A string whose length runs past the payload.
    let mut p = browser_payload();
    p[2] = 0x7f; // protocol length high byte
    assert!(
        matches!(ForwardRequestRef::decode(&p).unwrap_err(), Error::Truncated { field, .. } if field.name == "forward_request.protocol")
    );
    // A missing terminator.
    let mut p = browser_payload();
    p[4 + 8] = b'X'; // the NUL after "HTTP/1.1"
    assert!(
        matches!(ForwardRequestRef::decode(&p).unwrap_err(), Error::Unterminated { field, .. } if field.name == "forward_request.protocol")
    );
    // A body chunk that claims more than its packet holds (the memory-disclosure guard).
    assert!(matches!(
        ContainerMessage::decode(&[0x03, 0x10, 0x00, b'a', 0]).unwrap_err(),
        Error::Truncated { .. }
    ));
    // Bodies from Tomcat end with a NUL; others may not: both read the same.
    assert!(matches!(
        ContainerMessage::decode(&[0x03, 0, 1, b'a']).unwrap(),
        ContainerMessage::BodyChunk(b"a")
    ));
    // Content-Length twice, or not a number.
    type H<'a> = &'a [(&'a [u8], &'a [u8])];
    let cases: [H; 3] = [
        &[(b"Content-Length", b"1"), (b"content-length", b"1")],
        &[(b"Content-Length", b"12a")],
        &[(b"Content-Length", b"")],
    ];
    for hs in cases {
        let req = ForwardRequest {
            headers: hs,
            attributes: &[],
            ..fixtures::browser_request()
        };
        let mut out = Vec::new();
        req.encode(PacketSize::default(), &mut out).unwrap();
        assert_eq!(
            ForwardRequestRef::decode(&out[4..]).unwrap_err(),
            Error::BadContentLength
        );
    }
}

#[test]
fn encoding_errors_name_the_field() {
    let big = vec![b'x'; 9000];
    let req = ForwardRequest {
        uri: &big,
        ..fixtures::browser_request()
    };
    let mut out = b"prefix".to_vec();
    let e = req.encode(PacketSize::default(), &mut out).unwrap_err();
    assert!(
        matches!(e, Error::DoesNotFit { field, .. } if field.name == "forward_request.req_uri"),
        "{e:?}"
    );
    assert!(e.to_string().contains("max_packet_size"));
    assert_eq!(out, b"prefix", "nothing of the failed packet is left");

    let long_name = vec![b'n'; 0xA000];
    let hs = [(&long_name[..], &b"v"[..])];
    let req = ForwardRequest {
        headers: &hs,
        ..fixtures::browser_request()
    };
    let e = req
        .encode(PacketSize::new(65536).unwrap(), &mut out)
        .unwrap_err();
    assert!(matches!(e, Error::StringTooLong { .. }), "{e:?}");

    assert!(matches!(
        PacketSize::new(1024),
        Err(Error::InvalidPacketSize { size: 1024 })
    ));
    let e = encode_body(&[0; 8187], PacketSize::default(), &mut out).unwrap_err();
    assert_eq!(
        e,
        Error::BodyOverrun {
            len: 8187,
            allowed: 8186
        }
    );
    assert!(encode_body_chunk(&[0; 8185], PacketSize::default(), &mut out).is_err());
}

/// Headers and attributes near the end of the packet: each either fits whole or fails on
/// the field that does not fit, and a failed encode leaves nothing behind.
#[test]
fn headers_and_attributes_at_the_packet_limit() {
    let size = PacketSize::default();
    let fits = |req: &ForwardRequest<'_>| {
        let mut out = Vec::new();
        match req.encode(size, &mut out) {
            Ok(()) => {
                assert!(out.len() <= size.get(), "{}", out.len());
                Ok(out.len())
            }
            Err(e) => {
                assert!(out.is_empty());
                Err(e)
            }
        }
    };
    let filler = vec![b'v'; 8300];
    let mut seen_ok = false;
    let mut seen_err = false;
    for len in 7900..8200 {
        for (name, attr) in [
            (&b"Accept"[..], false),
            (&b"X-Plain"[..], false),
            (&b"X-Plain"[..], true),
        ] {
            let hs = [(name, &filler[..len])];
            let attrs = [Attribute::ReqAttribute {
                name: b"A",
                value: &filler[..len],
            }];
            let req = if attr {
                ForwardRequest {
                    headers: &[],
                    attributes: &attrs,
                    ..fixtures::browser_request()
                }
            } else {
                ForwardRequest {
                    headers: &hs,
                    attributes: &[],
                    ..fixtures::browser_request()
                }
            };
            match fits(&req) {
                Ok(_) => seen_ok = true,
                Err(Error::DoesNotFit { field, .. }) => {
                    seen_err = true;
                    let want: &[&str] = if attr {
                        &[
                            "forward_request.attribute",
                            "forward_request.req_attribute.name",
                            "forward_request.req_attribute.value",
                            "forward_request.are_done",
                        ]
                    } else {
                        &["forward_request.header", "forward_request.are_done"]
                    };
                    assert!(want.contains(&field.name), "{len} {field}");
                }
                Err(e) => panic!("{len}: {e:?}"),
            }
        }
    }
    assert!(seen_ok && seen_err);
}
