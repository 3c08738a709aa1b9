//! Failure accounting, retries, maintenance and status changes over simulated time
//! (mod_jk: its global maintenance; its service loop and outcome rules; status changes through the shared memory).

mod balancer_support;

use std::sync::Arc;
use std::time::Duration;

use balancer_support::*;
use lb_core::balancer::{
    Balancer, Flags, LbChange, LbSpec, MemberChange, MemberSpec, Next, Outcome, Traffic,
};
use lb_core::config::{Activation, Method};
use lb_core::shm::ShmTable;
use lb_core::status::State;

#[test]
fn outcome_to_member_state_and_failover() {
    // (outcome, shared state after, fails over, excluded for the rest of the round,
    //  errors, client_errors)
    let table: &[(Outcome, State, bool, bool, u64, u64)] = &[
        (Outcome::Success, State::Ok, false, false, 0, 0),
        (Outcome::ClientError, State::Ok, false, true, 0, 1),
        (Outcome::ProtocolError, State::Ok, true, true, 0, 0),
        (Outcome::StatusSoft, State::Ok, true, true, 0, 0),
        (Outcome::StatusFatal, State::Error, true, true, 1, 0),
        (Outcome::Busy, State::Busy, true, true, 0, 0),
        // max_reply_timeouts 0: the first timeout is one too many.
        (Outcome::ReplyTimeout, State::Error, true, true, 1, 0),
        // Nothing else under way on the member: escalated at once.
        (Outcome::Failed, State::Error, true, true, 1, 0),
    ];
    for &(outcome, after, failover, excluded, errors, client_errors) in table {
        let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
        let mut req = b.request(None, Flags::default());
        let Next::Try(c) = req.next(T0) else {
            panic!("a member")
        };
        assert_eq!(c.member, 0);
        let busy = b.start(&req, 0);
        let v = req.finish(busy, outcome, Traffic::default(), T0);
        assert_eq!(v.failover, failover, "{outcome:?}");
        assert_eq!(v.state, after, "{outcome:?}");
        assert_eq!(req.excluded(0), excluded, "{outcome:?}");
        let st = &b.stats(T0).members[0];
        assert_eq!(
            (st.state, st.errors, st.client_errors),
            (after, errors, client_errors),
            "{outcome:?}"
        );
        if failover {
            // The retry goes to the other member.
            assert_eq!(
                req.next(T0),
                Next::Try(lb_core::balancer::Choice {
                    member: 1,
                    sticky: false,
                    via_domain: false
                }),
                "{outcome:?}"
            );
        }
        let err_time = (st.first_error_time, st.last_error_time);
        let timed = matches!(
            outcome,
            Outcome::StatusFatal | Outcome::ReplyTimeout | Outcome::Failed
        );
        assert_eq!(
            err_time,
            if timed { (T0, T0) } else { (0, 0) },
            "{outcome:?}"
        );
    }
}

#[test]
fn success_clears_error_times() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    let hold = b.start_raw(0, true); // keeps the failure local
    b.record(0, Outcome::Failed, T0);
    drop(hold);
    assert_eq!(b.stats(T0).members[0].first_error_time, T0);
    b.record(0, Outcome::Success, T0 + 1);
    let st = &b.stats(T0).members[0];
    assert_eq!(
        (st.state, st.first_error_time, st.last_error_time),
        (State::Ok, 0, 0)
    );
}

