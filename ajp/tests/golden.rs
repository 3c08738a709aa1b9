//! Byte-for-byte vectors from the AJP/1.3 specification and from real peers.

use ajp::*;

mod fixtures;
use fixtures::*;

#[test]
fn fixed_messages() {
    assert_eq!(CPING, &hex("12 34 00 01 0a")[..]);
    assert_eq!(CPONG, &hex("41 42 00 01 09")[..]);
    assert_eq!(SHUTDOWN, &hex("12 34 00 01 07")[..]);
    assert_eq!(PING, &hex("12 34 00 01 08")[..]);
    let mut out = Vec::new();
    encode_end_response(true, &mut out);
    assert_eq!(out, hex("41 42 00 02 05 01"));
    out.clear();
    encode_end_response(false, &mut out);
    assert_eq!(out, hex("41 42 00 02 05 00"));
    out.clear();
    encode_get_body_chunk(8186, &mut out);
    assert_eq!(out, hex("41 42 00 03 06 1f fa"));
    out.clear();
    encode_body_chunk(b"", PacketSize::default(), &mut out).unwrap();
    assert_eq!(out, hex("41 42 00 04 03 00 00 00"));
    out.clear();
    encode_body(b"", PacketSize::default(), &mut out).unwrap();
    assert_eq!(out, hex("12 34 00 00"));
    out.clear();
    encode_body(b"abc", PacketSize::default(), &mut out).unwrap();
    assert_eq!(out, hex("12 34 00 05 00 03 61 62 63"));
}

/// The worked example of the reference: GET / with Host, a secret, and a null remote_host.
#[test]
fn forward_request_spec_example() {
    let expected = hex(
        "12 34 00 49 02 02 00 08 48 54 54 50 2f 31 2e 31 00 00 01 2f 00 00 09 31 32 37 2e 30 2e 30 2e 31 00
         ff ff 00 09 6c 6f 63 61 6c 68 6f 73 74 00 00 50 00 00 01 a0 0b 00 09 6c 6f 63 61 6c 68 6f 73 74 00
         0c 00 06 73 33 63 72 33 74 00 ff",
    );
    let req = ForwardRequest {
        method: b"GET",
        protocol: b"HTTP/1.1",
        uri: b"/",
        remote_addr: b"127.0.0.1",
        remote_host: None,
        server_name: b"localhost",
        server_port: 80,
        is_ssl: false,
        headers: &[(b"Host", b"localhost")],
        attributes: &[Attribute::Secret(b"s3cr3t")],
    };
    let mut out = Vec::new();
    req.encode(PacketSize::default(), &mut out).unwrap();
    assert_eq!(out, expected);

    let (payload, used) = split_packet(&out, Direction::ToContainer, PacketSize::default())
        .unwrap()
        .unwrap();
    assert_eq!(used, out.len());
    let r = ForwardRequestRef::decode(payload).unwrap();
    assert_eq!(r.method(), b"GET");
    assert_eq!(r.remote_host(), None);
    assert_eq!(r.server_port(), 80);
    assert_eq!(
        r.headers().collect::<Vec<_>>(),
        vec![(&b"host"[..], &b"localhost"[..])]
    );
    assert_eq!(
        r.attributes().collect::<Vec<_>>(),
        vec![Attribute::Secret(b"s3cr3t")]
    );
}

/// Send Headers as Tomcat writes it: the status number as reason, coded Content-Type/Length.
#[test]
fn send_headers_spec_example() {
    let expected = hex(
        "41 42 00 1f 04 00 c8 00 03 32 30 30 00 00 02 a0 01 00 09 74 65 78 74 2f 68 74 6d 6c 00 a0 03 00 01 35 00",
    );
    let mut out = Vec::new();
    let headers: [(&[u8], &[u8]); 2] = [(b"Content-Type", b"text/html"), (b"Content-Length", b"5")];
    encode_send_headers(200, b"200", headers, PacketSize::default(), &mut out).unwrap();
    assert_eq!(out, expected);
    let (payload, _) = split_packet(&out, Direction::FromContainer, PacketSize::default())
        .unwrap()
        .unwrap();
    let ContainerMessage::SendHeaders(h) = ContainerMessage::decode(payload).unwrap() else {
        panic!("not send headers")
    };
    assert_eq!(h.status(), 200);
    assert_eq!(h.reason(), Some(&b"200"[..]));
    assert_eq!(h.header(b"content-length"), Some(&b"5"[..]));
    assert_eq!(
        h.headers().map(|(n, _)| n).collect::<Vec<_>>(),
        vec![&b"Content-Type"[..], &b"Content-Length"[..]]
    );
}

#[test]
fn browser_request_byte_for_byte() {
    let expected = hex(include_str!("data/browser-request.hex"));
    let mut out = Vec::new();
    browser_request()
        .encode(PacketSize::default(), &mut out)
        .unwrap();
    assert_eq!(out, expected);
    let (payload, _) = split_packet(&out, Direction::ToContainer, PacketSize::default())
        .unwrap()
        .unwrap();
    let r = ForwardRequestRef::decode(payload).unwrap();
    assert_eq!(r.num_headers(), 12);
    let names: Vec<_> = r.headers().map(|(n, _)| n.to_vec()).collect();
    assert_eq!(names[0], b"host");
    assert_eq!(names[8], b"Upgrade-Insecure-Requests");
    assert_eq!(
        r.attributes().collect::<Vec<_>>(),
        BROWSER_ATTRIBUTES.to_vec()
    );
}

#[test]
fn stored_method_for_unknown_methods() {
    let req = ForwardRequest {
        method: b"PATCH",
        headers: &[],
        attributes: &[Attribute::Secret(b"k")],
        ..browser_request()
    };
    let mut out = Vec::new();
    req.encode(PacketSize::default(), &mut out).unwrap();
    assert_eq!(out[5], 0xFF, "method byte is the stored-method code");
    // ... and the name goes last among the attributes, before the terminator.
    assert!(out.ends_with(&hex("0d 00 05 50 41 54 43 48 00 ff")));
    let r = ForwardRequestRef::decode(&out[4..]).unwrap();
    assert_eq!(r.method(), b"PATCH");
    assert_eq!(r.method_code(), 0xFF);
}

#[test]
fn every_method_code() {
    for code in 1..=27u8 {
        let name = ajp::codes::method_name(code).unwrap();
        let req = ForwardRequest {
            method: name.as_bytes(),
            headers: &[],
            attributes: &[],
            ..browser_request()
        };
        let mut out = Vec::new();
        req.encode(PacketSize::default(), &mut out).unwrap();
        assert_eq!(out[5], code, "{name}");
        assert_eq!(
            ForwardRequestRef::decode(&out[4..]).unwrap().method(),
            name.as_bytes()
        );
    }
}
