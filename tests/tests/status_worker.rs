//! The status worker through mod_rjk in a real apache2, against Debian's mod_jk with the same
//! configuration: the same keys and configuration values in `mime=prop` (maps too), every format served,
//! access rules enforced.

use std::collections::{BTreeMap, BTreeSet};

use rjk_tests::cluster::{front, Connector};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-status-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn workers() -> String {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../workers.properties.example"
    ))
    .unwrap();
    // Nothing listens on the example's ports: the status page does not need backends.
    example
}

const JK: &str = "JkMount /app/* cluster\nJkUnMount /app/static/* cluster\n<Location /jk-status>\n  JkMount jk-status\n</Location>\n<Location /jk-manager>\n  JkMount jk-manager\n</Location>\n";

fn prop(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in text.lines() {
        if let Some((k, v)) = l.split_once('=') {
            m.entry(k.to_owned()).or_default().push(v.to_owned());
        }
    }
    m
}

/// Keys whose values are runtime facts (times, counters, versions) rather than configuration.
fn runtime_key(k: &str) -> bool {
    [
        "time_",
        "last_reset",
        "web_server",
        "jk_version",
        "server_",
        "time_to_",
        "address",
        "elected",
        "lbvalue",
        "lbmult",
        "state",
        "good",
        "degraded",
        "bad",
    ]
    .iter()
    .any(|p| k.contains(p))
}

