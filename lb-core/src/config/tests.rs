//! Unit tests of the workers.properties reader: syntax, defaults, clamping, deprecated names,
//! templates, and every error message with its file:line and suggestion.

use super::*;
use std::path::Path;

fn load(text: &str) -> Loaded {
    let mut l = Loader::new();
    l.workers_text(text, Path::new("w.properties"));
    l.finish()
}

fn load_ok(text: &str) -> (Workers, Vec<String>) {
    let r = load(text);
    let msgs: Vec<String> = r.diagnostics.iter().map(|d| d.to_string()).collect();
    match r.workers {
        Some(w) => (w, msgs),
        None => panic!("errors: {msgs:#?}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    let r = load(text);
    assert!(r.workers.is_none(), "expected errors");
    r.errors().map(|d| d.to_string()).collect()
}

fn ajp<'a>(w: &'a Workers, name: &str) -> &'a AjpWorker {
    w.ajp(name)
        .unwrap_or_else(|| panic!("no ajp worker {name}"))
}

fn lb<'a>(w: &'a Workers, name: &str) -> &'a LbWorker {
    match &w.get(name).expect("worker").kind {
        Kind::Lb(l) => l,
        k => panic!("{name} is {}", k.type_name()),
    }
}

#[test]
fn default_worker_is_ajp13_on_localhost() {
    let (w, _) = load_ok("");
    assert_eq!(w.list.value, vec!["ajp13"]);
    let a = ajp(&w, "ajp13");
    assert_eq!((a.host.value.as_str(), a.port.value), ("localhost", 8009));
    assert!(a.host.is_default());
    assert_eq!(w.maintain.value, 60);
}

#[test]
fn comments_trimming_and_first_equals() {
    let (w, _) = load_ok(
        "# a comment\n  worker.list = a # trailing comment\nworker.a.host= h=1 \nworker.a.port=8010\n",
    );
    let a = ajp(&w, "a");
    assert_eq!(a.host.value, "h=1");
    assert_eq!(a.port.value, 8010);
    assert_eq!(
        a.port.origin,
        Origin::Line(Location::new("w.properties", 4))
    );
}

#[test]
fn empty_values_and_lines_without_equals_are_reported_and_ignored() {
    let (w, msgs) = load_ok("worker.list=a\nworker.a.host=\nnonsense line\n");
    assert_eq!(ajp(&w, "a").host.value, "localhost");
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:2: warning:") && m.contains("empty value")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:3: warning:") && m.contains("no `=`")),
        "{msgs:?}"
    );
}

#[test]
fn variables_from_earlier_properties_then_environment() {
    std::env::set_var("RJK_TEST_PORT", "8123");
    let (w, _) = load_ok(
        "base=10.0.0\nworker.list=a,b\nworker.a.host=$(base).1\nworker.a.port=$(RJK_TEST_PORT)\nworker.b.host=$(nope)x\n",
    );
    assert_eq!(ajp(&w, "a").host.value, "10.0.0.1");
    assert_eq!(ajp(&w, "a").port.value, 8123);
    assert_eq!(ajp(&w, "b").host.value, "$(nope)x");
}

#[test]
fn substitution_that_grows_exponentially_is_refused_at_its_line() {
    let mut text = String::from("v0=abc\n");
    for i in 1..8 {
        text.push_str(&format!("v{i}={}\n", format!("$(v{})", i - 1).repeat(20)));
    }
    text.push_str("worker.list=a\nworker.a.host=$(v1)\n");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("w.properties:5") && e[0].contains("64 KiB"),
        "{e:?}"
    );
}

