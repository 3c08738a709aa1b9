//! Differential test of URI mapping against Debian's mod_jk: the same JkMount / JkUnMount /
//! <Location> / JkMountFile / worker `mount` configuration in a private httpd, each worker backed
//! by an rjk-node whose route is the worker's name (its `X-Rjk-Node` header names the worker
//! that served). For every URI — including the normalisation attacks — what mod_jk does must be
//! what `rjk map` says.

use std::path::Path;
use std::process::Command;

use rjk_tests::cluster::Node;
use rjk_tests::http;
use rjk_tests::httpd::{Httpd, Mpm, MODULES};
use serde_json::Value;

const WORKERS: &[&str] = &["app", "api", "jsp", "file", "legacy", "status2"];

const URIS: &[&str] = &[
    "/app/x",
    "/app",
    "/app/static/a.css",
    "/app/images/a.png",
    "/app/api/v1",
    "/app/api/v1/static/x",
    "/index.jsp",
    "/app/page.jsp",
    "/shop",
    "/shop/cart",
    "/shopping",
    "/files/a.txt",
    "/files/private/a.txt",
    "/legacy/old",
    "/disabled/x",
    "/st",
    "/st/",
    "/app/..;/st",
    "/app/../st",
    "/%2e%2e/",
    "/%2e%2e/app/x",
    "//app/x",
    "/app/./x",
    "/app;x=y/y",
    "/app/static/../secret",
    "/app/static;jsessionid=1/../x",
    "/app/static/%2e%2e/x",
    "/app/%41/b",
    "/app/a%2Fb",
    "/nothing",
    "/x.jsp;jsessionid=ABC.n1",
];

fn conf_body(dir: &Path, nodes: &[Node]) -> String {
    let mut workers = format!("worker.list={}\n", WORKERS.join(","));
    for n in nodes {
        workers.push_str(&format!(
            "worker.{r}.host=127.0.0.1\nworker.{r}.port={p}\n",
            r = n.route,
            p = n.port
        ));
    }
    workers.push_str("worker.legacy.mount=/legacy/*\n");
    std::fs::write(dir.join("workers.properties"), workers).unwrap();
    std::fs::write(
        dir.join("uriworkermap.properties"),
        "/files/*=file\n!/files/private/*=file\n/app/api/*=api\n-/disabled/*=app\n",
    )
    .unwrap();
    format!(
        "JkWorkersFile {d}/workers.properties\nJkMountFile {d}/uriworkermap.properties\nJkShmFile {d}/run/jk.shm\n\
         JkLogFile {d}/logs/jk.log\nJkLogLevel error\n\
         JkMount /app/* app\nJkUnMount /app/static/* app\nJkUnMount /app/images/* jsp\nJkMount /*.jsp jsp\n\
         JkMount /shop|/* app\n\
         <Location /st>\n  JkMount status2\n</Location>\n",
        d = dir.display()
    )
}

/// What happened: the worker that served, or `httpd <status>` when httpd kept the request.
fn observed(resp: &http::Response) -> String {
    match resp.header("X-Rjk-Node") {
        Some(w) => w.to_owned(),
        None => format!("httpd {}", resp.status),
    }
}

/// What rjk says: the worker, or `httpd <status>` (404 for an unmapped path: no such file).
fn predicted(v: &Value) -> String {
    if let Some(s) = v["refused"]["status"].as_u64() {
        return format!("httpd {s}");
    }
    match v["worker"].as_str() {
        Some(w) => w.to_owned(),
        None => "httpd 404".to_owned(),
    }
}

#[test]
fn rjk_map_agrees_with_mod_jk() {
    let dir = std::env::temp_dir().join(format!("rjk-diff-map-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("htdocs")).unwrap();
    let nodes: Vec<Node> = WORKERS
        .iter()
        .map(|w| Node::start(w, None, &[]).unwrap())
        .collect();
    let body = conf_body(&dir, &nodes);
    let httpd = Httpd::start(
        &dir,
        Mpm::Event,
        &format!("LoadModule jk_module {MODULES}/mod_jk.so\n{body}"),
    )
    .unwrap();
    let conf = dir.join("httpd.conf");
    let mut diffs = Vec::new();
    let mut served = std::collections::BTreeSet::new();
    let mut kept = 0;
    for uri in URIS {
        let resp = http::get(httpd.addr(), uri, &[]).unwrap();
        let out = Command::new(rjk_tests::workspace_bin("rjk"))
            .args(["map", "--json", "--jk-conf"])
            .arg(&conf)
            .arg(uri)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{uri}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        let (jk, rjk) = (observed(&resp), predicted(&v));
        if jk.starts_with("httpd") {
            kept += 1;
        } else {
            served.insert(jk.clone());
        }
        if jk != rjk {
            diffs.push(format!("{uri}: mod_jk {jk}, rjk map {rjk}"));
        }
    }
    httpd.stop();
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        diffs.is_empty(),
        "rjk map differs from mod_jk:\n{}",
        diffs.join("\n")
    );
    // The set exercises every worker and several refusals, not just 404s.
    assert_eq!(served.len(), WORKERS.len(), "workers seen: {served:?}");
    assert!(kept >= 8, "only {kept} URIs stayed with httpd");
}
