//! Choosing, table by table, against mod_jk's rules (mod_jk: lb_value and lb_mult; find_best_worker; sticky routes and domains).

mod balancer_support;

use balancer_support::*;
use lb_core::balancer::{Flags, LbSpec, MemberSpec, NoMember, Outcome, Traffic};
use lb_core::config::{Activation, Lock, Method};
use lb_core::status::State;

/// mod_jk's `find_best_byvalue` with method Request, written out on its own as the reference.
fn reference_sequence(factors: &[u64], n: usize) -> Vec<usize> {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let lcm = factors.iter().fold(1u64, |a, &f| a / gcd(a, f) * f);
    let mult: Vec<u64> = factors.iter().map(|f| lcm / f).collect();
    let mut value = vec![0u64; factors.len()];
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = offset;
        let mut cand: Option<usize> = None;
        for j in start..start + factors.len() {
            let i = j % factors.len();
            if cand.is_none_or(|c| value[i] < value[c]) {
                cand = Some(i);
                offset = i + 1;
            }
        }
        let c = cand.expect("members");
        value[c] += mult[c];
        out.push(c);
    }
    out
}

#[test]
fn weights_1_2_3_over_6000_requests_match_mod_jk_exactly() {
    let ms = vec![
        MemberSpec::named("a").lbfactor(1),
        MemberSpec::named("b").lbfactor(2),
        MemberSpec::named("c").lbfactor(3),
    ];
    let b = balancer(LbSpec::named("lb"), ms);
    let got: Vec<usize> = (0..6000)
        .map(|_| serve(&b, None, Outcome::Success).unwrap())
        .collect();
    // Worked by hand from jk_lb_worker.c: mults 6, 3, 2 and the rotating offset.
    assert_eq!(got[..6], [0, 1, 2, 2, 1, 2]);
    assert_eq!(got, reference_sequence(&[1, 2, 3], 6000));
    let mut counts = [0; 3];
    for i in got {
        counts[i] += 1;
    }
    assert_eq!(counts, [1000, 2000, 3000]);
    let s = b.stats(T0);
    let elected: Vec<u64> = s.members.iter().map(|m| m.elected).collect();
    assert_eq!(elected, [1000, 2000, 3000]);
    assert_eq!(s.busy, 0);
}

/// The lb record's counters and stamps, as numbers.
fn lb_record(b: &lb_core::balancer::Balancer) -> [i64; 5] {
    use std::sync::atomic::Ordering::Relaxed;
    let r = b.lb_slot();
    [
        r.sequence.load(Relaxed) as i64,
        r.busy.load(Relaxed) as i64,
        r.max_busy.load(Relaxed) as i64,
        r.last_maintain_time.load(Relaxed),
        r.last_reset.load(Relaxed),
    ]
}

#[test]
fn lb_busy_is_the_members_sum_and_requests_below_the_peak_leave_the_lb_record_alone() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b", "c"]));
    let x = b.start_raw(0, true);
    let y = b.start_raw(1, true);
    let z = b.start_raw(1, true);
    let s = b.stats(T0);
    assert_eq!((s.busy, s.max_busy), (3, 3));
    assert_eq!(b.lb_busy(), 3);
    drop(z);
    x.finish(Outcome::Success, Traffic::default(), T0);
    let s = b.stats(T0);
    assert_eq!((s.busy, s.max_busy), (1, 3), "the peak stays");
    // A request that does not pass the peak writes nothing in the lb record, which every
    // request of every process would otherwise share.
    let before = lb_record(&b);
    let mut req = b.request(None, Flags::default());
    let c = req.choose(T0).unwrap();
    let busy = b.start(&req, c.member);
    assert_eq!(b.lb_busy(), 2);
    assert_eq!(lb_record(&b), before, "counting in");
    req.finish(busy, Outcome::Success, Traffic::default(), T0);
    assert_eq!(lb_record(&b), before, "counting out");
    drop(y);
    assert_eq!(b.stats(T0).busy, 0);
    // Passing the peak raises it.
    let held: Vec<_> = (0..4).map(|i| b.start_raw(i % 3, true)).collect();
    assert_eq!(b.stats(T0).max_busy, 4);
    drop(held);
    assert_eq!((b.stats(T0).busy, b.stats(T0).max_busy), (0, 4));
}

