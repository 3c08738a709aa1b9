//! Crashes and restarts under load (issue 16), bounded: kill -9 one of three rjk-nodes while
//! clients run, bring it back; reload the front end gracefully while clients run. No request
//! that had not started responding may fail while a member is healthy.

use std::time::Duration;

use rjk_tests::cluster::{lb_workers, nodes};
use rjk_tests::front::{test_dir, FrontEnd, Setup};
use rjk_tests::http;
use rjk_tests::load::Load;
use rjk_tests::rig::{ensure, on_each};
use rjk_tests::wait_until;

fn member_prop(a: std::net::SocketAddr, member: &str, key: &str) -> Option<String> {
    let p = http::get(a, "/jkstatus?mime=prop", &[]).ok()?.text();
    let want = format!("worker.{member}.{key}=");
    p.lines()
        .find_map(|l| l.strip_prefix(&want).map(str::to_owned))
}

#[test]
fn kill_9_of_one_member_under_load_fails_no_request_and_it_comes_back() {
    on_each(FrontEnd::ALL, |fe| {
        let mut ns = nodes(&["n1", "n2", "n3"]);
        let workers = lb_workers(
            &ns,
            &["jkstatus"],
            "worker.jkstatus.type=status\nworker.lb.recover_time=1\nworker.maintain=1\n",
        );
        let front = fe
            .start(
                &test_dir("crash", "kill9", fe),
                &Setup {
                    workers: &workers,
                    mounts: "/1k=lb\n/jkstatus=jkstatus\n",
                    extra: &fe.maintenance_every_second(),
                    ..Setup::default()
                },
            )
            .unwrap();
        let a = front.addr();
        // A cap the clients do not reach before `finish` on a busy machine: the test needs
        // traffic still running when n2 comes back.
        let load = Load::start(a, "/1k", 4, 50_000);
        let progress = |n: u64| {
            wait_until(&format!("{n} requests"), Duration::from_secs(60), || {
                (load.done() >= n).then_some(())
            })
        };
        let result = (|| -> Result<(), String> {
            progress(200).map_err(|e| e.to_string())?;
            ns[1].kill();
            let at_kill = load.done();
            wait_until("n2 in error", Duration::from_secs(10), || {
                (member_prop(a, "n2", "state").as_deref() == Some("ERR")).then_some(())
            })
            .map_err(|_| format!("n2 not marked ERR: {:?}", member_prop(a, "n2", "state")))?;
            progress(at_kill + 300).map_err(|e| e.to_string())?;
            let before = load.answered_by("n2");
            ns[1].restart().map_err(|e| e.to_string())?;
            // Back after recover_time (1 s) and a maintenance pass: it takes traffic again.
            wait_until("n2 to serve again", Duration::from_secs(15), || {
                (load.answered_by("n2") > before + 10).then_some(())
            })
            .map_err(|_| {
                format!(
                    "n2 took no traffic in 15 s after its restart ({} requests done, {} by n2)",
                    load.done(),
                    load.answered_by("n2")
                )
            })?;
            Ok(())
        })();
        let tally = load.finish();
        eprintln!(
            "{}: {} ok, {} cut mid-response, {} failed, by member {:?}",
            fe.name(),
            tally.ok,
            tally.cut,
            tally.failed.len(),
            tally.by_member
        );
        front.stop();
        drop(ns);
        result?;
        ensure(tally.failed.is_empty(), || {
            format!(
                "{} of {} requests failed before responding: {:?}",
                tally.failed.len(),
                tally.ok + tally.failed.len() as u64,
                &tally.failed[..tally.failed.len().min(5)]
            )
        })
    });
}

/// A graceful reload while clients run, after a member was disabled through the status
/// worker: no request fails, and the disabled member stays disabled (shared state kept).
#[test]
fn graceful_reload_under_load_fails_no_request_and_keeps_runtime_state() {
    on_each(FrontEnd::ASSERTED, |fe| {
        let ns = nodes(&["n1", "n2", "n3"]);
        let workers = lb_workers(&ns, &["jkstatus"], "worker.jkstatus.type=status\n");
        let mut front = fe
            .start(
                &test_dir("crash", "reload", fe),
                &Setup {
                    workers: &workers,
                    mounts: "/1k=lb\n/jkstatus=jkstatus\n",
                    ..Setup::default()
                },
            )
            .unwrap();
        let a = front.addr();
        let nonce = rjk_tests::status::nonce(&http::get(a, "/jkstatus", &[]).unwrap().text());
        let r = http::request(
            a,
            "POST",
            "/jkstatus",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            format!("cmd=update&w=lb&sw=n3&vwa=S&nonce={nonce}").as_bytes(),
        )
        .unwrap();
        assert_eq!(r.status, 303, "{}", r.text());
        let load = Load::start(a, "/1k", 4, 3000);
        let mut result = Ok(());
        for _ in 0..2 {
            let at = load.done();
            if let Err(e) = front.reload() {
                result = Err(e.to_string());
                break;
            }
            let _ = wait_until("traffic after the reload", Duration::from_secs(30), || {
                (load.done() > at + 100).then_some(())
            });
        }
        let tally = load.finish();
        let act = member_prop(a, "n3", "activation");
        front.stop();
        drop(ns);
        eprintln!("{}: {} ok across two reloads", fe.name(), tally.ok);
        result?;
        ensure(tally.failed.is_empty() && tally.cut == 0, || {
            format!(
                "{} failed, {} cut: {:?}",
                tally.failed.len(),
                tally.cut,
                &tally.failed[..tally.failed.len().min(5)]
            )
        })?;
        ensure(
            act.as_deref() == Some("STP") && !tally.by_member.contains_key("n3"),
            || {
                format!(
                    "n3 was stopped before the reloads; now {act:?}, answered {:?}",
                    tally.by_member
                )
            },
        )
    });
}
