//! The forwarding machine against scripted backends and a fake clock: failover, retries and
//! their pauses, reply and socket timeouts, fail_on_status, use_server_errors, flushing, the
//! client going away, connection reuse and readiness. No sockets, no sleeps: every time asserted
//! is the fake clock's.

mod machine;

use std::time::Duration;

use lb_core::balancer::State;
use lb_core::forward::spec::{FailOnStatus, PingMode, RecoveryOptions};
use lb_core::forward::{Failure, ForwardOptions, Outcome, RequestBody, RequestHead};
use lb_core::mount::Extensions;
use machine::{ajp13, ask_body, balanced, reply, reply_with, spec, Conn, Harness};

fn state(w: &lb_core::forward::Worker, member: usize) -> State {
    w.balancer().unwrap().stats(machine::UNIX0).members[member].state
}

/// A request whose session routes it to tc1 first.
fn to_tc1(uri: &'static [u8]) -> RequestHead<'static> {
    let mut h = RequestHead::get(uri);
    h.session_id = Some("S.tc1");
    h
}

#[test]
fn a_response_streams_and_the_connection_is_reused() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    h.conns(
        0,
        [
            Conn::Reply(reply(200, b"hello", true)),
            Conn::Reply(reply(200, b"again", true)),
        ],
    );
    let r = h.run(&w, &RequestHead::get(b"/a"));
    assert_eq!((r.status, r.response_started), (200, true));
    assert_eq!(h.client.out, b"hello");
    assert_eq!(h.trace.releases, [true]);
    let r = h.run(&w, &RequestHead::get(b"/b"));
    assert_eq!(r.status, 200);
    assert_eq!(
        h.backends[0].connects, 1,
        "the second request reused the connection"
    );
    assert_eq!(h.client.out, b"helloagain");
    assert_eq!(h.elapsed(), Duration::ZERO);
}

#[test]
fn a_reply_larger_than_the_read_buffer_streams_whole_and_its_bytes_stay_lent_until_the_next_read() {
    // 100 KiB in 8 KiB packets, all available at once: the first read fills the buffer and
    // ends in the middle of a packet, which moves to the buffer's start before the next read
    // (the harness checks that every body byte handed out is still in place when the next
    // read asks for space).
    let w = ajp13(spec("w1", 0));
    let body: Vec<u8> = (0..102_400u32).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<&[u8]> = body.chunks(8000).collect();
    let mut h = Harness::new(1);
    h.conns(0, [Conn::Reply(reply_with(200, &[], &chunks, true))]);
    let r = h.run(&w, &RequestHead::get(b"/big"));
    assert_eq!((r.status, r.failure.is_none()), (200, true));
    assert!(h.client.out == body, "the body arrived changed");
    assert_eq!(h.trace.releases, [true]);
}

#[test]
fn end_response_without_reuse_or_with_leftovers_closes_the_connection() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    let mut extra = reply(200, b"x", true);
    extra.extend_from_slice(&reply(200, b"unsolicited", true));
    h.conns(
        0,
        [Conn::Reply(reply(200, b"x", false)), Conn::Reply(extra)],
    );
    assert_eq!(h.run(&w, &RequestHead::get(b"/")).status, 200);
    assert_eq!(h.run(&w, &RequestHead::get(b"/")).status, 200);
    assert_eq!(h.trace.releases, [false, false]);
    assert_eq!(
        h.client.out, b"xx",
        "the unsolicited response reached nobody"
    );
}

#[test]
fn reply_timeout_is_504_after_exactly_the_timeout_and_closes() {
    let mut s = spec("w1", 0);
    s.reply_timeout = Some(Duration::from_millis(1500));
    s.retries = 1;
    let w = ajp13(s);
    let mut h = Harness::new(1);
    h.conns(0, [Conn::Silent]);
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert_eq!(r.status, 504);
    assert!(matches!(r.failure, Some(Failure::ReplyTimeout)));
    assert_eq!(h.trace.timeouts, [Duration::from_millis(1500)]);
    assert_eq!(h.elapsed(), Duration::from_millis(1500));
    assert_eq!(h.trace.releases, [false]);
    // The request's own override wins, and 0 turns the reply timeout off (socket_timeout
    // then applies: a failed member, 504 as well).
    let mut s = spec("w1", 0);
    s.reply_timeout = Some(Duration::from_millis(1500));
    s.socket_timeout = Some(Duration::from_secs(3));
    s.retries = 1;
    let w = ajp13(s);
    let mut h = Harness::new(1);
    h.conns(0, [Conn::Silent]);
    let mut head = RequestHead::get(b"/");
    head.options = ForwardOptions {
        reply_timeout: Some(Duration::ZERO),
        ..ForwardOptions::default()
    };
    let r = h.run(&w, &head);
    assert_eq!(r.status, 504);
    assert!(matches!(r.failure, Some(Failure::Broken(_))));
    assert_eq!(h.trace.timeouts, [Duration::from_secs(3)]);
}

