//! The encode and decode hot paths allocate nothing: a counting global allocator proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use ajp::*;

mod fixtures;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(|a| a.get());
    f();
    ALLOCS.with(|a| a.get()) - before
}

#[test]
fn hot_paths_allocate_nothing() {
    let size = PacketSize::default();
    let req = fixtures::browser_request();
    let mut out = Vec::with_capacity(4 * size.get());
    let mut wire = Vec::with_capacity(4 * size.get());
    req.encode(size, &mut wire).unwrap();
    let mut resp = Vec::with_capacity(4 * size.get());
    encode_send_headers(200, b"200", fixtures::RESPONSE_HEADERS, size, &mut resp).unwrap();
    encode_body_chunk(&[7; 4000], size, &mut resp).unwrap();
    encode_end_response(true, &mut resp);

    // The counter does see allocations.
    assert_eq!(
        allocations(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(1)))),
        1
    );
    // Encoding a forward request into a buffer with room.
    assert_eq!(
        allocations(|| {
            out.clear();
            req.encode(size, &mut out).unwrap();
        }),
        0
    );
    // Decoding it and walking every header and attribute.
    assert_eq!(
        allocations(|| {
            let r = ForwardRequestRef::decode(&wire[4..]).unwrap();
            let n: usize = r.headers().map(|(a, b)| a.len() + b.len()).sum();
            assert!(n > 0 && r.attributes().count() == 8);
        }),
        0
    );
    // Encoding and decoding Send Headers.
    assert_eq!(
        allocations(|| {
            out.clear();
            encode_send_headers(200, b"200", fixtures::RESPONSE_HEADERS, size, &mut out).unwrap();
        }),
        0
    );
    assert_eq!(
        allocations(|| {
            assert_eq!(
                SendHeaders::decode(&resp[4..]).unwrap().headers().count(),
                8
            );
        }),
        0
    );
    // A whole proxy-side exchange over prepared bytes.
    assert_eq!(
        allocations(|| {
            let mut p = ProxyExchange::new(size);
            out.clear();
            p.start(&req, BodyMode::None, &mut out).unwrap();
            let mut pos = 0;
            while let Some((_, n)) = p.receive(&resp[pos..]).unwrap() {
                pos += n;
            }
            assert!(p.reusable());
        }),
        0
    );
    // The container side: receive, respond, end.
    let cfg = Arc::new(ContainerConfig {
        secret: Some(b"s3cr3t".to_vec()),
        ..Default::default()
    });
    let mut c = ContainerExchange::new(cfg);
    assert_eq!(
        allocations(|| {
            let (ev, _) = c.receive(&wire).unwrap().unwrap();
            assert!(matches!(ev, ContainerEvent::Request(_)));
            out.clear();
            c.send_headers(200, b"200", fixtures::RESPONSE_HEADERS, &mut out)
                .unwrap();
            c.send_body(&[1; 4000], &mut out).unwrap();
            c.end(true, &mut out).unwrap();
        }),
        0
    );
}