#[test]
fn retries_rounds_and_waits() {
    // Defaults with four members: 2 per round × 2 rounds, one retry_interval between rounds.
    let b = balancer(LbSpec::named("lb"), members(&["a", "b", "c", "d"]));
    let mut req = b.request(None, Flags::default());
    let mut steps = Vec::new();
    for _ in 0..10 {
        let n = req.next(T0);
        steps.push(n);
        match n {
            Next::Try(c) => {
                let busy = b.start(&req, c.member);
                let hold = b.start_raw(c.member, true); // failure stays local
                req.finish(busy, Outcome::ProtocolError, Traffic::default(), T0);
                drop(hold);
            }
            Next::Wait(_) => {}
            Next::GiveUp { .. } => break,
        }
    }
    let tries = |m| {
        Next::Try(lb_core::balancer::Choice {
            member: m,
            sticky: false,
            via_domain: false,
        })
    };
    assert_eq!(
        steps,
        [
            tries(0),
            tries(1),
            Next::Wait(Duration::from_millis(100)),
            tries(2),
            tries(3),
            Next::GiveUp { member_tried: true }
        ]
    );
    // lb_retries 3, retries 3 over 2 members: min(3, 2) per round × 3 rounds = 6 attempts.
    let spec = LbSpec {
        lb_retries: 3,
        retries: 3,
        retry_interval_ms: 0,
        ..LbSpec::named("lb")
    };
    let b = balancer(spec, members(&["a", "b"]));
    let mut req = b.request(None, Flags::default());
    let mut attempts = 0;
    for _ in 0..20 {
        match req.next(T0) {
            Next::Try(c) => {
                attempts += 1;
                let busy = b.start(&req, c.member);
                req.finish(busy, Outcome::StatusSoft, Traffic::default(), T0);
            }
            Next::Wait(d) => assert_eq!(d, Duration::ZERO),
            Next::GiveUp { .. } => break,
        }
    }
    assert_eq!(attempts, 6);
}

#[test]
fn forced_recovery_once_when_everything_failed() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    set_state(&b, 0, State::Error);
    set_state(&b, 1, State::Error);
    let mut req = b.request(None, Flags::default());
    let Next::Try(c) = req.next(T0) else {
        panic!("forced members get one more try")
    };
    assert_eq!(b.stats(T0).members[c.member].state, State::Force);
    let busy = b.start(&req, c.member);
    req.finish(busy, Outcome::Failed, Traffic::default(), T0);
    // The other forced member is still there this round; after it fails too, nothing is
    // forced again.
    let Next::Try(c2) = req.next(T0) else {
        panic!("the other forced member")
    };
    assert_ne!(c2.member, c.member);
    let busy = b.start(&req, c2.member);
    req.finish(busy, Outcome::Failed, Traffic::default(), T0);
    // Both are in ERROR again and recover only through maintenance: no pause for a round
    // that has nobody to try.
    assert_eq!(
        req.next(T0),
        Next::GiveUp {
            member_tried: false
        },
        "503: no member at the end, without waiting retry_interval"
    );
}

#[test]
fn the_pause_between_rounds_is_kept_when_a_member_can_serve_again() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    let mut req = b.request(None, Flags::default());
    // Both fail locally this round (the pool had no connection): BUSY, not ERROR.
    for _ in 0..2 {
        let Next::Try(c) = req.next(T0) else {
            panic!("a member to try")
        };
        req.refuse(c.member);
    }
    assert_eq!(req.next(T0), Next::Wait(Duration::from_millis(100)));
    assert!(
        matches!(req.next(T0), Next::Try(_)),
        "the next round tries again"
    );
}

#[test]
fn sticky_session_force_never_leaves_the_session_member() {
    let b = balancer(
        LbSpec {
            sticky_session_force: true,
            ..LbSpec::named("lb")
        },
        members(&["a", "b"]),
    );
    set_state(&b, 0, State::Probe);
    let mut req = b.request(Some("S.a"), Flags::default());
    assert_eq!(req.next(T0), Next::Wait(Duration::from_millis(100)));
    assert_eq!(
        req.next(T0),
        Next::GiveUp {
            member_tried: false
        }
    );
    // In ERROR it is forced once and tried again (mod_jk's one forced-recovery attempt).
    set_state(&b, 0, State::Error);
    let mut req = b.request(Some("S.a"), Flags::default());
    assert!(matches!(req.next(T0), Next::Try(c) if c.member == 0 && c.sticky));
}

