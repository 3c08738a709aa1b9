//! The blocking driver across several members of a balanced worker: failover, sticky routes,
//! replay of the first body packet to another member, busy members, and the lb's rounds. A
//! session id routed to tc1 makes tc1 the first member tried.

mod backend;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backend::{refused_addr, Act, Backend, Client};
use lb_core::balancer::{Balancer, LbSpec, MemberSpec, State};
use lb_core::config::Activation;
use lb_core::forward::blocking::Engine;
use lb_core::forward::spec::FailOnStatus;
use lb_core::forward::{
    Action, AjpWorkerSpec, Buffers, Exchange, Failure, Now, RequestBody, RequestHead, Worker,
};
use lb_core::shm::ShmTable;

fn member(name: &str, addr: SocketAddr) -> AjpWorkerSpec {
    let mut s = AjpWorkerSpec::new(name, addr, 4);
    s.retries = 1;
    s.retry_interval = Duration::ZERO;
    s.socket_timeout = Some(Duration::from_secs(10));
    s
}

fn lb_with(members: Vec<AjpWorkerSpec>, specs: Vec<MemberSpec>) -> Engine {
    let table = Arc::new(ShmTable::heap(1, specs.len()));
    let mut spec = LbSpec::named("lb");
    spec.retry_interval_ms = 0;
    let lb = Balancer::new(&spec, &specs, table, Now::system().unix).unwrap();
    Engine::new(Worker::balanced("lb", members, lb))
}

fn lb(members: Vec<AjpWorkerSpec>) -> Engine {
    let specs = members.iter().map(|m| MemberSpec::named(&m.name)).collect();
    lb_with(members, specs)
}

fn state(w: &Engine, member: usize) -> State {
    w.worker()
        .balancer()
        .unwrap()
        .stats(Now::system().unix)
        .members[member]
        .state
}

