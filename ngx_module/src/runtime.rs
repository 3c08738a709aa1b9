//! What one configuration cycle holds once set up: the workers (built in the master, so every
//! worker process balances over the same shared table), the mount table, and per worker
//! process the backend connection pools and the maintenance timer.

use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lb_core::balancer::Balancer;
use lb_core::config::Workers;
use lb_core::directive::server::ServerSettings;
use lb_core::forward::Worker;
use lb_core::pool::Slots;
use lb_core::shm::ShmTable;

use crate::backend::Conn;
use crate::ffi;

/// The checked configuration (postconfiguration → init_module).
pub struct Loaded {
    pub workers: Workers,
    pub settings: ServerSettings,
    /// The workers.properties map as loaded, secrets removed: the status worker's `cmd=dump`.
    pub dump: Vec<(String, String)>,
    /// A hash of every property: the shared zone's name (same workers, same table).
    pub fingerprint: u64,
}

pub struct Runtime {
    pub workers: Workers,
    /// The forwarding workers, without connection pools (this process's are [`Runtime::pools`]).
    pub engines: Engines,
    /// The `http` block's settings (servers have their own, see `conf::ServerConf`).
    pub settings: ServerSettings,
    pub dump: Vec<(String, String)>,
    /// The status pages' form nonce: random per configuration, the same in every process.
    pub nonce: String,
    /// Which names asked for are nginx variables (per configuration).
    pub known: crate::facts::Known,
    /// Per worker process: a pool per member of each listed worker ([`Listed::pool`]).
    pools: RefCell<Vec<Pools>>,
    /// Per worker process: finished requests' machine boxes and buffers.
    pub spares: RefCell<crate::driver::Spares>,
    maintenance: Box<ffi::ngx_event_t>,
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The forwarding workers by name, and their balancers' maintenance.
pub struct Engines(FxHashMap<String, Engine>);

/// A forwarding worker and where its connections are pooled.
pub struct Engine {
    pub worker: Arc<Worker>,
    /// What a request mapped to it needs: a listed worker has it.
    pub listed: Option<Listed>,
}

/// A forwarding worker in `worker.list`: everything the handler needs from one lookup.
pub struct Listed {
    /// This process's pools of its members' connections.
    pub pool: PoolId,
    /// Its lb settings as configured (sticky sessions); `None` for an ajp13 worker.
    pub lb: Option<lb_core::config::LbWorker>,
}

/// One listed worker's pools in [`Runtime`]: found by position, not by hashing its name on
/// every take and give-back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolId(usize);

/// A listed worker's pools, one per member.
struct Pools {
    worker: Arc<Worker>,
    slots: Vec<Slots<Conn>>,
}

impl Engines {
    pub fn get(&self, name: &str) -> Option<&Arc<Worker>> {
        self.0.get(name).map(|e| &e.worker)
    }

    /// A listed forwarding worker, with its name as the runtime keeps it.
    pub fn listed(&self, name: &str) -> Option<(&str, &Arc<Worker>, &Listed)> {
        let (name, e) = self.0.get_key_value(name)?;
        Some((name, &e.worker, e.listed.as_ref()?))
    }

    /// The running balancers, by lb worker name.
    pub fn balancers(&self) -> Vec<(&str, &Balancer)> {
        self.0
            .iter()
            .filter_map(|(n, e)| e.worker.balancer().map(|b| (n.as_str(), b)))
            .collect()
    }

    /// The stand-alone ajp13 workers, by name (the status worker changes their connection
    /// settings as mod_jk's does).
    pub fn ajp13(&self) -> Vec<(&str, &Worker)> {
        self.0
            .iter()
            .filter(|(_, e)| !e.worker.is_lb())
            .map(|(n, e)| (n.as_str(), &*e.worker))
            .collect()
    }

    /// Decay and recovery (lb-core throttles them across processes to `worker.maintain`).
    fn maintain(&self, now: i64) {
        for e in self.0.values() {
            if let Some(b) = e.worker.balancer() {
                b.maintain(now);
            }
        }
    }
}

impl Runtime {
    /// `per_process`: requests a worker process may forward at once (the default pool size).
    pub fn new(l: Loaded, table: &Arc<ShmTable>, per_process: usize) -> Result<Runtime, String> {
        let disable_reuse = l
            .settings
            .options
            .has(lb_core::directive::options::Flag::DISABLE_REUSE);
        let mut engines = Engines(
            lb_core::assemble::forward_workers(
                &l.workers,
                table,
                per_process,
                disable_reuse,
                unix_now(),
            )?
            .into_iter()
            .map(|(n, w)| {
                let worker = Arc::new(w);
                let listed = None;
                (n, Engine { worker, listed })
            })
            .collect(),
        );
        for p in lb_core::status::persist::restore(
            &l.workers,
            |n| engines.get(n).and_then(|w| w.balancer()),
            |n| engines.get(n).map(|w| &**w),
        ) {
            crate::log::cycle(crate::log::Level::Warn, &format!("rjk: {p}"));
        }
        let mut pools = Vec::new();
        for name in &l.workers.list.value {
            if let Some(e) = engines.0.get_mut(name).filter(|e| e.listed.is_none()) {
                let slots = e
                    .worker
                    .members()
                    .iter()
                    .map(|m| Slots::new(m.spec().connection_pool_size))
                    .collect();
                let lb = match l.workers.get(name).map(|w| &w.kind) {
                    Some(lb_core::config::Kind::Lb(lb)) => Some(lb.clone()),
                    _ => None,
                };
                let pool = PoolId(pools.len());
                e.listed = Some(Listed { pool, lb });
                pools.push(Pools {
                    worker: Arc::clone(&e.worker),
                    slots,
                });
            }
        }
        Ok(Runtime {
            workers: l.workers,
            engines,
            settings: l.settings,
            dump: l.dump,
            // From the OS CSPRNG, or the configuration is refused (fail closed).
            nonce: lb_core::status::form::nonce()?,
            known: Default::default(),
            pools: RefCell::new(pools),
            spares: Default::default(),
            // SAFETY: an all-zero ngx_event_t is nginx's own initial state (ngx_pcalloc).
            maintenance: Box::new(unsafe { std::mem::zeroed() }),
        })
    }

