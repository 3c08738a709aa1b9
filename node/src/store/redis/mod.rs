//! Sessions in Redis or Redis Cluster (`--session-store redis://…`, `rediss://…`,
//! `redis-cluster://host:port,host:port`).
//!
//! A request that names a session costs one round trip (the [`script`] `LOAD`: the hash, and
//! the TTL renewed when due); one that changes it costs one more (`SAVE`: the changed
//! attributes, atomically, with a version bump). Nothing else is ever sent per request.
//!
//! With `--session-cache N` a node keeps the sessions it used recently (`cache`), which
//! Redis keeps current with RESP3 client-side caching (tracking, broadcast mode): a sticky
//! session then costs no read round trip, only its save; renewing its TTL (at most once per
//! refresh window, and a save renews it too) goes through `LOAD` as without the cache. With a
//! Redis Cluster the client library's own cache is used instead (per-key tracking on every
//! node): reads are cached likewise, but a node's own save makes its next read a miss.
//!
//! Redis unreachable: [`Unavailable`]; the connection is re-established in the background
//! (standalone: the connection manager; cluster: the cluster client, which also follows
//! failovers). The outage is logged once when it starts and once when it ends.

mod cache;
pub(crate) mod flags;
pub mod script;
pub mod slot;
mod tracked;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, ProtocolVersion, RedisFuture, Value};

use super::{Store, StoreFuture, Unavailable};
use crate::session::manager::SessionData;
use crate::session::SessionDelta;
use cache::NearCache;
use tracked::Tracked;

/// Where Redis is: `--session-store` and its companions, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://…` or `rediss://…` URLs: one for a standalone server, the seed nodes of a
    /// cluster.
    pub nodes: Vec<String>,
    pub cluster: bool,
    /// `--session-store-password-file` (overrides a password in the URL).
    pub password: Option<String>,
    /// `--session-cache N`: sessions kept in the near cache.
    pub cache: Option<NonZeroUsize>,
    /// How long one command may take before the request gets a 503.
    pub timeout: Duration,
}

impl RedisConfig {
    /// Parse a `--session-store` value; the error says what a valid one looks like.
    pub fn parse(url: &str) -> Result<RedisConfig, String> {
        let usage = "use redis://[user:pass@]HOST:PORT[/DB], rediss://… (TLS) or \
                     redis-cluster://HOST:PORT,HOST:PORT,…";
        let (nodes, cluster) = if let Some(list) = url.strip_prefix("redis-cluster://") {
            (
                list.split(',')
                    .map(|n| format!("redis://{}", n.trim()))
                    .collect(),
                true,
            )
        } else if let Some(list) = url.strip_prefix("rediss-cluster://") {
            (
                list.split(',')
                    .map(|n| format!("rediss://{}", n.trim()))
                    .collect(),
                true,
            )
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            (vec![url.to_string()], false)
        } else {
            return Err(format!("--session-store {url:?}: {usage}"));
        };
        let nodes: Vec<String> = nodes;
        for n in &nodes {
            redis::IntoConnectionInfo::into_connection_info(n.as_str())
                .map_err(|e| format!("--session-store {url:?}: {e}; {usage}"))?;
            if n.ends_with("://") {
                return Err(format!("--session-store {url:?}: a node is empty; {usage}"));
            }
        }
        Ok(RedisConfig {
            nodes,
            cluster,
            password: None,
            cache: None,
            timeout: Duration::from_secs(1),
        })
    }
}

/// A standalone server's connection or a cluster's: both reconnect by themselves.
#[derive(Clone)]
enum Conn {
    One(ConnectionManager),
    Cluster(ClusterConnection),
    /// Standalone with the near cache.
    Tracked(Arc<Tracked>),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::One(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Tracked(t) => Box::pin(t.command(cmd)),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::One(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Tracked(t) => Box::pin(t.commands(pipeline, offset, count)),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::One(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Tracked(_) => 0,
        }
    }
}

/// The Redis session store.
pub struct RedisStore {
    conn: Conn,
    /// For sessions this node creates.
    max_inactive: Duration,
    cached: bool,
    /// The near cache (standalone Redis with `--session-cache`).
    near: Option<Arc<NearCache>>,
    /// In a cluster: a save waits (`WAIT`, in the same round trip) until a replica has it,
    /// so a master's failover does not lose a change the client was told about.
    wait_replica: bool,
    /// With the near cache: when this node last renewed each session's TTL, so a cached read
    /// is used only while no renewal is due.
    renewed: Mutex<HashMap<String, Instant>>,
    /// Since when Redis has been unreachable (`None`: reachable).
    down: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cached", &self.cached)
            .finish()
    }
}

