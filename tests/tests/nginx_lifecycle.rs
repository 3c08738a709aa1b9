//! The nginx module over a server's life: `nginx -s reload` under load keeps every request and
//! the shared counters; a client that leaves mid-download leaves nothing behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rjk_tests::cluster::{member_lines, Node};
use rjk_tests::http;
use rjk_tests::nginx::Nginx;

fn start(name: &str, nodes: &[Node]) -> (Nginx, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("rjk-ngx-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let routes: Vec<&str> = nodes.iter().map(|n| n.route.as_str()).collect();
    let workers = format!(
        "worker.list=lb,jkstatus\nworker.jkstatus.type=status\nworker.lb.type=lb\n\
         worker.lb.balance_workers={}\n{}",
        routes.join(","),
        member_lines(nodes, |_| String::new())
    );
    std::fs::write(dir.join("workers.properties"), workers).unwrap();
    let nginx = Nginx::start(
        &dir,
        2,
        &format!("  rjk_workers_file {}/workers.properties;", dir.display()),
        "    location / { rjk_pass lb; }\n    location /jkstatus { rjk_pass jkstatus; }",
    )
    .unwrap();
    (nginx, dir)
}

/// The members' `elected` counters from the status worker's text page.
fn elected(n: &Nginx) -> u64 {
    let t = http::get(n.addr(), "/jkstatus?mime=txt", &[])
        .unwrap()
        .text();
    t.lines()
        .filter(|l| l.starts_with("Member: "))
        .filter_map(|l| {
            l.split(' ')
                .find_map(|f| f.strip_prefix("elected="))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

fn no_alerts(n: &Nginx) {
    let log = n.error_log();
    for bad in ["[alert]", "[crit]", "[emerg]", "exited on signal"] {
        assert!(!log.contains(bad), "{bad} in error.log:\n{log}");
    }
}

#[test]
fn reload_twice_under_load_loses_no_request_and_keeps_the_counters() {
    let nodes = vec![
        Node::start("n1", None, &[]).unwrap(),
        Node::start("n2", None, &[]).unwrap(),
    ];
    let (nginx, dir) = start("reload", &nodes);
    let addr = nginx.addr();
    let stop = Arc::new(AtomicBool::new(false));
    // Bounded load: four clients, at most 400 requests each, until both reloads are done.
    let load: Vec<_> = (0..4)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0u64, Vec::new());
                for _ in 0..400 {
                    if stop.load(Ordering::Relaxed) && ok >= 20 {
                        break;
                    }
                    match http::get(addr, "/1k", &[]) {
                        Ok(r) if r.status == 200 && r.body.len() == 1024 => ok += 1,
                        Ok(r) => failed.push(format!("status {}", r.status)),
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    rjk_tests::wait_until("some traffic", Duration::from_secs(10), || {
        (elected(&nginx) >= 40).then_some(())
    })
    .unwrap();
    nginx.reload(2).unwrap();
    nginx.reload(2).unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for t in load {
        let (ok, failed) = t.join().unwrap();
        assert!(
            failed.is_empty(),
            "failed requests across reloads: {failed:?}"
        );
        total += ok;
    }
    // Same workers: the table (and its counters) went through both reloads. The status
    // requests themselves are not counted (the status worker is no member).
    let counted = elected(&nginx);
    assert!(
        counted >= total,
        "the counters were reset: {counted} elected for {total} requests"
    );
    no_alerts(&nginx);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_client_leaving_mid_download_leaves_the_next_request_clean() {
    let nodes = vec![Node::start("n1", None, &[]).unwrap()];
    let (nginx, dir) = start("abort", &nodes);
    for _ in 0..3 {
        let mut s = TcpStream::connect(nginx.addr()).unwrap();
        s.write_all(
            b"GET /download?bytes=10485760&chunk=65536 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )
        .unwrap();
        let mut some = vec![0u8; 100_000];
        s.read_exact(&mut some).unwrap();
        drop(s);
        // The next request on a fresh connection gets a whole, clean answer.
        let r = http::get(nginx.addr(), "/download?bytes=300000&chunk=8192", &[]).unwrap();
        assert_eq!(r.status, 200);
        let want: Vec<u8> = (0..300_000u64).map(rjk_node::demo::pattern_byte).collect();
        assert!(r.body == want, "the body after an abort differs");
    }
    no_alerts(&nginx);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_with_edited_workers_starts_a_fresh_table_with_the_edits() {
    let nodes = vec![
        Node::start("n1", None, &[]).unwrap(),
        Node::start("n2", None, &[]).unwrap(),
    ];
    let (nginx, dir) = start("edited", &nodes);
    for _ in 0..20 {
        assert_eq!(http::get(nginx.addr(), "/1k", &[]).unwrap().status, 200);
    }
    assert!(elected(&nginx) >= 20);
    let file = dir.join("workers.properties");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("worker.n1.lbfactor=3\n");
    std::fs::write(&file, text).unwrap();
    nginx.reload(2).unwrap();
    // The new workers balance on a new table: counters from zero, the new factor in force.
    let fresh = rjk_tests::wait_until("the new table", Duration::from_secs(10), || {
        (elected(&nginx) == 0).then_some(())
    });
    assert!(fresh.is_ok(), "elected after the edit: {}", elected(&nginx));
    let prop = http::get(nginx.addr(), "/jkstatus?mime=prop", &[])
        .unwrap()
        .text();
    assert!(prop.contains("worker.n1.lbfactor=3\n"), "{prop}");
    no_alerts(&nginx);
    nginx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