    /// Member `member`'s pool of a worker in this process.
    pub fn with_pool<R>(
        &self,
        pool: PoolId,
        member: usize,
        f: impl FnOnce(&mut Slots<Conn>) -> R,
    ) -> Option<R> {
        let mut pools = self.pools.borrow_mut();
        let slots = pools.get_mut(pool.0)?.slots.get_mut(member)?;
        Some(f(slots))
    }

    /// Give member `member`'s connection back to its pool, or close it: the pool is full, or
    /// it does not lead to the member's address any more.
    pub fn give_back(
        &self,
        pool: PoolId,
        member: usize,
        back: Option<(Conn, std::net::SocketAddr)>,
        now: Instant,
    ) {
        let mut pools = self.pools.borrow_mut();
        let p = pools.get_mut(pool.0);
        let refused = match p.and_then(|p| {
            let addr = p.worker.member(member)?.spec().addr;
            Some((p.slots.get_mut(member)?, addr))
        }) {
            Some((slots, addr)) => slots.give_back(back, addr, now),
            None => back.map(|(c, _)| c),
        };
        drop(pools);
        if let Some(c) = refused {
            c.close();
        }
    }

    /// The maintenance timer of this worker process (cancelable: it never holds up a
    /// graceful shutdown).
    pub fn start_maintenance(&mut self, log: *mut ffi::ngx_log_t) {
        let me = self as *mut Runtime as *mut std::ffi::c_void;
        let ev = &mut *self.maintenance;
        ev.handler = Some(maintain);
        ev.data = me;
        ev.log = log;
        ev.set_cancelable(1);
        // SAFETY: the event lives in the runtime, which lives as long as the cycle.
        unsafe { ffi::ngx_add_timer(ev, 1000) };
    }

    /// Idle expiry and moved members: close what the pool policy gives up; CPing the
    /// connections idle for `connection_ping_interval` (answers come back as events).
    fn maintain_pools(&self, now: Instant) {
        let mut due = Vec::new();
        {
            let mut pools = self.pools.borrow_mut();
            for (id, p) in pools.iter_mut().enumerate() {
                let (e, slots) = (&p.worker, &mut p.slots);
                for (i, (m, s)) in e.members().iter().zip(slots.iter_mut()).enumerate() {
                    let spec = m.spec();
                    s.resize(spec.connection_pool_size);
                    s.drop_not_to(spec.addr, Conn::close);
                    if let Some(idle) = spec.connection_pool_timeout.filter(|d| !d.is_zero()) {
                        s.expire(now, idle, spec.connection_pool_minsize, Conn::close);
                    }
                    if let Some(every) = spec.interval_ping() {
                        for (c, peer) in s.due_for_ping(now, every) {
                            due.push((
                                PoolId(id),
                                i,
                                c,
                                peer,
                                spec.ping_timeout,
                                spec.max_packet_size,
                            ));
                        }
                    }
                }
            }
        }
        // Outside the borrow: a CPing that fails at once gives its slot straight back.
        for (pool, i, c, peer, timeout, size) in due {
            crate::ping::start(self, pool, i, c, peer, timeout, size);
        }
    }

    /// Close every pooled connection (the process is leaving).
    pub fn close_idle(&self) {
        let mut pools = self.pools.borrow_mut();
        for p in pools.iter_mut() {
            for s in p.slots.iter_mut() {
                s.expire(
                    Instant::now() + Duration::from_secs(1 << 30),
                    Duration::ZERO,
                    0,
                    Conn::close,
                );
            }
        }
    }
}

unsafe extern "C" fn maintain(ev: *mut ffi::ngx_event_t) {
    crate::log::guard((), || unsafe {
        let rt = &*((*ev).data as *const Runtime);
        rt.engines.maintain(unix_now());
        rt.maintain_pools(Instant::now());
        if ffi::ngx_exiting == 0 && ffi::ngx_quit == 0 && ffi::ngx_terminate == 0 {
            ffi::ngx_add_timer(ev, 1000);
        }
    })
}
