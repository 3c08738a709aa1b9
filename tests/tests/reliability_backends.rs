//! Misbehaving backends (issue 16): a fake AJP container answers with garbage, dies mid-reply,
//! sends a response nobody asked for, never answers or dribbles. What the client sees must be
//! an honest error, never a well-formed wrong answer, and the next request must be clean.
//! Every case runs on each front end; Debian's mod_jk is the reference and only reported on.

use std::time::{Duration, Instant};

use rjk_tests::fake_ajp::{pattern, FakeAjp, MIXED};
use rjk_tests::front::{test_dir, FrontEnd, Setup};
use rjk_tests::rig::{ensure, on_each, Rig, PROMPT};
use rjk_tests::strict_http::{Client, Outcome};

/// A fresh keep-alive request that must succeed with the fake's plain answer.
fn clean(rig: &Rig, path: &str) -> Result<(), String> {
    let mut c = Client::connect(rig.addr()).map_err(|e| e.to_string())?;
    let o = c
        .get(&format!("{path}?bytes=3000"))
        .map_err(|e| e.to_string())?;
    match &o {
        Outcome::Complete {
            status: 200, body, ..
        } if *body == pattern(3000) => Ok(()),
        _ => Err(format!("GET {path}?bytes=3000 afterwards: {o:?}")),
    }
}

#[test]
fn malformed_replies_are_502_at_once_and_the_connection_is_dropped() {
    on_each(FrontEnd::ALL, |fe| {
        Rig::start(fe, "malformed").check(|rig| {
            for mode in [
                "garbage",
                "wrong-magic",
                "too-long",
                "bad-headers",
                "unknown-type",
            ] {
                rig.d.clear();
                let mut c = Client::connect(rig.addr()).unwrap();
                let t = Instant::now();
                let o = c.get(&format!("/direct/x?mode={mode}")).unwrap();
                let took = t.elapsed();
                eprintln!("{}: mode {mode}: {:?} after {took:?}", fe.name(), o.status());
                ensure(o.status() == Some(502) && took < PROMPT, || {
                    format!("GET /direct/x?mode={mode}: want 502 within {PROMPT:?}, got {:?} after {took:?}", o.status())
                })?;
                let conn = rig.d.request_with(mode).unwrap().conn;
                rig.d
                    .wait_closed(conn, Duration::from_secs(3))
                    .map_err(|_| {
                        format!(
                            "mode {mode}: the backend connection was kept open after a bad reply"
                        )
                    })?;
                clean(rig, "/direct/x")?;
            }
            // In a balancer, a protocol error before anything reached the client fails over
            // (mod_jk: a local error only, the member's shared state is unchanged).
            for mode in ["garbage", "bad-headers"] {
                let mut c = Client::connect(rig.addr()).unwrap();
                c.stream().set_nodelay(true).unwrap();
                let o = c
                    .send_with(
                        "GET",
                        &format!("/lb/x?mode={mode}&on=b1"),
                        &[("Cookie", "JSESSIONID=abc.b1")],
                        &[],
                    )
                    .unwrap();
                let from = o.header("X-Fake");
                ensure(
                    o.status() == Some(200) && from == Some("b2"),
                    || format!("lb, b1 answers {mode}: want a failover to b2 (200), got {o:?}"),
                )?;
                let state = rig.status_prop("b1", "state");
                ensure(state.as_deref() != Some("ERR"), || {
                    format!("lb, b1 answered {mode}: mod_jk keeps the member's shared state, got {state:?}")
                })?;
            }
            Ok(())
        })
    });
}

