//! `apache2 -k graceful` twice while a bounded load runs through mod_rjk: no request fails.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rjk_tests::cluster::{front, lb_workers, nodes, Connector};
use rjk_tests::http;
use rjk_tests::httpd::{Mpm, APACHE2};

#[test]
fn graceful_restarts_under_load_fail_no_request() {
    for c in [Connector::ModJk, Connector::ModRjk] {
        run(c);
    }
}

fn run(c: Connector) {
    let nodes = nodes(&["n1", "n2"]);
    let workers = lb_workers(&nodes, &[], "");
    let dir =
        std::env::temp_dir().join(format!("rjk-graceful-{}-{}", c.name(), std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let jk = "JkMount /* lb\nJkMount /jkstatus jkstatus\n";
    let workers = format!("{workers}worker.list=jkstatus\nworker.jkstatus.type=status\n");
    let httpd = front(&dir, c, Mpm::Event, &workers, jk).unwrap();
    let addr = httpd.addr();
    let elected = || -> u64 {
        let p = http::get(addr, "/jkstatus?mime=prop", &[]).unwrap().text();
        p.lines()
            .filter(|l| l.contains(".elected="))
            .filter_map(|l| l.split('=').nth(1)?.parse::<u64>().ok())
            .sum()
    };
    for _ in 0..50 {
        assert_eq!(http::get(addr, "/1k", &[]).unwrap().status, 200);
    }
    let before = elected();
    assert!(before >= 50, "{}: {before}", c.name());
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut ok, mut failed) = (0u32, Vec::new());
            // Bounded: at most 5000 requests, and it stops once both restarts are done.
            for i in 0..5000 {
                if stop.load(Ordering::Relaxed) && ok >= 200 {
                    break;
                }
                match http::get(addr, "/1k", &[]) {
                    Ok(r) if r.status == 200 => ok += 1,
                    Ok(r) => failed.push(format!("request {i}: {}", r.status)),
                    Err(e) => failed.push(format!("request {i}: {e}")),
                }
            }
            (ok, failed)
        })
    };
    for round in 0..2 {
        let out = Command::new(APACHE2)
            .arg("-d")
            .arg(&dir)
            .arg("-f")
            .arg(dir.join("httpd.conf"))
            .args(["-k", "graceful"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Wait until the restarted generation answers before the next restart.
        rjk_tests::wait_until(
            "the new generation",
            std::time::Duration::from_secs(20),
            || {
                std::fs::read_to_string(dir.join("logs/error.log"))
                    .ok()
                    .filter(|l| l.matches("resuming normal operations").count() >= 2 + round)
                    .map(|_| ())
            },
        )
        .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = load.join().unwrap();
    // The shared counters survived both restarts (mod_rjk keeps its table in the process pool).
    let after = elected();
    if c == Connector::ModRjk {
        assert!(
            after >= before + ok as u64,
            "counters survive graceful restarts: {before} before, {after} after {ok} more requests"
        );
    }
    httpd.stop();
    drop(nodes);
    assert!(
        failed.is_empty(),
        "{}: {} failed of {}: {:?}",
        c.name(),
        failed.len(),
        ok as usize + failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(ok >= 200, "the load ran: {ok}");
    let _ = std::fs::remove_dir_all(&dir);
}
