//! Virtual hosts, differential against Debian's mod_jk: the same httpd configuration with
//! name-based virtual hosts (per-vhost JkMount, JkMountCopy On/Off/All, JkMountFile in a vhost,
//! JkAutoAlias and JkStripSession inherited or not, JkUnMount in the main server and in a
//! vhost) through mod_jk and mod_rjk. For every (Host, URI) the worker picked
//! (`%{JK_WORKER_NAME}n` in the access log) and the final status must be the same.
//!
//! No backend listens: a mapped request ends in 503 after one refused connect, an unmapped one
//! is httpd's (a file, an alias, or 404). Two configurations, JkMountCopy All being global.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rjk_tests::cluster::{front, Connector};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;

const HOSTS: &[&str] = &["localhost", "copyoff", "copyon", "filehost", "explicitoff"];

const URIS: &[&str] = &[
    "/main/x",
    "/main/skip/x",
    "/both/x",
    "/both/un/x",
    "/v/x",
    "/v/un/x",
    "/file/x",
    "/vfile/x",
    "/vfile/static/x",
    "/app/index.html",
    "/app/page.jsp",
    "/app/WEB-INF/web.xml",
    "/plain.html",
    "/plain.html;jsessionid=ABC.w1",
    "/nothing;jsessionid=ABC",
];

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rjk-vhost-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn workers() -> String {
    let mut w = String::from("worker.list=w0,w1,w2,w3\n");
    for n in 0..4 {
        // Port 1: nothing listens; one attempt, so a mapped request is a quick 503.
        w.push_str(&format!(
            "worker.w{n}.host=127.0.0.1\nworker.w{n}.port=1\nworker.w{n}.retries=1\n"
        ));
    }
    w
}

/// The shared files: a webapp for JkAutoAlias, a static file for JkStripSession, mount files.
fn files(dir: &Path) {
    let app = dir.join("webapps/app");
    std::fs::create_dir_all(app.join("WEB-INF")).unwrap();
    std::fs::write(app.join("index.html"), "app index\n").unwrap();
    std::fs::write(app.join("WEB-INF/web.xml"), "<web-app/>\n").unwrap();
    std::fs::create_dir_all(dir.join("htdocs")).unwrap();
    std::fs::write(dir.join("htdocs/plain.html"), "plain\n").unwrap();
    std::fs::write(dir.join("main.map"), "/file/*=w3\n").unwrap();
    std::fs::write(
        dir.join("vhost.map"),
        "/vfile/*=w2\n!/vfile/static/*=w2\n/main/*=w3\n",
    )
    .unwrap();
}

fn jk(dir: &Path, copy_all: bool) -> String {
    let d = dir.display();
    let vhost = |name: &str, body: &str| {
        format!("<VirtualHost *:*>\n  ServerName {name}\n{body}</VirtualHost>\n")
    };
    let all = if copy_all { "JkMountCopy All\n" } else { "" };
    format!(
        "LogFormat \"%{{X-Id}}i %{{JK_WORKER_NAME}}n %>s\" picked\nCustomLog {d}/picked.log picked\n\
         {all}JkMount /main/* w0\nJkMount /both/* w0\nJkUnMount /main/skip/* w0\nJkMountFile {d}/main.map\n\
         JkAutoAlias {d}/webapps\nJkMount /app/*.jsp w0\nJkStripSession On\n\
         {}{}{}{}{}",
        // The first virtual host of the address also answers Host: localhost.
        vhost("localhost", "  DocumentRoot {d}/htdocs\n"),
        vhost("copyoff", "  JkMount /v/* w1\n  JkUnMount /v/un/* w1\n"),
        vhost(
            "copyon",
            "  JkMountCopy On\n  JkMount /v/* w2\n  JkUnMount /both/un/* w0\n  JkStripSession Off\n"
        ),
        vhost(
            "filehost",
            &format!("  JkMountCopy On\n  JkMountFile {d}/vhost.map\n  JkMount /both/* w1\n")
        ),
        vhost("explicitoff", "  JkMountCopy Off\n  JkMount /v/* w3\n"),
    )
    .replace("{d}", &d.to_string())
}

/// (host, uri) → "worker status" for every host and URI.
fn observe(c: Connector, copy_all: bool) -> BTreeMap<(String, String), String> {
    let dir = tmp(&format!("{}-{copy_all}", c.name()));
    files(&dir);
    let httpd = front(&dir, c, Mpm::Event, &workers(), &jk(&dir, copy_all))
        .unwrap_or_else(|e| panic!("{}: {e}", c.name()));
    let mut asked = Vec::new();
    for h in HOSTS {
        for u in URIS {
            let id = asked.len().to_string();
            let req =
                format!("GET {u} HTTP/1.1\r\nHost: {h}\r\nX-Id: {id}\r\nConnection: close\r\n\r\n");
            http::raw(httpd.addr(), req.as_bytes()).unwrap();
            asked.push((h.to_string(), u.to_string()));
        }
    }
    let log = dir.join("picked.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        if t.lines().count() >= asked.len() || Instant::now() > deadline {
            break t;
        }
        std::thread::yield_now();
    };
    httpd.stop();
    let mut seen = BTreeMap::new();
    for line in text.lines() {
        let (id, rest) = line.split_once(' ').unwrap();
        let id: usize = id.parse().unwrap();
        seen.insert(asked[id].clone(), rest.to_owned());
    }
    assert_eq!(seen.len(), asked.len(), "{}: access log\n{text}", c.name());
    let _ = std::fs::remove_dir_all(&dir);
    seen
}

fn compare(copy_all: bool) -> BTreeMap<(String, String), String> {
    let jk = observe(Connector::ModJk, copy_all);
    let rjk = observe(Connector::ModRjk, copy_all);
    let diffs: Vec<String> = jk
        .iter()
        .filter(|(k, v)| rjk.get(*k) != Some(*v))
        .map(|((h, u), v)| {
            format!(
                "{h} {u}: mod_jk {v}, mod_rjk {:?}",
                rjk.get(&(h.clone(), u.clone()))
            )
        })
        .collect();
    assert!(
        diffs.is_empty(),
        "JkMountCopy All={copy_all}: {} of {} differ:\n{}",
        diffs.len(),
        jk.len(),
        diffs.join("\n")
    );
    jk
}

#[test]
fn virtual_host_mounts_aliases_and_session_stripping_match_mod_jk() {
    let seen = compare(false);
    let at = |h: &str, u: &str| seen[&(h.to_owned(), u.to_owned())].clone();
    // The cases the configuration is there for, as mod_jk decided them.
    assert_eq!(
        at("copyoff", "/main/x"),
        "- 404",
        "no copy without JkMountCopy"
    );
    assert_eq!(at("copyon", "/main/x"), "w0 503", "JkMountCopy On copies");
    assert_eq!(at("copyon", "/both/un/x"), "- 404", "the vhost's JkUnMount");
    let seen = compare(true);
    assert_eq!(
        seen[&("copyoff".to_owned(), "/main/x".to_owned())],
        "w0 503",
        "JkMountCopy All"
    );
}