/// The backend dies after the head or inside the body, with Content-Length and chunked
/// responses, on a reused keep-alive client connection: the client must see it incomplete.
#[test]
fn a_backend_dying_mid_response_is_visible_to_the_client() {
    on_each(FrontEnd::ALL, |fe| {
        let rig = Rig::start(fe, "truncation");
        let mut wrong = Vec::new();
        for mode in ["head-then-die", "die-mid-body"] {
            for te in ["cl", "chunked"] {
                let path = format!("/direct/x?mode={mode}&te={te}&bytes=200000");
                let mut c = Client::connect(rig.addr()).unwrap();
                // A first, good response on the same connection: a keep-alive client.
                let first = c.get("/direct/x?bytes=10").unwrap();
                assert!(
                    matches!(
                        first,
                        Outcome::Complete {
                            status: 200,
                            keep_alive: true,
                            ..
                        }
                    ),
                    "{first:?}"
                );
                let o = c.get(&path).unwrap();
                let honest = match &o {
                    Outcome::Truncated { .. } => true,
                    // Nothing was sent yet: an error status is honest too.
                    Outcome::Complete { status, .. } => *status >= 500,
                    Outcome::CloseDelimited { .. } => false,
                };
                if !honest {
                    wrong.push(format!("GET {path}: {}", summary(&o)));
                }
                let code = curl_exit(rig.addr(), &path);
                if code == 0 && !matches!(o, Outcome::Complete { status: 500.., .. }) {
                    wrong.push(format!("curl {path} exits 0"));
                }
                if let Err(e) = clean(&rig, "/direct/x") {
                    wrong.push(e);
                }
            }
        }
        rig.stop();
        ensure(wrong.is_empty(), || {
            format!(
                "truncations that look complete to the client:\n  {}",
                wrong.join("\n  ")
            )
        })
    });
}

fn summary(o: &Outcome) -> String {
    match o {
        Outcome::Complete {
            status,
            body,
            keep_alive,
            headers,
        } => {
            let framing: Vec<_> = headers
                .iter()
                .filter(|(n, _)| {
                    n.eq_ignore_ascii_case("content-length")
                        || n.eq_ignore_ascii_case("transfer-encoding")
                })
                .collect();
            format!(
                "a complete {status} with {} body bytes, {framing:?} (keep-alive {keep_alive})",
                body.len()
            )
        }
        other => format!("{other:?}"),
    }
}

/// curl's exit status for a keep-alive GET (18 = partial transfer, 56 = receive failure).
fn curl_exit(addr: std::net::SocketAddr, path: &str) -> i32 {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "20"])
        .arg(format!("http://{addr}{path}"))
        .status()
        .expect("curl (make deps)");
    out.code().unwrap_or(-1)
}

/// A backend sends a second, unsolicited response after End Response. No client may ever read
/// it, and the connection it came on must never carry another request (CVE-2008-5519's class).
#[test]
fn an_unsolicited_second_response_reaches_nobody() {
    on_each(FrontEnd::ALL, |fe| {
        Rig::start(fe, "mixing").check(|rig| {
            let mut c = Client::connect(rig.addr()).unwrap();
            let o = c.get("/direct/x?mode=mix").unwrap();
            ensure(o.body() == b"first", || {
                format!("the solicited response: {o:?}")
            })?;
            let conn = rig
                .d
                .wait_event("unsolicited", Duration::from_secs(5))
                .unwrap();
            // The same client connection (same process, the one pooled backend connection),
            // then fresh ones.
            let mut seen = Vec::new();
            seen.push(c.get("/direct/x?probe=same").unwrap());
            for _ in 0..10 {
                seen.push(
                    Client::connect(rig.addr())
                        .unwrap()
                        .get("/direct/x?probe=new")
                        .unwrap(),
                );
            }
            let leaked = seen.iter().filter(|o| o.text().contains(MIXED)).count();
            let reused = rig.d.later_on_conn(conn, 0);
            ensure(leaked == 0, || {
                format!(
                    "{leaked} of {} later responses carried the unsolicited response's body",
                    seen.len()
                )
            })?;
            ensure(reused.is_empty(), || {
                format!(
                    "the connection with unsolicited bytes carried {} more request(s)",
                    reused.len()
                )
            })?;
            ensure(seen.iter().all(|o| o.status() == Some(200)), || {
                format!(
                    "later requests failed: {:?}",
                    seen.iter().map(Outcome::status).collect::<Vec<_>>()
                )
            })?;
            Ok(())
        })
    });
}

/// A backend sends more body than its Content-Length: the extra bytes must not reach the
/// client's connection as the start of the next response, nor another client.
#[test]
fn body_beyond_content_length_never_reaches_the_next_response() {
    on_each(FrontEnd::ALL, |fe| overlong_body(fe, false));
}

/// Stricter: the bytes beyond the declared length do not reach this client either (the
/// response is cut at 5 bytes or refused).
#[test]
fn body_beyond_content_length_is_not_delivered() {
    on_each(FrontEnd::ALL, |fe| overlong_body(fe, true));
}

