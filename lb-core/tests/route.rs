//! Session id and route extraction, as mod_jk's lb worker does it.

use lb_core::route::{
    route_of, routes, session_id, DEFAULT_SESSION_COOKIE as C, DEFAULT_SESSION_PATH as P,
};

fn sid(uri: &str, cookies: &[&str]) -> Option<String> {
    session_id(uri, cookies, P, C).map(|s| s.into_owned())
}

#[test]
fn path_parameter_comes_first() {
    assert_eq!(
        sid("/app/x;jsessionid=ABC.n1", &["JSESSIONID=DEF.n2"]).as_deref(),
        Some("ABC.n1")
    );
    assert_eq!(
        sid("/app;jsessionid=ABC.n1/x", &[]).as_deref(),
        Some("ABC.n1")
    );
    assert_eq!(
        sid("/app/x;jsessionid=ABC.n1;other=1", &[]).as_deref(),
        Some("ABC.n1")
    );
    assert_eq!(
        sid("/app/x;jsessionid=ABC.n1?q", &[]).as_deref(),
        Some("ABC.n1")
    );
    // `;jsessionid` without `=` is skipped, the next one counts.
    assert_eq!(
        sid("/a;jsessionid/b;jsessionid=Z.n3", &[]).as_deref(),
        Some("Z.n3")
    );
    // An empty value at the end is skipped, falling back to the cookie.
    assert_eq!(
        sid("/a;jsessionid=", &["JSESSIONID=C.n2"]).as_deref(),
        Some("C.n2")
    );
    // An empty value before `;` is an empty id: no session, and the cookie is not consulted.
    assert_eq!(sid("/a;jsessionid=;x", &["JSESSIONID=C.n2"]), None);
}

#[test]
fn cookies_as_mod_jk_reads_them() {
    assert_eq!(sid("/x", &["JSESSIONID=A.n1"]).as_deref(), Some("A.n1"));
    assert_eq!(
        sid("/x", &["a=1; JSESSIONID =A.n1; b=2"]).as_deref(),
        Some("A.n1")
    );
    // Blanks before `=` are skipped, after it they are part of the value (the route is unaffected).
    assert_eq!(sid("/x", &["JSESSIONID= A.n1"]).as_deref(), Some(" A.n1"));
    assert_eq!(sid("/x", &["a=1,JSESSIONID=A.n1"]).as_deref(), Some("A.n1"));
    assert_eq!(sid("/x", &["JSESSIONID=\"A.n1\""]).as_deref(), Some("A.n1"));
    assert_eq!(sid("/x", &["XJSESSIONID=A.n1"]), None);
    assert_eq!(sid("/x", &["JSESSIONIDX=A.n1"]), None);
    assert_eq!(
        sid("/x", &["jsessionid=A.n1"]),
        None,
        "the name is case-sensitive"
    );
    assert_eq!(sid("/x", &["JSESSIONID="]), None);
    // Every matching cookie, across headers, joined with `;`.
    assert_eq!(
        sid(
            "/x",
            &["JSESSIONID=A.n1; JSESSIONID=B.n2", "JSESSIONID=C.n3"]
        )
        .as_deref(),
        Some("A.n1;B.n2;C.n3")
    );
}

#[test]
fn per_lb_names() {
    let id = session_id("/x;sid=Q.n9", &[], ";sid", "SID").map(|s| s.into_owned());
    assert_eq!(id.as_deref(), Some("Q.n9"));
    // `session_path=;jsessionid` in a rule arrives as `jsessionid`, which still finds it.
    let id = session_id("/x;jsessionid=Q.n9", &[], "jsessionid", "SID").map(|s| s.into_owned());
    assert_eq!(id.as_deref(), Some("Q.n9"));
    let id = session_id("/x", &["SID=R.n4; JSESSIONID=S.n5"], P, "SID").map(|s| s.into_owned());
    assert_eq!(id.as_deref(), Some("R.n4"));
}

#[test]
fn routes_after_the_first_dot() {
    assert_eq!(route_of("ABC.node1"), Some("node1"));
    assert_eq!(route_of("ABC.dom.node1"), Some("dom.node1"));
    assert_eq!(route_of(".node1"), Some("node1"));
    assert_eq!(route_of("ABC"), None);
    assert_eq!(routes("A.n1;B;C.n3").collect::<Vec<_>>(), ["n1", "n3"]);
}

#[test]
fn where_mod_jk_resumes_after_a_cookie_name() {
    // A name followed by blanks but no `=` is consumed with the blanks: the second name, right
    // behind them, is not seen (mod_jk resumes one byte past what it consumed).
    assert_eq!(sid("/x", &["JSESSIONID JSESSIONID=A.n1"]), None);
    // After a value, scanning resumes past its `;`/`,`.
    assert_eq!(
        sid("/x", &["JSESSIONID=A.n1,JSESSIONID=B.n2"]).as_deref(),
        Some("A.n1;B.n2")
    );
    // An empty value before `;` is still an (empty) partial id, as in mod_jk.
    assert_eq!(
        sid("/x", &["JSESSIONID=;JSESSIONID=B.n2"]).as_deref(),
        Some(";B.n2")
    );
    assert_eq!(routes(";B.n2").collect::<Vec<_>>(), ["n2"]);
    // A lone `"` is not a quoted value.
    assert_eq!(sid("/x", &["JSESSIONID=\""]).as_deref(), Some("\""));
}