#[test]
fn lb_value_per_method() {
    // (method, request has a session id, bytes moved, lb_value during, lb_value after, sessions)
    let table: &[(Method, bool, u64, u64, u64, u64)] = &[
        (Method::Request, false, 0, 1, 1, 1),
        (Method::Request, true, 0, 1, 1, 0),
        (Method::Sessions, false, 0, 1, 1, 1),
        (Method::Sessions, true, 0, 0, 0, 0),
        (Method::Next, false, 0, 1, 1, 1),
        (Method::Next, true, 0, 0, 0, 0),
        (Method::Traffic, false, 300, 0, 300, 1),
        (Method::Busyness, false, 0, 1, 0, 1),
    ];
    for &(method, with_session, bytes, during, after, sessions) in table {
        let b = balancer(
            LbSpec {
                method,
                ..LbSpec::named("lb")
            },
            members(&["a", "b"]),
        );
        let id = with_session.then_some("xyz.nosuchroute");
        let mut req = b.request(id, Flags::default());
        let c = req.choose(T0).unwrap();
        let busy = b.start(&req, c.member);
        assert_eq!(lb_value(&b, c.member), during, "{method:?} during");
        assert_eq!(b.stats(T0).members[c.member].busy, 1);
        let traffic = Traffic {
            read: bytes / 3,
            written: bytes - bytes / 3,
        };
        req.finish(busy, Outcome::Success, traffic, T0);
        assert_eq!(lb_value(&b, c.member), after, "{method:?} after");
        let st = &b.stats(T0).members[c.member];
        assert_eq!(st.sessions, sessions, "{method:?} sessions");
        assert_eq!((st.busy, st.max_busy), (0, 1));
        assert_eq!(st.bytes_read + st.bytes_written, bytes);
    }
}

#[test]
fn traffic_multiplies_by_lb_mult() {
    let b = balancer(
        LbSpec {
            method: Method::Traffic,
            ..LbSpec::named("lb")
        },
        vec![
            MemberSpec::named("a").lbfactor(1),
            MemberSpec::named("b").lbfactor(4),
        ],
    );
    let busy = b.start_raw(0, true);
    busy.finish(
        Outcome::Success,
        Traffic {
            read: 10,
            written: 5,
        },
        T0,
    );
    assert_eq!(lb_value(&b, 0), 15 * 4);
}

#[test]
fn stateless_rotates_and_counts_no_sessions() {
    let b = balancer(
        LbSpec {
            method: Method::Sessions,
            ..LbSpec::named("lb")
        },
        members(&["a", "b", "c"]),
    );
    set_lb_value(&b, 0, 100);
    let flags = Flags {
        stateless: true,
        ..Flags::default()
    };
    let got: Vec<_> = (0..6)
        .map(|_| {
            let mut req = b.request(None, flags);
            let c = req.choose(T0).unwrap();
            let busy = b.start(&req, c.member);
            req.finish(busy, Outcome::Success, Traffic::default(), T0);
            c.member
        })
        .collect();
    assert_eq!(got, [0, 1, 2, 0, 1, 2], "lb_value is ignored");
    assert_eq!(b.stats(T0).members[1].sessions, 0);
    assert_eq!(lb_value(&b, 1), 0);
}

#[test]
fn lower_distance_wins_then_lb_value() {
    let b = balancer(
        LbSpec::named("lb"),
        vec![
            MemberSpec::named("far").distance(1),
            MemberSpec::named("near1"),
            MemberSpec::named("near2"),
        ],
    );
    set_lb_value(&b, 1, 50);
    set_lb_value(&b, 2, 40);
    assert_eq!(
        serve(&b, None, Outcome::Success),
        Some(2),
        "distance 0, lowest value"
    );
    set_state(&b, 1, State::Error);
    set_state(&b, 2, State::Probe);
    assert_eq!(
        serve(&b, None, Outcome::Success),
        Some(0),
        "only the far one is left"
    );
}

#[test]
fn activations_for_new_requests_and_per_mount_overrides() {
    let b = balancer(
        LbSpec::named("lb"),
        vec![
            MemberSpec::named("a").activation(Activation::Disabled),
            MemberSpec::named("b").activation(Activation::Stopped),
            MemberSpec::named("c"),
        ],
    );
    for _ in 0..4 {
        assert_eq!(serve(&b, None, Outcome::Success), Some(2));
    }
    // Sessions: a disabled member keeps its own, a stopped one loses them.
    assert_eq!(b.choose(Some("S.a"), false, T0).map(|c| c.member), Ok(0));
    assert_eq!(
        b.choose(Some("S.b"), false, T0)
            .map(|c| (c.member, c.sticky)),
        Ok((2, false))
    );
    let over = [Some(Activation::Active), None, Some(Activation::Stopped)];
    let mut req = b.request(None, Flags::default()).with_activations(&over);
    assert_eq!(req.choose(T0).map(|c| c.member), Ok(0));
    assert_eq!(req.activation(2), Some(Activation::Stopped));
}