/// A bad value substitution made large (up to 64 KiB) is not quoted whole: the message keeps
/// its start and the end that says what is wrong.
#[test]
fn a_huge_substituted_value_is_quoted_shortened() {
    let a = "7".repeat(8000);
    let text =
        format!("a={a}\nb=$(a)$(a)\nc=$(b)$(b)\nd=$(c)$(c)\nworker.list=n1\nworker.n1.port=$(d)\n");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    let m = &e[0];
    assert!(m.len() < 1200, "{} bytes: {}", m.len(), &m[..200]);
    assert!(
        m.starts_with("w.properties:6: error: worker `n1`: port: `7777"),
        "{m}"
    );
    assert!(m.contains(" bytes left out) … "), "{m}");
    assert!(
        m.ends_with("` is not a whole number (suffixes k and m are allowed)"),
        "{m}"
    );
    // A short one is untouched.
    let e = errors("worker.list=n1\nworker.n1.port=x\n");
    assert!(
        e[0].ends_with("port: `x` is not a whole number (suffixes k and m are allowed)"),
        "{e:?}"
    );
}

#[test]
fn duplicates_lists_concatenate_unique_overwrite_with_warning() {
    let (w, msgs) = load_ok(
        "worker.list=lb\nworker.list=n2\nworker.lb.type=lb\nworker.lb.balance_workers=n1\nworker.lb.balance_workers=n2\n\
         worker.n1.port=1\nworker.n2.port=2\nworker.n2.port=3\n",
    );
    assert_eq!(w.list.value, vec!["lb", "n2"]);
    assert_eq!(lb(&w, "lb").balance_workers.value, vec!["n1", "n2"]);
    assert_eq!(ajp(&w, "n2").port.value, 3);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:8: warning:") && m.contains("replaces `2`")),
        "{msgs:?}"
    );
}

#[test]
fn repeated_current_list_names_join_silently_as_in_mod_jk() {
    let (_, msgs) = load_ok(
        "worker.list=lb\nworker.list=n2\nworker.lb.type=lb\nworker.lb.balance_workers=n1\n\
         worker.lb.balance_workers=n2\nworker.n1.fail_on_status=500\nworker.n1.fail_on_status=503\n\
         worker.n2.port=8010\n",
    );
    assert!(msgs.is_empty(), "mod_jk joins these with `,` too: {msgs:?}");
}

#[test]
fn repeated_deprecated_list_reads_both_and_says_mod_jk_makes_one_bogus_member() {
    let (w, msgs) = load_ok(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balanced_workers=a1\n\
         worker.lb.balanced_workers=a2\nworker.a1.port=1\nworker.a2.port=2\n",
    );
    assert_eq!(lb(&w, "lb").balance_workers.value, vec!["a1", "a2"]);
    let note = msgs
        .iter()
        .find(|m| m.starts_with("w.properties:4: warning:") && m.contains("set again"))
        .unwrap_or_else(|| panic!("{msgs:#?}"));
    assert!(note.contains("first at w.properties:3"), "{note}");
    assert!(note.contains("rjk reads both as `a1,a2`"), "{note}");
    assert!(note.contains("one member `a1*a2`"), "{note}");
}

#[test]
fn deprecated_and_current_list_names_both_read_and_the_difference_is_said() {
    for (text, line) in [
        (
            "worker.lb.balance_workers=a1\nworker.lb.balanced_workers=a2\n",
            4,
        ),
        (
            "worker.lb.balanced_workers=a1\nworker.lb.balance_workers=a2\n",
            4,
        ),
    ] {
        let (w, msgs) = load_ok(&format!(
            "worker.list=lb\nworker.lb.type=lb\n{text}worker.a1.port=1\nworker.a2.port=2\n"
        ));
        assert_eq!(lb(&w, "lb").balance_workers.value, vec!["a1", "a2"]);
        assert!(
            msgs.iter()
                .any(|m| m.starts_with(&format!("w.properties:{line}: warning:"))
                    && m.contains(
                        "mod_jk reads only `balance_workers` and ignores `balanced_workers`"
                    )),
            "{msgs:#?}"
        );
    }
}

