//! Golden tests: for the state Debian's mod_jk reported (captured in `golden/` from a real
//! mod_jk 1.2.48 status worker for the config below), our renderers print the same bytes, with
//! only the connector's version differing.
//!
//! ```text
//! worker.list=lb,st
//! worker.lb.type=lb / balance_workers=n1,n2 / method=S
//! worker.n1.port=8101 / route=d1.n1
//! worker.n2.port=8102 / activation=d / lbfactor=3
//! worker.st.type=status
//! ```

use super::*;
use crate::config::Activation;

fn field(text: &str, key: &str) -> i64 {
    let at = text.find(key).unwrap_or_else(|| panic!("{key} missing")) + key.len();
    text[at..]
        .trim_start_matches('"')
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

#[allow(clippy::too_many_arguments)] // one row of the golden state, as mod_jk printed it
fn member(
    name: &str,
    port: u16,
    route: &str,
    domain: &str,
    activation: Activation,
    lbfactor: i64,
    lbmult: u64,
    reset: i64,
) -> Member {
    Member {
        name: name.into(),
        host: "localhost".into(),
        port,
        address: format!("127.0.0.1:{port}"),
        ping_timeout: 10000,
        retries: 2,
        max_packet_size: 8192,
        lb: Some(LbMember {
            activation,
            lbfactor,
            route: route.into(),
            redirect: String::new(),
            domain: domain.into(),
            distance: 0,
            state: State::Idle,
            lbmult,
            lbvalue: 0,
            sessions: 0,
            time_to_recover: (0, 0),
        }),
        last_reset_at: reset,
        ..Member::default()
    }
}

fn snapshot(golden: &str) -> Snapshot {
    let now = field(golden, "unix=");
    let reset = field(golden, "last_reset_at=");
    let tm = (
        field(golden, "time_to_maintenance_min="),
        field(golden, "time_to_maintenance_max="),
    );
    Snapshot {
        server_name: "127.0.0.1".into(),
        server_port: 18999,
        now,
        web_server: "Apache/2.4.71 (Debian) mod_jk/1.2.48".into(),
        balancers: vec![LbStatus {
            name: "lb".into(),
            sticky_session: true,
            sticky_session_force: false,
            retries: 2,
            retry_interval: 100,
            recover_time: 60,
            error_escalation_time: 30,
            max_reply_timeouts: 0,
            method: "Sessions",
            lock: "Optimistic",
            time_to_maintenance: tm,
            last_reset_at: reset,
            members: vec![
                member("n1", 8101, "d1.n1", "d1", Activation::Active, 1, 3, reset),
                member("n2", 8102, "n2", "", Activation::Disabled, 3, 1, reset),
            ],
            ..LbStatus::default()
        }],
        ajp_workers: vec![],
        maps: vec![],
    }
}

/// The golden state with one map, for tests elsewhere in the status module.
pub(crate) fn sample() -> Snapshot {
    let mut snap = snapshot(include_str!("golden/mod_jk.txt"));
    snap.maps.push(MapEntry {
        worker: "lb".into(),
        uri: "/app/*".into(),
        ..MapEntry::default()
    });
    snap.ajp_workers.push(member(
        "solo",
        8103,
        "solo",
        "",
        Activation::Active,
        1,
        0,
        0,
    ));
    snap
}

fn view() -> (Vec<String>, Vec<String>) {
    (
        vec!["a.o".into(), "a.n".into(), "a.b".into(), "a.r".into()],
        vec!["s".into(), "e".into()],
    )
}

/// The keys rjk prints and mod_jk does not (the README lists them), in every format: a prop
/// line, a txt field, an XML attribute line.
const RJK_ADDITIONS: &[&str] = &["retry_interval"];

fn without_rjk_additions(ours: &str) -> String {
    let mut out = String::new();
    for line in ours.lines() {
        let key = |l: &str| l.trim_start().split('=').next().unwrap_or("").to_owned();
        let k = key(line);
        if RJK_ADDITIONS
            .iter()
            .any(|a| k == *a || k.ends_with(&format!(".{a}")))
        {
            continue;
        }
        let kept: Vec<&str> = line
            .split(' ')
            .filter(|w| {
                !RJK_ADDITIONS
                    .iter()
                    .any(|a| w.starts_with(&format!("{a}=")))
            })
            .collect();
        out.push_str(&kept.join(" "));
        out.push('\n');
    }
    out
}

#[test]
fn lb_retry_interval_is_shown_in_every_format() {
    let golden = include_str!("golden/mod_jk.txt");
    let snap = snapshot(golden);
    let (good, bad) = view();
    let v = View {
        prefix: "worker",
        good: &good,
        bad: &bad,
    };
    let t = txt(&snap, &v);
    assert!(
        t.contains(" retries=2 retry_interval=100 recover_time=60 "),
        "{t}"
    );
    let p = prop(&snap, &v);
    assert!(p.contains("\nworker.lb.retry_interval=100\n"), "{p}");
    let x = xml(
        &snap,
        &v,
        Xml {
            ns: "jk:",
            xmlns: "-",
        },
    );
    assert!(x.contains("\n    retry_interval=\"100\"\n"), "{x}");
    let j = json(&snap, &v);
    assert!(j.contains("\"retry_interval\":100,"), "{j}");
}

/// Our output with mod_jk's version string, and the golden with its local time fields (the
/// capture's time zone is not the test machine's) re-rendered in ours.
fn compare(ours: String, golden: &str, now: i64) {
    let ours = without_rjk_additions(&ours.replace(VERSION, "mod_jk/1.2.48"));
    let (dt, tz) = super::time::datetime(now);
    let golden: String = golden
        .lines()
        .map(|l| {
            let mut l = l.to_owned();
            for (k, v) in [("datetime=", &dt), ("tz=", &tz)] {
                if let Some(at) = l.find(k) {
                    let end = l[at..].find(' ').map_or(l.len(), |e| at + e);
                    l.replace_range(at + k.len()..end, v);
                }
            }
            l + "\n"
        })
        .collect();
    for (i, (a, b)) in ours.lines().zip(golden.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(ours.lines().count(), golden.lines().count());
}

#[test]
fn txt_matches_mod_jk() {
    let golden = include_str!("golden/mod_jk.txt");
    let snap = snapshot(golden);
    let (good, bad) = view();
    compare(
        txt(
            &snap,
            &View {
                prefix: "worker",
                good: &good,
                bad: &bad,
            },
        ),
        golden,
        snap.now,
    );
}

#[test]
fn prop_matches_mod_jk() {
    let golden = include_str!("golden/mod_jk.prop");
    let snap = snapshot(golden);
    let (good, bad) = view();
    compare(
        prop(
            &snap,
            &View {
                prefix: "worker",
                good: &good,
                bad: &bad,
            },
        ),
        golden,
        snap.now,
    );
}

#[test]
fn ratings_follow_good_and_bad_rules() {
    let (good, bad) = view();
    let mut m = member("x", 1, "x", "", Activation::Active, 1, 1, 0);
    assert_eq!(rate(&m, &good, &bad), Rating::Good);
    m.lb.as_mut().unwrap().state = State::Error;
    assert_eq!(rate(&m, &good, &bad), Rating::Bad);
    m.lb.as_mut().unwrap().state = State::Probe;
    assert_eq!(
        rate(&m, &good, &bad),
        Rating::Good,
        "probe counts as recovering"
    );
    m.lb.as_mut().unwrap().activation = Activation::Disabled;
    assert_eq!(rate(&m, &good, &bad), Rating::Degraded);
    m.lb.as_mut().unwrap().activation = Activation::Stopped;
    assert_eq!(rate(&m, &good, &bad), Rating::Bad);
}

#[test]
fn xml_matches_mod_jk() {
    let golden = include_str!("golden/mod_jk.xml");
    let snap = snapshot(golden);
    let (good, bad) = view();
    let ours = xml(
        &snap,
        &View {
            prefix: "worker",
            good: &good,
            bad: &bad,
        },
        Xml {
            ns: "jk:",
            xmlns: "xmlns:jk=\"http://tomcat.apache.org\"",
        },
    );
    compare_xml(ours, golden, snap.now);
}

/// As `compare`, for the XML's `datetime="..."` attribute lines.
fn compare_xml(ours: String, golden: &str, now: i64) {
    let (dt, tz) = super::time::datetime(now);
    let golden = golden
        .lines()
        .map(|l| match l.trim_start() {
            x if x.starts_with("datetime=") => format!("  datetime=\"{dt}\""),
            x if x.starts_with("tz=") => format!("  tz=\"{tz}\""),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let ours = without_rjk_additions(&ours.replace(VERSION, "mod_jk/1.2.48"));
    for (i, (a, b)) in ours.lines().zip(golden.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(ours.lines().count(), golden.lines().count());
}

#[test]
fn json_is_typed_and_escaped() {
    let golden = include_str!("golden/mod_jk.txt");
    let mut snap = snapshot(golden);
    snap.balancers[0].members[0].lb.as_mut().unwrap().route = "we\"ird\\".into();
    let (good, bad) = view();
    let j = json(
        &snap,
        &View {
            prefix: "worker",
            good: &good,
            bad: &bad,
        },
    );
    assert!(
        j.contains("\"sticky_session\":true,\"sticky_session_force\":false"),
        "{j}"
    );
    assert!(j.contains("\"port\":8101"), "{j}");
    assert!(j.contains("\"route\":\"we\\\"ird\\\\\""), "{j}");
    assert!(j.contains("\"good\":1,\"degraded\":1,\"bad\":0"), "{j}");
}

#[test]
fn prometheus_has_families_labels_and_eof() {
    let golden = include_str!("golden/mod_jk.txt");
    let mut snap = snapshot(golden);
    snap.balancers[0].members[0].used = 42;
    let (good, bad) = view();
    let p = prometheus(
        &snap,
        &View {
            prefix: "worker",
            good: &good,
            bad: &bad,
        },
    );
    assert!(p.contains("# TYPE rjk_member_requests counter\n"), "{p}");
    assert!(
        p.contains("rjk_member_requests_total{balancer=\"lb\",member=\"n1\"} 42\n"),
        "{p}"
    );
    assert!(
        p.contains("rjk_member_state{balancer=\"lb\",member=\"n2\",state=\"OK/IDLE\"} 1\n"),
        "{p}"
    );
    assert!(
        p.contains("rjk_member_activation{balancer=\"lb\",member=\"n2\",activation=\"DIS\"} 1\n"),
        "{p}"
    );
    assert!(
        p.contains("rjk_balancer_members{balancer=\"lb\",rating=\"degraded\"} 1\n"),
        "{p}"
    );
    assert!(p.ends_with("# EOF\n"));
}

#[test]
fn html_escapes_and_offers_post_actions_with_the_nonce() {
    let golden = include_str!("golden/mod_jk.txt");
    let mut snap = snapshot(golden);
    snap.balancers[0].members[0].name = "<script>x</script>".into();
    let (good, bad) = view();
    let v = View {
        prefix: "worker",
        good: &good,
        bad: &bad,
    };
    let page = Page {
        uri: "/jk-manager",
        read_only: false,
        nonce: "N0NCE",
        refresh: 10,
        css: None,
        show: Show::default(),
    };
    let h = html(&snap, &v, &page);
    assert!(!h.contains("<script>x</script>"), "names are escaped");
    assert!(h.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(h.contains("<meta http-equiv=\"refresh\" content=\"10\">"));
    assert_eq!(
        h.matches("method=\"post\"").count(),
        h.matches("<form").count(),
        "every form posts"
    );
    assert_eq!(
        h.matches("name=\"nonce\" value=\"N0NCE\"").count(),
        h.matches("<form").count(),
        "every form carries the nonce"
    );
    assert!(
        h.contains("name=\"vwa\" value=\"D\"><button>Disable</button>"),
        "active member can be disabled"
    );
    assert!(
        h.contains("name=\"vwa\" value=\"A\"><button>Activate</button>"),
        "disabled member can be activated"
    );
    let ro = html(
        &snap,
        &v,
        &Page {
            read_only: true,
            ..page
        },
    );
    assert!(!ro.contains("<form"), "read-only pages have no actions");
}

#[test]
fn a_snapshot_from_the_configuration_lists_every_setting() {
    let mut l = crate::config::Loader::new();
    l.workers_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../workers.properties.example"
    )));
    let workers = l.finish().workers.unwrap();
    let mut table = crate::mount::MountTable::new();
    table.extend(
        crate::mount::Rule::parse(
            "/app/*",
            "cluster;reply_timeout=5",
            crate::mount::Source::JkMount(crate::config::Location::new("h", 1)),
        )
        .unwrap(),
    );
    let snap = from_config(&workers, &table, 1_000_000);
    let (good, bad) = view();
    let p = prop(
        &snap,
        &View {
            prefix: "worker",
            good: &good,
            bad: &bad,
        },
    );
    for line in [
        "worker.list=cluster\n",
        "worker.cluster.method=Request\n",
        "worker.cluster.recover_time=30\n",
        "worker.cluster.balance_workers=b2\n",
        "worker.a1.route=A.a1\n",
        "worker.a1.domain=A\n",
        "worker.b1.redirect=B.b2\n",
        "worker.b2.activation=DIS\n",
        "worker.b1.lbfactor=2\n",
        "worker.a1.ping_timeout=3000\n",
        "worker.cluster.map.1.uri=/app/*\n",
        "worker.cluster.map.1.reply_timeout=5\n",
        "worker.cluster.good=3\n",
        "worker.cluster.degraded=1\n",
    ] {
        assert!(p.contains(line), "missing {line:?} in\n{p}");
    }
    assert!(!p.contains("change-me"), "no secrets");
}

/// Each map carries its server and mod_jk's bare URI (the prefix only in `type`), in every format.
#[test]
fn maps_name_their_server_and_print_the_uri_as_mod_jk() {
    use crate::config::{Loader, Location};
    use crate::mount::{MountTable, Rule, Source};
    let mut l = Loader::new();
    l.workers_text(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1\nworker.n1.port=8101\n",
        std::path::Path::new("w.properties"),
    );
    let workers = l.finish().workers.unwrap();
    let mut table = MountTable::new();
    let at = || Source::JkMount(Location::new("httpd.conf", 1));
    for p in ["/app/*", "!/app/static/*", "-/old/*"] {
        table.extend(Rule::parse(p, "lb", at()).unwrap());
    }
    table.server = Some("localhost".into());
    let snap = from_config(&workers, &table, 0);
    let (good, bad) = view();
    let v = View {
        prefix: "worker",
        good: &good,
        bad: &bad,
    };
    let p = prop(&snap, &v);
    let maps: Vec<&str> = p
        .lines()
        .filter(|l| {
            l.contains(".map.")
                && (l.contains(".server=") || l.contains(".uri=") || l.contains(".type="))
        })
        .collect();
    assert!(maps.contains(&"worker.lb.map.1.server=localhost"), "{p}");
    for (uri, kind) in [
        ("/app/static/*", "Unmount Wildchar"),
        ("/app/*", "Wildchar"),
        ("/old/*", "Disabled Wildchar"),
    ] {
        let i = maps
            .iter()
            .position(|l| l.ends_with(&format!(".uri={uri}")))
            .unwrap_or_else(|| panic!("{uri}: {p}"));
        assert!(maps[i + 1].ends_with(&format!(".type={kind}")), "{p}");
        assert!(maps[i - 1].ends_with(".server=localhost"), "{p}");
    }
    let t = txt(&snap, &v);
    assert!(
        t.contains(
            "Map: id=1 server=\"localhost\" uri=\"/app/static/*\" type=\"Unmount Wildchar\""
        ),
        "{t}"
    );
    let x = xml(
        &snap,
        &v,
        Xml {
            ns: "jk:",
            xmlns: "-",
        },
    );
    assert!(
        x.contains("id=\"1\"\n        server=\"localhost\"\n        uri=\"/app/static/*\""),
        "{x}"
    );
    let j = json(&snap, &v);
    assert!(
        j.contains("\"server\":\"localhost\",\"uri\":\"/app/static/*\""),
        "{j}"
    );
    // Without a server name (nginx), no `server` key, as mod_jk without a vhost iterator.
    table.server = None;
    let p = prop(&from_config(&workers, &table, 0), &v);
    assert!(!p.contains(".server="), "{p}");
}
