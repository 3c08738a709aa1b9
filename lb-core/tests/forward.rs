//! forward() for one ajp13 worker against in-process backends that misbehave on command.

mod backend;

use std::net::SocketAddr;
use std::time::Duration;

use backend::{eventually, refused_addr, Act, Backend, Client};
use lb_core::forward::blocking::Engine;
use lb_core::forward::spec::{FailOnStatus, RecoveryOptions};
use lb_core::forward::{
    Action, AjpWorkerSpec, Buffers, Exchange, Failure, ForwardOptions, Now, RequestBody,
    RequestHead, Worker,
};
use lb_core::mount::Extensions;

fn spec(addr: SocketAddr) -> AjpWorkerSpec {
    let mut s = AjpWorkerSpec::new("w1", addr, 4);
    // Retrying immediately keeps the tests fast; the interval itself is not under test here.
    s.retry_interval = Duration::ZERO;
    s.connection_acquire_timeout = Duration::from_millis(20);
    // A bug must fail the test, not hang it.
    s.socket_timeout = Some(Duration::from_secs(10));
    s
}

fn ajp13(s: AjpWorkerSpec) -> Engine {
    Engine::new(Worker::ajp13(s))
}

#[test]
fn success_streams_the_response_and_reuses_the_connection() {
    let b = Backend::start(Act::Answer {
        status: 200,
        body: b"hello world".to_vec(),
        chunks: 3,
    });
    let w = ajp13(spec(b.addr()));
    for _ in 0..2 {
        let mut c = Client::new();
        let r = w.forward(&RequestHead::get(b"/app/hello"), &mut c);
        assert_eq!(r.status, 200);
        assert!(r.failure.is_none(), "{:?}", r.failure);
        assert!(r.response_started);
        assert_eq!(r.served_by(), Some(0));
        assert_eq!(c.text(), "hello world");
        assert_eq!(c.header("content-type"), Some("text/plain"));
        assert_eq!(
            c.header("x-conn"),
            Some("0"),
            "second request on the pooled connection"
        );
    }
    assert_eq!(b.accepted(), 1);
    assert_eq!(w.idle_connections(0), 1);
    let seen = b.seen();
    assert_eq!(seen[0].uri, "/app/hello");
    assert_eq!(seen[0].header("content-length"), Some("0"));
    // A plain ajp13 worker sends no route.
    assert_eq!(seen[0].route, None);
}

#[test]
fn attributes_reach_the_backend() {
    let b = Backend::start(Act::ok("ok"));
    let mut s = spec(b.addr());
    s.secret = Some(b"s3cret".to_vec());
    let w = ajp13(s);
    let mut head = RequestHead::get(b"/a");
    head.query_string = Some(b"x=1&y=2");
    head.remote_user = Some(b"bob");
    head.remote_port = 51234;
    head.local_addr = b"127.0.0.2";
    head.env = &[(b"MY_ENV", b"v")];
    let r = w.forward(&head, &mut Client::new());
    assert_eq!(r.status, 200);
    let seen = &b.seen()[0];
    assert_eq!(seen.secret.as_deref(), Some("s3cret"));
    assert_eq!(seen.query.as_deref(), Some("x=1&y=2"));
    assert_eq!(seen.remote_user.as_deref(), Some("bob"));
    assert_eq!(seen.attribute("AJP_REMOTE_PORT"), Some("51234"));
    assert_eq!(seen.attribute("AJP_LOCAL_ADDR"), Some("127.0.0.2"));
    assert_eq!(seen.attribute("MY_ENV"), Some("v"));
    assert_eq!(seen.attribute("JK_LB_ACTIVATION"), None);
}

#[test]
fn connect_refused_is_503_after_every_attempt() {
    let w = ajp13(spec(refused_addr()));
    let mut c = Client::new();
    let r = w.forward(&RequestHead::get(b"/"), &mut c);
    assert_eq!(r.status, 503);
    assert!(
        matches!(r.failure, Some(Failure::Connect(_))),
        "{:?}",
        r.failure
    );
    assert!(!r.response_started);
    assert_eq!(c.heads_written, 0);
}