#[test]
fn distance_given_twice_keeps_the_first_like_mod_jk() {
    let (w, msgs) = load_ok("worker.list=a\nworker.a.distance=1\nworker.a.distance=2\n");
    assert_eq!(ajp(&w, "a").distance.value, 1);
    assert!(msgs.iter().any(|m| m.contains("keeping `1`")));
}

#[test]
fn integer_suffixes_and_booleans() {
    let (w, _) = load_ok(
        "worker.list=a,l\nworker.a.max_packet_size=16k\nworker.a.socket_keepalive=yes\nworker.l.type=lb\n\
         worker.l.balance_workers=a\nworker.l.sticky_session=off\nworker.l.sticky_session_force=True\n",
    );
    assert_eq!(ajp(&w, "a").max_packet_size.value, 16384);
    assert!(ajp(&w, "a").socket_keepalive.value);
    assert!(!lb(&w, "l").sticky_session.value);
    assert!(lb(&w, "l").sticky_session_force.value);
}

#[test]
fn ajp_defaults_match_mod_jk() {
    let (w, _) = load_ok("worker.list=a\nworker.a.host=h\n");
    let a = ajp(&w, "a");
    let rows: Vec<(&str, String)> = a.rows().into_iter().map(|r| (r.name, r.value)).collect();
    let get = |n: &str| rows.iter().find(|r| r.0 == n).map(|r| r.1.clone()).unwrap();
    for (name, want) in [
        ("port", "8009"),
        ("socket_timeout", "0"),
        ("socket_connect_timeout", "0"),
        ("socket_keepalive", "false"),
        ("socket_buffer", "0"),
        ("ping_mode", ""),
        ("ping_timeout", "10000"),
        ("connect_timeout", "0"),
        ("prepost_timeout", "0"),
        ("connection_ping_interval", "0"),
        ("connection_pool_timeout", "0"),
        ("connection_acquire_timeout", "200"),
        ("reply_timeout", "0"),
        ("retries", "2"),
        ("retry_interval", "100"),
        ("recovery_options", "0"),
        ("busy_limit", "0"),
        ("max_packet_size", "8192"),
        ("lbfactor", "1"),
        ("route", "a"),
        ("domain", ""),
        ("redirect", ""),
        ("distance", "0"),
        ("activation", "ACT"),
        ("connection_pool_size", "threads per process"),
    ] {
        assert_eq!(get(name), want, "{name}");
    }
}

#[test]
fn derived_defaults() {
    let (w, _) = load_ok(
        "worker.list=a,b\nworker.a.ping_mode=A\nworker.a.ping_timeout=5000\nworker.a.socket_timeout=3\n\
         worker.a.retries=4\nworker.a.retry_interval=50\nworker.a.connection_pool_size=9\nworker.a.route=dom1.node1\n\
         worker.b.ping_mode=P\n",
    );
    let a = ajp(&w, "a");
    assert_eq!(a.connect_timeout.value, 5000);
    assert_eq!(a.prepost_timeout.value, 5000);
    assert_eq!(a.connection_ping_interval.value, 50);
    assert_eq!(a.socket_connect_timeout.value, 3000);
    assert_eq!(a.connection_acquire_timeout.value, 200);
    assert_eq!(a.connection_pool_minsize.value, Some(5));
    assert_eq!(a.domain.value, "dom1");
    assert!(matches!(a.domain.origin, Origin::Derived(_)));
    let b = ajp(&w, "b");
    assert_eq!(
        (
            b.connect_timeout.value,
            b.prepost_timeout.value,
            b.connection_ping_interval.value
        ),
        (0, 10000, 0)
    );
}

