//! Sessions followed through a front end under load (rjk-node's `/session` counts the requests
//! of a session): every answer must carry the counter one higher than the last one seen, from
//! the node the session's id names when the balancer is sticky. What went otherwise is tallied
//! for the test to judge.

use std::net::SocketAddr;
use std::sync::Mutex;

use crate::http;
use crate::replicated::{json_field, set_cookie_id};

/// One session: its current id (the route may change) and the last counter seen.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub cookie: String,
    pub counter: u64,
}

#[derive(Default, Debug)]
pub struct Tally {
    pub requests: usize,
    pub failed: Vec<String>,
    pub lost: Vec<String>,
    /// A request in flight on a killed node that the balancer replayed elsewhere: the dead
    /// node had applied and replicated (or saved) it, the client never saw that answer.
    pub replayed: usize,
    /// Answers that moved the session to another route.
    pub rebound: usize,
    /// Answers from a node other than the one the session's route names (sticky only).
    pub not_sticky: Vec<String>,
    /// 503s while a session store fails over (only where allowed).
    pub unavailable: usize,
}

/// What a step accepts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expect {
    /// The answer must come from the node the session's id names.
    pub sticky: bool,
    /// A 503 is counted as unavailable, not failed, and the counter may jump (a request
    /// answered 503 may still have been saved).
    pub allow_503: bool,
}

/// The route of a session id: what follows its first `.`.
pub fn route_of(id: &str) -> &str {
    id.split_once('.').map_or("", |(_, r)| r)
}

/// One `/session` request on `s` through `front`; updates the session and the tally.
pub fn step(front: SocketAddr, s: &mut Tracked, t: &Mutex<Tally>, expect: Expect) {
    let r = http::get(
        front,
        "/session",
        &[("Cookie", &format!("JSESSIONID={}", s.cookie))],
    );
    let mut t = t.lock().unwrap();
    t.requests += 1;
    let r = match r {
        Ok(r) if r.status == 200 => r,
        Ok(r) if r.status == 503 && expect.allow_503 => {
            t.unavailable += 1;
            return;
        }
        Ok(r) => return t.failed.push(format!("{}: status {}", s.cookie, r.status)),
        Err(e) => return t.failed.push(format!("{}: {e}", s.cookie)),
    };
    let body = r.text();
    let n: u64 = json_field(&body, "counter")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if json_field(&body, "new").as_deref() == Some("true") || n <= s.counter {
        t.lost
            .push(format!("{} had {} now {body}", s.cookie, s.counter));
    } else if n == s.counter + 2 {
        t.replayed += 1;
    } else if n != s.counter + 1 && !expect.allow_503 {
        t.lost
            .push(format!("{} jumped from {} to {n}", s.cookie, s.counter));
    }
    s.counter = n;
    if let Some(new) = set_cookie_id(&r) {
        if new != s.cookie {
            t.rebound += 1;
            s.cookie = new;
        }
    }
    let served_by = r.header("x-rjk-node").unwrap_or("");
    if expect.sticky && served_by != route_of(&s.cookie) {
        t.not_sticky
            .push(format!("{} served by {served_by}", s.cookie));
    }
}
