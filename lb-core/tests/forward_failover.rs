//! forward() across several members through the Selector trait: failover, sticky routes,
//! replay of the first body packet to another member, and the lb's rounds.

mod backend;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backend::{refused_addr, Act, Backend, Client};
use lb_core::forward::spec::FailOnStatus;
use lb_core::forward::{
    forward, AjpWorkerSpec, Failure, InOrder, Outcome, Pick, RequestBody, RequestHead, Rounds,
    Selector, Traffic, Worker,
};

fn member(name: &str, addr: SocketAddr) -> AjpWorkerSpec {
    let mut s = AjpWorkerSpec::new(name, addr, 4);
    s.retries = 1;
    s.retry_interval = Duration::ZERO;
    s.socket_timeout = Some(Duration::from_secs(10));
    s
}

/// A selector shared with the test so it can read the outcomes afterwards.
struct Shared(Arc<InOrder>);

impl Selector for Shared {
    fn next(&self, route: Option<&str>, tried: &[usize]) -> Option<Pick> {
        self.0.next(route, tried)
    }
    fn enter(&self, m: usize) -> bool {
        self.0.enter(m)
    }
    fn leave(&self, m: usize) {
        self.0.leave(m)
    }
    fn record(&self, m: usize, o: Outcome, t: Traffic) {
        self.0.record(m, o, t)
    }
}

fn lb(members: Vec<AjpWorkerSpec>) -> (Worker, Arc<InOrder>) {
    let routes = members.iter().map(|m| m.route.clone()).collect();
    let limits = members.iter().map(|m| m.busy_limit).collect();
    let sel = Arc::new(InOrder::new(routes, limits));
    let rounds = Rounds {
        retries: 2,
        lb_retries: 3,
        retry_interval: Duration::ZERO,
    };
    (
        Worker::lb("lb", members, Box::new(Shared(sel.clone())), rounds),
        sel,
    )
}