#[test]
fn backend_closing_mid_headers_is_retried_on_a_new_connection() {
    let b = Backend::start(Act::ok("second time lucky"));
    b.then(Act::CloseMidHeaders);
    let w = ajp13(spec(b.addr()));
    let mut c = Client::new();
    let r = w.forward(&RequestHead::get(b"/"), &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(c.text(), "second time lucky");
    assert_eq!(b.requests(), 2);
    assert_eq!(b.accepted(), 2);
}

#[test]
fn no_retry_and_no_pause_once_the_client_is_gone() {
    let b = Backend::start(Act::ok("nobody reads this"));
    b.then(Act::CloseMidHeaders);
    let mut s = spec(b.addr());
    // A pause this long would hold the test for minutes if it were taken.
    s.retry_interval = Duration::from_secs(120);
    let w = ajp13(s);
    let mut c = Client::new();
    c.gone_after = Some(0);
    let r = w.forward(&RequestHead::get(b"/"), &mut c);
    assert!(r.failure.is_some());
    assert_eq!(
        b.requests(),
        1,
        "the retry would have gone to a second connection"
    );
}

#[test]
fn backend_closing_mid_body_is_502_without_retry() {
    let b = Backend::start(Act::CloseMidBody);
    let w = ajp13(spec(b.addr()));
    let mut c = Client::new();
    let r = w.forward(&RequestHead::get(b"/"), &mut c);
    assert_eq!(r.status, 502);
    assert!(r.response_started, "the head already went out");
    assert!(
        matches!(r.failure, Some(Failure::Broken(_))),
        "{:?}",
        r.failure
    );
    assert_eq!(c.text(), "first part");
    assert_eq!(
        b.requests(),
        1,
        "no second attempt once the client has bytes"
    );
    assert_eq!(w.idle_connections(0), 0);
}

#[test]
fn reply_timeout_is_504_and_the_connection_is_closed() {
    let b = Backend::start(Act::Stall);
    let mut s = spec(b.addr());
    s.reply_timeout = Some(Duration::from_millis(100));
    s.retries = 1;
    let w = ajp13(s);
    let r = w.forward(&RequestHead::get(b"/slow"), &mut Client::new());
    assert_eq!(r.status, 504);
    assert!(matches!(r.failure, Some(Failure::ReplyTimeout)));
    eventually("the backend to see the connection closed", || {
        b.closed_by_proxy() == 1
    });
    assert_eq!(w.idle_connections(0), 0);
}

#[test]
fn per_request_reply_timeout_overrides_the_worker() {
    let b = Backend::start(Act::Stall);
    let mut s = spec(b.addr());
    s.retries = 1;
    let w = ajp13(s);
    let mut head = RequestHead::get(b"/");
    head.options = ForwardOptions {
        reply_timeout: Some(Duration::from_millis(50)),
        ..ForwardOptions::default()
    };
    let r = w.forward(&head, &mut Client::new());
    assert_eq!(r.status, 504);
}

#[test]
fn garbage_is_502_and_the_connection_is_dropped() {
    let b = Backend::start(Act::ok("fine"));
    b.then(Act::Garbage);
    let mut s = spec(b.addr());
    s.retries = 1;
    let w = ajp13(s);
    let r = w.forward(&RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.status, 502);
    assert!(
        matches!(r.failure, Some(Failure::Protocol(_))),
        "{:?}",
        r.failure
    );
    assert_eq!(w.idle_connections(0), 0);
    // The next request needs a new connection.
    let mut c = Client::new();
    assert_eq!(w.forward(&RequestHead::get(b"/"), &mut c).status, 200);
    assert_eq!(b.accepted(), 2);
}

#[test]
fn fail_on_status_replaces_the_response_with_503() {
    for (list, fatal) in [(vec![500], true), (vec![-500], false)] {
        let b = Backend::start(Act::status(500));
        let mut s = spec(b.addr());
        s.fail_on_status = FailOnStatus(list);
        let w = ajp13(s);
        let mut c = Client::new();
        let r = w.forward(&RequestHead::get(b"/"), &mut c);
        assert_eq!(r.status, 503);
        assert!(!r.response_started);
        assert_eq!(c.heads_written, 0, "nothing of the 500 reaches the client");
        match r.failure {
            Some(Failure::Status {
                status: 500,
                fatal: f,
            }) => assert_eq!(f, fatal),
            other => panic!("{other:?}"),
        }
        // The worker's retries apply to a status failure too.
        assert_eq!(b.requests(), 2);
    }
}

#[test]
fn a_mounts_fail_on_status_replaces_the_workers() {
    let b = Backend::start(Act::status(404));
    let mut s = spec(b.addr());
    s.fail_on_status = FailOnStatus(vec![500]);
    let w = ajp13(s);
    let rule = Extensions {
        fail_on_status: vec![404],
        ..Extensions::default()
    };
    let mut head = RequestHead::get(b"/");
    let mut c = Client::new();
    assert_eq!(
        w.forward(&head, &mut c).status,
        404,
        "the worker's list alone"
    );
    head.rule = Some(&rule);
    let mut c = Client::new();
    let r = w.forward(&head, &mut c);
    assert_eq!(r.status, 503, "{:?}", r.failure);
    assert_eq!(c.heads_written, 0);
}

#[test]
fn use_server_errors_withholds_the_backends_error_response() {
    let b = Backend::start(Act::status(401));
    let w = ajp13(spec(b.addr()));
    let rule = Extensions {
        use_server_errors: 400,
        ..Extensions::default()
    };
    let mut head = RequestHead::get(b"/");
    head.rule = Some(&rule);
    for _ in 0..2 {
        let mut c = Client::new();
        let r = w.forward(&head, &mut c);
        assert_eq!(r.status, 401);
        assert!(r.failure.is_none(), "{:?}", r.failure);
        assert!(!r.response_started, "the web server writes its own page");
        assert_eq!((c.heads_written, c.out.len()), (0, 0));
        assert_eq!(
            c.kept,
            [(
                "WWW-Authenticate".to_owned(),
                "Basic realm=\"t\"".to_owned()
            )]
        );
    }
    assert_eq!(
        b.accepted(),
        1,
        "the withheld response was read to its end: reused"
    );
    // Below the threshold the backend's response goes through.
    let b = Backend::start(Act::status(302));
    let w = ajp13(spec(b.addr()));
    let mut c = Client::new();
    let r = w.forward(&head, &mut c);
    assert!(r.response_started);
    assert_eq!(c.text(), "status page");
}

#[test]
fn client_gone_mid_response_closes_the_backend_connection() {
    let b = Backend::start(Act::Answer {
        status: 200,
        body: vec![b'x'; 30],
        chunks: 3,
    });
    let w = ajp13(spec(b.addr()));
    let mut c = Client::new();
    c.gone_after = Some(10);
    let r = w.forward(&RequestHead::get(b"/"), &mut c);
    assert!(
        matches!(r.failure, Some(Failure::ClientGone)),
        "{:?}",
        r.failure
    );
    assert_eq!(r.status, 200, "the status already sent stands");
    assert_eq!(b.requests(), 1, "a client error is never retried");
    assert_eq!(w.idle_connections(0), 0);
    eventually("the backend to see its connection closed", || {
        b.closed_by_proxy() == 1
    });
}

#[test]
fn a_head_too_large_for_the_packet_is_413_and_never_sent() {
    let b = Backend::start(Act::ok("ok"));
    let w = ajp13(spec(b.addr()));
    let big = vec![b'v'; 9000];
    let headers = [(&b"X-Big"[..], &big[..])];
    let mut head = RequestHead::get(b"/");
    head.headers = &headers;
    let mut c = Client::new();
    let r = w.forward(&head, &mut c);
    assert_eq!(r.status, 413);
    assert!(matches!(r.failure, Some(Failure::TooLarge(_))));
    assert_eq!(b.requests(), 0);
    assert_eq!(b.accepted(), 0, "no connection is opened for it");
    assert_eq!(r.members_tried, 1);
}

#[test]
fn content_length_body_is_replayed_on_the_next_connection() {
    let b = Backend::start(Act::ok("got it"));
    b.then(Act::CloseAfterRequest);
    let w = ajp13(spec(b.addr()));
    let mut head = RequestHead::get(b"/post");
    head.method = b"POST";
    head.body = RequestBody::Length(10);
    head.headers = &[(b"Content-Length", b"10")];
    let mut c = Client::with_body(b"0123456789");
    let r = w.forward(&head, &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    let seen = b.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, b"0123456789");
    assert_eq!(
        seen[1].body, b"0123456789",
        "the first packet was sent again"
    );
}

#[test]
fn recovery_option_1_stops_retries_once_the_backend_had_the_request() {
    let b = Backend::start(Act::ok("ok"));
    b.then(Act::CloseAfterRequest);
    let mut s = spec(b.addr());
    s.recovery_options = RecoveryOptions::NO_RETRY_AFTER_SEND;
    let w = ajp13(s);
    let mut head = RequestHead::get(b"/");
    head.method = b"POST";
    let r = w.forward(&head, &mut Client::new());
    assert_eq!(r.status, 502);
    assert_eq!(b.requests(), 1);
}

#[test]
fn large_body_streams_on_demand() {
    let b = Backend::start(Act::ok("ok"));
    let w = ajp13(spec(b.addr()));
    let body: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let len = body.len().to_string();
    let headers = [(&b"Content-Length"[..], len.as_bytes())];
    let mut head = RequestHead::get(b"/upload");
    head.method = b"PUT";
    head.body = RequestBody::Length(body.len() as u64);
    head.headers = &headers;
    let mut c = Client::with_body(&body);
    c.read_chunk = 3000;
    let r = w.forward(&head, &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(b.seen()[0].body, body);
}

#[test]
fn chunked_body_streams_and_is_not_retried_after_get_body_chunk() {
    let b = Backend::start(Act::ok("ok"));
    b.then(Act::AskBodyThenClose);
    let w = ajp13(spec(b.addr()));
    let mut head = RequestHead::get(b"/chunked");
    head.method = b"POST";
    head.body = RequestBody::Chunked;
    head.headers = &[(b"Transfer-Encoding", b"chunked")];
    let r = w.forward(&head, &mut Client::with_body(b"streamed data"));
    assert_eq!(r.status, 502);
    assert!(!r.response_started);
    assert_eq!(b.requests(), 1, "a streamed body cannot be replayed");
    assert_eq!(b.seen()[0].body, b"streamed data");
    // Without misbehaviour the whole chunked body arrives.
    let mut c = Client::with_body(b"all of it");
    c.read_chunk = 3;
    assert_eq!(w.forward(&head, &mut c).status, 200);
    assert_eq!(b.seen()[1].body, b"all of it");
}

#[test]
fn short_client_body_is_400_and_not_sent_on() {
    let b = Backend::start(Act::ok("ok"));
    let w = ajp13(spec(b.addr()));
    let mut head = RequestHead::get(b"/");
    head.method = b"POST";
    head.body = RequestBody::Length(100);
    head.headers = &[(b"Content-Length", b"100")];
    let r = w.forward(&head, &mut Client::with_body(b"short"));
    assert_eq!(r.status, 400);
    assert!(matches!(r.failure, Some(Failure::ClientRead(_))));
    assert_eq!(b.requests(), 0);
}

#[test]
fn flush_options_and_flush_packets() {
    let b = Backend::start(Act::Answer {
        status: 200,
        body: b"abcdef".to_vec(),
        chunks: 3,
    });
    let w = ajp13(spec(b.addr()));
    let mut head = RequestHead::get(b"/");
    head.options.flush_header = true;
    head.options.flush_packets = true;
    let mut c = Client::new();
    assert_eq!(w.forward(&head, &mut c).status, 200);
    assert_eq!(c.flushes, 4, "one after the head, one per body packet");
}

#[test]
fn busy_limit_and_exhausted_pool_are_503_busy() {
    let b = Backend::start(Act::ok("ok"));
    let mut s = spec(b.addr());
    s.busy_limit = 1;
    s.connection_pool_size = 1;
    let w = ajp13(s);
    // A request under way (counted in, waiting for its connection) holds the busy limit.
    let head = RequestHead::get(b"/");
    let mut under_way = Exchange::new(w.worker().clone(), &head, Buffers::default());
    assert!(matches!(
        under_way.poll(Now::system()),
        Action::Acquire { member: 0 }
    ));
    assert_eq!(w.worker().busy(), 1);
    let r = w.forward(&RequestHead::get(b"/"), &mut Client::new());
    assert_eq!(r.status, 503);
    assert!(matches!(r.failure, Some(Failure::Busy)));
    drop(under_way);
    assert_eq!(w.worker().busy(), 0, "a dropped exchange counts itself out");

    let held = w
        .pool(0)
        .unwrap()
        .acquire(w.worker().members()[0].spec())
        .unwrap();
    let r = w.forward(&RequestHead::get(b"/"), &mut Client::new());
    assert!(matches!(r.failure, Some(Failure::Busy)), "{:?}", r.failure);
    drop(held);
    assert_eq!(
        w.forward(&RequestHead::get(b"/"), &mut Client::new())
            .status,
        200
    );
    assert_eq!(b.requests(), 1);
}

#[test]
fn dead_pooled_connection_is_replaced_without_failing() {
    let b = Backend::start(Act::ok("fresh"));
    b.then(Act::AnswerThenClose);
    let mut s = spec(b.addr());
    // One attempt only: a stale connection must not cost an attempt.
    s.retries = 1;
    let w = ajp13(s);
    assert_eq!(
        w.forward(&RequestHead::get(b"/"), &mut Client::new())
            .status,
        200
    );
    assert_eq!(w.idle_connections(0), 1);
    eventually("the backend to close its side", || b.closed_here() == 1);
    let mut c = Client::new();
    let r = w.forward(&RequestHead::get(b"/"), &mut c);
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(c.text(), "fresh");
    assert_eq!(b.accepted(), 2);
}

#[test]
fn disable_reuse_closes_after_every_request() {
    let b = Backend::start(Act::ok("ok"));
    let mut s = spec(b.addr());
    s.disable_reuse = true;
    let w = ajp13(s);
    for _ in 0..2 {
        assert_eq!(
            w.forward(&RequestHead::get(b"/"), &mut Client::new())
                .status,
            200
        );
        assert_eq!(w.idle_connections(0), 0);
    }
    assert_eq!(b.accepted(), 2);
}

#[test]
fn prepost_ping_keeps_the_encoded_request() {
    // The CPing goes out between encoding and sending: the request must still be intact.
    let b = Backend::start(Act::ok("pinged"));
    let mut s = spec(b.addr());
    s.prepost_timeout = Some(Duration::from_secs(5));
    let w = ajp13(s);
    let mut c = Client::new();
    assert_eq!(w.forward(&RequestHead::get(b"/p"), &mut c).status, 200);
    assert_eq!(c.text(), "pinged");
    assert_eq!(b.seen()[0].uri, "/p");
}
