//! The service loop (mod_jk.md §3.7, §4.5): rounds over the members, attempts per member,
//! and the one rule that keeps retries safe — never once the client has seen a response byte,
//! never once the backend has taken streamed body, never after the client's own error.

use std::time::Duration;

use crate::pool::Pool;

use super::attempt::{self, Progress};
use super::body::Body;
use super::failure::Failure;
use super::request::MemberFields;
use super::selector::Pick;
use super::server::{RequestHead, ServerSide};
use super::spec::AjpWorkerSpec;

/// The lb's retry settings; a plain ajp13 worker uses [`Rounds::SINGLE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounds {
    /// lb `retries` (default 2, min 1): full rounds over the members.
    pub retries: u32,
    /// `lb_retries` (default 2, min 1): most members tried per round.
    pub lb_retries: u32,
    /// lb `retry_interval`: pause between rounds.
    pub retry_interval: Duration,
}

impl Rounds {
    /// One round with one member: the worker's own `retries` do the retrying.
    pub const SINGLE: Rounds = Rounds {
        retries: 1,
        lb_retries: 1,
        retry_interval: Duration::ZERO,
    };
}

impl Default for Rounds {
    /// mod_jk's lb defaults.
    fn default() -> Self {
        Rounds {
            retries: 2,
            lb_retries: 2,
            retry_interval: Duration::from_millis(100),
        }
    }
}

/// Whether the request may be tried again (on this member or another) after `f`.
pub fn may_retry(
    f: &Failure,
    progress: &Progress,
    body: &Body,
    spec: &AjpWorkerSpec,
    method: &[u8],
) -> bool {
    if f.is_client_error() || progress.response_started || body.streamed {
        return false;
    }
    f.before_backend_had_request() || spec.recovery_options.retry_after_send(method)
}

/// One member's part of the request: up to its `retries` attempts, each on a ready connection.
pub fn on_member(
    pool: &Pool,
    pick: Pick,
    route: Option<&str>,
    head: &RequestHead<'_>,
    body: &mut Body,
    server: &mut dyn ServerSide,
    progress: &mut Progress,
) -> Result<(), Failure> {
    let spec = pool.spec();
    let mut lease = pool.acquire().map_err(|_| Failure::Busy)?;
    let member = MemberFields {
        secret: spec.secret.as_deref(),
        route,
        activation: pick.activation,
    };
    let attempts = spec.attempts();
    let mut n = 0;
    loop {
        n += 1;
        match attempt::run(&mut lease, head, &member, body, server, progress) {
            Ok(()) => return Ok(()),
            Err(f) if n >= attempts || !may_retry(&f, progress, body, spec, head.method) => {
                return Err(f)
            }
            Err(f) => {
                if !pause(spec.retry_interval, server) {
                    return Err(f);
                }
            }
        }
    }
}

/// `retry_interval`, mod_jk's configured pause before trying again — taken only while the
/// client still waits for the answer. `false`: the client is gone, stop trying.
pub fn pause(d: std::time::Duration, server: &dyn ServerSide) -> bool {
    if server.client_gone() {
        return false;
    }
    if !d.is_zero() {
        std::thread::sleep(d);
    }
    true
}
