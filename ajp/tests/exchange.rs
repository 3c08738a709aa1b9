//! Both exchange state machines driven against each other, and every out-of-order case.

use std::sync::Arc;

use ajp::*;

const GET: ForwardRequest<'static> = ForwardRequest {
    method: b"GET",
    protocol: b"HTTP/1.1",
    uri: b"/app/x",
    remote_addr: b"10.0.0.1",
    remote_host: None,
    server_name: b"example.org",
    server_port: 443,
    is_ssl: true,
    headers: &[(b"Host", b"example.org"), (b"X-Trace", b"abc")],
    attributes: &[
        Attribute::QueryString(b"a=1"),
        Attribute::ReqAttribute {
            name: b"AJP_REMOTE_PORT",
            value: b"5555",
        },
    ],
};

fn post(len: &'static [u8]) -> ForwardRequest<'static> {
    ForwardRequest {
        method: b"POST",
        headers: match len {
            b"" => &[(b"Transfer-Encoding", b"chunked")],
            b"10" => &[(b"Content-Length", b"10")],
            b"20000" => &[(b"Content-Length", b"20000")],
            _ => unreachable!(),
        },
        ..GET
    }
}

fn container(secret: Option<&[u8]>) -> ContainerExchange {
    ContainerExchange::new(Arc::new(ContainerConfig {
        secret: secret.map(|s| s.to_vec()),
        ..Default::default()
    }))
}

/// Feed all of `buf` to the container, collecting owned events.
#[derive(Debug, PartialEq)]
#[allow(clippy::enum_variant_names)]
enum C {
    CPing,
    Request(Vec<u8>),
    Rejected(String),
    Body(Vec<u8>),
    BodyEnd,
    Discarded,
}

fn drain_container(c: &mut ContainerExchange, buf: &[u8]) -> Result<Vec<C>, Error> {
    let mut pos = 0;
    let mut evs = vec![];
    while let Some((ev, n)) = c.receive(&buf[pos..])? {
        pos += n;
        evs.push(match ev {
            ContainerEvent::CPing => C::CPing,
            ContainerEvent::Request(r) => C::Request(r.uri().to_vec()),
            ContainerEvent::Rejected(r) => C::Rejected(r.to_string()),
            ContainerEvent::Body(b) => C::Body(b.to_vec()),
            ContainerEvent::BodyEnd => C::BodyEnd,
            ContainerEvent::Discarded => C::Discarded,
        });
    }
    assert_eq!(pos, buf.len(), "container left bytes unread");
    Ok(evs)
}

#[derive(Debug, PartialEq)]
enum P {
    Headers(u16, Vec<(Vec<u8>, Vec<u8>)>),
    Body(Vec<u8>),
    Flush,
    BodyRequested(usize),
    End(bool),
}

fn drain_proxy(p: &mut ProxyExchange, buf: &[u8]) -> Result<Vec<P>, Error> {
    let mut pos = 0;
    let mut evs = vec![];
    while let Some((ev, n)) = p.receive(&buf[pos..])? {
        pos += n;
        evs.push(match ev {
            ProxyEvent::Headers(h) => P::Headers(
                h.status(),
                h.headers().map(|(a, b)| (a.to_vec(), b.to_vec())).collect(),
            ),
            ProxyEvent::Body(b) => P::Body(b.to_vec()),
            ProxyEvent::Flush => P::Flush,
            ProxyEvent::BodyRequested(n) => P::BodyRequested(n),
            ProxyEvent::End { reuse } => P::End(reuse),
        });
    }
    Ok(evs)
}

#[test]
fn get_round_trip_and_reuse() {
    let mut c = container(None);
    for _ in 0..3 {
        let mut p = ProxyExchange::new(PacketSize::default());
        let mut wire = Vec::new();
        p.start(&GET, BodyMode::None, &mut wire).unwrap();
        assert!(p.replayable());
        assert_eq!(p.body_wanted(), None);
        assert_eq!(
            drain_container(&mut c, &wire).unwrap(),
            vec![C::Request(b"/app/x".to_vec())]
        );
        // No Content-Length: the body's length is unknown, so reading it asks (Tomcat does too).
        let mut ask = Vec::new();
        assert_eq!(c.want_body(&mut ask), BodyState::Wait);
        assert_eq!(
            drain_proxy(&mut p, &ask).unwrap(),
            vec![P::BodyRequested(8186)]
        );
        assert_eq!(p.body_wanted(), Some(0), "no body: answer with end of body");
        let mut w = Vec::new();
        p.send_body(b"", &mut w).unwrap();
        assert_eq!(drain_container(&mut c, &w).unwrap(), vec![C::BodyEnd]);

        let mut back = Vec::new();
        c.send_headers(
            200,
            b"OK",
            [(&b"Content-Type"[..], &b"text/plain"[..]), (b"X-A", b"1")],
            &mut back,
        )
        .unwrap();
        c.send_body(b"hello", &mut back).unwrap();
        c.flush(&mut back).unwrap();
        c.end(true, &mut back).unwrap();
        assert!(c.is_idle());
        let evs = drain_proxy(&mut p, &back).unwrap();
        assert_eq!(
            evs,
            vec![
                P::Headers(
                    200,
                    vec![
                        (b"Content-Type".to_vec(), b"text/plain".to_vec()),
                        (b"X-A".to_vec(), b"1".to_vec())
                    ]
                ),
                P::Body(b"hello".to_vec()),
                P::Flush,
                P::End(true)
            ]
        );
        assert!(p.reusable());
        assert!(
            p.replayable(),
            "a request without a body can always be sent again"
        );
        assert!(p.is_done());
    }
}

#[test]
fn forward_request_fields_survive() {
    let mut wire = Vec::new();
    let mut p = ProxyExchange::new(PacketSize::default());
    p.start(&GET, BodyMode::None, &mut wire).unwrap();
    let mut c = container(None);
    let (ev, _) = c.receive(&wire).unwrap().unwrap();
    let ContainerEvent::Request(r) = ev else {
        panic!()
    };
    assert_eq!(r.method(), b"GET");
    assert_eq!(r.protocol(), b"HTTP/1.1");
    assert_eq!(r.remote_addr(), b"10.0.0.1");
    assert_eq!(r.server_name(), b"example.org");
    assert_eq!(r.server_port(), 443);
    assert!(r.is_ssl());
    assert_eq!(r.header(b"x-trace"), Some(&b"abc"[..]));
    assert_eq!(r.header(b"HOST"), Some(&b"example.org"[..]));
    assert_eq!(r.content_length(), None);
    assert_eq!(r.attributes().count(), 2);

    // Content-Length: 0 means there is no body at all.
    let zero = ForwardRequest {
        headers: &[(b"Content-Length", b"0")],
        ..GET
    };
    let mut w = Vec::new();
    zero.encode(PacketSize::default(), &mut w).unwrap();
    let mut c = container(None);
    let (ev, _) = c.receive(&w).unwrap().unwrap();
    let ContainerEvent::Request(r) = ev else {
        panic!()
    };
    assert_eq!(r.content_length(), Some(0));
    let mut ask = Vec::new();
    assert_eq!(c.want_body(&mut ask), BodyState::Eof);
    assert!(ask.is_empty());
}

#[test]
fn content_length_body_first_packet_unasked_then_on_demand() {
    let size = PacketSize::default();
    let body: Vec<u8> = (0..20000u32).map(|i| i as u8).collect();
    let mut p = ProxyExchange::new(size);
    let mut c = container(None);
    let mut wire = Vec::new();
    p.start(&post(b"20000"), BodyMode::ContentLength(20000), &mut wire)
        .unwrap();
    // The first packet goes right after the head, unasked.
    let first = p.body_wanted().unwrap();
    assert_eq!(first, 8186);
    p.send_body(&body[..first], &mut wire).unwrap();
    assert!(
        p.replayable(),
        "only the replayable first packet has been sent"
    );
    assert_eq!(
        drain_container(&mut c, &wire).unwrap(),
        vec![
            C::Request(b"/app/x".to_vec()),
            C::Body(body[..first].to_vec())
        ]
    );
    let mut got = body[..first].to_vec();
    let mut sent = first;
    loop {
        let mut ask = Vec::new();
        if c.want_body(&mut ask) == BodyState::Eof {
            break;
        }
        let evs = drain_proxy(&mut p, &ask).unwrap();
        assert_eq!(evs, vec![P::BodyRequested(8186)]);
        let n = p.body_wanted().unwrap();
        let mut w = Vec::new();
        p.send_body(&body[sent..sent + n], &mut w).unwrap();
        assert!(!p.replayable(), "streamed body is gone");
        sent += n;
        for e in drain_container(&mut c, &w).unwrap() {
            match e {
                C::Body(b) => got.extend(b),
                C::BodyEnd => {}
                other => panic!("{other:?}"),
            }
        }
        if sent == body.len() {
            // Reading to EOF asks once more; the proxy answers with the empty packet.
            let mut ask = Vec::new();
            assert_eq!(c.want_body(&mut ask), BodyState::Wait);
            drain_proxy(&mut p, &ask).unwrap();
            assert_eq!(p.body_wanted(), Some(0));
            let mut w = Vec::new();
            p.send_body(b"", &mut w).unwrap();
            assert_eq!(drain_container(&mut c, &w).unwrap(), vec![C::BodyEnd]);
        }
    }
    assert_eq!(got, body);
}

#[test]
fn chunked_body_only_when_asked() {
    let mut p = ProxyExchange::new(PacketSize::default());
    let mut c = container(None);
    let mut wire = Vec::new();
    p.start(&post(b""), BodyMode::Chunked, &mut wire).unwrap();
    assert_eq!(
        p.body_wanted(),
        None,
        "chunked bodies are never sent unasked"
    );
    assert!(matches!(
        p.send_body(b"x", &mut Vec::new()),
        Err(Error::Unexpected { .. })
    ));
    let mut p = ProxyExchange::new(PacketSize::default());
    let mut wire2 = Vec::new();
    p.start(&post(b""), BodyMode::Chunked, &mut wire2).unwrap();
    assert_eq!(wire, wire2);
    drain_container(&mut c, &wire).unwrap();
    let mut ask = Vec::new();
    assert_eq!(c.want_body(&mut ask), BodyState::Wait);
    assert_eq!(
        drain_proxy(&mut p, &ask).unwrap(),
        vec![P::BodyRequested(8186)]
    );
    assert!(
        p.replayable(),
        "nothing beyond the first packet has gone out yet"
    );
    let mut w = Vec::new();
    p.send_body(b"part", &mut w).unwrap();
    assert!(
        !p.replayable(),
        "after answering a Get Body Chunk the body is no longer replayable"
    );
    assert_eq!(
        drain_container(&mut c, &w).unwrap(),
        vec![C::Body(b"part".to_vec())]
    );
    let mut ask = Vec::new();
    c.want_body(&mut ask);
    drain_proxy(&mut p, &ask).unwrap();
    let mut w = Vec::new();
    p.send_body(b"", &mut w).unwrap();
    assert_eq!(drain_container(&mut c, &w).unwrap(), vec![C::BodyEnd]);
    assert_eq!(c.want_body(&mut Vec::new()), BodyState::Eof);
}

#[test]
fn unread_first_packet_is_discarded_after_end() {
    let mut p = ProxyExchange::new(PacketSize::default());
    let mut c = container(None);
    let mut wire = Vec::new();
    p.start(&post(b"10"), BodyMode::ContentLength(10), &mut wire)
        .unwrap();
    // The container answers before the first body packet arrives.
    let (ev, n) = c.receive(&wire).unwrap().unwrap();
    assert!(matches!(ev, ContainerEvent::Request(_)));
    assert_eq!(n, wire.len());
    let mut back = Vec::new();
    c.send_headers(204, b"204", [], &mut back).unwrap();
    c.end(true, &mut back).unwrap();
    // Now the body packet and then a CPing arrive: the body is dropped, the CPing seen.
    let mut w = Vec::new();
    p.send_body(b"0123456789", &mut w).unwrap();
    let body_len = w.len();
    w.extend_from_slice(CPING);
    assert_eq!(
        drain_container(&mut c, &w).unwrap(),
        vec![C::Discarded, C::CPing]
    );
    // The dropped packet's bytes are reported even when nothing follows it yet, so a driver
    // never mistakes them for the next message.
    let mut c = container(None);
    let (_, n) = c.receive(&wire).unwrap().unwrap();
    assert_eq!(n, wire.len());
    c.send_headers(204, b"204", [], &mut Vec::new()).unwrap();
    c.end(true, &mut Vec::new()).unwrap();
    let (ev, n) = c.receive(&w[..body_len]).unwrap().unwrap();
    assert!(matches!(ev, ContainerEvent::Discarded));
    assert_eq!(n, body_len);
}

#[test]
fn cping_cpong() {
    let mut c = container(None);
    let mut buf = CPING.to_vec();
    buf.extend_from_slice(CPING); // pipelined
    assert_eq!(
        drain_container(&mut c, &buf).unwrap(),
        vec![C::CPing, C::CPing]
    );
    let mut out = Vec::new();
    c.cpong(&mut out);
    assert_eq!(out, CPONG);
    assert_eq!(receive_cpong(&out, PacketSize::default()), Ok(Some(5)));
    assert_eq!(receive_cpong(&out[..3], PacketSize::default()), Ok(None));
    let mut end = Vec::new();
    encode_end_response(true, &mut end);
    assert!(matches!(
        receive_cpong(&end, PacketSize::default()),
        Err(Error::Unexpected { .. })
    ));
}

#[test]
fn secret_checks() {
    let with = |s: &'static [u8]| ForwardRequest {
        attributes: Box::leak(Box::new([Attribute::Secret(s)])),
        ..GET
    };
    let enc = |r: &ForwardRequest| {
        let mut w = Vec::new();
        r.encode(PacketSize::default(), &mut w).unwrap();
        w
    };
    // Right secret: served.
    let mut c = container(Some(b"s3cr3t"));
    assert_eq!(
        drain_container(&mut c, &enc(&with(b"s3cr3t"))).unwrap(),
        vec![C::Request(b"/app/x".to_vec())]
    );
    // Wrong and missing: 403, then the connection closes.
    for (req, why) in [(with(b"nope"), "wrong secret"), (GET, "no secret")] {
        let mut c = container(Some(b"s3cr3t"));
        let evs = drain_container(&mut c, &enc(&req)).unwrap();
        assert!(
            matches!(&evs[..], [C::Rejected(m)] if m.contains(why)),
            "{evs:?}"
        );
        let mut out = Vec::new();
        c.fail(403, &mut out);
        assert!(c.is_closed());
        let mut p = ProxyExchange::new(PacketSize::default());
        p.start_encoded(BodyMode::None).unwrap();
        let evs = drain_proxy(&mut p, &out).unwrap();
        assert!(matches!(&evs[0], P::Headers(403, _)));
        assert_eq!(evs.last(), Some(&P::End(false)));
        assert!(!p.reusable());
        assert!(
            c.receive(CPING).is_err(),
            "nothing more is read after a rejection"
        );
    }
    // No secret configured: a secret sent is ignored.
    let mut c = container(None);
    assert_eq!(drain_container(&mut c, &enc(&with(b"x"))).unwrap().len(), 1);
}