#[test]
fn reply_timeout_bounds_a_whole_packet_not_each_read() {
    let mut s = spec("w1", 0);
    s.reply_timeout = Some(Duration::from_secs(2));
    s.retries = 1;
    let w = ajp13(s);
    let mut h = Harness::new(1);
    // One byte every 100 ms: each read comes well within 2 s, the packet never does.
    h.conns(
        0,
        [Conn::Dribble(
            reply(200, &[b'x'; 500], true),
            Duration::from_millis(100),
        )],
    );
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert_eq!(r.status, 504);
    assert!(matches!(r.failure, Some(Failure::ReplyTimeout)));
    // The small head packet makes it in time; the body packet's 2 s run out long before its
    // 500 bytes arrive (per read, the whole reply would have gone through after ~53 s).
    assert!(
        h.elapsed() > Duration::from_secs(2) && h.elapsed() < Duration::from_secs(5),
        "{:?}",
        h.elapsed()
    );
    assert!(h.client.out.is_empty());
    // Packets that each arrive in time are fine, however long the whole reply takes.
    let mut s = spec("w1", 0);
    s.reply_timeout = Some(Duration::from_secs(2));
    let w = ajp13(s);
    let mut h = Harness::new(1);
    let slow = reply_with(200, &[], &[&b"a"[..]; 30], true);
    h.conns(0, [Conn::Dribble(slow, Duration::from_millis(50))]);
    assert_eq!(h.run(&w, &RequestHead::get(b"/")).status, 200);
    assert!(h.elapsed() > Duration::from_secs(2));
}

#[test]
fn retries_on_a_member_wait_retry_interval_on_the_fake_clock() {
    let mut s = spec("w1", 0);
    s.retries = 3;
    s.retry_interval = Duration::from_millis(250);
    let w = ajp13(s);
    let mut h = Harness::new(1);
    h.conns(
        0,
        [
            Conn::Refuse,
            Conn::Refuse,
            Conn::Reply(reply(200, b"third", true)),
        ],
    );
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(h.backends[0].connects, 3);
    assert_eq!(h.trace.waits, [Duration::from_millis(250); 2]);
    assert_eq!(h.elapsed(), Duration::from_millis(500));
}

#[test]
fn a_client_gone_during_the_pause_stops_the_retries() {
    let mut s = spec("w1", 0);
    s.retries = 3;
    s.retry_interval = Duration::from_secs(120);
    let w = ajp13(s);
    let mut h = Harness::new(1);
    h.client.gone_after = Some(0);
    h.conns(0, [Conn::Refuse, Conn::Reply(reply(200, b"never", true))]);
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert!(
        matches!(r.failure, Some(Failure::Connect(_))),
        "{:?}",
        r.failure
    );
    assert_eq!(h.backends[0].connects, 1, "no second attempt");
    assert!(
        h.trace.waits.is_empty(),
        "no pause for a client that is gone"
    );
}

#[test]
fn failover_to_the_next_member_and_the_failed_one_in_error() {
    let w = balanced(vec![spec("tc1", 0), spec("tc2", 1)]);
    let mut h = Harness::new(2);
    h.conns(0, [Conn::Refuse])
        .conns(1, [Conn::Reply(reply(200, b"from tc2", true))]);
    let r = h.run(&w, &to_tc1(b"/"));
    assert_eq!((r.status, r.served_by()), (200, Some(1)));
    assert_eq!(
        r.first.map(|t| (t.member, t.outcome)),
        Some((0, Outcome::Failed))
    );
    assert_eq!(state(&w, 0), State::Error);
    assert_eq!(h.client.out, b"from tc2");
}

#[test]
fn every_member_down_is_503_without_waiting_for_a_round_nobody_can_serve() {
    let w = balanced(vec![spec("tc1", 0), spec("tc2", 1)]);
    let mut h = Harness::new(2);
    h.conns(0, [Conn::Refuse]).conns(1, [Conn::Refuse]);
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert_eq!(r.status, 503);
    assert_eq!(r.members_tried, 2);
    assert!(h.trace.waits.is_empty());
}