#[test]
fn reply_timeouts_count_up_to_max() {
    let b = balancer(
        LbSpec {
            max_reply_timeouts: 2,
            ..LbSpec::named("lb")
        },
        members(&["a", "b"]),
    );
    for (n, want) in [(1, State::Ok), (2, State::Ok), (3, State::Error)] {
        let v = b.record(0, Outcome::ReplyTimeout, T0);
        assert_eq!(v.state, want, "{n} timeouts");
        assert!(v.local_error);
    }
    assert_eq!(b.stats(T0).members[0].reply_timeouts, 3);
}

#[test]
fn error_escalation_and_recovery_over_simulated_time() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"])); // recover 60, escalation 30
                                                                 // A failure while another request is under way on the member: a local error only.
    let hold = b.start_raw(0, true);
    assert_eq!(b.record(0, Outcome::Failed, T0 + 10).state, State::Ok);
    // A second one 30 s after the first: escalated.
    assert_eq!(b.record(0, Outcome::Failed, T0 + 40).state, State::Error);
    drop(hold);
    set_lb_value(&b, 1, 40);
    // Maintenance every 60 s; recovery needs more than recover_time since the last error.
    assert!(b.maintain(T0 + 60).ran);
    assert_eq!(state(&b, 0), State::Error, "20 s after the error");
    assert!(!b.maintain(T0 + 100).ran, "not due yet");
    let m = b.maintain(T0 + 120);
    assert!(m.ran);
    assert_eq!(m.recovered, 1);
    assert_eq!(state(&b, 0), State::Recover);
    assert_eq!(
        lb_value(&b, 0),
        10,
        "recovered at the maximum (40 decayed twice), not flooded"
    );
    // One probe, then OK.
    assert_eq!(
        serve_at(&b, Some("S.a"), Outcome::Success, T0 + 121),
        Some(0)
    );
    let st = &b.stats(T0).members[0];
    assert_eq!((st.state, st.first_error_time), (State::Ok, 0));
}

#[test]
fn local_error_escalates_at_maintenance() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    let hold = b.start_raw(0, true);
    b.record(0, Outcome::Failed, T0 + 1);
    drop(hold);
    assert_eq!(state(&b, 0), State::Ok);
    let m = b.maintain(T0 + 60);
    assert_eq!((m.ran, m.escalated), (true, 1));
    assert_eq!(state(&b, 0), State::Error);
}

#[test]
fn decay_per_method() {
    // (method, exponent intervals, values before, values after)
    let table: &[(Method, i64, [u64; 2], [u64; 2])] = &[
        (Method::Request, 1, [400, 100], [200, 50]),
        (Method::Request, 2, [400, 100], [100, 25]),
        (Method::Traffic, 3, [800, 9], [100, 1]),
        (Method::Sessions, 1, [3, 2], [1, 1]),
        (Method::Next, 1, [400, 100], [300, 0]),
        (Method::Busyness, 2, [7, 3], [7, 3]),
    ];
    for &(method, intervals, before, after) in table {
        let b = balancer(
            LbSpec {
                method,
                ..LbSpec::named("lb")
            },
            members(&["a", "b"]),
        );
        set_lb_value(&b, 0, before[0]);
        set_lb_value(&b, 1, before[1]);
        let m = b.maintain(T0 + 60 * intervals);
        assert_eq!((m.ran, m.exponent), (true, intervals as u32), "{method:?}");
        assert_eq!([lb_value(&b, 0), lb_value(&b, 1)], after, "{method:?}");
    }
    // Reply timeouts decay too.
    let b = balancer(
        LbSpec {
            max_reply_timeouts: 10,
            ..LbSpec::named("lb")
        },
        members(&["a", "b"]),
    );
    for _ in 0..4 {
        b.record(0, Outcome::ReplyTimeout, T0);
    }
    b.maintain(T0 + 60);
    assert_eq!(b.stats(T0).members[0].reply_timeouts, 2);
}

