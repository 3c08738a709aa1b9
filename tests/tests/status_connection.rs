//! Connection settings changed through the status worker of mod_rjk under mpm_prefork: a port
//! posted to one child moves the member for every child (their pooled connections to the old
//! port are not reused), the pages show it, an unresolvable host is refused, and a shorter
//! reply_timeout turns a slow answer into 504.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use rjk_tests::cluster::{front, member_lines, Connector, Node};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;
use rjk_tests::status::{nonce, post};
use rjk_tests::wait_until;

const STICKY_N1: (&str, &str) = ("Cookie", "JSESSIONID=x.n1");
/// Requests in flight at once: more than one prefork child must take them.
const CONCURRENT: usize = 6;

/// `CONCURRENT` requests for `path` sticky to n1 at the same time; their answers.
fn burst(addr: SocketAddr, path: &str) -> Vec<http::Response> {
    std::thread::scope(|s| {
        let all: Vec<_> = (0..CONCURRENT)
            .map(|_| s.spawn(move || http::get(addr, path, &[STICKY_N1]).unwrap()))
            .collect();
        all.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The children (pids) whose access log lines name `marker`, once `n` such lines are there.
fn children_serving(access_log: &std::path::Path, marker: &str, n: usize) -> BTreeSet<String> {
    wait_until("the access log lines", Duration::from_secs(10), || {
        let log = std::fs::read_to_string(access_log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(marker)).collect();
        (lines.len() >= n).then(|| {
            lines
                .iter()
                .map(|l| l.split(' ').next().unwrap_or("").to_owned())
                .collect()
        })
    })
    .unwrap()
}

fn nodes_of(responses: &[http::Response]) -> BTreeSet<String> {
    responses
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text());
            r.header("X-Rjk-Node").unwrap_or("?").to_owned()
        })
        .collect()
}

