#![no_main]
//! A byte stream from a container into the proxy side of a request with a chunked body.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut p = ajp::ProxyExchange::new(ajp::PacketSize::default());
    let req = ajp::ForwardRequest {
        method: b"POST", protocol: b"HTTP/1.1", uri: b"/", remote_addr: b"127.0.0.1",
        remote_host: None, server_name: b"localhost", server_port: 80, is_ssl: false,
        headers: &[], attributes: &[],
    };
    let mut out = Vec::new();
    p.start(&req, ajp::BodyMode::Chunked, &mut out).unwrap();
    let mut pos = 0;
    while let Ok(Some((_, n))) = p.receive(&data[pos..]) {
        assert!(n > 0);
        pos += n;
        if let Some(n) = p.body_wanted() {
            let _ = p.send_body(&[0; 16][..n.min(16)], &mut out);
        }
        if p.reusable() {
            assert!(p.is_done() && !p.can_retry());
        }
    }
});