#[test]
fn fail_on_status_negative_fails_over_positive_puts_the_member_in_error() {
    let mut m1 = spec("tc1", 0);
    m1.fail_on_status = FailOnStatus(vec![-404, 500]);
    m1.retries = 1;
    let w = balanced(vec![m1, spec("tc2", 1)]);
    let mut h = Harness::new(2);
    h.conns(0, [Conn::Reply(reply(404, b"nope", true))])
        .conns(1, [Conn::Reply(reply(200, b"found", true))]);
    let r = h.run(&w, &to_tc1(b"/"));
    assert_eq!(r.status, 200);
    assert_eq!(
        h.client.heads, 1,
        "only the second member's head reached the client"
    );
    assert_eq!(state(&w, 0), State::Ok);

    h.conns(0, [Conn::Reply(reply(500, b"boom", true))])
        .conns(1, [Conn::Reply(reply(200, b"ok", true))]);
    let r = h.run(&w, &to_tc1(b"/"));
    assert_eq!(r.served_by(), Some(1));
    assert_eq!(state(&w, 0), State::Error);
}

#[test]
fn a_mounts_fail_on_status_replaces_the_workers() {
    let mut s = spec("w1", 0);
    s.fail_on_status = FailOnStatus(vec![404]);
    s.retries = 1;
    let w = ajp13(s);
    let mut h = Harness::new(1);
    h.conns(
        0,
        [
            Conn::Reply(reply(404, b"missing", true)),
            Conn::Reply(reply(503, b"x", true)),
        ],
    );
    let rule = Extensions {
        fail_on_status: vec![503],
        ..Extensions::default()
    };
    let mut head = RequestHead::get(b"/");
    head.rule = Some(&rule);
    let r = h.run(&w, &head);
    assert_eq!(r.status, 404, "the worker's 404 entry no longer applies");
    let r = h.run(&w, &head);
    assert!(matches!(
        r.failure,
        Some(Failure::Status { status: 503, .. })
    ));
    assert_eq!(r.status, 503);
}

#[test]
fn use_server_errors_withholds_the_answer_keeps_www_authenticate_and_reuses() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    let denied = reply_with(
        401,
        &[
            (b"WWW-Authenticate", b"Basic realm=\"x\""),
            (b"X-Other", b"y"),
        ],
        &[b"backend page"],
        true,
    );
    h.conns(0, [Conn::Reply(denied)]);
    let rule = Extensions {
        use_server_errors: 400,
        ..Extensions::default()
    };
    let mut head = RequestHead::get(b"/");
    head.rule = Some(&rule);
    let r = h.run(&w, &head);
    assert_eq!((r.status, r.response_started), (401, false));
    assert_eq!(h.client.heads, 0);
    assert!(h.client.out.is_empty());
    assert_eq!(
        h.client.kept,
        [(
            "WWW-Authenticate".to_owned(),
            "Basic realm=\"x\"".to_owned()
        )]
    );
    assert_eq!(
        h.trace.releases,
        [true],
        "drained, so the connection is reused"
    );
}

#[test]
fn flush_header_flush_packets_and_backend_flushes() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    h.conns(
        0,
        [Conn::Reply(reply_with(200, &[], &[b"a", b"", b"b"], true))],
    );
    let mut head = RequestHead::get(b"/");
    head.options.flush_header = true;
    head.options.flush_packets = true;
    let r = h.run(&w, &head);
    assert_eq!(r.status, 200);
    assert_eq!(h.client.out, b"ab");
    // After the head, after each body packet, and the backend's own flush.
    assert_eq!(h.client.flushes, 4);
}

#[test]
fn a_client_gone_mid_response_closes_the_backend_connection() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    h.client.gone_after = Some(1);
    h.conns(
        0,
        [Conn::Reply(reply_with(
            200,
            &[],
            &[b"first", b"second"],
            true,
        ))],
    );
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert!(matches!(r.failure, Some(Failure::ClientGone)));
    assert_eq!(r.status, 200, "the status already sent stands");
    assert_eq!(h.trace.releases, [false], "half-read: never reused");
    assert_eq!(h.backends[0].connects, 1, "and never retried");
}

