//! The forwarding engine: one request from the web server through a chosen member's pooled AJP
//! connection and back, with retries and failover only where they are safe.
//!
//! The adapter builds a [`Worker`] per configured `ajp13` or `lb` worker at startup (each owns
//! one connection [`Pool`] per member in this process), then per request fills a
//! [`RequestHead`], implements [`ServerSide`] over its request object and calls [`forward`].
//! Members are chosen through the [`Selector`] trait, which the balancer implements; a plain
//! `ajp13` worker uses [`Single`].
//!
//! Layout: [`spec`] (a worker's settings), [`server`] (the adapter's side), [`request`] (the
//! Forward Request), [`body`] (replay buffer), [`timeouts`], [`attempt`] (one exchange),
//! [`retry`] (the service loop), [`failure`] (outcome and status mapping), [`notes`] (log notes).

pub mod attempt;
pub mod balanced;
pub mod body;
pub mod failure;
pub mod notes;
pub mod plan;
pub mod prepare;
pub mod request;
pub mod retry;
pub mod selector;
pub mod server;
pub mod spec;
pub mod timeouts;

use std::time::Instant;

use crate::balancer::{Balancer, Flags};
use crate::pool::{Maintained, Pool};

pub use attempt::Progress;
pub use failure::Failure;
pub use notes::Attempted;
pub use retry::Rounds;
pub use selector::{Activation, InOrder, Outcome, Pick, Selector, Single, Traffic};
pub use server::{ForwardOptions, RequestBody, RequestHead, ServerSide, Tls};
pub use spec::AjpWorkerSpec;

use balanced::Balanced;
use body::Body;
use plan::{Plan, SelectorPlan, Step};

/// How a worker chooses its members.
enum Choosing {
    Selector(Box<dyn Selector>, Rounds),
    Balancer(Balancer),
}

/// A configured worker in this process: its members' pools and how to choose among them.
pub struct Worker {
    name: String,
    members: Vec<Pool>,
    choosing: Choosing,
    is_lb: bool,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("members", &self.members.len())
            .field("is_lb", &self.is_lb)
            .finish()
    }
}

impl Worker {
    /// A plain `ajp13` worker: one member, its own `retries`, no route attribute.
    pub fn ajp13(spec: AjpWorkerSpec) -> Self {
        let selector = Box::new(Single::new(spec.busy_limit));
        let choosing = Choosing::Selector(selector, Rounds::SINGLE);
        let mut w = Worker::build(spec.name.clone(), vec![spec], choosing);
        w.is_lb = false;
        w
    }

    /// An `lb` worker over `members` (in the order the selector's indices refer to).
    pub fn lb(
        name: &str,
        members: Vec<AjpWorkerSpec>,
        selector: Box<dyn Selector>,
        rounds: Rounds,
    ) -> Self {
        Worker::build(
            name.to_owned(),
            members,
            Choosing::Selector(selector, rounds),
        )
    }

    /// An `lb` worker chosen by the balancer; `members[i]` is the balancer's member `i`. Each
    /// member's pool shares its connection settings through the balancer's table, so a
    /// status-worker change reaches every process.
    pub fn balanced(name: &str, members: Vec<AjpWorkerSpec>, lb: Balancer) -> Self {
        let mut w = Worker::build(name.to_owned(), members, Choosing::Balancer(lb));
        if let Choosing::Balancer(lb) = &w.choosing {
            for (i, pool) in w.members.iter_mut().enumerate() {
                if let Some(record) = lb.member_record(i) {
                    pool.share(std::sync::Arc::clone(lb.table()), record);
                }
            }
        }
        w
    }

    fn build(name: String, members: Vec<AjpWorkerSpec>, choosing: Choosing) -> Self {
        Worker {
            name,
            members: members.into_iter().map(Pool::new).collect(),
            choosing,
            is_lb: true,
        }
    }

    /// The most body a first packet may carry on every member (settings may change at runtime,
    /// so asked per request with a body).
    fn first_body_max(&self) -> usize {
        self.members
            .iter()
            .map(|p| p.spec().max_packet_size.max_body_to_container())
            .min()
            .unwrap_or(0)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn members(&self) -> &[Pool] {
        &self.members
    }

    /// The selector of a worker built with [`Worker::ajp13`] or [`Worker::lb`].
    pub fn selector(&self) -> Option<&dyn Selector> {
        match &self.choosing {
            Choosing::Selector(s, _) => Some(&**s),
            Choosing::Balancer(_) => None,
        }
    }

    /// The balancer of a worker built with [`Worker::balanced`].
    pub fn balancer(&self) -> Option<&Balancer> {
        match &self.choosing {
            Choosing::Balancer(b) => Some(b),
            Choosing::Selector(..) => None,
        }
    }

    /// Pool maintenance for every member (idle timeout, interval CPing) as of `now`.
    pub fn maintain(&self, now: Instant) -> Maintained {
        let mut total = Maintained::default();
        for p in &self.members {
            let m = p.maintain(now);
            total.closed_idle += m.closed_idle;
            total.pinged += m.pinged;
            total.ping_failed += m.ping_failed;
        }
        total
    }
}

/// How a forwarded request ended.
#[derive(Debug)]
pub struct Forwarded<'w> {
    /// The status the client got (`response_started`) or should get as an error page.
    pub status: u16,
    /// The response head went to the client: the adapter must not write an error page.
    pub response_started: bool,
    /// The last failure, if the request did not succeed.
    pub failure: Option<Failure>,
    /// Members attempted, in order (one entry per member, not per connection attempt).
    pub members_tried: u32,
    pub first: Option<Attempted<'w>>,
    pub last: Option<Attempted<'w>>,
    worker: &'w str,
    is_lb: bool,
    balancer: Option<&'w Balancer>,
}

