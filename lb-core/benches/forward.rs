//! forward() of a small GET over loopback to an in-process AJP backend, against a hand-driven
//! baseline: the same pre-encoded request bytes written and the reply read until End Response
//! on the same kind of connection, with no engine. The difference is lb-core's own work per
//! request (building the Forward Request, pool lease, exchange state machine, response
//! streaming, accounting), the rest is loopback and the backend.

#[path = "../tests/backend/mod.rs"]
mod backend;

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use backend::{Act, Backend, Client};
use criterion::{criterion_group, criterion_main, Criterion};
use lb_core::forward::blocking::Engine;
use lb_core::forward::{
    Acquired, Action, AjpWorkerSpec, Buffers, Exchange, Now, RequestHead, Worker,
};

const HEADERS: &[(&[u8], &[u8])] = &[
    (b"Host", b"localhost"),
    (b"User-Agent", b"bench/1.0"),
    (b"Accept", b"*/*"),
];

fn head() -> RequestHead<'static> {
    let mut h = RequestHead::get(b"/app/hello");
    h.headers = HEADERS;
    h.remote_port = 40000;
    h
}

fn bench_forward(c: &mut Criterion) {
    let b = Backend::start(Act::ok("hello"));
    let mut spec = AjpWorkerSpec::new("w1", b.addr(), 1);
    spec.socket_timeout = Some(Duration::from_secs(10));
    let w = Engine::new(Worker::ajp13(spec));
    let h = head();
    let mut g = c.benchmark_group("forward");
    g.bench_function("small_get_loopback", |bench| {
        bench.iter(|| {
            let mut client = Client::new();
            let r = w.forward(&h, &mut client);
            assert_eq!(r.status, 200);
            black_box(client.out.len());
        })
    });

    // Baseline: the same request bytes, the reply read by packet length until End Response.
    let mut req = Vec::new();
    lb_core::forward::request::encode(
        &h,
        &Default::default(),
        ajp::PacketSize::default(),
        &mut req,
    )
    .unwrap();
    let mut conn = TcpStream::connect(b.addr()).unwrap();
    conn.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; 8192];
    g.bench_function("raw_exchange_loopback", |bench| {
        bench.iter(|| {
            conn.write_all(&req).unwrap();
            let mut have = 0;
            loop {
                // Whole packets at the front of buf; End Response (type 5) ends the reply.
                let mut at = 0;
                let mut ended = false;
                while have - at >= 4 {
                    let len = u16::from_be_bytes([buf[at + 2], buf[at + 3]]) as usize;
                    if have - at < 4 + len {
                        break;
                    }
                    ended = buf[at + 4] == 5;
                    at += 4 + len;
                }
                buf.copy_within(at..have, 0);
                have -= at;
                if ended {
                    break;
                }
                have += conn.read(&mut buf[have..]).unwrap();
            }
        })
    });

    // lb-core's per-request work without sockets: the forwarding machine driven over a canned
    // reply (plan, Forward Request, readiness, exchange, response events), at a fixed time.
    let size = ajp::PacketSize::default();
    let mut reply = Vec::new();
    let rh: [(&[u8], &[u8]); 2] = [(b"Content-Type", b"text/plain"), (b"Content-Length", b"5")];
    ajp::encode_send_headers(200, b"200", rh, size, &mut reply).unwrap();
    ajp::encode_body_chunk(b"hello", size, &mut reply).unwrap();
    ajp::encode_end_response(true, &mut reply);
    let mut spec = AjpWorkerSpec::new("w1", b.addr(), 1);
    spec.socket_timeout = Some(Duration::from_secs(10));
    let peer = spec.addr;
    let machine = std::sync::Arc::new(Worker::ajp13(spec));
    let now = Now::system();
    let mut spare = Some(Buffers::default());
    g.bench_function("machine_without_io", |bench| {
        bench.iter(|| {
            let bufs = spare.take().unwrap_or_default();
            let mut ex = Exchange::new(machine.clone(), &h, bufs);
            loop {
                match ex.poll(now) {
                    Action::Acquire { .. } => ex.on_acquired(Acquired::Idle { peer, alive: true }),
                    Action::Send(d) => {
                        let n = d.len();
                        ex.on_sent(n)
                    }
                    Action::Recv { .. } => {
                        ex.recv_space()[..reply.len()].copy_from_slice(&reply);
                        ex.on_recv(reply.len())
                    }
                    Action::WriteHead(hd) => {
                        black_box(hd.status());
                        ex.on_client_written()
                    }
                    Action::WriteBody(d) => {
                        black_box(d.len());
                        ex.on_client_written()
                    }
                    Action::Release { reuse } => assert!(reuse),
                    Action::Done => break,
                    other => panic!("unexpected {other:?}"),
                }
            }
            let (done, bufs) = ex.finish();
            assert_eq!(done.status, 200);
            spare = Some(bufs);
        })
    });

    // The same GET through an lb member whose pool shares its settings through the table: each
    // request checks the shared record for a status-worker change first.
    let table = std::sync::Arc::new(lb_core::shm::ShmTable::heap(1, 1));
    let lb = lb_core::balancer::Balancer::new(
        &lb_core::balancer::LbSpec::named("lb"),
        &[lb_core::balancer::MemberSpec::named("w1")],
        table,
        0,
    )
    .unwrap();
    let mut spec = AjpWorkerSpec::new("w1", b.addr(), 1);
    spec.socket_timeout = Some(Duration::from_secs(10));
    let lbw = Engine::new(Worker::balanced("lb", vec![spec], lb));
    g.bench_function("small_get_loopback_lb_member", |bench| {
        bench.iter(|| {
            let mut client = Client::new();
            let r = lbw.forward(&h, &mut client);
            assert_eq!(r.status, 200);
            black_box(client.out.len());
        })
    });
    // The settings lookup alone, when nothing changed.
    let member = &lbw.worker().members()[0];
    g.bench_function("member_spec_unchanged", |bench| {
        bench.iter(|| black_box(black_box(member).spec().reply_timeout))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_forward
}
criterion_main!(benches);