#[test]
fn a_client_gone_while_the_backend_thinks_ends_the_attempt_and_blames_nobody() {
    let w = balanced(vec![spec("tc1", 0), spec("tc2", 1)]);
    let mut h = Harness::new(2);
    h.conns(0, [Conn::ClientLeaves]);
    h.conns(1, [Conn::Reply(reply(200, b"never", true))]);
    let r = h.run(&w, &to_tc1(b"/"));
    assert!(matches!(r.failure, Some(Failure::ClientGone)), "{r:?}");
    assert!(!r.response_started);
    assert_eq!(
        h.trace.releases,
        [false],
        "the waiting connection is closed"
    );
    assert_eq!(h.backends[1].connects, 0, "no other member is tried");
    let m = &w.balancer().unwrap().stats(machine::UNIX0).members[0];
    assert_eq!((m.state, m.errors, m.client_errors), (State::Ok, 0, 1));
}

#[test]
fn a_reply_arriving_a_byte_at_a_time_is_the_same_reply() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    h.conns(0, [Conn::Trickle(reply(200, b"slowly", true), 1)]);
    assert_eq!(h.run(&w, &RequestHead::get(b"/")).status, 200);
    assert_eq!(h.client.out, b"slowly");
    assert_eq!(h.trace.releases, [true]);
}

#[test]
fn a_broken_reply_after_the_head_is_502_without_retry() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    let full = reply(200, b"body", true);
    // Head only, then the backend closes.
    let head_len = 4 + u16::from_be_bytes([full[2], full[3]]) as usize;
    h.conns(0, [Conn::Cut(full[..head_len].to_vec())]);
    h.conns(0, [Conn::Reply(reply(200, b"never", true))]);
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert_eq!(r.status, 502);
    assert!(r.response_started);
    assert!(matches!(r.failure, Some(Failure::Broken(_))));
    assert_eq!(h.backends[0].connects, 1);
    assert_eq!(h.trace.releases, [false]);
}

#[test]
fn a_dead_pooled_connection_is_replaced_without_failing() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    h.conns(
        0,
        [
            Conn::Reply(reply(200, b"one", true)),
            Conn::Reply(reply(200, b"two", true)),
        ],
    );
    assert_eq!(h.run(&w, &RequestHead::get(b"/")).status, 200);
    // The pooled connection was closed by the backend meanwhile.
    h.backends[0].idle[0].1 = false;
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert_eq!(r.status, 200, "{:?}", r.failure);
    assert_eq!(r.members_tried, 1);
    assert_eq!(
        h.backends[0].connects, 2,
        "a new connection replaced the dead one"
    );
}

#[test]
fn prepost_cping_before_a_pooled_connection_carries_the_request() {
    let mut s = spec("w1", 0);
    s.ping_mode = PingMode::parse("P").unwrap();
    let w = ajp13(s);
    let mut h = Harness::new(1);
    h.conns(
        0,
        [
            Conn::Reply(reply(200, b"one", true)),
            Conn::Reply(reply(200, b"two", true)),
        ],
    );
    assert_eq!(h.run(&w, &RequestHead::get(b"/")).status, 200);
    assert_eq!(h.run(&w, &RequestHead::get(b"/")).status, 200);
    assert_eq!(h.client.out, b"onetwo");
    assert_eq!(h.backends[0].connects, 1);
}

#[test]
fn a_content_length_body_is_replayed_to_the_next_member() {
    let w = balanced(vec![spec("tc1", 0), spec("tc2", 1)]);
    let mut h = Harness::new(2);
    h.client.body = b"name=value!".to_vec();
    h.conns(0, [Conn::Close])
        .conns(1, [Conn::Reply(reply(200, b"stored", true))]);
    let mut head = to_tc1(b"/form");
    head.method = b"POST";
    head.body = RequestBody::Length(11);
    head.headers = &[(b"Content-Length", b"11")];
    let r = h.run(&w, &head);
    assert_eq!(r.served_by(), Some(1), "{:?}", r.failure);
    for member in [0, 1] {
        let sent = &h.requests(member)[0];
        assert!(
            sent.ends_with(b"name=value!"),
            "member {member} got the body"
        );
    }
    assert_eq!(h.client.read_pos, 11, "the client was read once");
}

#[test]
fn a_streamed_body_is_never_retried() {
    let w = balanced(vec![spec("tc1", 0), spec("tc2", 1)]);
    let mut h = Harness::new(2);
    h.client.body = b"chunk".to_vec();
    // tc1 asks for body, gets it, and dies.
    h.conns(0, [Conn::Cut(ask_body(100))])
        .conns(1, [Conn::Reply(reply(200, b"never", true))]);
    let mut head = to_tc1(b"/upload");
    head.method = b"POST";
    head.body = RequestBody::Chunked;
    let r = h.run(&w, &head);
    assert_eq!(r.status, 502);
    assert_eq!(r.members_tried, 1, "{:?}", r.failure);
    assert_eq!(h.backends[0].connects, 1, "not even on the same member");
    assert_eq!(h.backends[1].connects, 0);
    assert!(h.requests(0)[0].ends_with(b"chunk"), "the body went to tc1");
}