impl Forwarded<'_> {
    /// The member that served the request, if one did.
    pub fn served_by(&self) -> Option<usize> {
        self.last
            .filter(|a| a.outcome == Outcome::Success)
            .map(|a| a.member)
    }

    /// `JK_WORKER_NAME`, `JK_WORKER_ROUTE`, `JK_LB_FIRST_*`, `JK_LB_LAST_*` (with the shared
    /// counters when a balancer chose).
    pub fn notes(&self) -> Vec<(&'static str, String)> {
        let values = |member: usize| {
            use std::sync::atomic::Ordering::Relaxed;
            let slot = self.balancer?.member_slot(member)?;
            Some(notes::MemberValues {
                value: slot.lb_value.load(Relaxed),
                accessed: slot.elected.load(Relaxed),
                read: slot.bytes_read.load(Relaxed),
                transferred: slot.bytes_written.load(Relaxed),
                errors: slot.errors.load(Relaxed),
                busy: slot.busy.load(Relaxed),
                state: crate::balancer::state_from_code(slot.state.load(Relaxed)).text(),
            })
        };
        notes::render(
            self.worker,
            self.is_lb,
            self.first.as_ref(),
            self.last.as_ref(),
            &values,
        )
    }
}

/// Forward one request through `worker`.
pub fn forward<'w>(
    worker: &'w Worker,
    head: &RequestHead<'_>,
    server: &mut dyn ServerSide,
) -> Forwarded<'w> {
    match &worker.choosing {
        Choosing::Selector(sel, rounds) => {
            let mut plan = SelectorPlan::new(&**sel, *rounds, head.route, worker.members.len());
            run(worker, &mut plan, head, server)
        }
        Choosing::Balancer(lb) => {
            let flags = Flags {
                sticky_ignore: head.options.sticky_ignore,
                stateless: head.options.stateless,
            };
            // Resolved per request, and only for the rare mount that names members.
            let activations = head
                .rule
                .filter(|r| r.has_activation())
                .map(|r| r.activations(worker.members.iter().map(|p| p.spec().name.as_str())));
            let mut plan = Balanced::new(lb, head.session_id, flags, activations.as_deref());
            run(worker, &mut plan, head, server)
        }
    }
}

/// The service loop over `plan`'s members.
fn run<'w>(
    worker: &'w Worker,
    plan: &mut dyn Plan,
    head: &RequestHead<'_>,
    server: &mut dyn ServerSide,
) -> Forwarded<'w> {
    let mut done = Forwarded {
        status: 503,
        response_started: false,
        failure: None,
        members_tried: 0,
        first: None,
        last: None,
        worker: &worker.name,
        is_lb: worker.is_lb,
        balancer: worker.balancer(),
    };
    let first_max = match head.body {
        RequestBody::None => 0,
        _ => worker.first_body_max(),
    };
    let mut body = Body::new(head.body, first_max);
    // Bounded: every plan gives up after its rounds; this is a guard against a faulty one.
    let most = 1 + 64 * worker.members.len().max(1);
    for _ in 0..most {
        let pick = match plan.next() {
            Step::Try(p) => p,
            Step::Wait(d) => {
                if !retry::pause(d, server) {
                    return done;
                }
                continue;
            }
            Step::GiveUp => return done,
        };
        let Some(pool) = worker.members.get(pick.member) else {
            return done;
        };
        let spec = pool.spec();
        let mut progress = Progress::default();
        let result = if plan.enter(pick.member, spec.busy_limit) {
            let lb_route = if worker.is_lb {
                plan.route().or(Some(spec.route.as_str()))
            } else {
                None
            };
            retry::on_member(pool, pick, lb_route, head, &mut body, server, &mut progress)
        } else {
            Err(Failure::Busy)
        };
        let outcome = match &result {
            Ok(()) => Outcome::Success,
            Err(f) => f.outcome(),
        };
        let failover = plan.finish(pick.member, outcome, progress.traffic);
        let attempted = Attempted {
            member: pick.member,
            name: &spec.name,
            route: &spec.route,
            activation: pick.activation,
            outcome,
        };
        done.members_tried += 1;
        done.first.get_or_insert(attempted);
        done.last = Some(attempted);
        done.response_started = progress.response_started;
        match result {
            Ok(()) => {
                done.status = progress.status.unwrap_or(200);
                done.failure = None;
                return done;
            }
            Err(f) => {
                done.status = match (&f, progress.status) {
                    (Failure::ClientGone, Some(s)) => s,
                    _ => f.http_status(),
                };
                let again = failover && retry::may_retry(&f, &progress, &body, spec, head.method);
                done.failure = Some(f);
                if !again {
                    return done;
                }
            }
        }
    }
    done
}