#[test]
fn single_member_shortcut() {
    let b = balancer(LbSpec::named("lb"), members(&["only"]));
    let c = b.choose(None, false, T0).unwrap();
    assert_eq!(
        (c.member, c.sticky),
        (0, true),
        "a single member counts as sticky"
    );
    set_state(&b, 0, State::Probe);
    assert_eq!(
        b.choose(None, false, T0),
        Err(NoMember),
        "PROBE: never chosen, not forced"
    );
    // A single disabled member takes its sessions only.
    let b = balancer(
        LbSpec::named("lb"),
        vec![MemberSpec::named("only").activation(Activation::Disabled)],
    );
    assert_eq!(b.choose(None, false, T0), Err(NoMember));
    assert_eq!(
        b.choose(Some("x.only"), false, T0).map(|c| c.sticky),
        Ok(true)
    );
}

#[test]
fn nothing_usable_fails_over_to_the_first_redirect() {
    let b = balancer(
        LbSpec::named("lb"),
        vec![
            MemberSpec::named("a").redirect("b"),
            MemberSpec::named("b").activation(Activation::Disabled),
        ],
    );
    set_state(&b, 0, State::Probe);
    let c = b.choose(None, false, T0).unwrap();
    assert_eq!((c.member, c.sticky), (1, false), "the disabled hot standby");
}

