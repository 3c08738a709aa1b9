//! Security (issue 16): path tricks around mounts and the web server's own access control
//! (CVE-2018-11759's class), attribute and secret injection through headers (Ghostcat's
//! neighbourhood), the secret kept out of every log and page, and the status worker's guards.
//! Each case runs on each front end; Debian's mod_jk is only reported on.

use rjk_tests::fake_ajp::FakeAjp;
use rjk_tests::front::{test_dir, Front, FrontEnd, Setup};
use rjk_tests::http;
use rjk_tests::rig::{ensure, on_each};

const SECRET: &str = "Zq7-s3cr3t-w0rd-91";

/// Markers of a status page, ours and mod_jk's.
fn is_status_page(body: &str) -> bool {
    body.contains("rjk status") || body.contains("JK Status Manager")
}

/// The path a servlet container resolves from the URI it receives (Tomcat's order): path
/// parameters cut from each raw segment, one %-decoding (an encoded `/` taken as a separator,
/// the worst case), then `.`/`..` resolved. `Err` when it climbs above `/` or holds a NUL.
fn container_view(uri: &str) -> Result<String, String> {
    let no_params: Vec<&str> = uri
        .split('/')
        .map(|seg| seg.split(';').next().unwrap_or(""))
        .collect();
    let joined = no_params.join("/");
    let b = joined.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                decoded.push(v);
                i += 3;
                continue;
            }
        }
        decoded.push(b[i]);
        i += 1;
    }
    if decoded.contains(&0) {
        return Err(format!("{uri}: a NUL"));
    }
    let path = String::from_utf8_lossy(&decoded).into_owned();
    let mut kept: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                kept.pop().ok_or_else(|| format!("{uri}: climbs above /"))?;
            }
            s => kept.push(s),
        }
    }
    Ok(format!("/{}", kept.join("/")))
}

const TRICKS: &[&str] = &[
    "/app/..;/jk-status",
    "/app/..;/open/x",
    "/app/x/..;/..;/jk-status",
    "/app/;/../jk-status",
    "/app/private;x=1/secret",
    "/app/private/;/secret",
    "/app/.;/private/secret",
    "/app/%2e%2e/jk-status",
    "/app/.%2e/jk-status",
    "/app/%2e%2e%2fjk-status",
    "/app/..%2fjk-status",
    "/app/..%2f..%2fetc/passwd",
    "/app/..%252fjk-status",
    "/app/%252e%252e/jk-status",
    "/app/%c0%ae%c0%ae/jk-status",
    "/app/%e0%80%ae%e0%80%ae/jk-status",
    "/app/%u002e%u002e/jk-status",
    "/app//private/secret",
    "/app/./private/secret",
    "/app/x/../private/secret",
    "/app/%70rivate/secret",
    "/app/privat%65/secret",
    "/app/%2e/private/secret",
    "/app/private%2fsecret",
    "/app/x%00/../../jk-status",
    "/app/%00/jk-status",
    "/app/../jk-status",
    "/app/../../etc/passwd",
    "/jk-status;x=1",
    "/jk-status/",
    "//jk-status",
    "/./jk-status",
    "/%6ak-status",
    "/jk%2dstatus",
    "/JK-STATUS",
];