#[test]
fn request_attribute_filter() {
    let req = ForwardRequest {
        attributes: &[Attribute::ReqAttribute {
            name: b"X_CUSTOM",
            value: b"1",
        }],
        ..GET
    };
    let mut w = Vec::new();
    req.encode(PacketSize::default(), &mut w).unwrap();
    let mut c = container(None);
    let evs = drain_container(&mut c, &w).unwrap();
    assert!(
        matches!(&evs[..], [C::Rejected(m)] if m.contains("X_CUSTOM")),
        "{evs:?}"
    );
    let filter: AttributeFilter = Arc::new(|n: &[u8]| n.starts_with(b"X_"));
    let mut c = ContainerExchange::new(Arc::new(ContainerConfig {
        allowed_attributes: Some(filter),
        ..Default::default()
    }));
    assert_eq!(
        drain_container(&mut c, &w).unwrap(),
        vec![C::Request(b"/app/x".to_vec())]
    );
}

/// `awaits_reply` holds exactly while an empty buffer can only mean "read more".
#[test]
fn awaits_reply_while_the_reply_is_under_way() {
    let size = PacketSize::default();
    let mut p = ProxyExchange::new(size);
    assert!(!p.awaits_reply());
    assert!(p.receive(&[]).is_err());
    let mut p = ProxyExchange::new(size);
    p.start(&GET, BodyMode::None, &mut Vec::new()).unwrap();
    assert!(p.awaits_reply());
    assert!(matches!(p.receive(&[]), Ok(None)));
    let mut headers = Vec::new();
    encode_send_headers(200, b"200", [], size, &mut headers).unwrap();
    p.receive(&headers).unwrap().unwrap();
    assert!(p.awaits_reply());
    assert!(matches!(p.receive(&[]), Ok(None)));
    let mut end = Vec::new();
    encode_end_response(true, &mut end);
    p.receive(&end).unwrap().unwrap();
    assert!(!p.awaits_reply());
    // Failed: an empty buffer is an error, not "read more".
    let mut p = ProxyExchange::new(size);
    p.start(&GET, BodyMode::None, &mut Vec::new()).unwrap();
    assert!(p.receive(&end[..2]).is_ok());
    let mut bad = end.clone();
    bad[0] = 0;
    assert!(p.receive(&bad).is_err());
    assert!(!p.awaits_reply());
    assert!(p.receive(&[]).is_err());
}

