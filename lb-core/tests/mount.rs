//! Mount rule syntax, extensions and mod_jk's precedence, table-driven.

use lb_core::config::Location;
use lb_core::mount::{MountFile, MountTable, Near, Order, Outcome, Rule, Source};
use lb_core::uri::{decode, normalise};
use std::path::Path;

fn jk(line: u32) -> Source {
    Source::JkMount(Location::new("httpd.conf", line))
}

fn table(file: &str, jkmounts: &[(&str, &str)]) -> MountTable {
    let mut t = MountTable::new();
    let parsed = MountFile::parse(file, Path::new("uriworkermap.properties"));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    t.extend(parsed.rules);
    for (i, (p, w)) in jkmounts.iter().enumerate() {
        t.extend(Rule::parse(p, w, jk(i as u32 + 1)).unwrap());
    }
    t
}

/// Raw request-target → worker, through decode + normalise + map, as an adapter does it.
fn map_raw<'t>(t: &'t MountTable, raw: &str) -> Result<Option<&'t str>, u16> {
    let decoded = decode(raw).map_err(|e| e.status())?;
    let n = normalise(&decoded).map_err(|e| e.status())?;
    Ok(t.map(&n).map(|m| m.worker))
}

const FILE: &str = "
# applications
/app|/*=app
!/app/static/*=app
!/app/*.gif=*
/app/admin/*=admin
/api/*=api
/api/v1/*.json=json
-/old/*=app
/jkstatus=status
/*.jsp=jsp
/exact/path=exact
/deep/a/b/c=deep
/deep/*=wild
/q?z=q
!/api/private/*=app
/vh/*=vh;reply_timeout=500
";

#[test]
fn precedence_and_exclusion() {
    let t = table(FILE, &[("/app/jk/*", "jkapp"), ("/api/*", "jkapi")]);
    let cases: &[(&str, Result<Option<&str>, u16>)] = &[
        ("/app", Ok(Some("app"))),
        ("/app/", Ok(Some("app"))),
        ("/app/x", Ok(Some("app"))),
        ("/app/x/y/z", Ok(Some("app"))),
        ("/app/static/logo.png", Ok(None)),
        ("/app/static/", Ok(None)),
        ("/app/img.gif", Ok(None)),
        ("/app/admin/x", Ok(Some("admin"))),
        ("/app/admin/x.gif", Ok(None)), // `!/app/*.gif=*` cancels whatever worker matched
        ("/app/jk/x", Ok(Some("jkapp"))),
        ("/api/x", Ok(Some("api"))), // file beats JkMount on equal slashes and length
        ("/api/v1/a.json", Ok(Some("json"))),
        ("/api/v1/a.xml", Ok(Some("api"))),
        ("/api/private/x", Ok(Some("api"))), // exclusion names `app`, not the matched `api`
        ("/old/x", Ok(None)),
        ("/jkstatus", Ok(Some("status"))),
        ("/jkstatus/", Ok(None)),
        ("/x.jsp", Ok(Some("jsp"))),
        ("/a/b/x.jsp", Ok(Some("jsp"))),
        ("/exact/path", Ok(Some("exact"))),
        ("/exact/path/", Ok(None)),
        ("/exact/pat", Ok(None)),
        ("/deep/a/b/c", Ok(Some("deep"))),
        ("/deep/a/b/d", Ok(Some("wild"))),
        ("/qaz", Ok(Some("q"))),
        ("/qz", Ok(None)),
        ("/vh/1", Ok(Some("vh"))),
        ("/other", Ok(None)),
        ("/", Ok(None)),
        // Normalisation attacks and oddities.
        ("/app/..;/jkstatus", Ok(Some("status"))),
        ("/app/../jkstatus", Ok(Some("status"))),
        ("/app/..;/app/static/x", Ok(None)),
        ("/%2e%2e/", Err(400)),
        ("/%2e%2e/jkstatus", Err(400)),
        ("/..", Err(400)),
        ("/app/%2e%2e/%2e%2e/x", Err(400)),
        ("//app", Ok(Some("app"))),
        ("//app//static//x", Ok(None)),
        ("/app/./x", Ok(Some("app"))),
        ("/app/./static/x", Ok(None)),
        ("/app;x=y/y", Ok(Some("app"))),
        ("/app;x=y/static/y", Ok(None)),
        ("/jkstatus;jsessionid=A.n1", Ok(Some("status"))),
        ("/jkstatus?cmd=list", Ok(Some("status"))),
        ("/app/%2fstatic", Err(404)),
        ("/app/%zz", Err(400)),
        ("/x.jsp;.png", Ok(Some("jsp"))),
        ("/APP/x", Ok(None)),
    ];
    assert!(cases.len() >= 40);
    for (raw, want) in cases {
        assert_eq!(map_raw(&t, raw), *want, "{raw}");
        // The explanation tells the same story as the mapping, for every case.
        if let Some(n) = decode(raw).ok().and_then(|d| normalise(&d).ok()) {
            let ex = t.explain(&n);
            assert_eq!(
                ex.result.map(|m| m.worker),
                t.map(&n).map(|m| m.worker),
                "{raw}"
            );
            let deciding = ex
                .verdicts
                .iter()
                .filter(|v| v.outcome == Outcome::Matched)
                .count();
            assert_eq!(
                deciding,
                usize::from(ex.result.is_some()),
                "{raw}: exactly one rule decides"
            );
        }
    }
}

#[test]
fn sort_order_is_slashes_then_length_then_source() {
    let t = table(
        "/a/*=file\n/a/b=file\n/*=file\n",
        &[("/a/*", "jk"), ("/a/bc/*", "jk"), ("/a/*.x", "jk")],
    );
    let order: Vec<String> = t
        .rules()
        .iter()
        .map(|r| format!("{}={}", r.pattern, r.worker))
        .collect();
    assert_eq!(
        order,
        [
            "/a/bc/*=jk",
            "/a/*.x=jk",
            "/a/*=file",
            "/a/b=file",
            "/a/*=jk",
            "/*=file"
        ]
    );
    // Exact does not beat wildcard: on equal slashes and length the earlier (file) `/a/*` wins.
    assert_eq!(t.map("/a/b").unwrap().worker, "file");
    assert_eq!(t.map("/a/b").unwrap().rule.pattern, "/a/*");
}

#[test]
fn explain_names_the_deciding_comparison() {
    let t = table(
        "/a/*=file\n/a/b*=file\n",
        &[("/a/b*", "jk"), ("/a/?*", "jk")],
    );
    let why = |uri: &str, pattern: &str, worker: &str| {
        let ex = t.explain(uri);
        let v = ex
            .verdicts
            .iter()
            .find(|v| v.rule.pattern == pattern && v.rule.worker == worker)
            .unwrap();
        v.outcome.clone()
    };
    // `/a/b*` (file) wins `/a/bc` over: the JkMount twin (source), `/a/*` (length).
    assert!(matches!(
        why("/a/bc", "/a/b*", "jk"),
        Outcome::Shadowed {
            because: Order::StrongerSource("uriworkermap", "JkMount"),
            ..
        }
    ));
    assert!(matches!(
        why("/a/bc", "/a/*", "file"),
        Outcome::Shadowed {
            because: Order::Longer(5, 4),
            ..
        }
    ));
    // Equal in `/`, length and source: the earlier one stays first.
    assert!(matches!(
        why("/a/bc", "/a/?*", "jk"),
        Outcome::Shadowed {
            because: Order::StrongerSource(..),
            ..
        }
    ));
    let mut tie = MountTable::new();
    tie.extend(Rule::parse("/x/a*", "one", jk(1)).unwrap());
    tie.extend(Rule::parse("/x/*b", "two", jk(2)).unwrap());
    let ex = tie.explain("/x/ab");
    assert_eq!(ex.result.unwrap().worker, "one");
    assert_eq!(
        ex.verdicts[1].outcome,
        Outcome::Shadowed {
            by: 0,
            because: Order::AddedFirst
        }
    );
}

#[test]
fn near_misses_are_explained() {
    let mut t = MountTable::new();
    for (p, w) in [
        ("/app/*", "app"),
        ("/exact", "ex"),
        ("/Shop/*", "shop"),
        ("/other/*", "o"),
    ] {
        t.extend(Rule::parse(p, w, jk(1)).unwrap());
    }
    let outcome = |uri: &str, pattern: &str| {
        let ex = t.explain(uri);
        ex.verdicts
            .iter()
            .find(|v| v.rule.pattern == pattern)
            .unwrap()
            .outcome
            .clone()
    };
    assert_eq!(
        outcome("/app", "/app/*"),
        Outcome::NearMiss(Near::WantsTrailingSlash {
            base: "/app".into()
        })
    );
    assert!(outcome("/app", "/app/*")
        .describe(t.rules())
        .contains("mount `/app|/*` for both"));
    assert_eq!(
        outcome("/exact/x", "/exact"),
        Outcome::NearMiss(Near::ExactOnly)
    );
    assert_eq!(
        outcome("/shop/cart", "/Shop/*"),
        Outcome::NearMiss(Near::CaseDiffers)
    );
    assert_eq!(
        outcome("/shop/cart", "/other/*"),
        Outcome::NoMatch,
        "a plain miss stays plain"
    );
    assert_eq!(outcome("/exactly", "/exact"), Outcome::NoMatch);
    assert!(
        t.map("/app").is_none() && t.map("/exact/x").is_none() && t.map("/shop/cart").is_none()
    );
}

#[test]
fn rule_syntax() {
    let r = Rule::parse("-!/x/*", "w;reply_timeout=10", jk(1)).unwrap();
    assert_eq!(r.len(), 1);
    assert!(r[0].disabled && r[0].exclusion && r[0].is_wildcard());
    assert_eq!((r[0].pattern.as_str(), r[0].worker.as_str()), ("/x/*", "w"));
    assert_eq!(r[0].text(), "-!/x/*=w");
    let r = Rule::parse("/app|/*", "w", jk(1)).unwrap();
    assert_eq!(
        r.iter().map(|r| r.pattern.as_str()).collect::<Vec<_>>(),
        ["/app", "/app/*"]
    );
    let r = Rule::parse("!/app|/*", "w", jk(1)).unwrap();
    assert!(r.iter().all(|r| r.exclusion));
    // Only the first `|` splits.
    let r = Rule::parse("/a|/b|c", "w", jk(1)).unwrap();
    assert_eq!(r[1].pattern, "/a/b|c");
    let e = Rule::parse("*.jsp", "w", jk(7)).unwrap_err();
    assert!(
        e.to_string().contains("httpd.conf:7") && e.to_string().contains("write `/*.jsp`"),
        "{e}"
    );
    assert!(Rule::parse("/x", "", jk(1)).is_err());
    // One `pattern=worker` text, split at the first `=`.
    let r = Rule::parse_mapping(" /a|/* = lb;stateless=1 ", jk(2)).unwrap();
    assert_eq!(
        r.iter().map(|r| r.pattern.as_str()).collect::<Vec<_>>(),
        ["/a", "/a/*"]
    );
    assert!(r[0].extensions.stateless);
    assert!(Rule::parse_mapping("/a lb", jk(2))
        .unwrap_err()
        .to_string()
        .contains("is not `pattern=worker`"));
    // `*` is "any worker" only in an exclusion; as a mount target it is a mistake.
    assert!(Rule::parse("!/x/*", "*", jk(1)).is_ok());
    let e = Rule::parse("/x/*", "*", jk(4)).unwrap_err().to_string();
    assert!(
        e.starts_with("httpd.conf:4: `/x/*` mounts worker `*`") && e.contains("`!/x/*`"),
        "{e}"
    );
    // A worker's mount property does not expand `|` (as in mod_jk), and says so.
    let r = Rule::parse(
        "/api|/*",
        "w",
        Source::WorkerMount(Location::new("workers.properties", 3)),
    )
    .unwrap();
    assert_eq!(r.len(), 1);
    assert!(r[0].warnings[0].contains("literal `|`"));
}

#[test]
fn extensions() {
    let ext = |w: &str| Rule::parse("/x", w, jk(1)).unwrap().remove(0);
    let r = ext("lb;reply_timeout=5000;sticky_ignore=1;stateless=1;use_server_errors=500;set_session_cookie=1");
    assert_eq!(r.worker, "lb");
    let e = &r.extensions;
    assert_eq!(e.reply_timeout, Some(5000));
    assert!(e.sticky_ignore && e.stateless && e.set_session_cookie);
    assert_eq!(e.use_server_errors, 500);
    assert!(r.warnings.is_empty());
    let r = ext("lb;active=n1, n2;disabled=n3;stopped=n4 n5;fail_on_status=503,-404 500");
    assert_eq!(r.extensions.active, ["n1", "n2"]);
    assert_eq!(r.extensions.disabled, ["n3"]);
    assert_eq!(r.extensions.stopped, ["n4", "n5"]);
    assert_eq!(r.extensions.fail_on_status, [503, -404, 500]);
    assert!(r.extensions.has_activation());
    let r = ext("lb;session_cookie=SID;session_path=;sid;session_cookie_path=/p");
    assert_eq!(r.extensions.session_cookie.as_deref(), Some("SID"));
    assert_eq!(r.extensions.session_path.as_deref(), Some("sid"));
    assert_eq!(r.extensions.session_cookie_path.as_deref(), Some("/p"));
    assert!(r.extensions.has_session());
    let r = ext("lb;session_path=jsid");
    assert_eq!(r.extensions.session_path.as_deref(), Some("jsid"));
    // atoi: junk reads as 0 with a warning; negative reply_timeout means unset.
    let r = ext("lb;sticky_ignore=yes;reply_timeout=-1");
    assert!(!r.extensions.sticky_ignore);
    assert_eq!(r.extensions.reply_timeout, None);
    assert!(
        r.warnings[0].contains("not a whole number"),
        "{:?}",
        r.warnings
    );
    // A repeated extension warns and the first value stays.
    let r = ext("lb;active=a;active=b");
    assert!(r.warnings[0].contains("given twice"), "{:?}", r.warnings);
    assert_eq!(r.extensions.active, ["a"]);
    // An unknown one rejects the rule (mod_jk only warns): where, what, and what was meant.
    let e = Rule::parse("/x", "lb;reply_timout=5", jk(9)).unwrap_err();
    assert_eq!(e.to_string(), "httpd.conf:9: `/x` → `lb;reply_timout=5`: unknown rule extension `reply_timout=5`; did you mean `reply_timeout`? (JkMount)");
    // Empty pieces are skipped.
    assert!(ext("lb;;stateless=1;").extensions.stateless);
}

#[test]
fn explain_says_why() {
    let t = table(FILE, &[]);
    let ex = t.explain("/app/static/x");
    assert!(ex.result.is_none());
    let find = |p: &str, excl: bool| {
        ex.verdicts
            .iter()
            .position(|v| v.rule.pattern == p && v.rule.exclusion == excl)
            .unwrap()
    };
    let winner = find("/app/*", false);
    let excl = find("/app/static/*", true);
    assert_eq!(ex.verdicts[winner].outcome, Outcome::Excluded { by: excl });
    assert_eq!(ex.verdicts[excl].outcome, Outcome::Cancels { winner });
    assert_eq!(
        ex.verdicts[find("/old/*", false)].outcome,
        Outcome::Disabled
    );
    assert_eq!(
        ex.verdicts[find("/jkstatus", false)].outcome,
        Outcome::NoMatch
    );
    assert!(ex.verdicts[winner]
        .outcome
        .describe(t.rules())
        .contains("cancelled by the exclusion `!/app/static/*=app`"));

    let ex = t.explain("/app/admin/x");
    assert_eq!(ex.result.unwrap().worker, "admin");
    let admin = ex
        .verdicts
        .iter()
        .position(|v| v.rule.worker == "admin")
        .unwrap();
    assert_eq!(ex.verdicts[admin].outcome, Outcome::Matched);
    let app = ex
        .verdicts
        .iter()
        .position(|v| v.rule.pattern == "/app/*" && !v.rule.exclusion)
        .unwrap();
    assert_eq!(
        ex.verdicts[app].outcome,
        Outcome::Shadowed {
            by: admin,
            because: Order::MoreSlashes(3, 2)
        }
    );
    assert!(ex.verdicts[app]
        .outcome
        .describe(t.rules())
        .ends_with("comes first: its pattern has more `/` (3 against 2)"));

    // Describing with another table's rules is vaguer, never a panic.
    assert!(ex.verdicts[app].outcome.describe(&[]).contains("rule #"));

    let ex = t.explain("/api/private/x");
    let p = ex
        .verdicts
        .iter()
        .position(|v| v.rule.pattern == "/api/private/*")
        .unwrap();
    assert_eq!(ex.verdicts[p].outcome, Outcome::OtherWorker);

    let mut t = t;
    t.reject_unsafe = true;
    assert!(t.map("/app/%41").is_none());
    assert!(t
        .explain("/app/%41")
        .refused
        .unwrap()
        .contains("RejectUnsafeURI"));
    assert!(t.map(&"/app/".repeat(1000)).is_none(), "over 4095 bytes");
    assert!(t.map("*").is_none());
}
