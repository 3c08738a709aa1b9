//! Encoded and double-encoded attacks, `JkOptions +RejectUnsafeURI`, and the rule kinds the
//! main precedence table does not exercise (disabled exclusions, `*` exclusions, worker
//! `mount` properties), from the raw request-target to the worker.

use lb_core::config::{Location, WorkerMount};
use lb_core::mount::{MountFile, MountTable, Rule, Source};
use lb_core::uri::{decode, normalise};

fn table(reject_unsafe: bool) -> MountTable {
    let file = MountFile::parse(
        "/app/*=app\n\
         /jkstatus=status\n\
         /static/*=app\n\
         -!/static/*=app\n\
         !/app/private/*=*\n\
         /shop/*=shop\n",
        "uriworkermap.properties".as_ref(),
    );
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let mut t = MountTable::new();
    t.extend(file.rules);
    t.add_mount_lines(&[]);
    let wm = |pattern: &str, worker: &str| WorkerMount {
        worker: worker.into(),
        pattern: pattern.into(),
        at: Location::new("workers.properties", 9),
    };
    let errors = t.add_worker_mounts(&[wm("/shop/*", "legacy"), wm("/legacy/*", "legacy")]);
    assert!(errors.is_empty(), "{errors:?}");
    t.extend(
        Rule::parse(
            "/shop/*",
            "jk",
            Source::JkMount(Location::new("httpd.conf", 3)),
        )
        .unwrap(),
    );
    t.reject_unsafe = reject_unsafe;
    t
}

/// The worker a raw request-target goes to, or the status the adapter answers with.
type Outcome<'a> = Result<Option<&'a str>, u16>;

fn map<'t>(t: &'t MountTable, raw: &str) -> Outcome<'t> {
    let decoded = decode(raw).map_err(|e| e.status())?;
    let n = normalise(&decoded).map_err(|e| e.status())?;
    Ok(t.map(&n).map(|m| m.worker))
}

#[test]
fn attacks_and_reject_unsafe() {
    let (plain, strict) = (table(false), table(true));
    // (raw request-target, without RejectUnsafeURI, with it)
    let cases: &[(&str, Outcome, Outcome)] = &[
        ("/app/x", Ok(Some("app")), Ok(Some("app"))),
        // Encoded dots are decoded first, then resolved.
        (
            "/app/%2e%2e;/jkstatus",
            Ok(Some("status")),
            Ok(Some("status")),
        ),
        (
            "/app/%2E%2E/jkstatus",
            Ok(Some("status")),
            Ok(Some("status")),
        ),
        ("/app/.%2e/.%2e/x", Err(400), Err(400)),
        ("/%2e%2e/", Err(400), Err(400)),
        // Double encoding survives decoding as `%2e`: the backend might decode it again.
        ("/app/%252e%252e/jkstatus", Ok(Some("app")), Ok(None)),
        ("/app/%25", Ok(Some("app")), Ok(None)),
        // A backslash is a separator to some backends.
        ("/app/..\\jkstatus", Ok(Some("app")), Ok(None)),
        ("/app/%5c..%5cjkstatus", Ok(Some("app")), Ok(None)),
        // Slashes and dots in every arrangement.
        ("//jkstatus", Ok(Some("status")), Ok(Some("status"))),
        ("/./jkstatus", Ok(Some("status")), Ok(Some("status"))),
        ("/jkstatus/.", Ok(None), Ok(None)),
        ("/jkstatus;a=b", Ok(Some("status")), Ok(Some("status"))),
        // httpd decodes `%3B` into r->uri, so it starts a path parameter like `;` (mod_jk too).
        ("/jkstatus%3bx", Ok(Some("status")), Ok(Some("status"))),
        ("/app/%2f../jkstatus", Err(404), Err(404)),
        ("/app/%00", Err(404), Err(404)),
        ("/app/%", Err(400), Err(400)),
        ("app/x", Err(400), Err(400)),
        // A disabled exclusion cancels nothing.
        ("/static/logo.png", Ok(Some("app")), Ok(Some("app"))),
        // `*` exclusions cancel any worker.
        ("/app/private/key", Ok(None), Ok(None)),
        ("/app/private/../public", Ok(Some("app")), Ok(Some("app"))),
        ("/app/private;x/key", Ok(None), Ok(None)),
        // Sources: uriworkermap > JkMount > a worker's `mount`, on equal slashes and length.
        ("/shop/cart", Ok(Some("shop")), Ok(Some("shop"))),
        ("/legacy/x", Ok(Some("legacy")), Ok(Some("legacy"))),
        ("/legacy", Ok(None), Ok(None)),
    ];
    for (raw, want_plain, want_strict) in cases {
        assert_eq!(
            map(&plain, raw),
            *want_plain,
            "{raw} without RejectUnsafeURI"
        );
        assert_eq!(
            map(&strict, raw),
            *want_strict,
            "{raw} with RejectUnsafeURI"
        );
    }
    let ex = strict.explain("/app/%2e");
    assert!(
        ex.refused.is_some_and(|r| r.contains("RejectUnsafeURI")),
        "{:?}",
        ex.refused
    );
}

#[test]
fn source_order_is_visible_in_the_sorted_rules() {
    let t = table(false);
    let shop: Vec<String> = t
        .rules()
        .iter()
        .filter(|r| r.pattern == "/shop/*")
        .map(|r| format!("{}:{}", r.worker, r.source.kind()))
        .collect();
    assert_eq!(
        shop,
        [
            "shop:uriworkermap",
            "jk:JkMount",
            "legacy:worker definition"
        ]
    );
}