#[test]
fn proxy_out_of_order() {
    let size = PacketSize::default();
    let started = || {
        let mut p = ProxyExchange::new(size);
        p.start(&GET, BodyMode::None, &mut Vec::new()).unwrap();
        p
    };
    let mut headers = Vec::new();
    encode_send_headers(200, b"200", [], size, &mut headers).unwrap();
    let mut body = Vec::new();
    encode_body_chunk(b"x", size, &mut body).unwrap();
    let mut end = Vec::new();
    encode_end_response(true, &mut end);

    // Body before headers.
    let mut p = started();
    assert!(matches!(
        p.receive(&body),
        Err(Error::Unexpected {
            what: "response body",
            ..
        })
    ));
    assert!(!p.reusable());
    // A second Send Headers.
    let mut p = started();
    let two = [headers.clone(), headers.clone()].concat();
    assert!(matches!(
        drain_proxy(&mut p, &two),
        Err(Error::Unexpected {
            what: "a second Send Headers",
            ..
        })
    ));
    // Anything after End Response.
    let mut p = started();
    let after = [headers.clone(), end.clone(), body.clone()].concat();
    assert!(matches!(
        drain_proxy(&mut p, &after),
        Err(Error::Unexpected {
            what: "data after End Response",
            ..
        })
    ));
    assert!(
        !p.reusable(),
        "a connection with bytes after End is never reused"
    );
    // CPong in the middle of a request.
    let mut p = started();
    assert!(matches!(
        p.receive(CPONG),
        Err(Error::Unexpected { what: "CPong", .. })
    ));
    // Receiving before starting.
    let mut p = ProxyExchange::new(size);
    assert!(p.receive(&headers).is_err());
    // Starting twice.
    let mut p = started();
    assert!(p.start(&GET, BodyMode::None, &mut Vec::new()).is_err());
    // Get Body Chunk while the first packet is still owed.
    let mut p = ProxyExchange::new(size);
    p.start(&post(b"10"), BodyMode::ContentLength(10), &mut Vec::new())
        .unwrap();
    let mut gbc = Vec::new();
    encode_get_body_chunk(100, &mut gbc);
    assert!(p.receive(&gbc).is_err());
    // More body than promised.
    let mut p = ProxyExchange::new(size);
    p.start(&post(b"10"), BodyMode::ContentLength(10), &mut Vec::new())
        .unwrap();
    assert_eq!(
        p.send_body(&[0; 11], &mut Vec::new()),
        Err(Error::BodyOverrun {
            len: 11,
            allowed: 10
        })
    );
    // A flush before the head is ignored (mod_jk does the same).
    let mut p = started();
    let mut flush = Vec::new();
    encode_body_chunk(b"", size, &mut flush).unwrap();
    let evs = drain_proxy(&mut p, &[flush, headers.clone()].concat()).unwrap();
    assert!(matches!(&evs[..], [P::Headers(200, _)]));
    // End with reuse=0 is done but not reusable.
    let mut p = started();
    let mut end0 = Vec::new();
    encode_end_response(false, &mut end0);
    drain_proxy(&mut p, &[headers, end0].concat()).unwrap();
    assert!(p.is_done() && !p.reusable());
}

