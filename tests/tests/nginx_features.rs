//! The nginx module's server-side features: mounts in `http`/`server` blocks with mod_jk's
//! patterns and a reloaded mount file, the status worker (a POSTed change seen by every worker
//! process), access-log variables, `rjk_env_var` from nginx variables.

use std::collections::BTreeMap;
use std::time::Duration;

use rjk_tests::cluster::{lb_workers, nodes, Node};
use rjk_tests::http;
use rjk_tests::nginx::Nginx;
use rjk_tests::status::nonce;

fn dir(name: &str) -> std::path::PathBuf {
    let d = dir_of(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start(name: &str, nodes: &[Node], http: &str, locations: &str) -> (Nginx, std::path::PathBuf) {
    start_with(name, 2, nodes, "", http, locations)
}

/// As [`start`] with `processes` worker processes and more workers.properties lines.
fn start_with(
    name: &str,
    processes: usize,
    nodes: &[Node],
    more: &str,
    http: &str,
    locations: &str,
) -> (Nginx, std::path::PathBuf) {
    let d = dir(name);
    let workers = lb_workers(nodes, &["jk-manager"], "worker.jk-manager.type=status\n");
    std::fs::write(d.join("workers.properties"), format!("{workers}{more}")).unwrap();
    let http = format!(
        "  rjk_workers_file {}/workers.properties;\n{http}",
        d.display()
    );
    let n = Nginx::start(&d, processes, &http, locations).unwrap();
    (n, d)
}

/// `worker.NAME` from the status worker's properties page.
fn prop(a: std::net::SocketAddr, name: &str) -> String {
    let p = http::get(a, "/jk-manager?mime=prop", &[]).unwrap().text();
    let key = format!("worker.{name}=");
    p.lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {key} in:\n{p}"))
        .to_owned()
}

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
fn mounts_map_by_pattern_unmount_and_a_reloaded_mount_file() {
    let nodes = nodes(&["n1"]);
    let d = dir("mounts-files");
    std::fs::write(d.join("uriworkermap.properties"), "/file/*=lb\n").unwrap();
    let (nginx, d2) = start(
        "mounts",
        &nodes,
        &format!(
            "  rjk_mount /app/* lb;\n  rjk_unmount /app/static/* lb;\n  rjk_mount_file {}/uriworkermap.properties;\n  rjk_mount_file_reload 1;",
            d.display()
        ),
        "    location / { root html; }",
    );
    let a = nginx.addr();
    let r = http::get(a, "/app/x", &[]).unwrap();
    assert_eq!(r.header("X-Rjk-Node"), Some("n1"), "mounted: {}", r.status);
    let r = http::get(a, "/app/static/x.png", &[]).unwrap();
    assert_eq!(r.status, 404, "unmounted: nginx serves (no file)");
    assert!(r.header("X-Rjk-Node").is_none());
    assert_eq!(
        http::get(a, "/file/y", &[]).unwrap().header("X-Rjk-Node"),
        Some("n1")
    );
    assert_eq!(http::get(a, "/other", &[]).unwrap().status, 404);
    // The mount file changes: after its reload interval the new rule maps.
    std::fs::write(d.join("uriworkermap.properties"), "/file/*=lb\n/other=lb\n").unwrap();
    let now = std::time::SystemTime::now() + Duration::from_secs(2);
    let f = std::fs::File::options()
        .write(true)
        .open(d.join("uriworkermap.properties"))
        .unwrap();
    f.set_modified(now).unwrap();
    let mapped = rjk_tests::wait_until("the new rule to map", Duration::from_secs(10), || {
        (http::get(a, "/other", &[]).ok()?.header("X-Rjk-Node") == Some("n1")).then_some(())
    });
    assert!(mapped.is_ok(), "{mapped:?}");
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&d2);
}

#[test]
fn the_status_worker_changes_what_every_worker_process_balances_with() {
    let nodes = nodes(&["n1", "n2"]);
    let (nginx, d) = start(
        "status",
        &nodes,
        "",
        "    location / { rjk_pass lb; }\n    location /jk-manager { rjk_pass jk-manager; }",
    );
    let a = nginx.addr();
    assert_eq!(counts(a, 20, None).len(), 2);
    let page = http::get(a, "/jk-manager", &[]).unwrap().text();
    let n = nonce(&page);
    let post = |body: String| {
        http::request(
            a,
            "POST",
            "/jk-manager",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .unwrap()
    };
    // Disable n1: new requests (on both worker processes) go to n2, its sessions stay.
    assert_eq!(
        post(format!("cmd=update&w=lb&sw=n1&vwa=D&nonce={n}")).status,
        303
    );
    assert_eq!(counts(a, 40, None), BTreeMap::from([("n2".to_owned(), 40)]));
    assert_eq!(
        counts(a, 6, Some("JSESSIONID=ABC.n1")),
        BTreeMap::from([("n1".to_owned(), 6)])
    );
    // A forged nonce changes nothing.
    assert_ne!(
        post("cmd=update&w=lb&sw=n1&vwa=A&nonce=forged".into()).status,
        303
    );
    assert_eq!(counts(a, 10, None), BTreeMap::from([("n2".to_owned(), 10)]));
    assert_eq!(
        post(format!("cmd=update&w=lb&sw=n1&vwa=A&nonce={n}")).status,
        303
    );
    assert_eq!(counts(a, 20, None).len(), 2);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn log_variables_and_env_vars_carry_mod_jk_notes() {
    let nodes = vec![Node::start(
        "n1",
        None,
        &["--allowed-request-attributes", "TENANT|REGION"],
    )
    .unwrap()];
    let (nginx, d) = start(
        "vars",
        &nodes,
        "  log_format notes '$rjk_worker $rjk_member $rjk_route $rjk_duration $status';\n  \
         rjk_env_var TENANT;\n  rjk_env_var REGION eu;",
        "    access_log notes.log notes;\n    location / { set $tenant acme; rjk_pass lb; }",
    );
    let r = http::get(nginx.addr(), "/echo", &[]).unwrap();
    assert_eq!(r.status, 200);
    let t = r.text();
    assert!(t.contains(r#"["TENANT","acme"]"#), "{t}");
    assert!(t.contains(r#"["REGION","eu"]"#), "the default: {t}");
    let line = rjk_tests::wait_until("the access log line", Duration::from_secs(5), || {
        std::fs::read_to_string(d.join("notes.log"))
            .ok()
            .filter(|l| !l.is_empty())
    })
    .unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&f[..3], ["lb", "n1", "n1"], "{line}");
    assert!(f[3].parse::<f64>().is_ok(), "{line}");
    assert_eq!(f[4], "200");
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn use_server_errors_answers_with_nginx_error_pages() {
    let nodes = nodes(&["n1"]);
    let (nginx, d) = start(
        "errors",
        &nodes,
        "  rjk_mount /app/* \"lb;use_server_errors=404\";\n  rjk_mount /plain/* lb;",
        "    error_page 404 /nf.html;\n    location / { root html; }",
    );
    std::fs::create_dir_all(nginx.dir.join("html")).unwrap();
    std::fs::write(nginx.dir.join("html/nf.html"), "nginx's own page\n").unwrap();
    let a = nginx.addr();
    // The backend's 404 is withheld: nginx's error_page answers.
    let r = http::get(a, "/app/status/404", &[]).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "nginx's own page\n");
    // Without the extension the backend's own 404 goes through.
    let r = http::get(a, "/plain/status/404", &[]).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("X-Rjk-Node"), Some("n1"));
    assert_ne!(r.text(), "nginx's own page\n");
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}

/// `rjk_log_level` filters the module's own messages (a status change is a notice), and a
/// status form over lb-core's limit is refused whole with 413 through nginx too.
#[test]
fn rjk_log_level_filters_and_an_oversized_status_form_is_413() {
    let nodes = nodes(&["n1"]);
    for (level, logged) in [("info", true), ("error", false)] {
        let (nginx, d) = start(
            &format!("loglevel-{level}"),
            &nodes,
            &format!("  rjk_log_level {level};\n  client_body_buffer_size 512k;\n"),
            "    location / { rjk_pass lb; }\n    location /jk-manager { rjk_pass jk-manager; }",
        );
        let a = nginx.addr();
        let n = nonce(&http::get(a, "/jk-manager", &[]).unwrap().text());
        let post = |body: &str| {
            http::request(
                a,
                "POST",
                "/jk-manager",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                body.as_bytes(),
            )
            .unwrap()
        };
        let big = format!(
            "cmd=update&w=lb&sw=n1&vwa=S&nonce={n}&pad={}",
            "p".repeat(100_000)
        );
        assert_eq!(post(&big).status, 413, "a truncated form is never acted on");
        assert_eq!(counts(a, 4, None).len(), 1, "n1 was not stopped");
        let ok = post(&format!("cmd=update&w=lb&sw=n1&vwa=D&nonce={n}"));
        assert_eq!(ok.status, 303);
        let found = rjk_tests::wait_until(
            "the status change in the log",
            std::time::Duration::from_secs(2),
            || nginx.error_log().contains("status change").then_some(()),
        );
        assert_eq!(
            found.is_ok(),
            logged,
            "rjk_log_level {level}:\n{}",
            nginx.error_log()
        );
        nginx.stop();
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// Path parameters and `..;` segments are a path to the mount table but not to nginx: a mapped
/// URI is normalised before nginx picks its location, so `deny` applies to the path the mount
/// maps.
#[test]
fn access_control_applies_to_the_path_a_mount_maps() {
    let nodes = nodes(&["n1"]);
    let (nginx, d) = start(
        "normalised",
        &nodes,
        "  rjk_mount /app/* lb;\n  rjk_mount /jk-manager jk-manager;",
        "    location /jk-manager { deny all; }",
    );
    let a = nginx.addr();
    let status_page = |path: &str| {
        let r = http::get(a, path, &[]).unwrap();
        (r.status, r.text().contains("rjk status"))
    };
    assert_eq!(status_page("/jk-manager"), (403, false), "control: denied");
    assert_eq!(status_page("/app/..;/jk-manager"), (403, false));
    assert_eq!(status_page("/app/x;a=b/..;/..;/jk-manager"), (403, false));
    // Control: a path parameter still maps.
    let r = http::get(a, "/app/x;jsessionid=ABC.n1", &[]).unwrap();
    assert_eq!(r.header("X-Rjk-Node"), Some("n1"), "{}", r.status);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}

/// The status page counts the backend connections nginx's worker processes hold (pooled and in
/// use); a client that closes its connection while the backend is still thinking ends the
/// request at once: 499 in the access log, that backend connection closed, the member not
/// blamed.
#[test]
fn connections_are_counted_and_a_client_leaving_while_the_backend_thinks_is_499() {
    let nodes = nodes(&["n1"]);
    let (nginx, d) = start_with(
        "abort",
        1,
        &nodes,
        "",
        "",
        "    location / { rjk_pass lb; }\n    location /jk-manager { rjk_pass jk-manager; }",
    );
    let a = nginx.addr();
    assert_eq!(prop(a, "n1.connected"), "0");
    for _ in 0..3 {
        assert_eq!(http::get(a, "/1k", &[]).unwrap().status, 200);
    }
    // One worker process, one request at a time: one pooled connection.
    assert_eq!(prop(a, "n1.connected"), "1");
    let mut client = std::net::TcpStream::connect(a).unwrap();
    std::io::Write::write_all(
        &mut client,
        b"GET /slow?ms=8000 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    rjk_tests::wait_until("the slow request at n1", Duration::from_secs(5), || {
        (prop(a, "n1.busy") == "1").then_some(())
    })
    .unwrap();
    let left = std::time::Instant::now();
    drop(client);
    let line = rjk_tests::wait_until("the 499 in the access log", Duration::from_secs(5), || {
        std::fs::read_to_string(d.join("access.log"))
            .ok()?
            .lines()
            .find(|l| l.ends_with(" 499 /slow?ms=8000"))
            .map(str::to_owned)
    });
    assert!(line.is_ok(), "{}", nginx.error_log());
    assert!(
        left.elapsed() < Duration::from_secs(4),
        "noticed while the backend thinks, not when it answers"
    );
    assert_eq!(prop(a, "n1.busy"), "0");
    assert_eq!(
        prop(a, "n1.connected"),
        "0",
        "the waiting connection was closed"
    );
    assert_eq!(prop(a, "n1.state"), "OK", "not blamed on the member");
    assert_eq!(prop(a, "n1.errors"), "0");
    assert_eq!(prop(a, "n1.max_connected"), "1");
    let r = http::get(a, "/1k", &[]).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(prop(a, "n1.connected"), "1");
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}

/// `rjk_pass $variable;` (mod_jk's JK_WORKER_NAME): the worker is chosen per request; a value
/// that names no worker is a 500 and an error line naming the variable and the closest
/// worker. The module's messages go to nginx's error_log of the location (the JkLogFile of an
/// nginx operator), and `log_format` with `$rjk_*` is the JkRequestLogFormat.
#[test]
fn rjk_pass_with_a_variable_chooses_the_worker_per_request() {
    let nodes = nodes(&["n1", "n2"]);
    let solo = format!(
        "worker.list=solo\nworker.solo.type=ajp13\nworker.solo.host=127.0.0.1\nworker.solo.port={}\n",
        nodes[1].port
    );
    let (nginx, d) = start_with(
        "variable",
        2,
        &nodes[..1],
        &solo,
        "  log_format chosen '$rjk_worker $rjk_member $status';",
        &format!(
            "    location /1k {{ rjk_pass $arg_w; error_log {d}/rjk.log info; \
             access_log {d}/chosen.log chosen; }}",
            d = dir_of("variable").display()
        ),
    );
    let a = nginx.addr();
    let r = http::get(a, "/1k?w=lb", &[]).unwrap();
    assert_eq!((r.status, r.header("X-Rjk-Node")), (200, Some("n1")));
    let r = http::get(a, "/1k?w=solo", &[]).unwrap();
    assert_eq!((r.status, r.header("X-Rjk-Node")), (200, Some("n2")));
    assert_eq!(http::get(a, "/1k?w=lbb", &[]).unwrap().status, 500);
    assert_eq!(http::get(a, "/1k", &[]).unwrap().status, 500);
    let log = rjk_tests::wait_until("the error lines", Duration::from_secs(5), || {
        std::fs::read_to_string(d.join("rjk.log"))
            .ok()
            .filter(|l| l.contains("no worker ``"))
    })
    .unwrap_or_else(|e| panic!("{e}: {}", nginx.error_log()));
    assert!(
        log.contains("rjk: no worker `lbb` in worker.list, from rjk_pass $arg_w (")
            && log.contains("did you mean `lb`?"),
        "{log}"
    );
    assert!(
        !nginx.error_log().contains("no worker `lbb`"),
        "the location's error_log has them"
    );
    let access = std::fs::read_to_string(d.join("chosen.log")).unwrap();
    let lines: Vec<&str> = access.lines().collect();
    assert_eq!(&lines[..2], ["lb n1 200", "solo solo 200"], "{access}");
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}

fn dir_of(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rjk-ngx-{name}-{}", std::process::id()))
}

/// A member's port changed through the status worker moves it for every worker process at
/// once: connections pooled to the old port are never reused.
#[test]
fn a_port_changed_by_the_status_worker_moves_the_member_in_every_process() {
    let nodes = nodes(&["n1", "n2", "n3"]);
    let (nginx, d) = start(
        "port",
        &nodes[..2],
        "",
        "    location / { rjk_pass lb; }\n    location /jk-manager { rjk_pass jk-manager; }",
    );
    let a = nginx.addr();
    let sticky = [("Cookie", "JSESSIONID=x.n1")];
    let burst = || -> Vec<String> {
        std::thread::scope(|s| {
            let all: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(move || {
                        let r = http::get(a, "/1k", &sticky).unwrap();
                        r.header("X-Rjk-Node").unwrap_or("?").to_owned()
                    })
                })
                .collect();
            all.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    assert!(burst().iter().all(|n| n == "n1"));
    let n = nonce(&http::get(a, "/jk-manager", &[]).unwrap().text());
    let r = rjk_tests::status::post(
        a,
        &format!("cmd=update&w=lb&sw=n1&vaprt={}&nonce={n}", nodes[2].port),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    for _ in 0..3 {
        let served = burst();
        assert!(served.iter().all(|n| n == "n3"), "{served:?}");
    }
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
}

/// On a TLS listener nginx's `$https` and `$ssl_*` variables are mod_ssl's `HTTPS` and `SSL_*`
/// for mod_jk's indicators: the backend sees the request as secure, with its cipher and
/// session; a plain listener of the same server block sends none.
#[test]
fn tls_variables_reach_the_backend_as_ssl_attributes() {
    let nodes = nodes(&["n1"]);
    let keys = dir("tls-keys");
    let (cert, key) = (keys.join("cert.pem"), keys.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (package openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tls_port = rjk_tests::proc::free_port();
    let (nginx, d) = start(
        "tls",
        &nodes,
        &format!(
            "  server {{ listen 127.0.0.1:{tls_port} ssl; ssl_certificate {}; \
             ssl_certificate_key {}; location / {{ rjk_pass lb; }} }}",
            cert.display(),
            key.display()
        ),
        "    location / { rjk_pass lb; }",
    );
    let out = std::process::Command::new("curl")
        .args(["-sk", "--max-time", "10"])
        .arg(format!("https://127.0.0.1:{tls_port}/echo"))
        .output()
        .expect("curl");
    let t = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(t.contains(r#""is_ssl":true"#), "{t}");
    assert!(
        t.contains(r#"{"cipher":"E"#) || t.contains(r#"{"cipher":"T"#),
        "{t}"
    );
    assert!(t.contains(r#""session":""#), "{t}");
    assert!(t.contains(r#"["AJP_SSL_PROTOCOL","TLSv1."#), "{t}");
    let plain = http::get(nginx.addr(), "/echo", &[]).unwrap().text();
    assert!(plain.contains(r#""is_ssl":false"#), "{plain}");
    assert!(plain.contains(r#""tls":null"#), "{plain}");
    nginx.stop();
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&keys);
}
