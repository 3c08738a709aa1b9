//! Tomcat 10 behind the nginx module: two instances (jvmRoute t1, t2) whose AJP connectors
//! require a secret, balanced by an lb worker through `rjk_mount`. A session stays on the
//! Tomcat its id names; a member with a wrong secret is refused by Tomcat (403, as mod_jk
//! passes it on).

use rjk_tests::http;
use rjk_tests::nginx::Nginx;
use rjk_tests::tomcat::{Tomcat, TomcatConfig};

const SECRET: &str = "tc-s3cret";

/// The session id in the session page's JSON.
fn session_id(json: &str) -> Option<String> {
    let rest = &json[json.find("\"id\":")? + 5..];
    Some(rest[..rest.find([',', '}'])?].trim_matches('"').to_owned())
}

#[test]
fn tomcat_sessions_stick_and_a_wrong_secret_is_refused() {
    let base = std::env::temp_dir().join(format!("rjk-ngx-tomcat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let tomcats = Tomcat::start_all(&[
        (base.join("t1"), TomcatConfig::new("t1", Some(SECRET))),
        (base.join("t2"), TomcatConfig::new("t2", Some(SECRET))),
    ])
    .unwrap();
    let member = |name: &str, t: &Tomcat, secret: &str| {
        format!(
            "worker.{name}.type=ajp13\nworker.{name}.host=127.0.0.1\nworker.{name}.port={}\nworker.{name}.secret={secret}\n",
            t.ajp.port()
        )
    };
    let workers = format!(
        "worker.list=lb,lbwrong\nworker.lb.type=lb\nworker.lb.balance_workers=t1,t2\n\
         worker.lbwrong.type=lb\nworker.lbwrong.balance_workers=wrong\n{}{}{}",
        member("t1", &tomcats[0], SECRET),
        member("t2", &tomcats[1], SECRET),
        member("wrong", &tomcats[0], "not-the-secret"),
    );
    let dir = base.join("nginx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("workers.properties"), workers).unwrap();
    let nginx = Nginx::start(
        &dir,
        2,
        &format!(
            "  rjk_workers_file {}/workers.properties;\n  rjk_mount /* lb;\n  rjk_mount /wrong/* lbwrong;",
            dir.display()
        ),
        "    location / { root html; }",
    )
    .unwrap();
    let a = nginx.addr();
    let mut routes = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let r = http::get(a, "/session.jsp", &[]).unwrap();
        assert_eq!(r.status, 200, "{}\n{}", r.text(), nginx.error_log());
        let served = r.header("X-Rjk-Node").unwrap().to_owned();
        let id = session_id(&r.text()).unwrap();
        assert!(id.ends_with(&format!(".{served}")), "{served} made {id}");
        // The session sticks: by cookie and by ;jsessionid.
        for i in 0..5 {
            let r = http::get(
                a,
                "/session.jsp",
                &[("Cookie", &format!("JSESSIONID={id}"))],
            )
            .unwrap();
            assert_eq!(
                r.header("X-Rjk-Node"),
                Some(served.as_str()),
                "request {i} of {id}"
            );
            assert_eq!(session_id(&r.text()).as_deref(), Some(id.as_str()));
        }
        let r = http::get(a, &format!("/session.jsp;jsessionid={id}"), &[]).unwrap();
        assert_eq!(r.header("X-Rjk-Node"), Some(served.as_str()));
        routes.insert(served);
    }
    assert_eq!(routes.len(), 2, "both Tomcats made sessions: {routes:?}");
    let r = http::get(a, "/wrong/session.jsp", &[]).unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.header("X-Rjk-Node").is_none());
    nginx.stop();
    drop(tomcats);
    let _ = std::fs::remove_dir_all(&base);
}