#[test]
fn clamping_is_reported() {
    let (w, msgs) = load_ok(
        "worker.list=a,b,l\nworker.a.max_packet_size=10000\nworker.b.max_packet_size=100000\nworker.a.retries=0\n\
         worker.a.lbfactor=0\nworker.l.type=lb\nworker.l.balance_workers=a,b\nworker.l.recover_time=0\nworker.b.socket_buffer=100\n",
    );
    assert_eq!(ajp(&w, "a").max_packet_size.value, 10240);
    assert_eq!(ajp(&w, "b").max_packet_size.value, 65536);
    assert_eq!(ajp(&w, "b").socket_buffer.value, 65536);
    assert_eq!(ajp(&w, "a").retries.value, 1);
    assert_eq!(ajp(&w, "a").lbfactor.value, 1);
    assert_eq!(lb(&w, "l").recover_time.value, 1);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:2: warning:") && m.contains("adjusted to 10240")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:4: warning:") && m.contains("retries=0")),
        "{msgs:?}"
    );
}

#[test]
fn lb_defaults_match_mod_jk() {
    let (w, _) =
        load_ok("worker.list=l\nworker.l.type=lb\nworker.l.balance_workers=a\nworker.a.port=1\n");
    let l = lb(&w, "l");
    assert!(l.sticky_session.value && !l.sticky_session_force.value);
    assert_eq!(l.method.value, Method::Request);
    assert_eq!(l.lock.value, Lock::Optimistic);
    assert_eq!(
        (l.retries.value, l.lb_retries.value, l.retry_interval.value),
        (2, 2, 100)
    );
    assert_eq!(
        (
            l.recover_time.value,
            l.error_escalation_time.value,
            l.max_reply_timeouts.value
        ),
        (60, 30, 0)
    );
    assert_eq!(
        (
            l.session_cookie.value.as_str(),
            l.session_path.value.as_str()
        ),
        ("JSESSIONID", ";jsessionid")
    );
    assert_eq!(l.session_cookie_path.value, "/");
    assert!(!l.set_session_cookie.value);
    // members need not be listed
    assert!(!w.get("a").unwrap().listed);
}

#[test]
fn error_escalation_follows_recover_time() {
    let (w, _) = load_ok("worker.list=l\nworker.l.type=lb\nworker.l.balance_workers=a\nworker.a.port=1\nworker.l.recover_time=90\n");
    assert_eq!(lb(&w, "l").error_escalation_time.value, 45);
}

#[test]
fn unknown_attribute_names_line_worker_and_suggestion() {
    let e = errors("worker.list=a\nworker.a.port=8009\nworker.a.lbfactr=2\n");
    assert_eq!(e, vec!["w.properties:3: error: worker `a`: unknown attribute `lbfactr` (did you mean `lbfactor`?)"]);
}

#[test]
fn all_errors_are_reported_together() {
    let e = errors("worker.list=a\nworker.a.prot=1\nworker.a.hots=x\nworker.a.port=abc\n");
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].contains("`prot` (did you mean `port`?)"));
    assert!(e[1].contains("`hots` (did you mean `host`?)"));
    assert!(
        e[2].starts_with("w.properties:4: error: worker `a`: port: `abc` is not a whole number")
    );
}

#[test]
fn bad_values_name_what_is_expected() {
    let e = errors(
        "worker.list=l\nworker.l.type=lb\nworker.l.balance_workers=a\nworker.a.port=1\nworker.l.method=Fastest\n\
         worker.l.sticky_session=perhaps\nworker.a.activation=X\nworker.a.fail_on_status=500,abc\nworker.a.ping_mode=Z\nworker.a.port=70000\n",
    );
    let all = e.join("\n");
    for want in [
        "method",
        "is not a boolean",
        "is not an activation",
        "`abc` is not an HTTP status",
        "`Z` in ping_mode",
        "port 70000 is not a TCP port",
    ] {
        assert!(all.contains(want), "missing {want}: {all}");
    }
}

#[test]
fn global_names_under_a_worker_are_explained() {
    let e = errors("worker.a.list=x\n");
    assert_eq!(e, vec!["w.properties:1: error: worker `a`: `list` is a global property: write `worker.list`, not `worker.a.list`"]);
}