fn overlong_body(fe: FrontEnd, strict: bool) -> Result<(), String> {
    let case = if strict {
        "overlong-strict"
    } else {
        "overlong"
    };
    Rig::start(fe, case).check(|rig| {
        let mut c = Client::connect(rig.addr()).unwrap();
        let o = c.get("/direct/x?mode=overlong-body").unwrap();
        eprintln!("{}: Content-Length 5 with 30 bytes: {}", fe.name(), summary(&o));
        if strict {
            ensure(!o.text().contains(MIXED), || {
                format!("Content-Length 5, 30 bytes sent: the client got {}", summary(&o))
            })?;
        }
        if let Outcome::Complete {
            keep_alive: true, ..
        } = o
        {
            let next = c.get("/direct/x?bytes=3000");
            ensure(
                matches!(&next, Ok(Outcome::Complete { status: 200, body, .. }) if *body == pattern(3000)),
                || format!("the next response on the same client connection: {next:?}"),
            )?;
        }
        clean(rig, "/direct/x")
    })
}

/// Accepts and never answers: 504 once reply_timeout (2 s) has passed, not later; and the
/// member holds no busy slot afterwards.
#[test]
fn a_silent_backend_is_504_within_reply_timeout() {
    on_each(FrontEnd::ASSERTED, |fe| {
        Rig::start(fe, "silent").check(|rig| {
            let t = Instant::now();
            let o = Client::connect(rig.addr())
                .unwrap()
                .get("/slow/x?mode=silent")
                .unwrap();
            let took = t.elapsed();
            ensure(
                o.status() == Some(504)
                    && took >= Duration::from_millis(1900)
                    && took < Duration::from_secs(4),
                || {
                    format!("GET /slow/x?mode=silent (reply_timeout=2000): want 504 after 2-4 s, got {:?} after {took:?}", o.status())
                },
            )?;
            let busy = rig.status_prop("slow", "busy");
            ensure(busy.as_deref() == Some("0"), || {
                format!("worker slow busy after the timeout: {busy:?}")
            })?;
            clean(rig, "/direct/x")
        })
    });
}

#[test]
fn a_silent_backend_is_cut_at_socket_timeout() {
    on_each(FrontEnd::ALL, |fe| {
        Rig::start(fe, "sockto").check(|rig| {
            let t = Instant::now();
            let mut c = Client::connect(rig.addr()).unwrap();
            c.set_read_timeout(Duration::from_secs(15)).unwrap();
            let o = c.get("/sockto/x?mode=silent");
            let took = t.elapsed();
            ensure(
                matches!(o, Ok(ref o) if o.status() == Some(504)) && took < Duration::from_secs(4),
                || {
                    let got = o.as_ref().map(summary).map_err(|e| e.to_string());
                    format!("GET /sockto/x?mode=silent (socket_timeout=2): want 504 within 4 s, got {got:?} after {took:?}")
                },
            )
        })
    });
}

/// The reply's head arrives one byte per second: reply_timeout bounds the whole reply packet,
/// so the request ends with 504 near 2 s instead of holding a thread for half a minute.
#[test]
fn a_backend_dribbling_its_reply_is_cut_at_reply_timeout() {
    on_each(FrontEnd::ALL, |fe| {
        Rig::start(fe, "dribble").check(|rig| {
            let t = Instant::now();
            let mut c = Client::connect(rig.addr()).unwrap();
            c.set_read_timeout(Duration::from_secs(15)).unwrap();
            let o = c.get("/slow/x?mode=dribble");
            let took = t.elapsed();
            ensure(
                matches!(o, Ok(ref o) if o.status() == Some(504)) && took < Duration::from_secs(5),
                || {
                    format!("GET /slow/x?mode=dribble (reply_timeout=2000): want 504 within 5 s, got {o:?} after {took:?}")
                },
            )
        })
    });
}

/// The container closes its side after each response (End Response said reuse): the pooled
/// connection is dead, and idempotent requests on it are retried on a new one, unseen.
#[test]
fn a_connection_closed_between_requests_is_retried_transparently() {
    on_each(FrontEnd::ALL, |fe| {
        Rig::start(fe, "closeafter").check(|rig| {
            let mut c = Client::connect(rig.addr()).unwrap();
            for i in 0..6 {
                let o = c.get("/direct/x?mode=close-after").unwrap();
                ensure(o.status() == Some(200), || {
                    format!("request {i} after the backend closed its pooled connection: {o:?}")
                })?;
            }
            // A POST whose body the proxy still holds whole (one packet) is safe to send again
            // on a new connection; the backend must see it exactly once, whole.
            let body = pattern(5000);
            let o = c
                .send("POST", "/direct/x?mode=echo&m=post-after-close", &body)
                .unwrap();
            let seen: Vec<_> = rig
                .d
                .requests()
                .into_iter()
                .filter(|s| s.query.contains("post-after-close"))
                .collect();
            ensure(
                o.status() == Some(200) && seen.len() == 1 && seen[0].body_len == 5000,
                || {
                    format!(
                        "POST on a dead pooled connection: {:?}, the backend saw {:?}",
                        o.status(),
                        seen.iter().map(|s| s.body_len).collect::<Vec<_>>()
                    )
                },
            )
        })
    });
}

