//! Connection settings changed at runtime (the status worker's `va…` parameters) reach the
//! pool of every process sharing the table: two engines over one table stand for two httpd
//! children. After a port change no connection to the old address is used again.

mod backend;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backend::{eventually, Act, Backend, Client};
use lb_core::balancer::{Balancer, ConnChange, LbSpec, MemberSpec};
use lb_core::forward::blocking::{Endpoint, Engine};
use lb_core::forward::{AjpWorkerSpec, Failure, RequestHead, Worker};
use lb_core::shm::ShmTable;

fn engine(table: &Arc<ShmTable>, addr: SocketAddr) -> Engine {
    let lb = Balancer::new(
        &LbSpec::named("lb"),
        &[MemberSpec::named("tc1")],
        Arc::clone(table),
        0,
    )
    .unwrap();
    let mut s = AjpWorkerSpec::new("tc1", addr, 2);
    s.retry_interval = Duration::ZERO;
    Engine::new(Worker::balanced("lb", vec![s], lb))
}

fn get(w: &Engine) -> (u16, String, Option<Failure>) {
    let mut c = Client::new();
    let r = w.forward(&RequestHead::get(b"/"), &mut c);
    (r.status, c.text(), r.failure)
}

#[test]
fn a_port_change_reaches_every_process_and_old_connections_are_not_reused() {
    let old = Backend::start(Act::ok("old"));
    let new = Backend::start(Act::ok("new"));
    let table = Arc::new(ShmTable::heap(1, 1));
    let (p1, p2) = (engine(&table, old.addr()), engine(&table, old.addr()));
    for w in [&p1, &p2] {
        assert_eq!(get(w).1, "old");
        assert_eq!(w.idle_connections(0), 1);
    }
    assert_eq!(old.accepted(), 2);

    // Changed through "process" 1; process 2 learns it from the table only.
    p1.worker()
        .balancer()
        .unwrap()
        .change_connection(0, ConnChange::Port(new.addr().port()))
        .unwrap();
    for w in [&p2, &p1] {
        assert_eq!(get(w).1, "new");
        assert_eq!(w.worker().members()[0].spec().addr, new.addr());
        assert_eq!(
            w.idle_connections(0),
            1,
            "only the new connection is pooled"
        );
    }
    assert_eq!(old.requests(), 2, "nothing more went to the old port");
    eventually("both idle connections to the old port closed", || {
        old.closed_by_proxy() == 2
    });
    assert_eq!(new.accepted(), 2);
    // The status page reads the settings every process uses.
    let stats = p2.worker().balancer().unwrap().stats(0);
    let c = stats.members[0].connection.as_ref().unwrap();
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", new.addr().port()));
}

#[test]
fn a_connection_leased_during_the_change_is_closed_when_it_comes_back() {
    let old = Backend::start(Act::ok("old"));
    let new = Backend::start(Act::ok("new"));
    let table = Arc::new(ShmTable::heap(1, 1));
    let w = engine(&table, old.addr());
    let member = &w.worker().members()[0];
    let mut lease = w.pool(0).unwrap().acquire(member.spec()).unwrap();
    lease.set(Endpoint::connect(member.spec(), None).unwrap());
    eventually("the old backend accepted", || old.accepted() == 1);
    w.worker()
        .balancer()
        .unwrap()
        .change_connection(0, ConnChange::Port(new.addr().port()))
        .unwrap();
    assert!(
        lease.conn().is_some(),
        "a leased connection is not taken away"
    );
    // Given back for reuse, it is still closed: it goes to the old address.
    lease.release(true, member.spec().addr, std::time::Instant::now());
    assert_eq!(w.idle_connections(0), 0, "it was closed, not pooled");
    eventually("the old connection closed", || old.closed_by_proxy() == 1);
    assert_eq!(get(&w).1, "new");
}

#[test]
fn timeouts_and_retries_changed_at_runtime_apply_to_the_next_request() {
    let b = Backend::start(Act::ok("ok"));
    let table = Arc::new(ShmTable::heap(1, 1));
    let p1 = engine(&table, b.addr());
    let p2 = engine(&table, b.addr());
    assert_eq!(get(&p2).0, 200);
    let lb = p1.worker().balancer().unwrap();
    lb.change_connection(0, ConnChange::ReplyTimeout(100))
        .unwrap();
    lb.change_connection(0, ConnChange::Retries(1)).unwrap();
    // Bit 1: no retry once the backend has the request (else the lb's next round would).
    lb.change_connection(0, ConnChange::RecoveryOptions(1))
        .unwrap();
    let spec = p2.worker().members()[0].spec();
    assert_eq!(spec.reply_timeout, Some(Duration::from_millis(100)));
    assert_eq!((spec.retries, spec.recovery_options.bits()), (1, 1));
    // Without a reply timeout a stalled backend would hold the request (no socket_timeout).
    b.then(Act::Stall);
    let t = Instant::now();
    let (status, _, failure) = get(&p2);
    assert_eq!(status, 504, "{failure:?}");
    assert!(
        matches!(failure, Some(Failure::ReplyTimeout)),
        "{failure:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(b.requests(), 2, "the stalled request was not sent again");
}

#[test]
fn a_busy_limit_change_reaches_the_balancer_and_unshared_members_are_refused() {
    let b = Backend::start(Act::ok("ok"));
    let table = Arc::new(ShmTable::heap(1, 1));
    let p1 = engine(&table, b.addr());
    let p2 = engine(&table, b.addr());
    p1.worker()
        .balancer()
        .unwrap()
        .change_connection(0, ConnChange::BusyLimit(3))
        .unwrap();
    assert_eq!(p2.worker().members()[0].spec().busy_limit, 3);
    assert_eq!(
        p2.worker().balancer().unwrap().conf().members[0].busy_limit,
        3
    );

    // A balancer whose members no pool shares (no engine) has nothing to change.
    let lone = Balancer::new(
        &LbSpec::named("other"),
        &[MemberSpec::named("tc1")],
        Arc::new(ShmTable::heap(1, 1)),
        0,
    )
    .unwrap();
    let e = lone
        .change_connection(0, ConnChange::Port(9))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no connection settings"), "{e}");
}
