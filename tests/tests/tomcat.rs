//! Tomcat 10 behind mod_rjk, as operators run it: two instances (jvmRoute t1, t2) whose AJP
//! connectors require a secret, balanced by an lb worker. A session created through httpd stays
//! on the Tomcat its id names; a member configured with a wrong or no secret is refused by
//! Tomcat, and the client gets what Debian's mod_jk gives in the same setup.
//!
//! The Tomcats start once (a JVM start takes seconds) and serve both connectors in turn.

use std::path::{Path, PathBuf};

use rjk_tests::cluster::{front, Connector};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;
use rjk_tests::tomcat::{Tomcat, TomcatConfig};

const SECRET: &str = "tc-s3cret";
const REQUESTS: usize = 20;

/// `lb` over t1 and t2 with the right secret; `lbwrong` and `lbnone` each with one member on
/// t1's connector, with a wrong secret and with none.
fn workers(t1: &Tomcat, t2: &Tomcat) -> String {
    let member = |name: &str, t: &Tomcat, secret: Option<&str>| {
        let secret = secret.map_or(String::new(), |s| format!("worker.{name}.secret={s}\n"));
        format!(
            "worker.{name}.type=ajp13\nworker.{name}.host=127.0.0.1\nworker.{name}.port={}\n{secret}",
            t.ajp.port()
        )
    };
    format!(
        "worker.list=lb,lbwrong,lbnone\n\
         worker.lb.type=lb\nworker.lb.balance_workers=t1,t2\n\
         worker.lbwrong.type=lb\nworker.lbwrong.balance_workers=wrong\n\
         worker.lbnone.type=lb\nworker.lbnone.balance_workers=none\n{}{}{}{}",
        member("t1", t1, Some(SECRET)),
        member("t2", t2, Some(SECRET)),
        member("wrong", t1, Some("not-the-secret")),
        member("none", t1, None),
    )
}

const MOUNTS: &str = "JkMount /* lb\nJkMount /wrong/* lbwrong\nJkMount /none/* lbnone\n";

/// A field of the session page's flat JSON, as text without quotes.
fn field(json: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let rest = &json[json.find(&pat)? + pat.len()..];
    let end = rest.find([',', '}'])?;
    Some(rest[..end].trim_matches('"').to_owned())
}

/// Create sessions through `addr` until both Tomcats have one; each session's id names the
/// Tomcat that made it. Returns (route, JSESSIONID value) pairs.
fn one_session_per_tomcat(c: Connector, addr: std::net::SocketAddr) -> Vec<(String, String)> {
    let mut sessions: Vec<(String, String)> = Vec::new();
    // Bounded: the lb alternates between two idle members, so two or three tries suffice.
    for _ in 0..10 {
        if sessions.len() == 2 {
            break;
        }
        let r = http::get(addr, "/session.jsp", &[]).unwrap();
        assert_eq!(r.status, 200, "{}: {}", c.name(), r.text());
        let served = r.header("X-Rjk-Node").unwrap().to_owned();
        let id = field(&r.text(), "id").unwrap();
        assert!(
            id.ends_with(&format!(".{served}")),
            "{}: {served} made session {id}",
            c.name()
        );
        let cookie = r.header("Set-Cookie").unwrap_or_default();
        assert!(
            cookie.starts_with(&format!("JSESSIONID={id}")),
            "{}: {cookie}",
            c.name()
        );
        if !sessions.iter().any(|(route, _)| *route == served) {
            sessions.push((served, id));
        }
    }
    assert_eq!(
        sessions.len(),
        2,
        "{}: the lb gave new sessions to both Tomcats: {sessions:?}",
        c.name()
    );
    sessions
}

/// Every request of the session reaches the Tomcat its id names (by cookie, and by the
/// `;jsessionid=` path parameter), and the session's counter goes on there.
fn session_sticks(c: Connector, addr: std::net::SocketAddr, route: &str, id: &str) {
    let cookie = format!("JSESSIONID={id}");
    for i in 0..REQUESTS {
        let r = http::get(addr, "/session.jsp", &[("Cookie", &cookie)]).unwrap();
        assert_eq!(
            r.header("X-Rjk-Node"),
            Some(route),
            "{}: request {i} of session {id}",
            c.name()
        );
        assert_eq!(field(&r.text(), "id").as_deref(), Some(id), "{}", c.name());
        assert_eq!(
            field(&r.text(), "counter"),
            Some((i + 2).to_string()),
            "{}: the session lives on: {}",
            c.name(),
            r.text()
        );
    }
    let r = http::get(addr, &format!("/session.jsp;jsessionid={id}"), &[]).unwrap();
    assert_eq!(
        r.header("X-Rjk-Node"),
        Some(route),
        "{}: ;jsessionid",
        c.name()
    );
}

/// What the client gets from the members Tomcat refuses: (wrong secret, no secret).
fn refused(c: Connector, addr: std::net::SocketAddr) -> (u16, u16) {
    let wrong = http::get(addr, "/wrong/session.jsp", &[]).unwrap();
    let none = http::get(addr, "/none/session.jsp", &[]).unwrap();
    for r in [&wrong, &none] {
        assert!(
            r.header("X-Rjk-Node").is_none() && !r.text().contains("\"counter\""),
            "{}: Tomcat ran the page for a request without the right secret: {} {}",
            c.name(),
            r.status,
            r.text()
        );
    }
    (wrong.status, none.status)
}

/// One httpd with `c` in front of the Tomcats: stickiness, then the refused members' status.
fn through(c: Connector, dir: &Path, t1: &Tomcat, t2: &Tomcat) -> (u16, u16) {
    let httpd = front(dir, c, Mpm::Event, &workers(t1, t2), MOUNTS).unwrap();
    let addr = httpd.addr();
    for (route, id) in one_session_per_tomcat(c, addr) {
        session_sticks(c, addr, &route, &id);
    }
    let statuses = refused(c, addr);
    // The right secret still works after the refusals (they did not disturb t1's pool).
    let r = http::get(addr, "/1k", &[]).unwrap();
    assert_eq!(r.status, 200, "{}: {}", c.name(), httpd.error_log());
    httpd.stop();
    statuses
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-tomcat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn tomcat_sessions_stick_and_a_wrong_secret_is_refused_as_mod_jk_does() {
    let base = temp_dir("backends");
    let tomcats = Tomcat::start_all(&[
        (base.join("t1"), TomcatConfig::new("t1", Some(SECRET))),
        (base.join("t2"), TomcatConfig::new("t2", Some(SECRET))),
    ])
    .unwrap();
    let (t1, t2) = (&tomcats[0], &tomcats[1]);

    let (jk_dir, rjk_dir) = (temp_dir("mod_jk"), temp_dir("mod_rjk"));
    let jk = through(Connector::ModJk, &jk_dir, t1, t2);
    let rjk = through(Connector::ModRjk, &rjk_dir, t1, t2);
    // Tomcat refuses with an AJP 403 response (not a dropped connection), which mod_jk passes on.
    assert_eq!(jk, (403, 403), "mod_jk: (wrong secret, no secret)");
    assert_eq!(
        rjk, jk,
        "(wrong secret, no secret): mod_rjk gives what mod_jk gives"
    );
    drop(tomcats);
    for d in [base, jk_dir, rjk_dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}