#[test]
fn unused_members_become_idle_and_all_error_forces_recovery() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    set_state(&b, 0, State::Ok);
    set_state(&b, 1, State::Ok);
    b.maintain(T0 + 60);
    assert_eq!(serve_at(&b, None, Outcome::Success, T0 + 61), Some(0));
    assert!(b.maintain(T0 + 120).ran);
    assert_eq!(state(&b, 0), State::Ok, "it was used");
    assert_eq!(
        state(&b, 1),
        State::Idle,
        "nothing since the last maintenance"
    );
    for i in 0..2 {
        set_state(&b, i, State::Error);
        b.member_slot(i)
            .unwrap()
            .last_error_time
            .store(T0 + 170, std::sync::atomic::Ordering::Relaxed);
    }
    let m = b.maintain(T0 + 180);
    assert_eq!(m.forced, 2);
    assert_eq!((state(&b, 0), state(&b, 1)), (State::Force, State::Force));
}

#[test]
fn maintenance_runs_once_per_interval_across_processes() {
    let (p1, p2) = two_processes(members(&["a", "b"]));
    assert!(!p1.maintain(T0 + 59).ran);
    let runs = [
        p1.maintain(T0 + 60).ran,
        p2.maintain(T0 + 60).ran,
        p2.maintain(T0 + 61).ran,
    ];
    assert_eq!(runs, [true, false, false]);
    assert!(p2.maintain(T0 + 120).ran);
    let off = balancer(
        LbSpec {
            maintain_interval: 0,
            ..LbSpec::named("lb")
        },
        members(&["a"]),
    );
    assert!(
        !off.maintain(T0 + 1_000_000).ran,
        "worker.maintain=0 never runs"
    );
}

fn two_processes(ms: Vec<MemberSpec>) -> (Balancer, Balancer) {
    let table = Arc::new(ShmTable::heap(1, ms.len()));
    let spec = LbSpec::named("lb");
    let p1 = Balancer::new(&spec, &ms, table.clone(), T0).unwrap();
    let p2 = Balancer::new(&spec, &ms, table, T0 + 5).unwrap();
    (p1, p2)
}

#[test]
fn status_changes_reach_every_process() {
    // Two Balancers over one table stand for two processes.
    let (p1, p2) = two_processes(members(&["a", "b"]));
    p1.change(1, MemberChange::Route("newb".into())).unwrap();
    assert_eq!(
        p2.choose(Some("S.newb"), false, T0).map(|c| c.member),
        Ok(1),
        "p2 pulled the route"
    );
    set_lb_value(&p1, 0, 9);
    p1.change(0, MemberChange::Activation(Activation::Disabled))
        .unwrap();
    assert_eq!(lb_value(&p2, 0), 0, "an activation change resets lb values");
    assert_eq!(p2.stats(T0).members[0].activation, Activation::Disabled);
    assert_eq!(p2.choose(None, false, T0).map(|c| c.member), Ok(1));
    p1.change(0, MemberChange::LbFactor(3)).unwrap();
    let mults: Vec<u64> = p2.stats(T0).members.iter().map(|m| m.lb_mult).collect();
    assert_eq!(mults, [1, 3]);
    p1.change(1, MemberChange::Distance(2)).unwrap();
    p1.change(1, MemberChange::Domain("dx".into())).unwrap();
    p1.change(1, MemberChange::Redirect("a".into())).unwrap();
    p1.change_lb(LbChange::StickySessionForce(true));
    assert!(p2.conf().lb.sticky_session_force);
    // A process starting later keeps the changes (it pulls, it does not push).
    let p3 = Balancer::new(
        &LbSpec::named("lb"),
        &members(&["a", "b"]),
        p1.table().clone(),
        T0,
    )
    .unwrap();
    let m = &p3.stats(T0).members[1];
    assert_eq!(
        (
            m.route.as_str(),
            m.domain.as_str(),
            m.redirect.as_str(),
            m.distance
        ),
        ("newb", "dx", "a", 2)
    );
    assert_eq!(p3.stats(T0).members[0].activation, Activation::Disabled);
    assert!(
        p1.change(1, MemberChange::Route("x".repeat(64))).is_err(),
        "too long for the table"
    );
    assert!(
        p1.change(7, MemberChange::Distance(1)).is_err(),
        "no such member"
    );
}