/// A member that closes the connection without answering: in a balancer the request fails
/// over (nothing reached the client) and the member is in error at once (mod_jk: a closed
/// connection with no other busy request escalates to ERROR).
#[test]
fn a_member_hanging_up_fails_over_and_is_marked_in_error() {
    on_each(FrontEnd::ALL, |fe| {
        Rig::start(fe, "hangup").check(|rig| {
            let o = Client::connect(rig.addr())
                .unwrap()
                .send_with(
                    "GET",
                    "/lb/x?mode=hang-up&on=b1",
                    &[("Cookie", "JSESSIONID=abc.b1")],
                    &[],
                )
                .unwrap();
            let from = o.header("X-Fake");
            ensure(o.status() == Some(200) && from == Some("b2"), || {
                format!(
                    "b1 hangs up: want a failover to b2 (200), got {}",
                    summary(&o)
                )
            })?;
            let state = rig.status_prop("b1", "state");
            ensure(state.as_deref() == Some("ERR"), || {
                format!("b1 hung up: want state ERR, got {state:?}")
            })
        })
    });
}

/// A client that goes away mid-upload: the half-fed backend connection is closed, never used
/// for another request. One that goes away mid-download: the next responses are whole.
#[test]
fn client_aborts_never_leave_a_backend_connection_half_read() {
    on_each(FrontEnd::ALL, |fe| {
        Rig::start(fe, "abort").check(|rig| {
            use std::io::Write;
            {
                let mut c = Client::connect(rig.addr()).unwrap();
                let s = c.stream();
                s.write_all(b"POST /direct/x?mode=echo&abort=up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n").unwrap();
                s.write_all(&[b'u'; 20000]).unwrap();
                let seen = rjk_tests::wait_until(
                    "the upload to reach the backend",
                    Duration::from_secs(5),
                    || rig.d.request_with("abort=up"),
                )
                .unwrap();
                drop(c);
                rig.d
                    .wait_closed(seen.conn, Duration::from_secs(5))
                    .map_err(|_| {
                        format!(
                            "the backend connection of an aborted upload was not closed: {:?}",
                            rig.d.requests()
                        )
                    })?;
                let later = rig.d.later_on_conn(seen.conn, seen.nth_on_conn);
                ensure(later.is_empty(), || {
                    format!("the aborted upload's connection carried {later:?}")
                })?;
            }
            {
                let mut c = Client::connect(rig.addr()).unwrap();
                c.stream()
                    .write_all(b"GET /direct/x?bytes=20000000 HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                let mut buf = vec![0u8; 100_000];
                std::io::Read::read_exact(c.stream(), &mut buf).unwrap();
            }
            for _ in 0..10 {
                clean(rig, "/direct/x")?;
            }
            Ok(())
        })
    });
}

/// The client's body comes slower than the backend will wait: the backend gives up and
/// closes; the client gets an error, not a 200, and the next request is clean.
#[test]
fn a_client_slower_than_the_backend_gets_an_error() {
    on_each(FrontEnd::ASSERTED, |fe| {
        Rig::start(fe, "slowclient").check(|rig| {
            use std::io::Write;
            let mut c = Client::connect(rig.addr()).unwrap();
            let s = c.stream();
            s.write_all(b"POST /direct/x?mode=slow-upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n").unwrap();
            // More than one body packet, so the backend has the request and waits for the rest.
            s.write_all(&[b's'; 9000]).unwrap();
            rig.d
                .wait_event("body-failed", Duration::from_secs(5))
                .unwrap();
            let _ = c.stream().write_all(&[b's'; 11000]);
            let o = c.read_response(false);
            ensure(
                !matches!(o, Ok(Outcome::Complete { status: 200, .. })),
                || format!("the backend gave up on the body, yet the client got {o:?}"),
            )?;
            clean(rig, "/direct/x")
        })
    });
}

/// Bodies of 0, 1 and around one AJP body packet (8186 data bytes in an 8192-byte packet),
/// with Content-Length and chunked: the backend receives exactly what was sent.
#[test]
fn request_bodies_at_packet_boundaries_arrive_whole() {
    on_each(FrontEnd::ASSERTED, |fe| {
        Rig::start(fe, "bodies").check(|rig| {
            use std::io::Write;
            for n in [0usize, 1, 8185, 8186, 8187, 8191, 8192, 8193, 16372, 16373] {
                let body: Vec<u8> = pattern(n + 7)[7..].to_vec();
                let want = format!(
                    "body_len={n}\nbody_fnv={:016x}\n",
                    rjk_tests::fake_ajp::fnv(&body)
                );
                let o = Client::connect(rig.addr())
                    .unwrap()
                    .send("POST", "/direct/x?mode=echo", &body)
                    .unwrap();
                ensure(o.status() == Some(200) && o.text().contains(&want), || {
                    format!("POST of {n} bytes (Content-Length): {}", o.text())
                })?;
                if n == 0 {
                    continue;
                }
                let mut c = Client::connect(rig.addr()).unwrap();
                let s = c.stream();
                s.write_all(b"POST /direct/x?mode=echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
                for part in body.chunks(5000) {
                    s.write_all(format!("{:x}\r\n", part.len()).as_bytes())
                        .unwrap();
                    s.write_all(part).unwrap();
                    s.write_all(b"\r\n").unwrap();
                }
                s.write_all(b"0\r\n\r\n").unwrap();
                let o = c.read_response(false).unwrap();
                ensure(o.status() == Some(200) && o.text().contains(&want), || {
                    format!("POST of {n} bytes (chunked): {}", o.text())
                })?;
            }
            Ok(())
        })
    });
}

/// A backend restarts (all its connections closed) while the proxy still pools connections to
/// it: requests with bodies then go to the new process on new connections, each starting with
/// its Forward Request, and arrive whole (seen after kill -9 / restart of rjk-nodes under
/// uploads in the soak).
#[test]
fn a_restarted_backend_gets_whole_requests_on_its_new_connections() {
    on_each(FrontEnd::ALL, |fe| {
        let fake = FakeAjp::start("d").unwrap();
        let port = fake.port;
        let workers = format!(
            "worker.list=direct\nworker.direct.host=127.0.0.1\nworker.direct.port={port}\n"
        );
        let front = fe
            .start(
                &test_dir("rel", "restart", fe),
                &Setup {
                    workers: &workers,
                    mounts: "/direct/*=direct\n",
                    ..Setup::default()
                },
            )
            .unwrap();
        let a = front.addr();
        // Pooled connections in the children: several clients at once.
        let warm: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(move || {
                    Client::connect(a)
                        .unwrap()
                        .get("/direct/x?mode=ok")
                        .unwrap()
                })
            })
            .collect();
        for t in warm {
            t.join().unwrap();
        }
        drop(fake);
        let fake = FakeAjp::start_on("d", port).unwrap();
        let mut wrong = Vec::new();
        // GETs, then POSTs with bodies, each on a new client connection.
        for i in 0..12 {
            let (method, body) = if i < 6 {
                ("GET", vec![])
            } else {
                ("POST", pattern(20_000 + i))
            };
            let mut c = Client::connect(a).unwrap();
            c.set_read_timeout(Duration::from_secs(10)).unwrap();
            let t = Instant::now();
            let want = format!("method={method}\n");
            let want_len = format!("body_len={}\n", body.len());
            match c.send(method, "/direct/x?mode=echo", &body) {
                Ok(o)
                    if o.status() == Some(200)
                        && o.text().contains(&want)
                        && o.text().contains(&want_len) => {}
                Ok(o) => wrong.push(format!("{method} {i}: {}", summary(&o))),
                Err(e) => wrong.push(format!(
                    "{method} {i}: no response after {:?} ({e})",
                    t.elapsed()
                )),
            }
        }
        let seen = fake.requests().len();
        let unexpected: Vec<_> = fake
            .events()
            .into_iter()
            .filter(|(_, e)| e.starts_with("unexpected"))
            .collect();
        front.stop();
        ensure(wrong.is_empty() && unexpected.is_empty(), || {
            format!("after the backend restarted: {wrong:?}; packets where a message must start: {unexpected:?}; the new backend answered {seen} request(s)")
        })
    });
}