#[test]
fn a_port_posted_to_one_child_moves_the_member_in_every_child() {
    let nodes = vec![
        Node::start("n1", None, &[]).unwrap(),
        Node::start("n2", None, &[]).unwrap(),
    ];
    // Not a member: only reachable once n1's port is changed to its port.
    let n3 = Node::start("n3", None, &[]).unwrap();
    let workers = format!(
        "worker.list=lb,jk-manager\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\nworker.jk-manager.type=status\n{}",
        member_lines(&nodes, |_| String::new())
    );
    let dir = std::env::temp_dir().join(format!("rjk-status-conn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let access = dir.join("logs/access.log");
    let jk = format!(
        "JkMount /slow lb\n<Location /jk-manager>\n  JkMount jk-manager\n</Location>\n\
         LogFormat \"%P %{{X-Rjk-Node}}o %q\" child\nCustomLog {} child\n",
        access.display()
    );
    let httpd = front(&dir, Connector::ModRjk, Mpm::Prefork, &workers, &jk).unwrap();
    let a = httpd.addr();

    // Several children answer for n1 and keep a pooled connection to it.
    let before = burst(a, "/slow?ms=300&phase=before");
    assert_eq!(nodes_of(&before), BTreeSet::from(["n1".to_owned()]));
    let children_before = children_serving(&access, "phase=before", CONCURRENT);
    assert!(children_before.len() >= 2, "{children_before:?}");

    let n = nonce(&http::get(a, "/jk-manager", &[]).unwrap().text());
    let r = post(
        a,
        &format!("cmd=update&w=lb&sw=n1&vaprt={}&nonce={n}", n3.port),
    );
    assert_eq!(r.status, 303, "{}", r.text());

    // n1 still runs, so only a reused old connection could still reach it.
    let after = burst(a, "/slow?ms=300&phase=after");
    assert_eq!(nodes_of(&after), BTreeSet::from(["n3".to_owned()]));
    let children_after = children_serving(&access, "phase=after", CONCURRENT);
    assert!(children_after.len() >= 2, "{children_after:?}");
    assert!(
        children_after.intersection(&children_before).count() >= 1,
        "a child that had a connection to n1 now serves n3: {children_before:?} {children_after:?}"
    );
    let one = http::get(a, "/slow?ms=1", &[STICKY_N1]).unwrap();
    assert_eq!(one.header("X-Rjk-Node"), Some("n3"));

    // The pages show the port in use.
    let prop = http::get(a, "/jk-manager?mime=prop", &[]).unwrap().text();
    assert!(
        prop.contains(&format!("worker.n1.port={}\n", n3.port))
            && prop.contains(&format!("worker.n2.port={}\n", nodes[1].port)),
        "{prop}"
    );
    let xml = http::get(a, "/jk-manager?mime=xml", &[]).unwrap().text();
    assert!(xml.contains(&format!("port=\"{}\"", n3.port)), "{xml}");

    // An unresolvable host is refused and changes nothing (the port in the same form neither).
    let r = post(
        a,
        &format!(
            "cmd=update&w=lb&sw=n1&vaprt={}&vahst=no-such-host.invalid&nonce={n}",
            nodes[0].port
        ),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("does not resolve"), "{}", r.text());
    let prop = http::get(a, "/jk-manager?mime=prop", &[]).unwrap().text();
    assert!(
        prop.contains(&format!("worker.n1.port={}\n", n3.port))
            && prop.contains("worker.n1.host=127.0.0.1\n"),
        "{prop}"
    );

    // A reply_timeout shorter than the answer takes: 504 from every child. recovery_options 1:
    // the lb does not send the request again after the backend had it; max_reply_timeouts
    // (lb): the timeouts leave n1 usable for the requests still queued for a child.
    let r = post(
        a,
        &format!("cmd=update&w=lb&sw=n1&vart=200&varo=1&vlx=100&nonce={n}"),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let slow = burst(a, "/slow?ms=3000&phase=timeout");
    for r in &slow {
        assert_eq!(r.status, 504, "{}", r.text());
    }
    let children_timeout = children_serving(&access, "phase=timeout", CONCURRENT);
    assert!(children_timeout.len() >= 2, "{children_timeout:?}");
    let prop = http::get(a, "/jk-manager?mime=prop", &[]).unwrap().text();
    assert!(prop.contains("worker.n1.reply_timeout=200\n"), "{prop}");

    let log = httpd.error_log();
    assert!(
        log.contains(&format!("Port({})", n3.port)),
        "the change is logged: {log}"
    );
    httpd.stop();
    drop(nodes);
    drop(n3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `w=<ajp13 worker>`, as mod_jk allows: a stand-alone worker's port posted to one prefork
/// child moves it in every child, and persist_file brings the change back after a restart.
#[test]
fn a_stand_alone_worker_moves_in_every_child_and_after_a_restart() {
    let n1 = Node::start("n1", None, &[]).unwrap();
    let n2 = Node::start("n2", None, &[]).unwrap();
    let dir = std::env::temp_dir().join(format!("rjk-status-solo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // httpd's children (User www-data) write the file: the directory must let them.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let saved = dir.join("changes.properties");
    // An lb as well: the manager page then has forms (and their nonce).
    let workers = format!(
        "worker.list=solo,lb,jk-manager\nworker.solo.host=127.0.0.1\nworker.solo.port={}\n\
         worker.n2.host=127.0.0.1\nworker.n2.port={}\nworker.lb.type=lb\nworker.lb.balance_workers=n2\n\
         worker.jk-manager.type=status\nworker.jk-manager.persist_file={}\n",
        n1.port,
        n2.port,
        saved.display()
    );
    let jk = "JkMount /slow solo\n<Location /jk-manager>\n  JkMount jk-manager\n</Location>\n";
    let httpd = front(&dir, Connector::ModRjk, Mpm::Prefork, &workers, jk).unwrap();
    let a = httpd.addr();
    let nodes = |phase: &str| {
        let path = format!("/slow?ms=200&phase={phase}");
        std::thread::scope(|s| {
            let all: Vec<_> = (0..CONCURRENT)
                .map(|_| s.spawn(|| http::get(a, &path, &[]).unwrap()))
                .collect();
            nodes_of(
                &all.into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>(),
            )
        })
    };
    assert_eq!(nodes("before"), BTreeSet::from(["n1".to_owned()]));
    let n = nonce(&http::get(a, "/jk-manager", &[]).unwrap().text());
    let r = post(
        a,
        &format!("cmd=update&w=solo&vaprt={}&nonce={n}&mime=txt", n2.port),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(nodes("after"), BTreeSet::from(["n2".to_owned()]));
    let prop = http::get(a, "/jk-manager?mime=prop", &[]).unwrap().text();
    assert!(
        prop.contains(&format!("worker.solo.port={}\n", n2.port)),
        "{prop}"
    );
    httpd.stop();
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(
        text.contains(&format!("*.solo.port={}\n", n2.port)),
        "{text}"
    );
    let httpd = front(&dir, Connector::ModRjk, Mpm::Prefork, &workers, jk).unwrap();
    let one = http::get(httpd.addr(), "/slow?ms=1", &[]).unwrap();
    assert_eq!(one.header("X-Rjk-Node"), Some("n2"), "{}", one.text());
    httpd.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