#[test]
fn reset_zeroes_counters() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    serve(&b, None, Outcome::Success);
    b.record(0, Outcome::ClientError, T0);
    b.reset(None, T0 + 5);
    let s = b.stats(T0 + 5);
    assert_eq!(
        (
            s.members[0].elected,
            s.members[0].client_errors,
            s.members[0].last_reset
        ),
        (0, 0, T0 + 5)
    );
    assert_eq!(s.max_busy, 0);
}

#[test]
fn error_state_shows_time_to_recover() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    b.record(0, Outcome::StatusFatal, T0 + 10);
    let m = &b.stats(T0 + 10).members[0];
    // Due after T0+71; maintenance runs at T0+60, T0+120: recovery at T0+120 at the earliest.
    assert_eq!(m.time_to_recover, Some((61, 121)));
}

#[test]
fn bad_specs_are_refused_clearly() {
    let table = Arc::new(ShmTable::heap(2, 4));
    let e = Balancer::new(&LbSpec::named("lb"), &[], table.clone(), T0).unwrap_err();
    assert!(e.to_string().contains("no members"), "{e}");
    let e = Balancer::new(
        &LbSpec::named("lb"),
        &members(&["a", "a"]),
        table.clone(),
        T0,
    )
    .unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    let e = Balancer::new(
        &LbSpec::named("lb"),
        &[MemberSpec::named("a").route(&"r".repeat(70))],
        table.clone(),
        T0,
    )
    .unwrap_err();
    assert!(e.to_string().contains("route"), "{e}");
    let e = Balancer::new(
        &LbSpec::named("lb3"),
        &members(&["a", "b", "c", "d", "e"]),
        table,
        T0,
    )
    .unwrap_err();
    assert!(e.to_string().contains("JkShmSize"), "{e}");
}

#[test]
fn runtime_values_overlay_the_status_snapshot() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    serve(&b, None, Outcome::Success);
    b.record(1, Outcome::StatusFatal, T0);
    b.change(0, MemberChange::Route("ra".into())).unwrap();
    let mut view = lb_core::status::LbStatus {
        name: "lb".into(),
        members: ["a", "b", "unknown"]
            .iter()
            .map(|n| lb_core::status::Member {
                name: (*n).into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    b.overlay(&mut view, T0);
    assert_eq!((view.method, view.retries), ("Request", 2));
    let a = &view.members[0];
    assert_eq!(a.used, 1);
    let lb = a.lb.as_ref().unwrap();
    assert_eq!(
        (lb.route.as_str(), lb.state, lb.lbvalue),
        ("ra", State::Ok, 1)
    );
    let bm = &view.members[1];
    assert_eq!((bm.errors, bm.error_time), (1, Some(T0)));
    assert_eq!(bm.lb.as_ref().unwrap().state, State::Error);
    assert!(
        view.members[2].lb.is_none(),
        "names it does not know are left alone"
    );
}

#[test]
fn a_member_added_while_the_table_lived_on_gets_its_configuration() {
    let table = Arc::new(ShmTable::heap(1, 3));
    let spec = LbSpec::named("lb");
    let old = Balancer::new(&spec, &members(&["a", "b"]), table.clone(), T0).unwrap();
    old.change(0, MemberChange::Activation(Activation::Disabled))
        .unwrap();
    let ms = vec![
        MemberSpec::named("a"),
        MemberSpec::named("b"),
        MemberSpec::named("c.x").lbfactor(2),
    ];
    let new = Balancer::new(&spec, &ms, table, T0 + 1).unwrap();
    let s = new.stats(T0 + 1);
    assert_eq!(
        s.members[0].activation,
        Activation::Disabled,
        "kept from the table"
    );
    let c = &s.members[2];
    assert_eq!(
        (c.route.as_str(), c.domain.as_str(), c.lbfactor),
        ("c.x", "c", 2)
    );
    let mults: Vec<u64> = s.members.iter().map(|m| m.lb_mult).collect();
    assert_eq!(mults, [2, 2, 1]);
    assert_eq!(
        new.choose(Some("S.c.x"), false, T0).map(|c| c.member),
        Ok(2)
    );
}
