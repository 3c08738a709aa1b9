//! The httpd-side features around forwarding, each checked on Debian's mod_jk and on mod_rjk
//! with one configuration: JkRequestLogFormat lines, bodiless backend errors, httpd's error
//! page for `use_server_errors`, per-mount member activation, JkStripSession and JkAutoAlias.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rjk_tests::cluster::{front, lb_workers, nodes, Connector, Node};
use rjk_tests::http;
use rjk_tests::httpd::{Httpd, Mpm};

const JK: &str = "\
JkMount /1k lb
JkMount /status/* lb
JkMount /quiet/* lb;stopped=n1
JkMount /status/5* lb;use_server_errors=500
JkRequestLogFormat \"%w %R %m %U%q %s %b %T\"
JkStripSession On
";

struct Front {
    _nodes: Vec<Node>,
    httpd: Httpd,
    dir: PathBuf,
}

impl Front {
    fn start(c: Connector, test: &str) -> Front {
        Front::start_with(c, test, "")
    }

    /// With more httpd lines after the shared ones.
    fn start_with(c: Connector, test: &str, more: &str) -> Front {
        let nodes = nodes(&["n1", "n2"]);
        let workers = lb_workers(&nodes, &[], "");
        let dir = std::env::temp_dir().join(format!(
            "rjk-features-{test}-{}-{}",
            c.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let webapps = dir.join("webapps");
        write(&dir.join("htdocs/plain.txt"), "static file\n");
        write(&webapps.join("shop/img/logo.txt"), "the shop's logo\n");
        write(&webapps.join("shop/WEB-INF/web.xml"), "<web-app/>\n");
        write(&webapps.join("old.war"), "PK");
        std::fs::create_dir_all(dir.join("htdocs/d")).unwrap();
        let jk = format!("{JK}JkAutoAlias {}\n{more}", webapps.display());
        let httpd = front(&dir, c, Mpm::Event, &workers, &jk).unwrap();
        Front {
            _nodes: nodes,
            httpd,
            dir,
        }
    }

    fn get(&self, path: &str) -> http::Response {
        http::get(self.addr(), path, &[]).unwrap()
    }

    fn addr(&self) -> SocketAddr {
        self.httpd.addr()
    }

    fn jk_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/jk.log")).unwrap_or_default()
    }

    fn stop(self) {
        self.httpd.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn both(test: &str, f: impl Fn(Connector, &Front)) {
    for c in [Connector::ModJk, Connector::ModRjk] {
        let front = Front::start(c, test);
        f(c, &front);
        front.stop();
    }
}

#[test]
fn request_log_lines_follow_the_format() {
    both("request-log", |c, f| {
        let r = f.get("/1k?x=1");
        assert_eq!(r.status, 200);
        let node = r.header("X-Rjk-Node").unwrap().to_owned();
        assert_eq!(f.get("/status/503").status, 503);
        // The line is written after the response; poll for it.
        let log = rjk_tests::proc::wait_until(
            "the request lines in JkLogFile",
            std::time::Duration::from_secs(10),
            || {
                let log = f.jk_log();
                log.contains("/status/503").then_some(log)
            },
        )
        .unwrap_or_else(|e| panic!("{c:?}: {e}: {}", f.jk_log()));
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(" GET /")).collect();
        assert_eq!(lines.len(), 2, "{c:?}: {log}");
        // `[stamp] lb n1 GET /1k?x=1 200 1024 0.001234`
        let first = lines[0].split("] ").last().unwrap();
        let words: Vec<&str> = first.split(' ').collect();
        assert_eq!(
            words[..6],
            ["lb", node.as_str(), "GET", "/1k?x=1", "200", "1024"],
            "{c:?}: {first}"
        );
        let (secs, micros) = words[6].split_once('.').unwrap();
        assert!(
            secs.parse::<u64>().is_ok() && micros.len() == 6,
            "{c:?}: {first}"
        );
        assert!(
            lines[1].contains(" GET /status/503 503 "),
            "{c:?}: {}",
            lines[1]
        );
        // Only forwarded requests are logged.
        assert_eq!(f.get("/plain.txt").status, 200);
        assert!(!f.jk_log().contains("plain.txt"), "{c:?}");
    });
}

#[test]
fn a_bodiless_backend_error_passes_through_as_with_mod_jk() {
    // mod_jk 1.2.48 hands an empty 404 from the backend to the client as it is (its "no body"
    // branch never fires once the head was sent); mod_rjk does the same.
    both("bodiless", |c, f| {
        let r = f.get("/status/404?empty=1");
        assert_eq!((r.status, r.body.len()), (404, 0), "{c:?}: {}", r.text());
        assert!(r.header("X-Rjk-Node").is_some(), "{c:?}");
    });
}

#[test]
fn use_server_errors_hands_statuses_from_the_threshold_to_httpd() {
    both("server-errors", |c, f| {
        // `/status/5*` carries use_server_errors=500: httpd's page, not the backend's.
        let r = f.get("/status/503");
        assert_eq!(r.status, 503, "{c:?}");
        assert!(
            r.text().contains("<title>503 Service Unavailable</title>"),
            "{c:?}: {}",
            r.text()
        );
        assert_eq!(
            r.header("X-Rjk-Node"),
            None,
            "{c:?}: the backend's headers are dropped"
        );
        // Below the threshold the backend's page goes through.
        let r = f.get("/status/404");
        assert_eq!(
            (r.status, r.text().as_str()),
            (404, "status 404\n"),
            "{c:?}"
        );
    });
}

#[test]
fn a_mount_can_stop_a_member_for_its_urls_only() {
    both("mount-stop", |c, f| {
        let mut seen = BTreeSet::new();
        for _ in 0..12 {
            let r = f.get("/quiet/1k");
            // rjk-node answers an unknown path with 404 and its name.
            seen.insert(r.header("X-Rjk-Node").unwrap_or("?").to_owned());
        }
        assert_eq!(seen, BTreeSet::from(["n2".to_owned()]), "{c:?}");
        // A session on n1 is refused there too: stopped takes nothing.
        let r = http::get(f.addr(), "/quiet/1k", &[("Cookie", "JSESSIONID=A.n1")]).unwrap();
        assert_eq!(r.header("X-Rjk-Node"), Some("n2"), "{c:?}");
        // Other mounts still reach n1.
        let r = http::get(f.addr(), "/1k", &[("Cookie", "JSESSIONID=A.n1")]).unwrap();
        assert_eq!(r.header("X-Rjk-Node"), Some("n1"), "{c:?}");
    });
}

#[test]
fn strip_session_lets_httpd_find_its_own_files() {
    both("strip", |c, f| {
        let r = f.get("/plain.txt;jsessionid=ABC.n1");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "static file\n"),
            "{c:?}"
        );
        // Forwarded requests keep the parameter (the backend needs it).
        let r = f.get("/status/200;jsessionid=ABC.n1");
        assert_eq!(
            r.header("X-Rjk-Node"),
            Some("n1"),
            "{c:?}: sticky by the path parameter"
        );
    });
}

#[test]
fn auto_alias_serves_webapp_files_and_hides_what_tomcat_hides() {
    both("alias", |c, f| {
        let r = f.get("/shop/img/logo.txt");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "the shop's logo\n"),
            "{c:?}"
        );
        assert_eq!(f.get("/shop/WEB-INF/web.xml").status, 404, "{c:?}");
        assert_eq!(f.get("/shop/web-inf/web.xml").status, 404, "{c:?}");
        assert_eq!(f.get("/old.war").status, 403, "{c:?}");
        assert_eq!(f.get("/elsewhere/x.txt").status, 404, "{c:?}");
    });
}

#[test]
fn forward_directories_and_worker_names_from_the_environment() {
    let more = "LoadModule env_module /usr/lib/apache2/modules/mod_env.so\n\
                LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so\nTypesConfig /etc/mime.types\n\
                JkOptions +ForwardDirectories\n<Location /d/>\n  SetEnv JK_WORKER_NAME lb\n</Location>\n\
                <Location /e/>\n  SetHandler jakarta-servlet\n  SetEnv JK_WORKER_NAME lb;stopped=n1\n</Location>\n";
    for c in [Connector::ModJk, Connector::ModRjk] {
        let f = Front::start_with(c, "dirs", more);
        let r = f.get("/d/");
        // rjk-node answers the unknown path /d/ with its 404 page and its name.
        assert_eq!(r.status, 404, "{c:?}: {}", r.text());
        assert!(
            r.header("X-Rjk-Node").is_some(),
            "{c:?}: forwarded: {:?}",
            r.headers
        );
        f.stop();
    }
}

#[test]
fn the_forwarded_requests_notes_reach_httpds_access_log() {
    // Notes are set without apr_table_set's scan when they cannot be there yet (issue 17):
    // each still holds one value, JK_WORKER_NAME replaced, not doubled.
    let more = "LogFormat \"%{JK_WORKER_NAME}n|%{JK_WORKER_TYPE}n|%{JK_WORKER_ROUTE}n|\
                %{JK_LB_FIRST_NAME}n|%{JK_LB_LAST_NAME}n|%{JK_LB_LAST_STATE}n|\
                %{JK_LB_LAST_BUSY}n|%{JK_REQUEST_DURATION}n\" notes\n\
                CustomLog logs/notes.log notes\n\
                LogFormat \"%{JK_LB_FIRST_ACTIVATION}n|%{JK_LB_FIRST_STATE}n|%{JK_LB_FIRST_VALUE}n|\
                %{JK_LB_FIRST_ACCESSED}n|%{JK_LB_FIRST_READ}n|%{JK_LB_FIRST_TRANSFERRED}n|\
                %{JK_LB_FIRST_ERRORS}n|%{JK_LB_FIRST_BUSY}n|%{JK_LB_LAST_ACTIVATION}n|\
                %{JK_LB_LAST_VALUE}n|%{JK_LB_LAST_ACCESSED}n|%{JK_LB_LAST_READ}n|\
                %{JK_LB_LAST_TRANSFERRED}n|%{JK_LB_LAST_ERRORS}n\" counters\n\
                CustomLog logs/counters.log counters\n";
    for c in [Connector::ModJk, Connector::ModRjk] {
        let f = Front::start_with(c, "notes", more);
        let r = f.get("/1k");
        assert_eq!(r.status, 200, "{c:?}");
        let node = r.header("X-Rjk-Node").unwrap().to_owned();
        // The first whole line of a log httpd writes after answering.
        let line = |log: &str| {
            let path = f.dir.join(log);
            rjk_tests::proc::wait_until(log, std::time::Duration::from_secs(10), || {
                std::fs::read_to_string(&path)
                    .ok()
                    .filter(|l| l.ends_with('\n'))
            })
            .unwrap_or_else(|e| panic!("{c:?}: {e}"))
        };
        let log = line("logs/notes.log");
        let fields: Vec<&str> = log.trim_end().split('|').collect();
        assert_eq!(
            fields[..7],
            [
                "lb",
                "lb",
                node.as_str(),
                node.as_str(),
                node.as_str(),
                "OK",
                "0"
            ],
            "{c:?}: {log}"
        );
        let (secs, micros) = fields[7].split_once('.').unwrap_or(("", ""));
        assert!(
            secs.parse::<u64>().is_ok() && micros.len() == 6,
            "{c:?}: {log}"
        );
        // The other FIRST/LAST notes (issue 17: set from a table of names prepared once):
        // every one there, the activation and state words, numbers elsewhere.
        let counters = line("logs/counters.log");
        let fields: Vec<&str> = counters.trim_end().split('|').collect();
        assert_eq!(fields.len(), 14, "{c:?}: {counters}");
        assert_eq!(
            [fields[0], fields[1], fields[8]],
            ["ACT", "OK", "ACT"],
            "{c:?}: {counters}"
        );
        assert!(
            fields[2..8]
                .iter()
                .chain(&fields[9..])
                .all(|n| n.parse::<u64>().is_ok()),
            "{c:?}: {counters}"
        );
        f.stop();
    }
}

#[test]
fn a_path_normalised_for_mapping_is_forwarded_as_httpd_decoded_it() {
    // `/echo;p=1` maps as `/echo` (mod_jk ≥ 1.2.46 strips path parameters for the mapper)
    // and goes to the backend as it came: the node has no such path and says so itself.
    for c in [Connector::ModJk, Connector::ModRjk] {
        let f = Front::start_with(c, "original", "JkMount /echo lb\n");
        let plain = f.get("/echo");
        assert_eq!(plain.status, 200, "{c:?}");
        let r = f.get("/echo;p=1");
        assert_eq!(
            (r.status, String::from_utf8_lossy(&r.body).as_ref()),
            (404, "not found\n"),
            "{c:?}"
        );
        f.stop();
    }
}