#[test]
fn deprecated_names_map_with_warnings() {
    let (w, msgs) = load_ok(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balanced_workers=n1,n2\nworker.n1.cachesize=10\nworker.n1.cache_timeout=30\n\
         worker.n1.jvm_route=r1\nworker.n1.lb_factor=3\nworker.n2.disabled=true\nworker.n2.recycle_timeout=15\nworker.n2.port=8010\n",
    );
    let n1 = ajp(&w, "n1");
    assert_eq!(n1.connection_pool_size.value, Some(10));
    assert_eq!(n1.connection_pool_timeout.value, 30);
    assert_eq!(n1.route.value, "r1");
    assert_eq!(n1.lbfactor.value, 3);
    assert!(matches!(
        n1.lbfactor.origin,
        Origin::Deprecated {
            name: "lb_factor",
            ..
        }
    ));
    let n2 = ajp(&w, "n2");
    assert_eq!(n2.activation.value, Activation::Disabled);
    assert_eq!(n2.connection_pool_timeout.value, 15);
    assert_eq!(lb(&w, "lb").balance_workers.value, vec!["n1", "n2"]);
    for (line, word) in [
        (3, "balanced_workers"),
        (4, "cachesize"),
        (5, "cache_timeout"),
        (6, "jvm_route"),
        (7, "lb_factor"),
        (8, "disabled"),
        (9, "recycle_timeout"),
    ] {
        let prefix = format!("w.properties:{line}: warning:");
        assert!(
            msgs.iter()
                .any(|m| m.starts_with(&prefix) && m.contains(word)),
            "{word}: {msgs:#?}"
        );
    }
}

#[test]
fn current_name_wins_over_deprecated() {
    let (w, msgs) =
        load_ok("worker.list=a\nworker.a.connection_pool_size=5\nworker.a.cachesize=10\n");
    assert_eq!(ajp(&w, "a").connection_pool_size.value, Some(5));
    assert!(
        msgs.iter().any(|m| m.contains("the current name wins")),
        "{msgs:?}"
    );
}

#[test]
fn stopped_flag_and_activation() {
    let (w, _) = load_ok(
        "worker.list=a,b\nworker.a.stopped=1\nworker.b.activation=s\nworker.b.disabled=true\n",
    );
    assert_eq!(ajp(&w, "a").activation.value, Activation::Stopped);
    assert_eq!(ajp(&w, "b").activation.value, Activation::Stopped);
}

#[test]
fn local_worker_settings_are_honoured() {
    let (w, msgs) = load_ok(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=a,b,c\nworker.lb.local_worker_only=1\n\
         worker.a.local_worker=1\nworker.b.local_worker=0\nworker.c.port=8010\nworker.c.distance=5\n",
    );
    assert_eq!(
        (ajp(&w, "a").distance.value, ajp(&w, "a").activation.value),
        (0, Activation::Active)
    );
    assert_eq!(
        (ajp(&w, "b").distance.value, ajp(&w, "b").activation.value),
        (1, Activation::Disabled)
    );
    assert_eq!(
        (ajp(&w, "c").distance.value, ajp(&w, "c").activation.value),
        (5, Activation::Disabled)
    );
    assert!(
        msgs.iter().any(|m| m.contains(
            "honoured as: b: distance=1, b: activation=Disabled, c: activation=Disabled"
        )),
        "{msgs:#?}"
    );
}

#[test]
fn templates_multi_hop() {
    let (w, _) = load_ok(
        "worker.list=lb\nworker.base.port=8100\nworker.base.socket_keepalive=true\nworker.mid.reference=worker.base\n\
         worker.mid.port=8200\nworker.mid.ping_mode=A\nworker.n1.reference=worker.mid\nworker.n1.host=h1\n\
         worker.lb.type=lb\nworker.lb.balance_workers=n1\n",
    );
    let n1 = ajp(&w, "n1");
    assert_eq!(n1.host.value, "h1");
    assert_eq!(n1.port.value, 8200);
    assert!(n1.socket_keepalive.value);
    assert_eq!(
        n1.port.origin,
        Origin::Template {
            from: "mid".into(),
            at: Location::new("w.properties", 5)
        }
    );
    assert_eq!(
        n1.socket_keepalive.origin,
        Origin::Template {
            from: "base".into(),
            at: Location::new("w.properties", 3)
        }
    );
}

