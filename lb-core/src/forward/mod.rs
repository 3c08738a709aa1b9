//! The forwarding engine: one request from the web server through a chosen member's pooled AJP
//! connection and back, with retries and failover only where they are safe.
//!
//! The engine is a machine, [`Exchange`], that decides and never does I/O: a driver asks it
//! for the next [`Action`] (connect, send, receive, read client body, write the response, wait,
//! release the connection) with the current time, performs it, and feeds the result back. The
//! same machine runs under [`blocking`] (std sockets, a thread per request: mod_rjk), under an
//! event loop (nginx), and in tests with scripted bytes and a fake clock.
//!
//! The adapter builds a [`Worker`] per configured `ajp13` or `lb` worker at startup, then per
//! request fills a [`RequestHead`] and drives an [`Exchange`] (or calls
//! [`blocking::Engine::forward`]).
//!
//! Layout: [`spec`] (a worker's settings), [`member`] (settings at runtime), [`server`] (the
//! request head), [`request`] (the Forward Request), [`body`] (replay buffer),
//! [`timeouts`], [`plan`] (which member next), [`safety`] (when a retry is allowed),
//! [`exchange`] (the machine), [`failure`] (outcome and status mapping), [`notes`] (log notes),
//! [`blocking`] (the blocking driver).

pub mod blocking;
pub mod body;
pub mod exchange;
pub mod failure;
mod ip_text;
pub mod member;
pub mod notes;
mod plan;
pub mod prepare;
pub mod request;
pub mod safety;
pub mod server;
pub mod spec;
pub mod timeouts;

use std::sync::atomic::{AtomicU32, Ordering};

use crate::balancer::Balancer;

/// What one member's part of a request came to (mod_jk's outcome → state table).
pub use crate::balancer::Outcome;
/// A member's activation, sent to the backend as the `JK_LB_ACTIVATION` attribute: the
/// configuration's type (its `name()` is mod_jk's "ACT"/"DIS"/"STP").
pub use crate::config::Activation;

pub use exchange::{parse_length, Acquired, Action, Buffers, Exchange, Forwarded, Now, Tried};
pub use failure::{Failure, ReadError};
pub use ip_text::IpText;
pub use member::Member;
pub use server::{ForwardOptions, RequestBody, RequestHead, Tls};
pub use spec::AjpWorkerSpec;

/// Bytes moved through a member for one request.
pub use crate::balancer::Traffic;

/// A configured worker in this process: its members' settings and, for an lb, the balancer.
pub struct Worker {
    name: String,
    members: Vec<Member>,
    balancer: Option<Balancer>,
    /// Requests under way on a plain ajp13 worker in this process (its `busy_limit`).
    busy: AtomicU32,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("members", &self.members.len())
            .field("is_lb", &self.is_lb())
            .finish()
    }
}

impl Worker {
    /// A plain `ajp13` worker: one member, its own `retries`, no route attribute.
    pub fn ajp13(spec: AjpWorkerSpec) -> Self {
        Worker {
            name: spec.name.clone(),
            members: vec![Member::new(spec)],
            balancer: None,
            busy: AtomicU32::new(0),
        }
    }

    /// A plain `ajp13` worker whose connection settings live in record `record` of `table`,
    /// so a status-worker change (`w=<worker>`) reaches every process, as mod_jk's ajp worker
    /// record does.
    pub fn ajp13_shared(
        spec: AjpWorkerSpec,
        table: std::sync::Arc<crate::shm::ShmTable>,
        record: usize,
    ) -> Self {
        let mut w = Worker::ajp13(spec);
        w.members[0].share(table, record);
        w
    }

    /// An `lb` worker chosen by the balancer; `members[i]` is the balancer's member `i`. Each
    /// member shares its connection settings through the balancer's table, so a status-worker
    /// change reaches every process.
    pub fn balanced(name: &str, members: Vec<AjpWorkerSpec>, lb: Balancer) -> Self {
        let mut members: Vec<Member> = members.into_iter().map(Member::new).collect();
        for (i, m) in members.iter_mut().enumerate() {
            if let Some(record) = lb.member_record(i) {
                m.share(std::sync::Arc::clone(lb.table()), record);
            }
        }
        Worker {
            name: name.to_owned(),
            members,
            balancer: Some(lb),
            busy: AtomicU32::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn member(&self, i: usize) -> Option<&Member> {
        self.members.get(i)
    }

    /// The balancer of an lb worker.
    pub fn balancer(&self) -> Option<&Balancer> {
        self.balancer.as_ref()
    }

    pub fn is_lb(&self) -> bool {
        self.balancer.is_some()
    }

    /// The most body a first packet may carry on every member (settings may change at runtime,
    /// so asked per request with a body).
    fn first_body_max(&self) -> usize {
        self.members
            .iter()
            .map(|m| m.spec().max_packet_size.max_body_to_container())
            .min()
            .unwrap_or(0)
    }

    /// Count a request in on a plain ajp13 worker; `false` at its `busy_limit`.
    fn enter_single(&self) -> bool {
        let limit = self.members.first().map_or(0, |m| m.spec().busy_limit);
        let now = self.busy.fetch_add(1, Ordering::AcqRel) + 1;
        if limit > 0 && now > limit {
            self.leave_single();
            return false;
        }
        true
    }

    fn leave_single(&self) {
        let _ = self
            .busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1));
    }

    /// Requests under way on a plain ajp13 worker in this process.
    pub fn busy(&self) -> u32 {
        self.busy.load(Ordering::Acquire)
    }
}
