//! From the typed configuration to the engine: each listed `ajp13` worker becomes a
//! [`forward::Worker`] with its connection settings. Host names are resolved here, once, at
//! startup (as mod_jk does); a name that does not resolve is an error naming the worker.

use std::net::SocketAddr;
use std::time::Duration;

use ajp::PacketSize;

use crate::config::AjpWorker;
use crate::forward::spec::{FailOnStatus, RecoveryOptions};
use crate::forward::AjpWorkerSpec;

fn ms(v: i64) -> Option<Duration> {
    (v > 0).then(|| Duration::from_millis(v as u64))
}

fn secs(v: i64) -> Option<Duration> {
    (v > 0).then(|| Duration::from_secs(v as u64))
}

/// Resolve `host:port` (first IPv4 address unless `prefer_ipv6`).
pub fn resolve(a: &AjpWorker) -> Result<SocketAddr, String> {
    crate::pool::resolve(&a.host.value, a.port.value as u16, a.prefer_ipv6.value)
}

/// The engine's settings for one ajp13 worker or lb member; `threads` is the web server's
/// request threads per process (the default pool size).
pub fn ajp_spec(
    name: &str,
    a: &AjpWorker,
    threads: usize,
    disable_reuse: bool,
) -> Result<AjpWorkerSpec, String> {
    let addr = resolve(a)?;
    let mut s = AjpWorkerSpec::new(name, addr, threads);
    // mod_jk resolves `source` like the host, port 0, and refuses to start when it cannot.
    let src = a.source.value.trim();
    if !src.is_empty() {
        let at = crate::pool::resolve(src, 0, a.prefer_ipv6.value)
            .map_err(|e| format!("worker {name}: source `{src}`: {e}"))?;
        s.source = Some(at.ip());
    }
    s.route = a.route.value.clone();
    s.host = a.host.value.clone();
    s.prefer_ipv6 = a.prefer_ipv6.value;
    s.socket_connect_timeout = ms(a.socket_connect_timeout.value);
    s.socket_timeout = secs(a.socket_timeout.value);
    s.socket_keepalive = a.socket_keepalive.value;
    s.socket_buffer = a.socket_buffer.value.max(0) as usize;
    s.reply_timeout = ms(a.reply_timeout.value);
    s.ping_mode = a.ping_mode.value;
    s.ping_timeout = Duration::from_millis(a.ping_timeout.value.max(0) as u64);
    s.connect_timeout = ms(a.connect_timeout.value);
    s.prepost_timeout = ms(a.prepost_timeout.value);
    s.connection_ping_interval = secs(a.connection_ping_interval.value);
    if let Some(n) = a.connection_pool_size.value {
        s.connection_pool_size = n.max(1) as usize;
    }
    s.connection_pool_minsize = match a.connection_pool_minsize.value {
        Some(n) => (n.max(0) as usize).min(s.connection_pool_size),
        None => s.connection_pool_size.div_ceil(2),
    };
    s.connection_pool_timeout = secs(a.connection_pool_timeout.value);
    s.connection_acquire_timeout =
        Duration::from_millis(a.connection_acquire_timeout.value.max(1) as u64);
    s.max_packet_size = PacketSize::new(a.max_packet_size.value as usize).unwrap_or_default();
    s.secret = a.secret.value.as_ref().map(|v| v.as_bytes().to_vec());
    s.retries = a.retries.value.max(1) as u32;
    s.retry_interval = Duration::from_millis(a.retry_interval.value.max(0) as u64);
    s.recovery_options = RecoveryOptions::from_bits_retain(a.recovery_options.value.max(0) as u32);
    s.fail_on_status = FailOnStatus(a.fail_on_status.value.iter().map(|&v| v as i32).collect());
    s.busy_limit = a.busy_limit.value.max(0) as u32;
    s.disable_reuse = disable_reuse;
    Ok(s)
}

use rustc_hash::FxHashMap;
use std::sync::Arc;