#[test]
fn template_errors() {
    let e = errors("worker.list=a\nworker.a.reference=worker.tmpl\nworker.templ.port=1\n");
    assert_eq!(e, vec!["w.properties:2: error: worker `a`: reference target `worker.tmpl` has no properties (did you mean `templ`?)"]);
    let e = errors("worker.list=a\nworker.a.reference=worker.b\nworker.b.reference=worker.a\n");
    assert!(e[0].contains("references form a loop: a → b → a"), "{e:?}");
    let e = errors("worker.list=a\nworker.a.reference=b\n");
    assert!(
        e[0].contains("must name a worker as `worker.<name>`"),
        "{e:?}"
    );
}

#[test]
fn lb_member_errors() {
    let e = errors("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=node1,nod2\nworker.node1.port=1\nworker.node2.port=2\n");
    assert_eq!(e, vec!["w.properties:3: error: worker `lb`: member `nod2` is not defined (no worker.nod2.* properties) (did you mean `node2`?)"]);
    let e = errors(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=s\nworker.s.type=status\n",
    );
    assert!(
        e[0].contains("member `s` is a worker of type status"),
        "{e:?}"
    );
    let e = errors("worker.list=lb\nworker.lb.type=lb\n");
    assert!(e[0].contains("needs members"), "{e:?}");
}

#[test]
fn duplicate_routes_and_bad_redirects() {
    let e = errors(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=a,b\nworker.a.route=r1\nworker.b.route=r1\n",
    );
    assert!(
        e[0].starts_with(
            "w.properties:5: error: worker `lb`: members `a` and `b` have the same route `r1`"
        ),
        "{e:?}"
    );
    let e = errors(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=a,b\nworker.a.route=node1\nworker.b.route=node2\nworker.a.redirect=nod2\n",
    );
    assert_eq!(e, vec!["w.properties:6: error: worker `a`: redirect `nod2` is not the route of a member of lb `lb` (did you mean `node2`?)"]);
}

#[test]
fn names_over_mod_jk_limits() {
    let long = "n".repeat(61);
    let e = errors(&format!("worker.list={long}\nworker.{long}.type=ajp13\n"));
    assert!(e[0].contains("mod_jk's limit is 60"), "{e:?}");
    let e = errors(&format!(
        "worker.list=a\nworker.a.route={}\n",
        "r".repeat(64)
    ));
    assert!(e[0].contains("mod_jk's limit is 63"), "{e:?}");
}

#[test]
fn unsupported_and_unknown_types() {
    let e = errors("worker.list=a\nworker.a.type=ajp14\n");
    assert!(
        e[0].contains("worker type `ajp14` is not supported"),
        "{e:?}"
    );
    let e = errors("worker.list=a\nworker.a.type=ajp31\n");
    assert!(
        e[0].contains("unknown worker type `ajp31` (did you mean `ajp13`?)"),
        "{e:?}"
    );
}

#[test]
fn secret_is_inherited_from_the_lb() {
    let (w, _) = load_ok(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=a,b\nworker.lb.secret=s3\nworker.a.port=1\nworker.b.secret=own\n",
    );
    assert_eq!(ajp(&w, "a").secret.value.as_deref(), Some("s3"));
    assert_eq!(
        ajp(&w, "a").secret.origin,
        Origin::Inherited { from: "lb".into() }
    );
    assert_eq!(ajp(&w, "b").secret.value.as_deref(), Some("own"));
    assert!(
        ajp(&w, "a").rows().iter().all(|r| !r.value.contains("s3")),
        "secrets are never displayed"
    );
}

