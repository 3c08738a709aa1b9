//! An `lb` worker: its members and how it balances, sticks and retries (mod_jk's
//! `jk_lb_worker.c` `validate`/`init` defaults).

use super::read::Props;
use super::setting::{row, Row, Setting};
use super::value::{Lock, Method};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbWorker {
    pub balance_workers: Setting<Vec<String>>,
    pub sticky_session: Setting<bool>,
    pub sticky_session_force: Setting<bool>,
    pub method: Setting<Method>,
    pub lock: Setting<Lock>,
    /// Full rounds over the members.
    pub retries: Setting<i64>,
    /// Members tried per round.
    pub lb_retries: Setting<i64>,
    /// Milliseconds between rounds.
    pub retry_interval: Setting<i64>,
    /// Seconds in ERROR before RECOVER.
    pub recover_time: Setting<i64>,
    pub error_escalation_time: Setting<i64>,
    pub max_reply_timeouts: Setting<i64>,
    pub session_cookie: Setting<String>,
    pub session_path: Setting<String>,
    pub set_session_cookie: Setting<bool>,
    pub session_cookie_path: Setting<String>,
    pub secret: Setting<Option<String>>,
    /// 1.2.7-era `local_worker_only` (mapped onto member activation).
    pub local_worker_only: Setting<bool>,
}

impl LbWorker {
    pub fn read(p: &mut Props<'_>) -> LbWorker {
        let mut retries = p.int("retries", 2);
        p.at_least("retries", &mut retries, 1);
        let mut lb_retries = p.int("lb_retries", 2);
        p.at_least("lb_retries", &mut lb_retries, 1);
        let mut recover_time = p.int("recover_time", 60);
        p.at_least("recover_time", &mut recover_time, 1);
        let escalation = Setting::derived(recover_time.value / 2, "recover_time / 2");
        let mut error_escalation_time = p.int_or("error_escalation_time", escalation);
        if error_escalation_time.value < 0 {
            p.at_least("error_escalation_time", &mut error_escalation_time, 0);
        }
        let balance_workers = p.list("balance_workers", &[]);
        if balance_workers.value.is_empty() {
            p.error(
                None,
                "an lb worker needs members: set `balance_workers`".into(),
            );
        }
        let session_cookie_path = p.string("session_cookie_path", "/");
        LbWorker {
            balance_workers,
            sticky_session: p.boolean("sticky_session", true),
            sticky_session_force: p.boolean("sticky_session_force", false),
            method: p.parsed("method", Setting::default(Method::Request), Method::parse),
            lock: p.parsed("lock", Setting::default(Lock::Optimistic), Lock::parse),
            retries,
            lb_retries,
            retry_interval: p.int("retry_interval", 100),
            recover_time,
            error_escalation_time,
            max_reply_timeouts: p.int("max_reply_timeouts", 0),
            session_cookie: p.string("session_cookie", "JSESSIONID"),
            session_path: p.string("session_path", ";jsessionid"),
            set_session_cookie: p.boolean("set_session_cookie", false),
            session_cookie_path,
            secret: p.opt_string("secret"),
            local_worker_only: p.boolean("local_worker_only", false),
        }
    }

    pub fn rows(&self) -> Vec<Row<'_>> {
        vec![
            Row {
                name: "balance_workers",
                value: self.balance_workers.value.join(","),
                origin: &self.balance_workers.origin,
            },
            row("sticky_session", &self.sticky_session),
            row("sticky_session_force", &self.sticky_session_force),
            Row {
                name: "method",
                value: self.method.value.name().into(),
                origin: &self.method.origin,
            },
            Row {
                name: "lock",
                value: self.lock.value.name().into(),
                origin: &self.lock.origin,
            },
            row("retries", &self.retries),
            row("lb_retries", &self.lb_retries),
            row("retry_interval", &self.retry_interval),
            row("recover_time", &self.recover_time),
            row("error_escalation_time", &self.error_escalation_time),
            row("max_reply_timeouts", &self.max_reply_timeouts),
            row("session_cookie", &self.session_cookie),
            row("session_path", &self.session_path),
            row("set_session_cookie", &self.set_session_cookie),
            row("session_cookie_path", &self.session_cookie_path),
            Row {
                name: "secret",
                value: if self.secret.value.is_some() {
                    "(set)".into()
                } else {
                    String::new()
                },
                origin: &self.secret.origin,
            },
        ]
    }
}
