//! Codec and exchange benchmarks. Targets on the 2-core dev machine: encode ≤ 150 ns,
//! decode headers ≤ 100 ns.

use std::hint::black_box;
use std::sync::Arc;

use ajp::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;
use fixtures::{post_request, RESPONSE_HEADERS as RESP_HEADERS};

fn codec(c: &mut Criterion) {
    let size = PacketSize::default();
    let req = post_request();
    let mut out = Vec::with_capacity(size.get());
    c.bench_function("encode forward request (12 headers)", |b| {
        b.iter(|| {
            out.clear();
            black_box(&req).encode(size, &mut out).unwrap();
        })
    });

    let mut sh = Vec::new();
    encode_send_headers(200, b"200", RESP_HEADERS, size, &mut sh).unwrap();
    c.bench_function("decode send headers (8 headers)", |b| {
        b.iter(|| {
            let h = SendHeaders::decode(black_box(&sh[4..])).unwrap();
            h.headers().fold(0, |n, (a, v)| n + a.len() + v.len())
        })
    });

    let mut chunk = Vec::new();
    encode_body_chunk(&[0x5a; 8184], size, &mut chunk).unwrap();
    let mut g = c.benchmark_group("decode body chunk");
    g.throughput(Throughput::Bytes(8184));
    g.bench_function("8 KiB", |b| {
        b.iter(|| {
            let (p, _) = split_packet(black_box(&chunk), Direction::FromContainer, size)
                .unwrap()
                .unwrap();
            match ContainerMessage::decode(p).unwrap() {
                ContainerMessage::BodyChunk(d) => d.len(),
                _ => 0,
            }
        })
    });
    g.finish();

    // A whole exchange through both machines: 4 KiB request body, 16 KiB response body.
    let cfg = Arc::new(ContainerConfig {
        secret: Some(b"s3cr3t".to_vec()),
        ..Default::default()
    });
    let mut container = ContainerExchange::new(cfg);
    let req_body = vec![1u8; 4096];
    let resp_body = vec![2u8; 16384];
    let mut to_c = Vec::with_capacity(2 * size.get());
    let mut to_p = Vec::with_capacity(4 * size.get());
    c.bench_function("full exchange (4 KiB up, 16 KiB down)", |b| {
        b.iter(|| {
            to_c.clear();
            to_p.clear();
            let mut p = ProxyExchange::new(size);
            p.start(&req, BodyMode::ContentLength(4096), &mut to_c)
                .unwrap();
            let n = p.body_wanted().unwrap();
            p.send_body(&req_body[..n], &mut to_c).unwrap();
            let mut pos = 0;
            let mut got = 0;
            while let Some((ev, n)) = container.receive(&to_c[pos..]).unwrap() {
                pos += n;
                if let ContainerEvent::Body(d) = ev {
                    got += d.len();
                }
            }
            assert_eq!(got, 4096);
            container
                .send_headers(200, b"200", RESP_HEADERS, &mut to_p)
                .unwrap();
            container.send_body(&resp_body, &mut to_p).unwrap();
            container.end(true, &mut to_p).unwrap();
            let mut pos = 0;
            let mut down = 0;
            while let Some((ev, n)) = p.receive(&to_p[pos..]).unwrap() {
                pos += n;
                if let ProxyEvent::Body(d) = ev {
                    down += d.len();
                }
            }
            assert!(p.reusable() && down == 16384);
        })
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
