//! The same requests through the same mod_jk to Tomcat 10 and to rjk-node: wherever AJP and
//! Tomcat's connector define the answer, both backends must give the same one.

mod common;

use common::procs::*;
use common::{body, json_field, sha256};
use rjk_tests::tomcat::{Tomcat, TomcatConfig};

const SECRET: &str = "s3cr3t";

/// One httpd + mod_jk in front of one backend: `/` with the right secret, `/wrong/*` with a
/// wrong one, `/missing/*` with none.
fn front(dir: &std::path::Path, port: u16) -> Httpd {
    require(&format!("{MODULES}/mod_jk.so"), "libapache2-mod-jk");
    let mut conf = format!(
        "LoadModule jk_module {MODULES}/mod_jk.so\nJkShmFile {d}/run/jk.shm\n\
         JkLogFile {d}/logs/mod_jk.log\nJkLogLevel info\n\
         JkWorkerProperty worker.list=b,wrong,missing\n",
        d = dir.display()
    );
    for (name, secret) in [
        ("b", Some(SECRET)),
        ("wrong", Some("not-it")),
        ("missing", None),
    ] {
        conf += &format!(
            "JkWorkerProperty worker.{name}.type=ajp13\n\
             JkWorkerProperty worker.{name}.host=127.0.0.1\n\
             JkWorkerProperty worker.{name}.port={port}\n"
        );
        if let Some(s) = secret {
            conf += &format!("JkWorkerProperty worker.{name}.secret={s}\n");
        }
    }
    conf += "JkMount /* b\nJkMount /wrong/* wrong\nJkMount /missing/* missing\n";
    Httpd::start(dir, &conf)
}

/// What a backend answered to the common requests, reduced to what must agree.
#[derive(Debug, PartialEq)]
struct Answers {
    get: (u16, usize, Option<String>),
    head: String,
    upload: (u16, Option<String>, Option<String>),
    chunked: (Option<String>, Option<String>),
    not_found: u16,
    wrong_secret: u16,
    missing_secret: u16,
    cookie_shape: String,
    counter_after_two: Option<String>,
}

fn ask(h: &Httpd, dir: &std::path::Path, upload: &str, session: &str, route: &str) -> Answers {
    let r = curl(&h.url("/1k"), &[]);
    let get = (
        r.status,
        r.body.len(),
        r.header("Content-Length").map(str::to_string),
    );
    let head = head_status_and_body(h.port(), "/1k");
    let data = body(1 << 20);
    let file = dir.join("upload");
    std::fs::write(&file, &data).unwrap();
    let at = format!("@{}", file.display());
    let r = curl(&h.url(upload), &["--data-binary", &at, "-H", "Expect:"]);
    assert_eq!(
        json_field(&r.text(), "sha256").unwrap(),
        sha256(&data),
        "{}",
        r.text()
    );
    let upload_answer = (
        r.status,
        json_field(&r.text(), "length"),
        json_field(&r.text(), "sha256"),
    );
    let r = curl(
        &h.url(upload),
        &["--data-binary", &at, "-H", "Transfer-Encoding: chunked"],
    );
    let chunked = (
        json_field(&r.text(), "length"),
        json_field(&r.text(), "sha256"),
    );
    let r = curl(&h.url(session), &[]);
    let cookie = r.header("Set-Cookie").unwrap_or("").to_string();
    let id = json_field(&r.text(), "id").unwrap_or_default();
    assert!(id.ends_with(&format!(".{route}")), "{id}");
    let r = curl(
        &h.url(session),
        &["-H", &format!("Cookie: JSESSIONID={id}")],
    );
    Answers {
        get,
        head,
        upload: upload_answer,
        chunked,
        not_found: curl(&h.url("/no-such-page"), &[]).status,
        wrong_secret: curl(&h.url("/wrong/1k"), &[]).status,
        missing_secret: curl(&h.url("/missing/1k"), &[]).status,
        // The id's hex part differs; its length, the route suffix and the flags must not.
        cookie_shape: cookie
            .replace(&id[..32], "<32 HEX>")
            .replace(route, "<route>"),
        counter_after_two: json_field(&r.text(), "counter"),
    }
}

/// Status line and whether anything followed the head, for a raw HEAD request.
fn head_status_and_body(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        s,
        "HEAD {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let t = String::from_utf8_lossy(&out);
    // The status code only: Tomcat sends the number as the reason phrase ("200 200"),
    // rjk-node the standard phrase ("200 OK"); AJP leaves the phrase to the container.
    let status = t.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let tail = t
        .split_once("\r\n\r\n")
        .map_or("<no end of head>", |(_, b)| b);
    format!("{status} / after head: {tail:?}")
}

/// A webapp deployed at `/app` (besides ROOT): its session cookie shows Tomcat's Path.
const APP_SESSION_JSP: &str = "<%@ page contentType=\"application/json\" %><% \
    session.setAttribute(\"c\", \"1\"); %>{\"id\":\"<%= session.getId() %>\"}";

/// The Set-Cookie of a new session at `path`, its random part masked.
fn cookie_at(h: &Httpd, path: &str, route: &str) -> String {
    let r = curl(&h.url(path), &[]);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    let id = json_field(&r.text(), "id").unwrap_or_default();
    r.header("Set-Cookie")
        .unwrap_or("")
        .replace(&id[..32], "<32 HEX>")
        .replace(route, "<route>")
}

#[test]
fn rjk_node_answers_like_tomcat_through_mod_jk() {
    let dir = TempDir::new("vs-tomcat");
    let tc_base = dir.path().join("tomcat");
    // Deployed on startup next to the helper's ROOT webapp.
    std::fs::create_dir_all(tc_base.join("webapps/app")).unwrap();
    std::fs::write(tc_base.join("webapps/app/session.jsp"), APP_SESSION_JSP).unwrap();
    let tomcat = Tomcat::start(&tc_base, &TomcatConfig::new("tc1", Some(SECRET))).unwrap();
    let node = rjk_node("n1", &["--secret", SECRET]);
    let (d1, d2) = (dir.path().join("h-tomcat"), dir.path().join("h-node"));
    let h_tomcat = front(&d1, tomcat.ajp.port());
    let h_node = front(&d2, node.ajp.port());

    // Tomcat compiles JSPs on first use: warm up before comparing.
    let warm = curl(&h_tomcat.url("/session.jsp"), &[]);
    assert_eq!(
        warm.status,
        200,
        "Tomcat is not serving: {}",
        h_tomcat.error_log()
    );

    let from_tomcat = ask(&h_tomcat, &d1, "/upload.jsp", "/session.jsp", "tc1");
    let from_node = ask(&h_node, &d2, "/upload", "/session", "n1");
    assert_eq!(from_node, from_tomcat);
    assert_eq!(from_node.wrong_secret, 403);
    assert_eq!(from_node.get.0, 200);

    // Mounted under /app, both scope the session cookie to it.
    let in_app = rjk_node("n1", &["--secret", SECRET, "--context-path", "/app"]);
    let d3 = dir.path().join("h-app");
    let h_app = front(&d3, in_app.ajp.port());
    let from_tomcat = cookie_at(&h_tomcat, "/app/session.jsp", "tc1");
    assert_eq!(
        from_tomcat,
        "JSESSIONID=<32 HEX>.<route>; Path=/app; HttpOnly"
    );
    assert_eq!(cookie_at(&h_app, "/app/session", "n1"), from_tomcat);
    drop((h_tomcat, h_node, h_app, node, in_app, tomcat));
}