fn info_for(node: &str, cfg: &RedisConfig) -> redis::RedisResult<redis::ConnectionInfo> {
    let info = redis::IntoConnectionInfo::into_connection_info(node)?;
    let mut settings = info.redis_settings().clone();
    if let Some(p) = &cfg.password {
        settings = settings.set_password(p);
    }
    if cfg.cache.is_some() {
        // Client-side caching needs RESP3's push messages for invalidations.
        settings = settings.set_protocol(ProtocolVersion::RESP3);
    }
    Ok(info.set_redis_settings(settings))
}

impl RedisStore {
    /// Set up the connection; nothing is sent yet, so a node starts even while Redis is down.
    pub fn new(cfg: &RedisConfig, max_inactive: Duration) -> Result<RedisStore, String> {
        let fail = |e: redis::RedisError| format!("--session-store: {e}");
        let cache = cfg
            .cache
            .map(|n| redis::caching::CacheConfig::new().set_size(n));
        let conn = if cfg.cluster {
            let infos = cfg
                .nodes
                .iter()
                .map(|n| info_for(n, cfg))
                .collect::<Result<Vec<_>, _>>()
                .map_err(fail)?;
            let mut b = redis::cluster::ClusterClientBuilder::new(infos)
                .connection_timeout(cfg.timeout)
                .response_timeout(cfg.timeout)
                .retries(3)
                .min_retry_wait(50)
                .max_retry_wait(500);
            if let Some(p) = &cfg.password {
                b = b.password(p);
            }
            if let Some(c) = cache {
                b = b.use_protocol(ProtocolVersion::RESP3).cache_config(c);
            }
            let client = b.build().map_err(fail)?;
            Conn::Cluster(
                client
                    .get_pending_async_connection_with_config(redis::cluster::ClusterConfig::new()),
            )
        } else if let Some(n) = cfg.cache {
            let client =
                redis::Client::open(info_for(&cfg.nodes[0], cfg).map_err(fail)?).map_err(fail)?;
            let near = Arc::new(NearCache::new(n));
            Conn::Tracked(Arc::new(Tracked::new(client, cfg.timeout, near)))
        } else {
            let client =
                redis::Client::open(info_for(&cfg.nodes[0], cfg).map_err(fail)?).map_err(fail)?;
            let c = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(cfg.timeout))
                .set_response_timeout(Some(cfg.timeout))
                .set_number_of_retries(2)
                .set_min_delay(Duration::from_millis(50))
                .set_max_delay(Duration::from_millis(500));
            Conn::One(ConnectionManager::new_lazy_with_config(client, c).map_err(fail)?)
        };
        let near = match &conn {
            Conn::Tracked(t) => Some(t.cache.clone()),
            _ => None,
        };
        Ok(RedisStore {
            near,
            conn,
            max_inactive,
            cached: cfg.cache.is_some(),
            wait_replica: cfg.cluster,
            renewed: Mutex::new(HashMap::new()),
            down: Mutex::new(None),
        })
    }

    /// Log the start (with the cause) and the end of an outage, once each.
    fn outcome<T>(&self, r: redis::RedisResult<T>) -> Result<T, Unavailable> {
        let mut down = crate::session::manager::lock(&self.down);
        match r {
            Ok(v) => {
                if let Some(since) = down.take() {
                    log::warn!(
                        "session store: Redis answers again after {:.1} s",
                        since.elapsed().as_secs_f64()
                    );
                }
                Ok(v)
            }
            Err(e) => {
                if down.is_none() {
                    *down = Some(Instant::now());
                    log::error!(
                        "session store: Redis unreachable ({e}); requests that need a session \
                         get 503 until it answers again"
                    );
                }
                Err(Unavailable(e.to_string()))
            }
        }
    }

    /// With the near cache: whether this node should renew `key`'s TTL now (and so read it
    /// through `LOAD` rather than the cache).
    fn renewal_due(&self, key: &str, now: Instant) -> bool {
        let window =
            (self.max_inactive / 10).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let mut r = crate::session::manager::lock(&self.renewed);
        let due = r
            .get(key)
            .is_none_or(|at| now.saturating_duration_since(*at) >= window);
        if due {
            if r.len() > 100_000 {
                r.retain(|_, at| now.saturating_duration_since(*at) < window);
            }
            r.insert(key.to_string(), now);
        }
        due
    }

    async fn fetch(&self, key: &str) -> redis::RedisResult<Option<SessionData>> {
        let mut conn = self.conn.clone();
        let now = Instant::now();
        let renew = !self.cached || self.renewal_due(key, now);
        let generation = match &self.near {
            Some(near) if !renew => {
                if let Some(d) = near.get(key, now) {
                    return Ok(Some(d));
                }
                near.generation(key)
            }
            Some(near) => near.generation(key),
            None => 0,
        };
        let hash: HashMap<Vec<u8>, Vec<u8>> = if renew {
            script::load(key).invoke_async(&mut conn).await?
        } else {
            redis::cmd("HGETALL")
                .arg(key)
                .query_async(&mut conn)
                .await?
        };
        let data = script::session_of(hash, now);
        if let (Some(near), Some(d)) = (&self.near, &data) {
            near.put(key, cache::copy(d, now), generation, now);
        }
        Ok(data)
    }

    async fn save_all(
        &self,
        deltas: Vec<SessionDelta>,
        after: Option<(String, SessionData)>,
    ) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let last = deltas.len().saturating_sub(1);
        for (i, d) in deltas.iter().enumerate() {
            let key = slot::key(&d.id);
            let generation = self.near.as_ref().map_or(0, |n| n.generation(&key));
            let own = !d.invalidated;
            if let Some(near) = self.near.as_ref().filter(|_| own) {
                near.expect_own(&key);
            }
            let inv = script::save(d, self.max_inactive);
            let v: redis::RedisResult<i64> = if self.wait_replica {
                save_replicated(&inv, &mut conn).await
            } else {
                inv.invoke_async(&mut conn).await
            };
            if let Some(near) = self.near.as_ref().filter(|_| own) {
                if v.as_ref().map_or(true, |v| *v < 0) {
                    // Nothing changed (or unknown): no push of ours will come.
                    near.cancel_own(&key);
                }
            }
            let v = v?;
            if self.cached && v > 0 {
                // SAVE renewed the TTL.
                let now = Instant::now();
                crate::session::manager::lock(&self.renewed).insert(slot::key(&d.id), now);
            }
            if let Some(near) = &self.near {
                // Keep the copy current when nobody else changed the session since it was
                // read, else drop it.
                if let Some(old) = &d.previous_id {
                    near.remove(&slot::key(old));
                }
                match &after {
                    Some((id, data))
                        if i == last
                            && !d.invalidated
                            && slot::key(id) == key
                            && v == data.version as i64 + 1 =>
                    {
                        let mut data = cache::copy(data, Instant::now());
                        data.version = v as u64;
                        near.put(&key, data, generation, Instant::now());
                    }
                    _ => near.remove(&key),
                }
            }
            if v < 0 {
                // Invalidated (or expired) by another request meanwhile: it stays gone.
                log::debug!("session {}: gone from Redis, change dropped", d.id);
            }
        }
        Ok(())
    }
}