#[test]
fn container_out_of_order_and_rejections() {
    let size = PacketSize::default();
    // A body packet on an idle connection reads as a message with an unknown type.
    let mut c = container(None);
    let mut b = Vec::new();
    encode_body(b"\x00zz", size, &mut b).unwrap();
    assert!(c.receive(&b).is_err());
    assert!(c.is_closed());
    // Shutdown and Ping close the connection, as in Tomcat.
    for m in [SHUTDOWN, PING] {
        let mut c = container(None);
        assert!(matches!(c.receive(m), Err(Error::UnknownMessage { .. })));
    }
    // Bad magic (a response packet sent the wrong way).
    let mut c = container(None);
    assert!(matches!(c.receive(CPONG), Err(Error::BadMagic { .. })));
    // Oversize.
    let mut c = container(None);
    assert!(matches!(
        c.receive(&[0x12, 0x34, 0xff, 0xff]),
        Err(Error::TooLong {
            len: 65535,
            max: 8188
        })
    ));
    // A zero-length message as a request start.
    let mut c = container(None);
    assert_eq!(
        c.receive(&[0x12, 0x34, 0, 0]).unwrap_err(),
        Error::EmptyPacket
    );
    // Response calls with no request.
    let mut c = container(None);
    assert!(c.send_headers(200, b"200", [], &mut Vec::new()).is_err());
    assert!(c.end(true, &mut Vec::new()).is_err());
    // Body before head, two heads.
    let mut c = container(None);
    let mut w = Vec::new();
    GET.encode(size, &mut w).unwrap();
    c.receive(&w).unwrap();
    assert!(c.send_body(b"x", &mut Vec::new()).is_err());
    assert!(c.flush(&mut Vec::new()).is_err());
    c.send_headers(200, b"200", [], &mut Vec::new()).unwrap();
    assert!(c.send_headers(200, b"200", [], &mut Vec::new()).is_err());
    // An unasked body packet during a request without body.
    let mut b = Vec::new();
    encode_body(b"zz", size, &mut b).unwrap();
    assert!(matches!(c.receive(&b), Err(Error::Unexpected { .. })));
}