use crate::balancer::{Balancer, LbSpec, MemberSpec};
use crate::config::{Kind, LbWorker, Workers};
use crate::forward::blocking::Engine;
use crate::forward::Worker;
use crate::shm::ShmTable;

/// The balancer's settings for an lb worker; `maintain` is `worker.maintain` (seconds).
pub fn lb_spec(name: &str, l: &LbWorker, maintain: i64) -> LbSpec {
    let u = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    LbSpec {
        name: name.to_owned(),
        sticky_session: l.sticky_session.value,
        sticky_session_force: l.sticky_session_force.value,
        method: l.method.value,
        lock: l.lock.value,
        retries: u(l.retries.value),
        lb_retries: u(l.lb_retries.value),
        retry_interval_ms: u(l.retry_interval.value),
        recover_time: u(l.recover_time.value),
        error_escalation_time: u(l.error_escalation_time.value),
        max_reply_timeouts: u(l.max_reply_timeouts.value),
        maintain_interval: u(maintain),
        session_cookie: l.session_cookie.value.clone(),
        session_cookie_path: l.session_cookie_path.value.clone(),
        set_session_cookie: l.set_session_cookie.value,
    }
}

/// The balancer's view of one member.
pub fn member_spec(name: &str, a: &AjpWorker) -> MemberSpec {
    MemberSpec {
        name: name.to_owned(),
        route: a.route.value.clone(),
        domain: a.domain.value.clone(),
        redirect: a.redirect.value.clone(),
        lbfactor: a.lbfactor.value.clamp(1, u32::MAX as i64) as u32,
        distance: a.distance.value.clamp(0, u32::MAX as i64) as u32,
        activation: a.activation.value,
        busy_limit: a.busy_limit.value.clamp(0, u32::MAX as i64) as u32,
    }
}

/// How many lb and member slots the shared table needs for `workers`.
pub fn shm_size(workers: &Workers) -> (usize, usize) {
    let mut lbs = 0;
    let mut members = 0;
    for name in &workers.list.value {
        match workers.get(name).map(|w| &w.kind) {
            Some(Kind::Lb(l)) => {
                lbs += 1;
                members += l.balance_workers.value.len();
            }
            // A stand-alone ajp13 worker's shared connection settings.
            Some(Kind::Ajp(_)) => members += 1,
            _ => {}
        }
    }
    (lbs.max(1), members.max(1))
}

/// The engine workers of one configuration in one process, and their timer-driven
/// maintenance.
#[derive(Debug, Default)]
pub struct Engines {
    workers: FxHashMap<String, Engine>,
    /// Unix seconds of this process's last maintenance pass.
    last_maintain: std::sync::atomic::AtomicI64,
}

impl Engines {
    pub fn get(&self, name: &str) -> Option<&Engine> {
        self.workers.get(name)
    }

    /// The stand-alone ajp13 workers, by name.
    pub fn ajp13(&self) -> Vec<(&str, &Worker)> {
        self.workers
            .iter()
            .filter(|(_, w)| !w.worker().is_lb())
            .map(|(n, w)| (n.as_str(), &**w.worker()))
            .collect()
    }

    /// The running balancers, by lb worker name.
    pub fn balancers(&self) -> Vec<(&str, &Balancer)> {
        self.workers
            .iter()
            .filter_map(|(n, w)| w.worker().balancer().map(|b| (n.as_str(), b)))
            .collect()
    }

    /// Maintenance for a timer (httpd's watchdog thread, an nginx timer event), never a
    /// request: at most once a second per process, pools drop and CPing idle connections and
    /// the balancers run their (globally throttled) decay and recovery.
    pub fn maintain_if_due(&self, now: i64) {
        use std::sync::atomic::Ordering;
        let last = self.last_maintain.load(Ordering::Relaxed);
        if now <= last
            || self
                .last_maintain
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let instant = std::time::Instant::now();
        for w in self.workers.values() {
            w.maintain(instant);
            if let Some(b) = w.worker().balancer() {
                b.maintain(now);
            }
        }
    }
}