#[test]
fn path_tricks_reach_no_unmounted_path_no_status_and_never_climb_above_root() {
    on_each(FrontEnd::ALL, |fe| {
        let fake = FakeAjp::start("app").unwrap();
        let workers = format!(
            "worker.list=app,jkstatus\nworker.app.host=127.0.0.1\nworker.app.port={}\nworker.jkstatus.type=status\n",
            fake.port
        );
        let front = fe
            .start(
                &test_dir("sec", "paths", fe),
                &Setup {
                    workers: &workers,
                    mounts: "/app/*=app\n!/app/private/*=app\n/jk-status=jkstatus\n/jk-status/*=jkstatus\n/open-status=jkstatus\n",
                    denied: &["/jk-status"],
                    ..Setup::default()
                },
            )
            .unwrap();
        let a = front.addr();
        let result = (|| {
            // Controls: the mount works, the status worker answers where it is open, and
            // the server denies /jk-status itself.
            ensure(http::get(a, "/app/ok", &[]).unwrap().status == 200, || {
                "GET /app/ok".into()
            })?;
            let open = http::get(a, "/open-status", &[]).unwrap();
            ensure(is_status_page(&open.text()), || {
                format!("the open status page: {}", open.status)
            })?;
            ensure(
                http::get(a, "/jk-status", &[]).unwrap().status == 403,
                || "/jk-status is denied".into(),
            )?;
            fake.clear();
            let mut wrong = Vec::new();
            for t in TRICKS {
                let r = http::raw(
                    a,
                    format!("GET {t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
                );
                match r {
                    Ok(r) if is_status_page(&r.text()) => wrong.push(format!(
                        "GET {t}: the status worker answered ({})",
                        r.status
                    )),
                    Ok(r) => eprintln!("{}: GET {t} → {}", fe.name(), r.status),
                    Err(e) => eprintln!("{}: GET {t} → {e}", fe.name()),
                }
            }
            for s in fake.requests() {
                match container_view(&s.uri) {
                    Err(e) => wrong.push(format!("the backend received {:?}: {e}", s.uri)),
                    Ok(p)
                        if !p.starts_with("/app/")
                            || p.starts_with("/app/private/")
                            || p == "/app/private" =>
                    {
                        wrong.push(format!(
                            "the backend received {:?}, which is {p}, not mounted",
                            s.uri
                        ))
                    }
                    Ok(_) => {}
                }
            }
            ensure(wrong.is_empty(), || wrong.join("\n  "))
        })();
        front.stop();
        result
    });
}

/// Headers named like AJP attributes, the secret or lb notes stay headers: the backend gets
/// exactly the configured secret once, and no attribute carries a client's value.
#[test]
fn client_headers_cannot_inject_attributes_or_the_secret() {
    on_each(FrontEnd::ALL, |fe| {
        let (fake, front) = secret_front(fe, "inject", "error");
        let result = (|| {
            let injected: &[(&str, &str)] = &[
                ("Secret", "evil-1"),
                ("AJP-Secret", "evil-2"),
                ("AJP_REMOTE_PORT", "evil-3"),
                ("AJP_LOCAL_ADDR", "evil-4"),
                ("JK_LB_ACTIVATION", "evil-5"),
                ("Remote-User", "evil-6"),
                ("X-Forwarded-For", "evil-7"),
                ("SSL_CLIENT_CERT", "evil-8"),
                ("Route", "evil-9"),
                ("Query-String", "evil-10"),
            ];
            let r = http::get(front.addr(), "/app/x?mode=echo&a=1", injected).unwrap();
            ensure(r.status == 200, || format!("echo: {}", r.status))?;
            let seen = fake.request_with("mode=echo").unwrap();
            let secrets: Vec<&String> = seen
                .attributes
                .iter()
                .filter(|(n, _)| n == "secret")
                .map(|(_, v)| v)
                .collect();
            ensure(secrets == [SECRET], || {
                format!("secret attributes: {secrets:?}")
            })?;
            let evil: Vec<_> = seen
                .attributes
                .iter()
                .filter(|(_, v)| v.contains("evil"))
                .collect();
            ensure(evil.is_empty(), || {
                format!("client values in attributes: {evil:?}")
            })?;
            let q: Vec<_> = seen
                .attributes
                .iter()
                .filter(|(n, _)| n == "query_string")
                .collect();
            ensure(q.len() == 1 && q[0].1 == "mode=echo&a=1", || {
                format!("query_string: {q:?}")
            })
        })();
        front.stop();
        drop(fake);
        result
    });
}

/// A front end whose worker `app` (a fake container) requires `SECRET`, with a status worker
/// at /jk-status (open) and the log level given.
fn secret_front(fe: FrontEnd, case: &str, level: &str) -> (FakeAjp, Front) {
    let fake = FakeAjp::start("app").unwrap();
    let workers = format!(
        "worker.list=app,lb,jkstatus\nworker.app.host=127.0.0.1\nworker.app.port={p}\nworker.app.secret={SECRET}\n\
         worker.lb.type=lb\nworker.lb.balance_workers=m1\nworker.m1.host=127.0.0.1\nworker.m1.port={p}\nworker.m1.secret={SECRET}\n\
         worker.jkstatus.type=status\n",
        p = fake.port
    );
    let front = fe
        .start(
            &test_dir("sec", case, fe),
            &Setup {
                workers: &workers,
                mounts: "/app/*=app\n/lb/*=lb\n/jk-status=jkstatus\n",
                log_level: level,
                ..Setup::default()
            },
        )
        .unwrap();
    (fake, front)
}

/// Successes, a bad reply (502 page), a 404 and the status worker in every format and command,
/// with the connector logging at trace: the secret is in none of them.
#[test]
fn the_secret_never_shows_in_logs_status_or_error_pages() {
    on_each(FrontEnd::ALL, |fe| {
        let (fake, front) = secret_front(fe, "secretscan", "trace");
        let a = front.addr();
        let mut pages = Vec::new();
        for path in [
            "/app/ok",
            "/lb/ok",
            "/app/x?mode=garbage",
            "/lb/x?mode=bad-headers",
            "/nothing-here",
            "/jk-status",
            "/jk-status?mime=xml",
            "/jk-status?mime=txt",
            "/jk-status?mime=prop",
            "/jk-status?mime=json",
            "/jk-status?cmd=dump",
            "/jk-status?cmd=dump&mime=prop",
            "/jk-status?cmd=show&w=app",
            "/jk-status?cmd=show&w=lb&mime=txt",
            "/jk-status?cmd=edit&w=lb&sw=m1",
            "/jk-status?cmd=edit&w=app",
        ] {
            if let Ok(r) = http::get(a, path, &[]) {
                pages.push((path.to_owned(), format!("{:?}\n{}", r.headers, r.text())));
            }
        }
        let seen = fake.request_with("ok").map(|s| s.attributes);
        let logs = front.logs();
        front.stop();
        drop(fake);
        ensure(
            seen.as_ref()
                .is_some_and(|a| a.iter().any(|(n, v)| n == "secret" && v == SECRET)),
            || format!("control: the backend got the secret: {seen:?}"),
        )?;
        let leaks: Vec<String> = pages
            .iter()
            .chain(logs.iter())
            .filter(|(_, text)| text.contains(SECRET))
            .map(|(where_, _)| where_.clone())
            .collect();
        ensure(leaks.is_empty(), || {
            format!("the secret shows in: {leaks:?}")
        })
    });
}

/// A balancer over one fake member `m1` with a read-write status worker at /jk-manager and a
/// read-only one at /jk-status.
fn status_front(fe: FrontEnd, case: &str) -> (FakeAjp, Front) {
    let fake = FakeAjp::start("m1").unwrap();
    let workers = format!(
        "worker.list=lb,jk-manager,jk-status\nworker.lb.type=lb\nworker.lb.balance_workers=m1,m2\n\
         worker.m1.host=127.0.0.1\nworker.m1.port={p}\nworker.m2.host=127.0.0.1\nworker.m2.port={p}\n\
         worker.jk-manager.type=status\nworker.jk-status.type=status\nworker.jk-status.read_only=true\n",
        p = fake.port
    );
    let front = fe
        .start(
            &test_dir("sec", case, fe),
            &Setup {
                workers: &workers,
                mounts: "/lb/*=lb\n/jk-manager=jk-manager\n/jk-status=jk-status\n",
                ..Setup::default()
            },
        )
        .unwrap();
    (fake, front)
}

fn activation(a: std::net::SocketAddr) -> String {
    let p = http::get(a, "/jk-manager?mime=prop", &[]).unwrap().text();
    p.lines()
        .find_map(|l| l.strip_prefix("worker.m1.activation="))
        .unwrap_or("?")
        .to_owned()
}

fn post(a: std::net::SocketAddr, path: &str, body: &str) -> http::Response {
    http::request(
        a,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .unwrap()
}

#[test]
fn status_changes_need_post_and_the_nonce_and_read_only_holds_in_every_format() {
    on_each(FrontEnd::ASSERTED, |fe| {
        let (fake, front) = status_front(fe, "statusguard");
        let a = front.addr();
        let result = (|| {
            let nonce = rjk_tests::status::nonce(&http::get(a, "/jk-manager", &[]).unwrap().text());
            let stop = "cmd=update&w=lb&sw=m1&vwa=S";
            let r = http::get(a, &format!("/jk-manager?{stop}&nonce={nonce}"), &[]).unwrap();
            ensure(activation(a) == "ACT", || {
                format!("a GET changed the state ({})", r.status)
            })?;
            for (what, body) in [
                ("no nonce", stop.to_owned()),
                (
                    "a wrong nonce",
                    format!("{stop}&nonce=0123456789abcdef0123456789abcdef"),
                ),
                ("an empty nonce", format!("{stop}&nonce=")),
            ] {
                let r = post(a, "/jk-manager", &body);
                ensure(r.status >= 400 && activation(a) == "ACT", || {
                    format!(
                        "a POST with {what}: {} and activation {}",
                        r.status,
                        activation(a)
                    )
                })?;
            }
            for mime in ["html", "xml", "txt", "prop", "json"] {
                let r = post(
                    a,
                    &format!("/jk-status?mime={mime}"),
                    &format!("{stop}&nonce={nonce}"),
                );
                ensure(r.status >= 400 && activation(a) == "ACT", || {
                    format!(
                        "read-only, mime={mime}: {} and activation {}",
                        r.status,
                        activation(a)
                    )
                })?;
            }
            // Control: the same change with the nonce, posted to the read-write worker.
            let r = post(a, "/jk-manager", &format!("{stop}&nonce={nonce}"));
            ensure(r.status == 303 && activation(a) == "STP", || {
                format!(
                    "control: POST with the nonce: {} and activation {}",
                    r.status,
                    activation(a)
                )
            })
        })();
        front.stop();
        drop(fake);
        result
    });
}

/// A form larger than the status worker reads is refused whole with 413; a truncated form
/// must never be acted on.
#[test]
fn an_oversized_status_form_is_413() {
    on_each(FrontEnd::ASSERTED, |fe| {
        let (fake, front) = status_front(fe, "statusbig");
        let a = front.addr();
        let nonce = rjk_tests::status::nonce(&http::get(a, "/jk-manager", &[]).unwrap().text());
        let pad = "p".repeat(200 * 1024);
        let body = format!("cmd=update&w=lb&sw=m1&vwa=S&nonce={nonce}&pad={pad}");
        let r = post(a, "/jk-manager", &body);
        let result = ensure(r.status == 413 && activation(a) == "ACT", || {
            format!("POST /jk-manager with a {} byte form: want 413 and no change, got {} and activation {}", body.len(), r.status, activation(a))
        });
        front.stop();
        drop(fake);
        result
    });
}

/// The form nonce is 128 bits from the OS (fresh per start); without a CSPRNG the server must
/// refuse to start rather than hand out a guessable nonce.
#[test]
fn the_nonce_is_fresh_per_start_and_looks_random() {
    on_each(FrontEnd::ASSERTED, |fe| {
        let mut nonces = Vec::new();
        for i in 0..2 {
            let (fake, front) = status_front(fe, &format!("nonce{i}"));
            nonces.push(rjk_tests::status::nonce(
                &http::get(front.addr(), "/jk-manager", &[]).unwrap().text(),
            ));
            front.stop();
            drop(fake);
        }
        let distinct = |n: &str| n.chars().collect::<std::collections::BTreeSet<_>>().len();
        ensure(
            nonces[0] != nonces[1]
                && nonces.iter().all(|n| {
                    n.len() >= 32 && n.chars().all(|c| c.is_ascii_hexdigit()) && distinct(n) >= 6
                }),
            || format!("nonces of two starts: {nonces:?}"),
        )
    });
}

/// The nonce comes from the kernel's CSPRNG through getrandom(2), which needs no device file:
/// with /dev/urandom hidden the server either refuses to start (no random source at all) or
/// starts with a random nonce — never a guessable one (the old reader of /dev/urandom produced
/// all zeros here and started).
#[test]
fn without_dev_urandom_the_nonce_is_still_random_or_the_server_refuses() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to hide /dev/urandom in a private mount namespace");
        return;
    }
    // /dev/urandom reads as empty inside the server's own mount namespace.
    let wrapper = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount --bind /dev/null /dev/urandom && exec \"$@\"",
        "sh",
    ];
    on_each(FrontEnd::ASSERTED, |fe| {
        let fake = FakeAjp::start("m1").unwrap();
        let workers = format!(
            "worker.list=lb,jk-manager\nworker.jk-manager.type=status\nworker.lb.type=lb\nworker.lb.balance_workers=m1\nworker.m1.host=127.0.0.1\nworker.m1.port={}\n",
            fake.port
        );
        let started = fe.start(
            &test_dir("sec", "nocsprng", fe),
            &Setup {
                workers: &workers,
                mounts: "/jk-manager=jk-manager\n",
                wrapper: &wrapper,
                ..Setup::default()
            },
        );
        match started {
            Err(_) => Ok(()),
            Ok(front) => {
                let page = http::get(front.addr(), "/jk-manager", &[]).map(|r| r.text());
                let n = page
                    .as_deref()
                    .map(rjk_tests::status::nonce)
                    .unwrap_or_default();
                front.stop();
                let distinct = n.chars().collect::<std::collections::BTreeSet<_>>().len();
                ensure(n.len() >= 32 && distinct >= 6, || {
                    format!("started without /dev/urandom with a guessable nonce {n:?}")
                })
            }
        }
    });
}