/// A request whose session is routed to tc1.
fn to_tc1(uri: &'static [u8]) -> RequestHead<'static> {
    let mut head = RequestHead::get(uri);
    head.session_id = Some("S.tc1");
    head
}

#[test]
fn connect_refused_fails_over_to_the_next_member() {
    let b = Backend::start(Act::ok("from tc2"));
    let w = lb(vec![member("tc1", refused_addr()), member("tc2", b.addr())]);
    let mut c = Client::new();
    let r = w.forward(&to_tc1(b"/"), &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(r.served_by(), Some(1));
    assert_eq!(c.text(), "from tc2");
    assert_eq!(state(&w, 0), State::Error);
    assert_eq!(state(&w, 1), State::Ok);
    // The lb member gets its route and activation.
    let seen = &b.seen()[0];
    assert_eq!(seen.route.as_deref(), Some("tc2"));
    assert_eq!(seen.attribute("JK_LB_ACTIVATION"), Some("ACT"));
    let notes = r.notes(w.worker());
    let note = |k| notes.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert_eq!(note("JK_WORKER_NAME").as_deref(), Some("lb"));
    assert_eq!(note("JK_LB_FIRST_NAME").as_deref(), Some("tc1"));
    assert_eq!(note("JK_LB_FIRST_STATE").as_deref(), Some("ERR"));
    assert_eq!(note("JK_LB_LAST_NAME").as_deref(), Some("tc2"));
    assert_eq!(note("JK_WORKER_ROUTE").as_deref(), Some("tc2"));
    // The failed member is avoided by the next request, even one routed to it.
    let r = w.forward(&to_tc1(b"/"), &mut Client::new());
    assert_eq!(r.members_tried, 1);
    assert_eq!(r.served_by(), Some(1));
}

#[test]
fn sticky_route_goes_to_its_member() {
    let b1 = Backend::start(Act::ok("one"));
    let b2 = Backend::start(Act::ok("two"));
    let w = lb(vec![member("tc1", b1.addr()), member("tc2", b2.addr())]);
    let mut head = RequestHead::get(b"/");
    head.session_id = Some("S.tc2");
    let mut c = Client::new();
    assert_eq!(w.forward(&head, &mut c).served_by(), Some(1));
    assert_eq!(c.text(), "two");
    assert_eq!(b1.requests(), 0);
}

#[test]
fn content_length_body_is_replayed_to_the_second_member() {
    let b1 = Backend::start(Act::CloseAfterRequest);
    let b2 = Backend::start(Act::ok("stored"));
    let w = lb(vec![member("tc1", b1.addr()), member("tc2", b2.addr())]);
    let mut head = to_tc1(b"/form");
    head.method = b"POST";
    head.body = RequestBody::Length(11);
    head.headers = &[(b"Content-Length", b"11")];
    let mut c = Client::with_body(b"name=value!");
    let r = w.forward(&head, &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(r.served_by(), Some(1));
    assert_eq!(b1.seen()[0].body, b"name=value!");
    assert_eq!(b2.seen()[0].body, b"name=value!");
}

#[test]
fn chunked_body_is_not_failed_over_after_get_body_chunk() {
    let b1 = Backend::start(Act::AskBodyThenClose);
    let b2 = Backend::start(Act::ok("never"));
    let w = lb(vec![member("tc1", b1.addr()), member("tc2", b2.addr())]);
    let mut head = to_tc1(b"/upload");
    head.method = b"POST";
    head.body = RequestBody::Chunked;
    let r = w.forward(&head, &mut Client::with_body(b"chunk"));
    assert_eq!(r.status, 502);
    assert_eq!(r.members_tried, 1);
    assert_eq!(b2.requests(), 0);
}

#[test]
fn negative_fail_on_status_fails_over_and_keeps_the_member() {
    let b1 = Backend::start(Act::status(404));
    let b2 = Backend::start(Act::ok("found"));
    let mut m1 = member("tc1", b1.addr());
    m1.fail_on_status = FailOnStatus(vec![-404]);
    let w = lb(vec![m1, member("tc2", b2.addr())]);
    let mut c = Client::new();
    let r = w.forward(&to_tc1(b"/"), &mut c);
    assert_eq!(r.status, 200);
    assert_eq!(c.text(), "found");
    assert_eq!(
        c.heads_written, 1,
        "only the second member's response reached the client"
    );
    assert_eq!(b1.requests(), 1);
    assert_eq!(
        state(&w, 0),
        State::Ok,
        "a negative entry keeps the member OK"
    );
}

#[test]
fn busy_member_is_skipped() {
    let b1 = Backend::start(Act::ok("one"));
    let b2 = Backend::start(Act::ok("two"));
    let mut m1 = member("tc1", b1.addr());
    m1.busy_limit = 1;
    let w = lb(vec![m1, member("tc2", b2.addr())]);
    // A request under way on tc1 (counted in, waiting for its connection).
    let head = to_tc1(b"/");
    let mut under_way = Exchange::new(w.worker().clone(), &head, Buffers::default());
    assert!(matches!(
        under_way.poll(Now::system()),
        Action::Acquire { member: 0 }
    ));
    let r = w.forward(&to_tc1(b"/"), &mut Client::new());
    assert_eq!(r.served_by(), Some(1));
    assert_eq!(state(&w, 0), State::Busy);
    assert_eq!(b1.requests(), 0);
    drop(under_way);
}

#[test]
fn every_member_down_is_503_after_all_rounds() {
    let w = lb(vec![
        member("tc1", refused_addr()),
        member("tc2", refused_addr()),
    ]);
    let r = w.forward(&RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.status, 503);
    assert!(matches!(r.failure, Some(Failure::Connect(_))));
    // Both tried in the first round; the second has nobody to try (both in ERROR, back only
    // through maintenance), so it is not waited for.
    assert_eq!(r.members_tried, 2);
    assert_eq!((state(&w, 0), state(&w, 1)), (State::Error, State::Error));
}

#[test]
fn no_usable_member_is_503_without_an_attempt() {
    let b = Backend::start(Act::ok("never"));
    let members = vec![member("tc1", b.addr())];
    let specs = vec![MemberSpec::named("tc1").activation(Activation::Stopped)];
    let w = lb_with(members, specs);
    let r = w.forward(&RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.status, 503);
    assert_eq!(r.members_tried, 0);
    assert!(r.failure.is_none());
    assert_eq!(b.requests(), 0);
}

#[test]
fn a_long_body_continues_from_the_client_after_the_replayed_first_packet() {
    let b1 = Backend::start(Act::CloseAfterRequest);
    let b2 = Backend::start(Act::ok("all there"));
    let w = lb(vec![member("tc1", b1.addr()), member("tc2", b2.addr())]);
    let body: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    let len = body.len().to_string();
    let headers = [(&b"Content-Length"[..], len.as_bytes())];
    let mut head = to_tc1(b"/big");
    head.method = b"POST";
    head.body = RequestBody::Length(body.len() as u64);
    head.headers = &headers;
    let mut c = Client::with_body(&body);
    c.read_chunk = 4096;
    let r = w.forward(&head, &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(r.served_by(), Some(1));
    // tc1 got only the first packet; tc2 got it again and then the rest from the client.
    assert_eq!(b1.seen()[0].body, &body[..b1.seen()[0].body.len()]);
    assert!(b1.seen()[0].body.len() < body.len());
    assert_eq!(b2.seen()[0].body, body);
}
