//! The reliability suite's fixture: a front end over fake AJP containers (`fake_ajp`), with
//! one plain ajp13 worker and a balancer of two, and a way to assert on the front ends under
//! test while only reporting on the reference (Debian's mod_jk).

use std::time::Duration;

use crate::fake_ajp::FakeAjp;
use crate::front::{test_dir, Front, FrontEnd, Setup};
use crate::http;

/// A front end with:
/// - `/direct/*` → worker `direct` (ajp13 on the fake `d`, reply_timeout 5 s, one pooled
///   connection per process so that reuse is certain);
/// - `/slow/*` → worker `slow` (same fake, reply_timeout 2 s, one attempt); `/sockto/*` →
///   `sockto` (socket_timeout 2 s, one attempt);
/// - `/lb/*` → balancer `lb` over members `b1`, `b2` (fakes of those routes);
/// - `/jkstatus` → a status worker.
pub struct Rig {
    pub front: Front,
    pub d: FakeAjp,
    pub b1: FakeAjp,
    pub b2: FakeAjp,
}

impl Rig {
    pub fn start(fe: FrontEnd, case: &str) -> Rig {
        let (d, b1, b2) = (
            FakeAjp::start("d").unwrap(),
            FakeAjp::start("b1").unwrap(),
            FakeAjp::start("b2").unwrap(),
        );
        let workers = format!(
            "worker.list=direct,slow,sockto,lb,jkstatus\n\
             worker.direct.host=127.0.0.1\nworker.direct.port={d}\nworker.direct.reply_timeout=5000\n\
             worker.direct.connection_pool_size=1\n\
             worker.slow.host=127.0.0.1\nworker.slow.port={d}\nworker.slow.reply_timeout=2000\nworker.slow.retries=1\n\
             worker.sockto.host=127.0.0.1\nworker.sockto.port={d}\nworker.sockto.socket_timeout=2\nworker.sockto.retries=1\n\
             worker.lb.type=lb\nworker.lb.balance_workers=b1,b2\n\
             worker.b1.host=127.0.0.1\nworker.b1.port={p1}\nworker.b1.reply_timeout=5000\n\
             worker.b2.host=127.0.0.1\nworker.b2.port={p2}\nworker.b2.reply_timeout=5000\n\
             worker.jkstatus.type=status\n",
            d = d.port,
            p1 = b1.port,
            p2 = b2.port,
        );
        let mounts =
            "/direct/*=direct\n/slow/*=slow\n/sockto/*=sockto\n/lb/*=lb\n/jkstatus=jkstatus\n";
        let front = fe
            .start(
                &test_dir("rel", case, fe),
                &Setup {
                    workers: &workers,
                    mounts,
                    ..Setup::default()
                },
            )
            .unwrap();
        Rig { front, d, b1, b2 }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.front.addr()
    }

    /// `worker.NAME.KEY=` from the status worker's properties output.
    pub fn status_prop(&self, worker: &str, key: &str) -> Option<String> {
        let p = http::get(self.addr(), "/jkstatus?mime=prop", &[])
            .ok()?
            .text();
        let want = format!("worker.{worker}.{key}=");
        p.lines()
            .find_map(|l| l.strip_prefix(&want).map(str::to_owned))
    }

    pub fn stop(self) {
        self.front.stop();
    }

    /// Run one case on this rig, then stop it whatever the outcome.
    pub fn check(self, case: impl FnOnce(&Rig) -> Result<(), String>) -> Result<(), String> {
        let r = case(&self);
        self.stop();
        r
    }
}

/// Run `case` on each front end: a failure fails the test on the asserted front ends and is
/// printed as a finding on the reference. Returns the reference's findings (for a report).
pub fn on_each(
    fronts: &[FrontEnd],
    mut case: impl FnMut(FrontEnd) -> Result<(), String>,
) -> Vec<String> {
    let mut findings = Vec::new();
    let mut failures = Vec::new();
    for &fe in fronts {
        match case(fe) {
            Ok(()) => eprintln!("{}: holds", fe.name()),
            Err(e) if FrontEnd::ASSERTED.contains(&fe) => {
                failures.push(format!("{}: {e}", fe.name()))
            }
            Err(e) => {
                eprintln!("REFERENCE FINDING {}: {e}", fe.name());
                findings.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    findings
}

/// Fail a case with a message unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// A bound for "at once": the front end answered well before any timeout could have fired.
pub const PROMPT: Duration = Duration::from_millis(1000);
