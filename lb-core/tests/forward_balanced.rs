//! forward() with the balancer choosing: failover, sticky sessions, the route attribute and
//! the outcomes in the shared table.

mod backend;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backend::{refused_addr, Act, Backend, Client};
use lb_core::balancer::{Balancer, LbSpec, MemberSpec, State};
use lb_core::forward::blocking::Engine;
use lb_core::forward::{AjpWorkerSpec, RequestHead, Worker};
use lb_core::mount::Extensions;
use lb_core::shm::ShmTable;

fn member(name: &str, addr: SocketAddr) -> AjpWorkerSpec {
    let mut s = AjpWorkerSpec::new(name, addr, 4);
    s.retries = 1;
    s.retry_interval = Duration::ZERO;
    s.socket_timeout = Some(Duration::from_secs(10));
    s
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn balanced(addrs: &[(&str, SocketAddr)]) -> Engine {
    let specs: Vec<MemberSpec> = addrs.iter().map(|(n, _)| MemberSpec::named(n)).collect();
    let table = Arc::new(ShmTable::heap(1, specs.len()));
    let lb = Balancer::new(&LbSpec::named("lb"), &specs, table, now()).unwrap();
    let members = addrs.iter().map(|(n, a)| member(n, *a)).collect();
    Engine::new(Worker::balanced("lb", members, lb))
}

#[test]
fn the_balancer_fails_over_and_marks_the_dead_member() {
    let b = Backend::start(Act::ok("alive"));
    let w = balanced(&[("tc1", refused_addr()), ("tc2", b.addr())]);
    // Whichever member the balancer tries first, every request ends on tc2.
    for _ in 0..3 {
        let mut c = Client::new();
        let r = w.forward(&RequestHead::get(b"/"), &mut c);
        assert_eq!(r.status, 200, "{:?}", r.failure);
        assert_eq!(r.served_by(), Some(1));
        assert_eq!(c.text(), "alive");
    }
    let stats = w.worker().balancer().unwrap().stats(now());
    assert_eq!(stats.members[0].state, State::Error);
    assert!(stats.members[0].errors >= 1);
    assert_eq!(stats.members[1].elected, 3);
    let mut c = Client::new();
    let r = w.forward(&RequestHead::get(b"/"), &mut c);
    let notes = r.notes(w.worker());
    let note = |k| notes.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert_eq!(note("JK_LB_LAST_NAME").as_deref(), Some("tc2"));
    assert_eq!(note("JK_LB_LAST_STATE").as_deref(), Some("OK"));
    assert_eq!(note("JK_LB_LAST_ACCESSED").as_deref(), Some("4"));
    assert_eq!(note("JK_LB_LAST_BUSY").as_deref(), Some("0"));
    let seen = b.seen();
    assert_eq!(seen[0].route.as_deref(), Some("tc2"));
    assert_eq!(seen[0].attribute("JK_LB_ACTIVATION"), Some("ACT"));
}

#[test]
fn a_mounts_activations_override_the_members_own() {
    let b1 = Backend::start(Act::ok("one"));
    let b2 = Backend::start(Act::ok("two"));
    let w = balanced(&[("tc1", b1.addr()), ("tc2", b2.addr())]);
    let rule = Extensions::parse("lb;stopped=tc1").unwrap().extensions;
    for _ in 0..6 {
        let mut head = RequestHead::get(b"/");
        head.rule = Some(&rule);
        // Even its own sessions: stopped takes no traffic at all.
        head.session_id = Some("ABC.tc1");
        let mut c = Client::new();
        assert_eq!(w.forward(&head, &mut c).served_by(), Some(1));
    }
    assert_eq!(b1.requests(), 0);
    let rule = Extensions::parse("lb;disabled=tc2").unwrap().extensions;
    for session in [None, Some("ABC.tc2")] {
        let mut head = RequestHead::get(b"/");
        head.rule = Some(&rule);
        head.session_id = session;
        let mut c = Client::new();
        let r = w.forward(&head, &mut c);
        // Disabled: only its sessions reach it, and it is told so.
        let want = if session.is_some() { 1 } else { 0 };
        assert_eq!(r.served_by(), Some(want), "session {session:?}");
    }
    let last = b2.seen().pop().unwrap();
    assert_eq!(last.attribute("JK_LB_ACTIVATION"), Some("DIS"));
    // Without the rule tc1's sessions reach it again: the override was per request.
    let mut head = RequestHead::get(b"/");
    head.session_id = Some("ABC.tc1");
    let mut c = Client::new();
    assert_eq!(w.forward(&head, &mut c).served_by(), Some(0));
}

#[test]
fn a_session_sticks_to_its_member() {
    let b1 = Backend::start(Act::ok("one"));
    let b2 = Backend::start(Act::ok("two"));
    let w = balanced(&[("tc1", b1.addr()), ("tc2", b2.addr())]);
    for _ in 0..4 {
        let mut head = RequestHead::get(b"/");
        head.session_id = Some("ABCDEF.tc2");
        let mut c = Client::new();
        assert_eq!(w.forward(&head, &mut c).served_by(), Some(1));
        assert_eq!(c.text(), "two");
    }
    assert_eq!(b1.requests(), 0);
}