#[test]
fn large_response_is_split_into_chunks() {
    let mut c = container(None);
    let mut w = Vec::new();
    GET.encode(PacketSize::default(), &mut w).unwrap();
    c.receive(&w).unwrap();
    let mut out = Vec::new();
    c.send_headers(200, b"200", [], &mut out).unwrap();
    let body = vec![7u8; 3 * 8184 + 5];
    c.send_body(&body, &mut out).unwrap();
    c.end(true, &mut out).unwrap();
    let mut p = ProxyExchange::new(PacketSize::default());
    p.start_encoded(BodyMode::None).unwrap();
    let evs = drain_proxy(&mut p, &out).unwrap();
    let sizes: Vec<usize> = evs
        .iter()
        .filter_map(|e| {
            if let P::Body(b) = e {
                Some(b.len())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(sizes, vec![8184, 8184, 8184, 5]);
}

#[test]
fn packet_size_64k() {
    let size = PacketSize::new(65536).unwrap();
    let big = vec![b'v'; 60000];
    let req = ForwardRequest {
        headers: &[(b"X-Big", &big)],
        ..GET
    };
    let mut w = Vec::new();
    assert!(matches!(
        req.encode(PacketSize::default(), &mut w),
        Err(Error::DoesNotFit { .. })
    ));
    assert!(w.is_empty(), "no partial packet");
    req.encode(size, &mut w).unwrap();
    let mut c = ContainerExchange::new(Arc::new(ContainerConfig {
        packet_size: size,
        ..Default::default()
    }));
    let (ev, _) = c.receive(&w).unwrap().unwrap();
    let ContainerEvent::Request(r) = ev else {
        panic!()
    };
    assert_eq!(r.header(b"x-big").map(|v| v.len()), Some(60000));
    // And an 8K container refuses the 64K packet.
    let mut c = container(None);
    assert!(matches!(c.receive(&w), Err(Error::TooLong { .. })));
}