#[test]
fn directive_lines_come_first_and_the_file_overrides() {
    let mut l = Loader::new();
    l.directive_property("worker.list=a", Location::new("httpd.conf", 7));
    l.directive_property("worker.a.port=8011", Location::new("httpd.conf", 8));
    l.workers_text(
        "worker.a.port=8012\nworker.a.host=$(ServerRoot)x\n",
        Path::new("w.properties"),
    );
    l.server_root(Path::new("/srv"));
    let r = l.finish();
    let w = r.workers.unwrap();
    assert_eq!(ajp(&w, "a").port.value, 8012);
    assert!(r
        .diagnostics
        .iter()
        .any(|d| d.to_string().starts_with("w.properties:1: warning:")
            && d.to_string().contains("from httpd.conf:8")));
}

#[test]
fn unused_and_inapplicable_settings_are_warned() {
    let (_, msgs) =
        load_ok("worker.list=a\nworker.a.sticky_session=1\nworker.b.port=1\nworker.a.mx=512\n");
    assert!(
        msgs.iter().any(|m| m.starts_with("w.properties:2:")
            && m.contains("`sticky_session` has no effect on a worker of type ajp13")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:3:")
                && m.contains("worker `b`: defined but unused")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:4:") && m.contains("`mx` has no effect")),
        "{msgs:#?}"
    );
}

#[test]
fn mount_property_lists_patterns() {
    let (w, _) = load_ok("worker.list=a\nworker.a.mount=/app/* /api|/*\n");
    let m: Vec<&str> = w.mounts().map(|m| m.pattern.as_str()).collect();
    assert_eq!(m, vec!["/app/*", "/api|/*"]);
}

#[test]
fn status_worker_defaults() {
    let (w, _) = load_ok("worker.list=jk\nworker.jk.type=status\nworker.jk.user=admin,ops\n");
    let Kind::Status(s) = &w.get("jk").unwrap().kind else {
        panic!()
    };
    assert_eq!(s.user.value, vec!["admin", "ops"]);
    assert_eq!(s.good.value, vec!["a.o", "a.n", "a.b", "a.r"]);
    assert_eq!(s.prefix.value, "worker");
    assert!(!s.read_only.value);
}

#[test]
fn the_example_file_parses_cleanly() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../workers.properties.example");
    let mut l = Loader::new();
    l.workers_file(Path::new(path));
    let r = l.finish();
    let msgs: Vec<String> = r.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(msgs.is_empty(), "{msgs:#?}");
    assert!(r.workers.is_some());
}

/// Found by the generated corpus against Debian's mod_jk: a template's current name beats the
/// worker's own deprecated one, because mod_jk copies keys by their exact name.
#[test]
fn template_current_name_beats_own_deprecated_name() {
    let (w, msgs) = load_ok(
        "worker.list=a\nworker.t.connection_pool_timeout=198\nworker.a.reference=worker.t\nworker.a.cache_timeout=83\n",
    );
    assert_eq!(ajp(&w, "a").connection_pool_timeout.value, 198);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:4: warning:")
                && m.contains("`cache_timeout` ignored: template `t`")),
        "{msgs:#?}"
    );
    let (w, _) = load_ok(
        "worker.list=a\nworker.t.cache_timeout=198\nworker.a.reference=worker.t\nworker.a.connection_pool_timeout=83\n",
    );
    assert_eq!(ajp(&w, "a").connection_pool_timeout.value, 83);
}

#[test]
fn recovery_options_bits_mod_jk_does_not_know_or_ignores_are_said() {
    let (w, msgs) =
        load_ok("worker.list=a,b\nworker.a.recovery_options=96\nworker.b.recovery_options=25\n");
    assert_eq!(ajp(&w, "a").recovery_options.value, 96);
    assert!(
        msgs.iter().any(
            |m| m.starts_with("w.properties:2: warning:") && m.contains("bits 96 mean nothing")
        ),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("w.properties:3: warning:") && m.contains("16 is ignored")),
        "{msgs:#?}"
    );
}