#[test]
fn recovery_option_1_stops_retries_once_the_backend_had_the_request() {
    let mut s = spec("w1", 0);
    s.retries = 3;
    s.reply_timeout = Some(Duration::from_millis(100));
    s.recovery_options = RecoveryOptions::NO_RETRY_AFTER_SEND;
    let w = ajp13(s);
    let mut h = Harness::new(1);
    h.conns(0, [Conn::Silent, Conn::Reply(reply(200, b"x", true))]);
    let mut head = RequestHead::get(b"/");
    head.method = b"POST";
    let r = h.run(&w, &head);
    assert_eq!(r.status, 504);
    assert_eq!(h.backends[0].connects, 1);
    // Without the bit, the same failure is retried on a new connection.
    let mut s = spec("w1", 0);
    s.retries = 3;
    s.reply_timeout = Some(Duration::from_millis(100));
    let w = ajp13(s);
    let mut h = Harness::new(1);
    h.conns(0, [Conn::Silent, Conn::Reply(reply(200, b"x", true))]);
    assert_eq!(h.run(&w, &head).status, 200);
    assert_eq!(h.backends[0].connects, 2);
}

#[test]
fn an_exhausted_pool_is_503_busy_and_the_member_busy() {
    let w = balanced(vec![spec("tc1", 0), spec("tc2", 1)]);
    let mut h = Harness::new(2);
    h.backends[0].exhausted = true;
    h.conns(1, [Conn::Reply(reply(200, b"two", true))]);
    let r = h.run(&w, &to_tc1(b"/"));
    assert_eq!(r.served_by(), Some(1));
    assert_eq!(r.first.map(|t| t.outcome), Some(Outcome::Busy));
    assert_eq!(state(&w, 0), State::Busy);
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    h.backends[0].exhausted = true;
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert_eq!(r.status, 503);
    assert!(matches!(r.failure, Some(Failure::Busy)));
}

/// mod_jk leaves BUSY only with a free slot in the process's pool: the next request does not
/// try the member whose pool was full again (its session neither), it goes to the other one.
#[test]
fn a_member_busy_from_its_full_pool_is_not_tried_again_until_a_slot_frees() {
    let w = balanced(vec![spec("tc1", 0), spec("tc2", 1)]);
    let mut h = Harness::new(2);
    h.backends[0].exhausted = true;
    h.conns(
        1,
        [
            Conn::Reply(reply(200, b"two", true)),
            Conn::Reply(reply(200, b"two", true)),
        ],
    );
    let r = h.run(&w, &to_tc1(b"/"));
    assert_eq!(r.first.map(|t| t.outcome), Some(Outcome::Busy));
    let r = h.run(&w, &to_tc1(b"/"));
    assert_eq!(r.first.map(|t| t.member), Some(1), "tc1 not asked again");
    assert_eq!(r.members_tried, 1);
    assert_eq!(state(&w, 0), State::Busy);
}

#[test]
fn a_head_too_large_for_the_members_packet_is_413_and_opens_nothing() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    let big = vec![b'x'; 9000];
    let headers = [(&b"X-Big"[..], &big[..])];
    let mut head = RequestHead::get(b"/");
    head.headers = &headers;
    let r = h.run(&w, &head);
    assert_eq!(r.status, 413);
    assert_eq!(h.backends[0].connects, 0);
}

#[test]
fn a_body_beyond_its_content_length_breaks_the_reply_and_is_never_delivered() {
    let w = ajp13(spec("w1", 0));
    let mut h = Harness::new(1);
    let overlong = reply_with(
        200,
        &[(b"Content-Length", b"5")],
        &[b"hello plus bytes of nobody's"],
        true,
    );
    let exact = reply_with(200, &[(b"Content-Length", b"5")], &[b"he", b"llo"], true);
    h.conns(0, [Conn::Reply(overlong), Conn::Reply(exact)]);
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert!(
        matches!(r.failure, Some(Failure::Protocol(_))),
        "{:?}",
        r.failure
    );
    assert!(
        r.broke_mid_response(),
        "the adapter must abort the client connection"
    );
    assert!(h.client.out.is_empty());
    assert_eq!(h.trace.releases, [false]);
    let r = h.run(&w, &RequestHead::get(b"/"));
    assert_eq!((r.status, r.broke_mid_response()), (200, false));
    assert_eq!(h.client.out, b"hello");
}
