//! The connection pool under forward(): CPing modes, maintenance, and the pool size holding
//! under concurrent requests.

mod backend;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use backend::{Act, Backend, Client};
use lb_core::forward::blocking::Engine;
use lb_core::forward::spec::PingMode;
use lb_core::forward::{AjpWorkerSpec, Failure, RequestHead, Worker};

fn spec(addr: SocketAddr) -> AjpWorkerSpec {
    let mut s = AjpWorkerSpec::new("w1", addr, 2);
    s.retry_interval = Duration::ZERO;
    s.socket_timeout = Some(Duration::from_secs(10));
    s
}

#[test]
fn prepost_ping_before_every_request() {
    let b = Backend::start(Act::ok("ok"));
    let mut s = spec(b.addr());
    s.ping_mode = PingMode::parse("P").unwrap();
    let w = Engine::new(Worker::ajp13(s));
    for _ in 0..3 {
        assert_eq!(
            w.forward(&RequestHead::get(b"/"), &mut Client::new())
                .status,
            200
        );
    }
    assert_eq!(
        b.cpings(),
        3,
        "the new connection and each reuse are pinged"
    );
    assert_eq!(b.accepted(), 1);
}

#[test]
fn connect_ping_unanswered_is_a_connect_failure() {
    let b = Backend::start(Act::ok("ok"));
    b.mute_cping();
    let mut s = spec(b.addr());
    s.ping_mode = PingMode::parse("C").unwrap();
    s.connect_timeout = Some(Duration::from_millis(100));
    s.retries = 1;
    let w = Engine::new(Worker::ajp13(s));
    let r = w.forward(&RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.status, 503);
    assert!(
        matches!(r.failure, Some(Failure::Connect(_))),
        "{:?}",
        r.failure
    );
    assert_eq!(b.requests(), 0);
    assert_eq!(w.idle_connections(0), 0);
}

#[test]
fn maintenance_pings_idle_connections_and_drops_dead_ones() {
    let b = Backend::start(Act::ok("ok"));
    let mut s = spec(b.addr());
    s.connection_ping_interval = Some(Duration::from_secs(30));
    s.ping_timeout = Duration::from_millis(200);
    let w = Engine::new(Worker::ajp13(s));
    assert_eq!(
        w.forward(&RequestHead::get(b"/"), &mut Client::new())
            .status,
        200
    );
    let later = Instant::now() + Duration::from_secs(31);
    let m = w.maintain(later);
    assert_eq!((m.pinged, m.ping_failed), (1, 0));
    assert_eq!(b.cpings(), 1);
    b.mute_cping();
    let m = w.maintain(later + Duration::from_secs(31));
    assert_eq!((m.pinged, m.ping_failed), (0, 1));
    assert_eq!(w.idle_connections(0), 0);
}

#[test]
fn concurrent_requests_share_at_most_pool_size_connections() {
    let b = Backend::start(Act::ok("ok"));
    let mut s = spec(b.addr());
    s.connection_pool_size = 2;
    s.connection_acquire_timeout = Duration::from_secs(10);
    let w = Engine::new(Worker::ajp13(s));
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| {
                for _ in 0..25 {
                    let mut c = Client::new();
                    let r = w.forward(&RequestHead::get(b"/"), &mut c);
                    assert_eq!(r.status, 200, "{:?}", r.failure);
                    assert_eq!(c.text(), "ok");
                }
            });
        }
    });
    assert_eq!(b.requests(), 100);
    assert!(
        b.accepted() <= 2,
        "{} connections for a pool of 2",
        b.accepted()
    );
    assert_eq!(w.idle_connections(0), b.accepted());
}
