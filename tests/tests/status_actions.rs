//! Runtime changes through the status worker of mod_rjk under mpm_prefork (several processes):
//! a change posted to one child is what every child balances with. Drain a member (Disabled:
//! only its sticky sessions), stop it (no traffic), bring it back.

use std::collections::BTreeMap;

use rjk_tests::cluster::{front, lb_workers, nodes, Connector};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;
use rjk_tests::status::{nonce, post};

fn counts(addr: std::net::SocketAddr, n: usize, cookie: Option<&str>) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    let headers: Vec<(&str, &str)> = cookie.map(|c| vec![("Cookie", c)]).unwrap_or_default();
    for _ in 0..n {
        let r = http::get(addr, "/1k", &headers).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        *seen
            .entry(r.header("X-Rjk-Node").unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    seen
}

#[test]
fn drain_stop_and_activate_through_the_status_page() {
    let nodes = nodes(&["n1", "n2"]);
    let workers = lb_workers(&nodes, &["jk-manager"], "worker.jk-manager.type=status\n");
    let dir = std::env::temp_dir().join(format!("rjk-status-actions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let jk = "JkMount /1k lb\n<Location /jk-manager>\n  JkMount jk-manager\n</Location>\n";
    let httpd = front(&dir, Connector::ModRjk, Mpm::Prefork, &workers, jk).unwrap();
    let a = httpd.addr();
    let both = counts(a, 40, None);
    assert_eq!(both.len(), 2, "both members serve at first: {both:?}");

    let page = http::get(a, "/jk-manager", &[]).unwrap().text();
    let n = nonce(&page);
    assert!(page.contains("Disable"), "{page}");

    // Stop n1: no traffic at all, not even its sticky sessions.
    let r = post(a, &format!("cmd=update&w=lb&sw=n1&vwa=S&nonce={n}"));
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(counts(a, 40, None), BTreeMap::from([("n2".to_owned(), 40)]));
    assert_eq!(
        counts(a, 10, Some("JSESSIONID=ABC.n1")),
        BTreeMap::from([("n2".to_owned(), 10)])
    );

    // Disable n1 (drain): new requests go to n2, n1's sessions still reach n1.
    assert_eq!(
        post(a, &format!("cmd=update&w=lb&sw=n1&vwa=D&nonce={n}")).status,
        303
    );
    assert_eq!(counts(a, 40, None), BTreeMap::from([("n2".to_owned(), 40)]));
    assert_eq!(
        counts(a, 10, Some("JSESSIONID=ABC.n1")),
        BTreeMap::from([("n1".to_owned(), 10)])
    );
    let prop = http::get(a, "/jk-manager?mime=prop", &[]).unwrap().text();
    assert!(prop.contains("worker.n1.activation=DIS\n"), "{prop}");

    // Activate: traffic returns to both.
    assert_eq!(
        post(a, &format!("cmd=update&w=lb&sw=n*&vwa=A&nonce={n}")).status,
        303
    );
    assert_eq!(counts(a, 40, None).len(), 2);
    // A change of weight through the same form.
    assert_eq!(
        post(a, &format!("cmd=update&w=lb&sw=n2&vwf=3&nonce={n}")).status,
        303
    );
    let prop = http::get(a, "/jk-manager?mime=prop", &[]).unwrap().text();
    assert!(
        prop.contains("worker.n2.lbfactor=3\n") && prop.contains("worker.n1.activation=ACT\n"),
        "{prop}"
    );
    // Refusals: a forged nonce, an unknown member.
    assert_eq!(
        post(a, "cmd=update&w=lb&sw=n1&vwa=S&nonce=forged").status,
        403
    );
    assert_eq!(
        post(a, &format!("cmd=update&w=lb&sw=zz&vwa=S&nonce={n}")).status,
        400
    );
    // Changes over GET are refused here; a worker with allow_get_updates=true accepts them.
    assert_eq!(
        http::get(a, "/jk-manager?cmd=update&w=lb&sw=n1&vwa=S", &[])
            .unwrap()
            .status,
        405
    );
    let log = std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default();
    assert!(
        log.contains("status change by - from 127.0.0.1"),
        "changes are logged: {log}"
    );
    httpd.stop();
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn allow_get_updates_lets_old_scripts_change_state_with_get() {
    let nodes = nodes(&["n1", "n2"]);
    let workers = lb_workers(
        &nodes,
        &["jkstatus"],
        "worker.jkstatus.type=status\nworker.jkstatus.allow_get_updates=true\n",
    );
    let dir = std::env::temp_dir().join(format!("rjk-status-get-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let httpd = front(
        &dir,
        Connector::ModRjk,
        Mpm::Event,
        &workers,
        "JkMount /1k lb\nJkMount /jkstatus jkstatus\n",
    )
    .unwrap();
    let a = httpd.addr();
    // The mod_jk-era script: a plain GET with mime=txt.
    let r = http::get(a, "/jkstatus?cmd=update&mime=txt&w=lb&sw=n1&vwa=S", &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(counts(a, 20, None), BTreeMap::from([("n2".to_owned(), 20)]));
    httpd.stop();
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// persist_file: a change made through the status page is still in effect after httpd is
/// stopped and started again (mod_jk loses it).
#[test]
fn runtime_changes_survive_a_restart_with_persist_file() {
    let nodes = nodes(&["n1", "n2"]);
    let dir = std::env::temp_dir().join(format!("rjk-status-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // httpd's children (User www-data) write the file: the directory must let them.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let workers = lb_workers(
        &nodes,
        &["jk-manager"],
        &format!(
            "worker.jk-manager.type=status\nworker.jk-manager.persist_file={}/changes.properties\n",
            dir.display()
        ),
    );
    let jk = "JkMount /1k lb\n<Location /jk-manager>\n  JkMount jk-manager\n</Location>\n";
    let httpd = front(&dir, Connector::ModRjk, Mpm::Event, &workers, jk).unwrap();
    let a = httpd.addr();
    let n = nonce(&http::get(a, "/jk-manager", &[]).unwrap().text());
    assert_eq!(
        post(a, &format!("cmd=update&w=lb&sw=n1&vwa=S&nonce={n}")).status,
        303
    );
    httpd.stop();
    let saved = std::fs::read_to_string(dir.join("changes.properties")).unwrap();
    assert!(saved.contains("lb.n1.activation=S\n"), "{saved}");
    let httpd = front(&dir, Connector::ModRjk, Mpm::Event, &workers, jk).unwrap();
    assert_eq!(
        counts(httpd.addr(), 20, None),
        BTreeMap::from([("n2".to_owned(), 20)]),
        "n1 stays stopped"
    );
    httpd.stop();
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
