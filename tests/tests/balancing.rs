//! Balancing scenarios, run against Debian's mod_jk (the reference) and mod_rjk with the same
//! rjk-node backends and the same configuration.

use std::collections::BTreeMap;

use rjk_tests::cluster::{front, member_lines, Connector, Node};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-bal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Which node served each of `n` non-sticky GETs.
fn spread(
    connector: Connector,
    mpm: Mpm,
    factors: &[(&str, u32)],
    n: usize,
) -> BTreeMap<String, usize> {
    let nodes: Vec<Node> = factors
        .iter()
        .map(|(r, _)| Node::start(r, None, &[]).unwrap())
        .collect();
    let members: Vec<&str> = factors.iter().map(|(r, _)| *r).collect();
    let workers = format!(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers={}\n{}",
        members.join(","),
        member_lines(&nodes, |n| format!(
            "worker.{}.lbfactor={}\n",
            n.route,
            factors.iter().find(|f| f.0 == n.route).unwrap().1
        ))
    );
    let dir = tmp(&format!("spread-{}", connector.name()));
    let httpd = front(&dir, connector, mpm, &workers, "JkMount /* lb\n").unwrap();
    let mut seen = BTreeMap::new();
    for i in 0..n {
        let r = http::get(httpd.addr(), "/1k", &[]).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        *seen
            .entry(r.header("X-Rjk-Node").unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    httpd.stop();
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

#[test]
fn weights_1_to_3_give_mod_jk_exact_counts() {
    let jk = spread(Connector::ModJk, Mpm::Event, &[("a", 1), ("b", 3)], 4000);
    assert_eq!(
        jk,
        BTreeMap::from([("a".to_owned(), 1000), ("b".to_owned(), 3000)]),
        "mod_jk itself"
    );
    let rjk = spread(Connector::ModRjk, Mpm::Event, &[("a", 1), ("b", 3)], 4000);
    assert_eq!(rjk, jk, "mod_rjk under mpm_event");
    let rjk = spread(Connector::ModRjk, Mpm::Prefork, &[("a", 1), ("b", 3)], 4000);
    assert_eq!(
        rjk, jk,
        "mod_rjk under mpm_prefork (several processes sharing the table)"
    );
}