/// Every listed ajp13 and lb worker as a blocking engine worker (a connection pool per member,
/// for threads that wait: httpd), balancers over `table`. `threads`: request threads per
/// process; `disable_reuse`: JkOptions +DisableReuse; `now`: Unix seconds.
pub fn engines(
    workers: &Workers,
    table: &Arc<ShmTable>,
    threads: usize,
    disable_reuse: bool,
    now: i64,
) -> Result<Engines, String> {
    let built = forward_workers(workers, table, threads, disable_reuse, now)?;
    Ok(Engines {
        workers: built
            .into_iter()
            .map(|(n, w)| (n, Engine::new(w)))
            .collect(),
        last_maintain: Default::default(),
    })
}

/// As [`engines`], without connection pools: for a front end that drives the machine from its
/// own event loop with its own connections (nginx).
pub fn forward_workers(
    workers: &Workers,
    table: &Arc<ShmTable>,
    threads: usize,
    disable_reuse: bool,
    now: i64,
) -> Result<FxHashMap<String, Worker>, String> {
    let mut out = FxHashMap::default();
    for name in &workers.list.value {
        let Some(w) = workers.get(name) else { continue };
        match &w.kind {
            Kind::Ajp(a) => {
                let spec = ajp_spec(name, a, threads, disable_reuse)
                    .map_err(|e| format!("worker `{name}`: {e}"))?;
                // Its record has no balancer: parent "". A table kept from an older
                // configuration may have no room; the worker then works unshared.
                let worker = match table.claim_member("", name) {
                    Ok((record, _)) => Worker::ajp13_shared(spec, Arc::clone(table), record),
                    Err(_) => Worker::ajp13(spec),
                };
                out.insert(name.clone(), worker);
            }
            Kind::Lb(l) => {
                let mut specs = Vec::new();
                let mut members = Vec::new();
                for m in &l.balance_workers.value {
                    let a = workers.ajp(m).ok_or_else(|| {
                        format!("lb `{name}`: member `{m}` is not an ajp13 worker")
                    })?;
                    specs.push(
                        ajp_spec(m, a, threads, disable_reuse)
                            .map_err(|e| format!("worker `{m}`: {e}"))?,
                    );
                    members.push(member_spec(m, a));
                }
                let lb = Balancer::new(
                    &lb_spec(name, l, workers.maintain.value),
                    &members,
                    Arc::clone(table),
                    now,
                )
                .map_err(|e| format!("lb `{name}`: {e}"))?;
                out.insert(name.clone(), Worker::balanced(name, specs, lb));
            }
            Kind::Status(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_becomes_engines_with_its_settings() {
        let mut l = crate::config::Loader::new();
        l.workers_file(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../workers.properties.example"
        )));
        let workers = l.finish().workers.unwrap();
        let (lbs, members) = shm_size(&workers);
        assert_eq!((lbs, members), (1, 4));
        let table = Arc::new(ShmTable::heap(lbs, members));
        let e = engines(&workers, &table, 16, false, 1_000).unwrap();
        let cluster = e.get("cluster").unwrap().worker();
        assert_eq!(cluster.members().len(), 4);
        let a1 = cluster.members()[0].spec();
        assert_eq!(a1.addr, "127.0.0.1:8101".parse().unwrap());
        assert_eq!(a1.route, "A.a1");
        assert_eq!(a1.reply_timeout, Some(Duration::from_secs(60)));
        assert_eq!(
            a1.secret.as_deref(),
            Some(&b"change-me-to-a-long-random-string"[..])
        );
        assert_eq!(a1.connection_pool_size, 16);
        let stats = cluster.balancer().unwrap().stats(1_000);
        let b1 = stats.members.iter().find(|m| m.name == "b1").unwrap();
        assert_eq!(
            (b1.lbfactor, b1.redirect.as_str(), b1.domain.as_str()),
            (2, "B.b2", "B")
        );
        let b2 = stats.members.iter().find(|m| m.name == "b2").unwrap();
        assert_eq!(b2.activation, crate::config::Activation::Disabled);
    }
}