/// Keep `sessions` in Redis from now on.
pub(crate) fn attach(cfg: &RedisConfig, sessions: &crate::SessionManager) -> std::io::Result<()> {
    let store = RedisStore::new(cfg, sessions.max_inactive()).map_err(std::io::Error::other)?;
    log::info!(
        "sessions in Redis{} at {}{}",
        if cfg.cluster { " Cluster" } else { "" },
        cfg.nodes.join(","),
        cfg.cache
            .map(|n| format!(", near cache of {n} sessions"))
            .unwrap_or_default()
    );
    sessions.set_store(std::sync::Arc::new(store));
    Ok(())
}

/// SAVE and `WAIT 1` pipelined to the session's master: one round trip. The wait is short
/// (50 ms): while a shard has no replica (its master just failed over) writes still succeed.
async fn save_replicated(
    inv: &redis::ScriptInvocation<'_>,
    conn: &mut Conn,
) -> redis::RedisResult<i64> {
    let mut first = true;
    loop {
        let mut pipe = redis::pipe();
        pipe.invoke_script(inv).cmd("WAIT").arg(1).arg(50).ignore();
        match pipe.query_async::<(i64,)>(conn).await {
            Ok((v,)) => return Ok(v),
            // A pipeline does not load a script by itself (a new or failed-over master).
            Err(e) if first && e.code() == Some("NOSCRIPT") => {
                first = false;
                inv.load_async(conn).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

impl Store for RedisStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionData>> {
        Box::pin(async move {
            let key = slot::key(id);
            self.outcome(self.fetch(&key).await)
        })
    }

    fn save(
        &self,
        deltas: Vec<SessionDelta>,
        after: Option<(String, SessionData)>,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let r = self.save_all(deltas, after).await;
            self.outcome(r)
        })
    }

    fn new_id_for(&self, old: &str, route: &str) -> String {
        slot::id_in_slot_of(old, route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        let c = RedisConfig::parse("redis://127.0.0.1:6379/2").unwrap();
        assert_eq!((c.nodes.len(), c.cluster), (1, false));
        let c = RedisConfig::parse("rediss://u:p@redis.example:6380").unwrap();
        assert!(!c.cluster);
        let c = RedisConfig::parse("redis-cluster://127.0.0.1:7000, 127.0.0.1:7001").unwrap();
        assert!(c.cluster);
        assert_eq!(
            c.nodes,
            ["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]
        );
        for bad in [
            "memcached://x",
            "127.0.0.1:6379",
            "redis-cluster://",
            "redis://",
        ] {
            let e = RedisConfig::parse(bad).unwrap_err();
            assert!(e.contains("redis://[user:pass@]HOST:PORT"), "{bad}: {e}");
        }
    }
}