type M = (&'static str, &'static str, &'static str, Activation, State);

#[test]
fn sticky_routes_domains_and_redirects() {
    use Activation::*;
    use State::*;
    struct Case {
        name: &'static str,
        /// (route, domain, redirect, activation, state) of members a, b, c, d
        members: [M; 4],
        session: &'static str,
        force: bool,
        /// (member, sticky, route forwarded)
        want: Option<(usize, bool, &'static str)>,
    }
    let base: [M; 4] = [
        ("a", "d1", "", Active, Ok),
        ("b", "d1", "", Active, Ok),
        ("c", "d2", "", Active, Ok),
        ("d", "d2", "", Active, Ok),
    ];
    let with = |i: usize, m: M| {
        let mut b = base;
        b[i] = m;
        b
    };
    let standby = {
        let mut b = with(0, ("a", "", "c", Active, Error));
        b[2].3 = Disabled;
        b
    };
    let cases = [
        Case {
            name: "exact route",
            members: base,
            session: "S1.c",
            force: false,
            want: Some((2, true, "c")),
        },
        Case {
            name: "second partial id",
            members: base,
            session: "S1.zz;S2.d",
            force: false,
            want: Some((3, true, "d")),
        },
        Case {
            name: "id without route balances",
            members: base,
            session: "nodot",
            force: false,
            want: Some((0, false, "a")),
        },
        Case {
            name: "disabled keeps its sessions",
            members: with(1, ("b", "d1", "", Disabled, Ok)),
            session: "S.b",
            force: false,
            want: Some((1, true, "b")),
        },
        Case {
            name: "stopped → its domain",
            members: with(1, ("b", "d1", "", Stopped, Ok)),
            session: "S.b",
            force: false,
            want: Some((0, false, "d1")),
        },
        Case {
            name: "unknown route used as a domain",
            members: base,
            session: "S.d2.x",
            force: false,
            want: Some((2, false, "d2")),
        },
        Case {
            name: "error → redirect (disabled standby)",
            members: standby,
            session: "S.a",
            force: false,
            want: Some((2, false, "c")),
        },
        Case {
            name: "error → redirect that is down",
            members: {
                let mut b = standby;
                b[2].4 = Error;
                b
            },
            session: "S.a",
            force: false,
            want: Some((1, false, "b")),
        },
        Case {
            name: "error → its domain",
            members: with(2, ("c", "d2", "", Active, Error)),
            session: "S.c",
            force: false,
            want: Some((3, false, "d2")),
        },
        Case {
            name: "error, no redirect/domain → balance",
            members: with(2, ("c", "", "", Active, Error)),
            session: "S.c",
            force: false,
            want: Some((0, false, "a")),
        },
        Case {
            name: "force: error member → nothing",
            members: with(2, ("c", "d2", "", Active, Error)),
            session: "S.c",
            force: true,
            want: None,
        },
        Case {
            name: "force: unknown route → nothing",
            members: base,
            session: "S.zz",
            force: true,
            want: None,
        },
        Case {
            name: "force: healthy member is fine",
            members: base,
            session: "S.b",
            force: true,
            want: Some((1, true, "b")),
        },
    ];
    for c in cases {
        let ms = c
            .members
            .iter()
            .zip(["a", "b", "c", "d"])
            .map(|(&(r, d, x, a, _), n)| {
                MemberSpec::named(n)
                    .route(r)
                    .domain(d)
                    .redirect(x)
                    .activation(a)
            })
            .collect();
        let spec = LbSpec {
            sticky_session_force: c.force,
            ..LbSpec::named("lb")
        };
        let b = balancer(spec, ms);
        for (i, m) in c.members.iter().enumerate() {
            set_state(&b, i, m.4);
        }
        // Force recovery would revive ERROR members: look at one choice without it.
        let mut req = b.request(Some(c.session), Flags::default());
        let got = match req.next(T0) {
            lb_core::balancer::Next::Try(ch) => Some((ch.member, ch.sticky, b.route_of(&ch))),
            _ => None,
        };
        let want = c.want.map(|(m, s, r)| (m, s, r.to_owned()));
        if let (None, Some((m, ..))) = (&want, &got) {
            // Only a forced member may answer when nothing else could.
            assert_eq!(b.stats(T0).members[*m].state, State::Force, "{}", c.name);
            continue;
        }
        assert_eq!(got, want, "{}", c.name);
    }
}

#[test]
fn sticky_off_and_sticky_ignore_balance_normally() {
    let b = balancer(
        LbSpec {
            sticky_session: false,
            ..LbSpec::named("lb")
        },
        members(&["a", "b"]),
    );
    assert_eq!(b.choose(Some("S.b"), false, T0).map(|c| c.member), Ok(0));
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    assert_eq!(b.choose(Some("S.b"), true, T0).map(|c| c.member), Ok(0));
    assert_eq!(b.choose(Some("S.b"), false, T0).map(|c| c.member), Ok(1));
}

#[test]
fn pessimistic_lock_gives_the_same_choices() {
    let b = balancer(
        LbSpec {
            lock: Lock::Pessimistic,
            ..LbSpec::named("lb")
        },
        members(&["a", "b", "c"]),
    );
    let got: Vec<_> = (0..6)
        .map(|_| serve(&b, None, Outcome::Success).unwrap())
        .collect();
    assert_eq!(got, [0, 1, 2, 0, 1, 2]);
}

#[test]
fn recovering_member_is_probed_by_one_request() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    set_state(&b, 0, State::Recover);
    set_lb_value(&b, 1, 10);
    let c = b.choose(None, false, T0).unwrap();
    assert_eq!(c.member, 0);
    assert_eq!(b.stats(T0).members[0].state, State::Probe);
    assert_eq!(
        b.choose(None, false, T0).map(|c| c.member),
        Ok(1),
        "PROBE is not chosen"
    );
    b.record(0, Outcome::Success, T0);
    assert_eq!(b.stats(T0).members[0].state, State::Ok);
}

#[test]
fn busy_ends_when_seen_below_busy_limit() {
    let b = balancer(
        LbSpec::named("lb"),
        vec![
            MemberSpec {
                busy_limit: 1,
                ..MemberSpec::named("a")
            },
            MemberSpec::named("b"),
        ],
    );
    set_state(&b, 0, State::Busy);
    let hold = b.start_raw(0, true);
    assert_eq!(
        b.choose(None, false, T0).map(|c| c.member),
        Ok(1),
        "limit still reached"
    );
    assert_eq!(state(&b, 0), State::Busy);
    drop(hold);
    set_lb_value(&b, 1, 10);
    assert_eq!(b.choose(None, false, T0).map(|c| c.member), Ok(0));
    assert_eq!(state(&b, 0), State::Ok);
    // The pool had no connection: BUSY again, and not tried again by this request.
    let mut req = b.request(None, Flags::default());
    req.refuse(0);
    assert_eq!(state(&b, 0), State::Busy);
    assert_eq!(req.choose(T0).map(|c| c.member), Ok(1));
}

/// mod_jk ends BUSY only when below busy_limit and the process's pool has a free slot: a
/// member whose pool answered busy stays BUSY (no busy_limit at all) until a request of this
/// process on it ends; meanwhile its sessions fail over too (BUSY is not usable for them).
#[test]
fn busy_from_a_full_pool_ends_only_when_a_request_on_it_ends() {
    let b = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    let hold = b.start_raw(0, true);
    let req = b.request(None, Flags::default());
    let full = b.start(&req, 0);
    full.finish(Outcome::Busy, Traffic::default(), T0);
    assert_eq!(state(&b, 0), State::Busy);
    set_lb_value(&b, 1, 10);
    for _ in 0..3 {
        assert_eq!(
            b.choose(None, false, T0).map(|c| c.member),
            Ok(1),
            "no free slot: still BUSY"
        );
    }
    assert_eq!(state(&b, 0), State::Busy);
    assert_eq!(
        b.choose(Some("x.a"), false, T0).map(|c| c.member),
        Ok(1),
        "nor its sessions"
    );
    // The request holding a slot ends: the slot is free, BUSY ends on sight.
    hold.finish(Outcome::Success, Traffic::default(), T0);
    set_state(&b, 0, State::Busy);
    assert_eq!(b.choose(None, false, T0).map(|c| c.member), Ok(0));
    assert_eq!(state(&b, 0), State::Ok);
}

#[test]
fn set_session_cookie_only_for_requests_that_were_not_sticky() {
    let spec = LbSpec::named("lb");
    assert_eq!(
        spec.session_cookie_value("a", true),
        "JSESSIONID=.a;PATH=/;HttpOnly;Secure"
    );
    let b = balancer(
        LbSpec {
            set_session_cookie: true,
            ..LbSpec::named("lb")
        },
        members(&["a", "b"]),
    );
    let fresh = b.choose(None, false, T0).unwrap();
    assert_eq!(
        b.session_cookie(&fresh, false, false).as_deref(),
        Some("JSESSIONID=.a;PATH=/;HttpOnly")
    );
    let sticky = b.choose(Some("S.b"), false, T0).unwrap();
    assert_eq!(b.session_cookie(&sticky, false, false), None);
    let plain = balancer(LbSpec::named("lb"), members(&["a", "b"]));
    let c = plain.choose(None, false, T0).unwrap();
    assert_eq!(plain.session_cookie(&c, false, false), None);
    assert!(
        plain.session_cookie(&c, true, false).is_some(),
        "the mount's set_session_cookie"
    );
}

#[test]
fn a_balancer_is_shared_by_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<lb_core::balancer::Balancer>();
    let b = std::sync::Arc::new(balancer(
        LbSpec::named("lb"),
        members(&["a", "b", "c", "d"]),
    ));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || {
                for _ in 0..5000 {
                    serve(&b, None, Outcome::Success).expect("a member");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no panic");
    }
    let s = b.stats(T0);
    assert_eq!(s.members.iter().map(|m| m.elected).sum::<u64>(), 10_000);
    assert_eq!(s.busy, 0);
    // Racy lb_value updates may skew it a little, never by much (optimistic, like mod_jk).
    for m in &s.members {
        assert!((2000..=3000).contains(&m.elected), "{m:?}");
    }
}

#[test]
fn within_a_domain_distance_then_lb_value_decide() {
    // Session route "gone.d1" matches no member: the domain d1 is used.
    // (distances, lb values, states of members a, b, c (all in d1) and d (in d2), expected)
    type Row = ([u32; 4], [u64; 4], [State; 4], Option<usize>);
    let ok = State::Ok;
    let table: &[Row] = &[
        ([0, 0, 0, 0], [5, 3, 4, 0], [ok; 4], Some(1)),
        ([1, 0, 1, 0], [0, 9, 0, 0], [ok; 4], Some(1)),
        ([0, 0, 0, 0], [3, 3, 3, 0], [ok; 4], Some(0)),
        (
            [0, 0, 1, 0],
            [0, 0, 0, 0],
            [State::Error, State::Probe, ok, ok],
            Some(2),
        ),
        // Nobody usable in the domain: balanced over everything, session lost.
        (
            [0, 0, 0, 0],
            [0, 0, 0, 0],
            [State::Error, State::Probe, State::Error, ok],
            Some(3),
        ),
    ];
    for (n, (dist, values, states, want)) in table.iter().enumerate() {
        let ms = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                MemberSpec::named(name)
                    .domain(if i < 3 { "d1" } else { "d2" })
                    .distance(dist[i])
            })
            .collect();
        let b = balancer(LbSpec::named("lb"), ms);
        for i in 0..4 {
            set_lb_value(&b, i, values[i]);
            set_state(&b, i, states[i]);
        }
        let mut req = b.request(Some("S.d1.gone"), Flags::default());
        let got = match req.next(T0) {
            lb_core::balancer::Next::Try(c) => Some(c.member),
            _ => None,
        };
        assert_eq!(got, *want, "row {n}");
    }
}