#[test]
fn connect_refused_fails_over_to_the_next_member() {
    let b = Backend::start(Act::ok("from tc2"));
    let (w, sel) = lb(vec![member("tc1", refused_addr()), member("tc2", b.addr())]);
    let mut c = Client::new();
    let r = forward(&w, &RequestHead::get(b"/"), &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(r.served_by(), Some(1));
    assert_eq!(c.text(), "from tc2");
    assert_eq!(sel.count(0, Outcome::Failed), 1);
    assert_eq!(sel.count(1, Outcome::Success), 1);
    // The lb member gets its route and activation.
    let seen = &b.seen()[0];
    assert_eq!(seen.route.as_deref(), Some("tc2"));
    assert_eq!(seen.attribute("JK_LB_ACTIVATION"), Some("ACT"));
    let notes = r.notes();
    let note = |k| notes.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert_eq!(note("JK_WORKER_NAME").as_deref(), Some("lb"));
    assert_eq!(note("JK_LB_FIRST_NAME").as_deref(), Some("tc1"));
    assert_eq!(note("JK_LB_FIRST_STATE").as_deref(), Some("ERR"));
    assert_eq!(note("JK_LB_LAST_NAME").as_deref(), Some("tc2"));
    assert_eq!(note("JK_WORKER_ROUTE").as_deref(), Some("tc2"));
    // The failed member is avoided by the next request.
    let r = forward(&w, &RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.members_tried, 1);
    assert_eq!(r.served_by(), Some(1));
}

#[test]
fn sticky_route_goes_to_its_member() {
    let b1 = Backend::start(Act::ok("one"));
    let b2 = Backend::start(Act::ok("two"));
    let (w, _) = lb(vec![member("tc1", b1.addr()), member("tc2", b2.addr())]);
    let mut head = RequestHead::get(b"/");
    head.route = Some("tc2");
    let mut c = Client::new();
    assert_eq!(forward(&w, &head, &mut c).served_by(), Some(1));
    assert_eq!(c.text(), "two");
    assert_eq!(b1.requests(), 0);
}

#[test]
fn content_length_body_is_replayed_to_the_second_member() {
    let b1 = Backend::start(Act::CloseAfterRequest);
    let b2 = Backend::start(Act::ok("stored"));
    let (w, _) = lb(vec![member("tc1", b1.addr()), member("tc2", b2.addr())]);
    let mut head = RequestHead::get(b"/form");
    head.method = b"POST";
    head.body = RequestBody::Length(11);
    head.headers = &[(b"Content-Length", b"11")];
    let mut c = Client::with_body(b"name=value!");
    let r = forward(&w, &head, &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(r.served_by(), Some(1));
    assert_eq!(b1.seen()[0].body, b"name=value!");
    assert_eq!(b2.seen()[0].body, b"name=value!");
}

#[test]
fn chunked_body_is_not_failed_over_after_get_body_chunk() {
    let b1 = Backend::start(Act::AskBodyThenClose);
    let b2 = Backend::start(Act::ok("never"));
    let (w, _) = lb(vec![member("tc1", b1.addr()), member("tc2", b2.addr())]);
    let mut head = RequestHead::get(b"/upload");
    head.method = b"POST";
    head.body = RequestBody::Chunked;
    let r = forward(&w, &head, &mut Client::with_body(b"chunk"));
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
    let (w, sel) = lb(vec![m1, member("tc2", b2.addr())]);
    let mut c = Client::new();
    let r = forward(&w, &RequestHead::get(b"/"), &mut c);
    assert_eq!(r.status, 200);
    assert_eq!(c.text(), "found");
    assert_eq!(
        c.heads_written, 1,
        "only the second member's response reached the client"
    );
    assert_eq!(sel.count(0, Outcome::StatusSoft), 1);
    assert!(!sel.is_failed(0));
}

#[test]
fn busy_member_is_skipped() {
    let b1 = Backend::start(Act::ok("one"));
    let b2 = Backend::start(Act::ok("two"));
    let mut m1 = member("tc1", b1.addr());
    m1.busy_limit = 1;
    let (w, sel) = lb(vec![m1, member("tc2", b2.addr())]);
    assert!(w.selector().unwrap().enter(0));
    let r = forward(&w, &RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.served_by(), Some(1));
    assert_eq!(sel.count(0, Outcome::Busy), 1);
    assert_eq!(b1.requests(), 0);
    w.selector().unwrap().leave(0);
}

#[test]
fn every_member_down_is_503_after_all_rounds() {
    let (w, sel) = lb(vec![
        member("tc1", refused_addr()),
        member("tc2", refused_addr()),
    ]);
    let r = forward(&w, &RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.status, 503);
    assert!(matches!(r.failure, Some(Failure::Connect(_))));
    // Two rounds over both members.
    assert_eq!(r.members_tried, 4);
    assert_eq!(
        sel.count(0, Outcome::Failed) + sel.count(1, Outcome::Failed),
        4
    );
}

#[test]
fn no_usable_member_is_503_without_an_attempt() {
    struct Nothing;
    impl Selector for Nothing {
        fn next(&self, _: Option<&str>, _: &[usize]) -> Option<Pick> {
            None
        }
        fn enter(&self, _: usize) -> bool {
            true
        }
        fn leave(&self, _: usize) {}
        fn record(&self, _: usize, _: Outcome, _: Traffic) {}
    }
    let members = vec![member("tc1", refused_addr())];
    let w = Worker::lb("lb", members, Box::new(Nothing), Rounds::default());
    let r = forward(&w, &RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.status, 503);
    assert_eq!(r.members_tried, 0);
    assert!(r.failure.is_none());
}

#[test]
fn a_long_body_continues_from_the_client_after_the_replayed_first_packet() {
    let b1 = Backend::start(Act::CloseAfterRequest);
    let b2 = Backend::start(Act::ok("all there"));
    let (w, _) = lb(vec![member("tc1", b1.addr()), member("tc2", b2.addr())]);
    let body: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    let len = body.len().to_string();
    let headers = [(&b"Content-Length"[..], len.as_bytes())];
    let mut head = RequestHead::get(b"/big");
    head.method = b"POST";
    head.body = RequestBody::Length(body.len() as u64);
    head.headers = &headers;
    let mut c = Client::with_body(&body);
    c.read_chunk = 4096;
    let r = forward(&w, &head, &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(r.served_by(), Some(1));
    // tc1 got only the first packet; tc2 got it again and then the rest from the client.
    assert_eq!(b1.seen()[0].body, &body[..b1.seen()[0].body.len()]);
    assert!(b1.seen()[0].body.len() < body.len());
    assert_eq!(b2.seen()[0].body, body);
}