#[test]
fn odd_bytes_never_panic() {
    for uri in [
        "/ü;jsessionid=ä.n1",
        ";jsessionid=",
        ";jsessionid",
        "",
        "ü",
        "/a;jsessionid=x.ü/b",
    ] {
        let _ = session_id(
            uri,
            &[
                "ü=1; JSESSIONID=ö.n1",
                "",
                "JSESSIONID",
                "JSESSIONID=",
                "€JSESSIONID=a",
            ],
            P,
            C,
        );
        let _ = session_id(uri, &["x"], "ü", "€");
    }
    assert_eq!(sid("/a;jsessionid=x.ü/b", &[]).as_deref(), Some("x.ü"));
    assert_eq!(route_of("x.ü"), Some("ü"));
}

#[test]
fn forced_route_is_a_fake_id() {
    let id = lb_core::route::forced_session_id("n7");
    assert_eq!(id, ".n7");
    assert_eq!(route_of(&id), Some("n7"));
}

mod sticky {
    use lb_core::config::{Kind, LbWorker, Loader};
    use lb_core::mount::Extensions;
    use lb_core::route::{sticky_session_id, RequestSession};

    fn lb(props: &str) -> LbWorker {
        let mut l = Loader::new();
        l.workers_text(&format!("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\nworker.n1.host=127.0.0.1\nworker.n2.host=127.0.0.1\n{props}"), "w.properties".as_ref());
        let loaded = l.finish();
        match loaded
            .workers
            .expect("workers load")
            .get("lb")
            .map(|w| w.kind.clone())
        {
            Some(Kind::Lb(lb)) => lb,
            other => panic!("{other:?}"),
        }
    }

    fn ext(text: &str) -> Extensions {
        lb_core::mount::Rule::parse(
            "/x",
            text,
            lb_core::mount::Source::JkMount(lb_core::config::Location::new("h", 1)),
        )
        .unwrap()
        .remove(0)
        .extensions
    }

    fn id(lb: &LbWorker, rule: Option<&Extensions>, req: RequestSession<'_>) -> Option<String> {
        sticky_session_id(lb, rule, &req).map(|s| s.into_owned())
    }

    const COOKIES: &[&str] = &["JSESSIONID=A.n1; SID=B.n2"];

    #[test]
    fn lb_settings_rule_overrides_and_environment() {
        let plain = lb("");
        let req = RequestSession {
            uri: "/x",
            cookies: COOKIES,
            ..Default::default()
        };
        assert_eq!(id(&plain, None, req).as_deref(), Some("A.n1"));
        // The lb's own names.
        let named = lb("worker.lb.session_cookie=SID\nworker.lb.session_path=;sid\n");
        assert_eq!(id(&named, None, req).as_deref(), Some("B.n2"));
        let on_path = RequestSession {
            uri: "/x;sid=C.n1",
            ..req
        };
        assert_eq!(id(&named, None, on_path).as_deref(), Some("C.n1"));
        // A rule's names replace the lb's.
        assert_eq!(
            id(&plain, Some(&ext("lb;session_cookie=SID")), req).as_deref(),
            Some("B.n2")
        );
        let rule_path = RequestSession {
            uri: "/x;sid=D.n2",
            ..req
        };
        assert_eq!(
            id(&plain, Some(&ext("lb;session_path=;sid")), rule_path).as_deref(),
            Some("D.n2")
        );
        // Not sticky: no id at all.
        assert_eq!(id(&lb("worker.lb.sticky_session=false\n"), None, req), None);
        // The rule's sticky_ignore, and JK_STICKY_IGNORE over it: empty or non-zero ignores, 0 restores.
        let ignore = ext("lb;sticky_ignore=1");
        assert_eq!(id(&plain, Some(&ignore), req), None);
        assert_eq!(
            id(
                &plain,
                Some(&ignore),
                RequestSession {
                    sticky_ignore_env: Some("0"),
                    ..req
                }
            )
            .as_deref(),
            Some("A.n1")
        );
        assert_eq!(
            id(
                &plain,
                None,
                RequestSession {
                    sticky_ignore_env: Some(""),
                    ..req
                }
            ),
            None
        );
        assert_eq!(
            id(
                &plain,
                None,
                RequestSession {
                    sticky_ignore_env: Some("2"),
                    ..req
                }
            ),
            None
        );
        assert_eq!(
            id(
                &plain,
                None,
                RequestSession {
                    sticky_ignore_env: Some("no"),
                    ..req
                }
            )
            .as_deref(),
            Some("A.n1"),
            "atoi(\"no\") is 0"
        );
        // JK_ROUTE forces a route (only while sticky); empty is ignored.
        assert_eq!(
            id(
                &plain,
                None,
                RequestSession {
                    route_env: Some("n2"),
                    ..req
                }
            )
            .as_deref(),
            Some(".n2")
        );
        assert_eq!(
            id(
                &plain,
                None,
                RequestSession {
                    route_env: Some(""),
                    ..req
                }
            )
            .as_deref(),
            Some("A.n1")
        );
        assert_eq!(
            id(
                &plain,
                Some(&ignore),
                RequestSession {
                    route_env: Some("n2"),
                    ..req
                }
            ),
            None
        );
    }
}