#[test]
fn prop_output_has_mod_jk_keys_and_configuration_values() {
    let mut outputs = Vec::new();
    for c in [Connector::ModJk, Connector::ModRjk] {
        let dir = tmp(c.name());
        let httpd = front(&dir, c, Mpm::Event, &workers(), JK).unwrap();
        let r = http::get(httpd.addr(), "/jk-status?mime=prop", &[]).unwrap();
        httpd.stop();
        assert_eq!(r.status, 200, "{}: {}", c.name(), r.text());
        outputs.push(prop(&r.text()));
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (jk, rjk) = (&outputs[0], &outputs[1]);
    // Every key, the maps' included (their `server` is the virtual host's name).
    let keys = |m: &BTreeMap<String, Vec<String>>| m.keys().cloned().collect::<BTreeSet<_>>();
    // rjk's one addition (the README says so): the lb's retry_interval, which mod_jk lets the
    // edit form change but never shows.
    let mut jk_keys = keys(jk);
    jk_keys.insert("worker.cluster.retry_interval".into());
    assert_eq!(jk_keys, keys(rjk), "the same keys");
    assert_eq!(
        rjk["worker.cluster.map.1.server"],
        vec!["localhost".to_owned()]
    );
    assert_eq!(rjk["worker.cluster.retry_interval"], vec!["100".to_owned()]);
    let mut diffs = Vec::new();
    for (k, v) in jk {
        if !runtime_key(k) && rjk.get(k) != Some(v) {
            diffs.push(format!("{k}: mod_jk {v:?}, mod_rjk {:?}", rjk.get(k)));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(rjk["worker.b1.redirect"] == vec!["B.b2".to_owned()]);
}

#[test]
fn every_format_and_the_normalised_path_reach_the_status_worker() {
    let dir = tmp("formats");
    let httpd = front(&dir, Connector::ModRjk, Mpm::Event, &workers(), JK).unwrap();
    for (q, ctype, needle) in [
        ("mime=txt", "text/plain", "Member: name=a1 type=ajp13"),
        ("mime=xml", "text/xml", "<jk:member"),
        ("mime=json", "application/json", "\"balancers\":["),
        ("mime=prometheus", "application/openmetrics-text", "# EOF"),
        ("", "text/html", "<table>"),
    ] {
        let r = http::get(httpd.addr(), &format!("/jk-status?{q}"), &[]).unwrap();
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        assert!(
            r.header("Content-Type")
                .unwrap_or_default()
                .starts_with(ctype),
            "{q}: {:?}",
            r.header("Content-Type")
        );
        assert!(r.text().contains(needle), "{q}: {}", r.text());
    }
    // /app/..;/jk-status is normalised to /jk-status before mapping, as mod_jk ≥ 1.2.46 does.
    let r = http::get(httpd.addr(), "/app/..;/jk-status?mime=txt", &[]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("Server:"), "{}", r.text());
    // dump shows the loaded properties but never a secret
    let r = http::get(httpd.addr(), "/jk-status?cmd=dump", &[]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("worker.a1.route=A.a1\n"), "{}", r.text());
    assert!(!r.text().contains("change-me"), "{}", r.text());
    assert!(http::get(httpd.addr(), "/jk-status?cmd=version", &[])
        .unwrap()
        .text()
        .contains("mod_rjk/"));
    // escaping above the root is refused
    assert_eq!(http::get(httpd.addr(), "/..;/x", &[]).unwrap().status, 400);
    // the read-only worker refuses changes; the manager refuses GET changes and foreign forms
    let r = http::get(
        httpd.addr(),
        "/jk-status?cmd=update&w=cluster&sw=a1&vwa=D",
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    let r = http::get(
        httpd.addr(),
        "/jk-manager?cmd=update&w=cluster&sw=a1&vwa=D",
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 405, "{}", r.text());
    let r = http::request(
        httpd.addr(),
        "POST",
        "/jk-manager",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"cmd=update&w=cluster&sw=a1&vwa=D&nonce=forged",
    )
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    httpd.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The OpenMetrics output parses with the Prometheus project's own parser (Debian's
/// python3-prometheus-client), with the families and labels we promise.
#[test]
fn prometheus_output_parses_with_the_reference_parser() {
    let dir = tmp("prometheus");
    let httpd = front(&dir, Connector::ModRjk, Mpm::Event, &workers(), JK).unwrap();
    let text = http::get(httpd.addr(), "/jk-status?mime=prometheus", &[])
        .unwrap()
        .text();
    httpd.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n\
                  for f in p(sys.stdin.read()):\n    for s in f.samples:\n        print(f.name, f.type, s.name, sorted(s.labels.items()), s.value)\n";
    use std::io::Write;
    let mut c = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with python3-prometheus-client (make deps)");
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    let parsed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the parser refused it: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(parsed.contains("rjk_member_requests counter rjk_member_requests_total [('balancer', 'cluster'), ('member', 'a1')] 0"), "{parsed}");
    assert!(parsed.contains("rjk_member_activation gauge rjk_member_activation [('activation', 'DIS'), ('balancer', 'cluster'), ('member', 'b2')] 1"), "{parsed}");
    assert!(parsed.contains("rjk_balancer_members gauge rjk_balancer_members [('balancer', 'cluster'), ('rating', 'good')] 3"), "{parsed}");
}

/// `cmd=edit` forms post changes that take effect; `opt` bits hide what they name in every
/// format, and 0x20 shows a read-write worker's page without actions.
#[test]
fn the_edit_form_changes_a_member_and_opt_hides_parts() {
    let dir = tmp("edit");
    let httpd = front(&dir, Connector::ModRjk, Mpm::Event, &workers(), JK).unwrap();
    let a = httpd.addr();
    let page = http::get(a, "/jk-manager?cmd=edit&w=cluster&sw=a1", &[])
        .unwrap()
        .text();
    assert!(
        page.contains("name=\"vwf\" min=\"1\" value=\"1\""),
        "{page}"
    );
    let nonce = rjk_tests::status::nonce(&page);
    let r = rjk_tests::status::post(
        a,
        &format!("nonce={nonce}&cmd=update&w=cluster&sw=a1&vwa=A&vwf=5&vwd=1&vwn=A.a1&vwr=&vwc=A"),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let p = prop(&http::get(a, "/jk-status?mime=prop", &[]).unwrap().text());
    assert_eq!(p["worker.a1.lbfactor"], ["5"]);
    assert_eq!(p["worker.a1.distance"], ["1"]);
    let lb = http::get(a, "/jk-manager?cmd=edit&w=cluster", &[]).unwrap();
    assert!(lb.text().contains("name=\"vlr\""), "{}", lb.text());
    assert_eq!(
        http::get(a, "/jk-status?cmd=edit&w=cluster&sw=a1", &[])
            .unwrap()
            .status,
        403,
        "read-only workers have no edit page"
    );
    assert_eq!(
        http::get(a, "/jk-manager?cmd=edit&w=cluster&sw=zz", &[])
            .unwrap()
            .status,
        404
    );

    let maps = |q: &str| {
        let t = http::get(a, &format!("/jk-status?mime=prop{q}"), &[])
            .unwrap()
            .text();
        t.lines().filter(|l| l.contains(".map.")).count()
    };
    assert!(maps("") > 0);
    assert_eq!(maps("&opt=2"), 0);
    let txt = http::get(a, "/jk-status?mime=txt&opt=1", &[])
        .unwrap()
        .text();
    assert!(txt.contains("Balancer Worker: name=cluster"), "{txt}");
    assert!(!txt.contains("Member: name=a1"), "{txt}");
    let html = http::get(a, "/jk-manager?opt=32", &[]).unwrap().text();
    assert!(
        html.contains("<table>") && !html.contains("<form"),
        "{html}"
    );
    httpd.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A virtual host's maps are named as mod_jk names them (`shop [*]`). mod_jk lists every
/// server's maps on each page, rjk those of the server serving the page: what rjk lists is
/// what mod_jk lists for that server, key for key.
#[test]
fn virtual_host_maps_carry_mod_jk_server_name() {
    let jk = "JkMount /app/* cluster\n<VirtualHost *:*>\n  ServerName shop\n  JkMount /shop/* cluster\n  \
              <Location /jk-status>\n    JkMount jk-status\n  </Location>\n</VirtualHost>\n";
    let mut outputs = Vec::new();
    for c in [Connector::ModJk, Connector::ModRjk] {
        let dir = tmp(&format!("vhost-{}", c.name()));
        let httpd = front(&dir, c, Mpm::Event, &workers(), jk).unwrap();
        // The only virtual host of the address answers every request, whatever the Host header.
        let r = http::get(httpd.addr(), "/jk-status?mime=prop", &[]).unwrap();
        httpd.stop();
        assert_eq!(r.status, 200, "{}: {}", c.name(), r.text());
        outputs.push(r.text());
        let _ = std::fs::remove_dir_all(&dir);
    }
    // (server, uri) of each cluster map.
    let maps = |text: &str| {
        let p = prop(text);
        let mut v = BTreeSet::new();
        for n in 1..10 {
            let get = |k: &str| {
                p.get(&format!("worker.cluster.map.{n}.{k}"))
                    .map(|v| v[0].clone())
            };
            if let (Some(s), Some(u)) = (get("server"), get("uri")) {
                v.insert((s, u));
            }
        }
        v
    };
    let (jk_maps, rjk_maps) = (maps(&outputs[0]), maps(&outputs[1]));
    let shop = ("shop [*]".to_owned(), "/shop/*".to_owned());
    assert!(jk_maps.contains(&shop), "mod_jk: {jk_maps:?}");
    assert_eq!(rjk_maps, BTreeSet::from([shop]), "mod_jk lists {jk_maps:?}");
}
