//! The connection of a node with a near cache (standalone Redis): RESP3, client tracking in
//! broadcast mode switched on before the connection is used, so every change by
//! another client to a session key reaches [`NearCache`] as a push. It reconnects by itself
//! (one attempt at a time, at most every 100 ms while Redis is down) and empties the cache
//! whenever the connection is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisResult, Value};

use super::cache::NearCache;
use crate::session::manager::lock;

pub(crate) struct Tracked {
    client: redis::Client,
    timeout: Duration,
    pub cache: Arc<NearCache>,
    current: Mutex<Option<MultiplexedConnection>>,
    /// Set by the push handler when the library reports the connection gone.
    lost: Arc<AtomicBool>,
    connecting: tokio::sync::Mutex<Option<Instant>>,
}

impl Tracked {
    pub fn new(client: redis::Client, timeout: Duration, cache: Arc<NearCache>) -> Tracked {
        Tracked {
            client,
            timeout,
            cache,
            current: Mutex::new(None),
            lost: Arc::new(AtomicBool::new(false)),
            connecting: tokio::sync::Mutex::new(None),
        }
    }

    async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        if self.lost.swap(false, Ordering::SeqCst) {
            lock(&self.current).take();
        }
        if let Some(c) = lock(&self.current).clone() {
            return Ok(c);
        }
        let mut last_failure = self.connecting.lock().await;
        if let Some(c) = lock(&self.current).clone() {
            return Ok(c);
        }
        if last_failure.is_some_and(|at| at.elapsed() < Duration::from_millis(100)) {
            return Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "Redis was unreachable a moment ago",
            )));
        }
        match self.connect().await {
            Ok(c) => {
                *last_failure = None;
                *lock(&self.current) = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                *last_failure = Some(Instant::now());
                Err(e)
            }
        }
    }

    async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        let (cache, lost) = (self.cache.clone(), self.lost.clone());
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_push_sender(move |p: redis::PushInfo| {
                if !cache.on_push(&p) {
                    lost.store(true, Ordering::SeqCst);
                }
                Ok::<(), std::convert::Infallible>(())
            });
        let mut c = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?;
        redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("BCAST")
            .arg("PREFIX")
            .arg("rjk:s:")
            .exec_async(&mut c)
            .await?;
        // Changes made while nobody listened are unknown.
        self.cache.clear();
        Ok(c)
    }

    fn failed(&self, e: &redis::RedisError) {
        if e.is_io_error() || e.is_unrecoverable_error() || e.is_timeout() {
            lock(&self.current).take();
            self.cache.clear();
        }
    }
}

impl Tracked {
    pub async fn command(&self, cmd: &Cmd) -> RedisResult<Value> {
        let mut c = self.connection().await?;
        let r = c.req_packed_command(cmd).await;
        if let Err(e) = &r {
            self.failed(e);
        }
        r
    }

    pub async fn commands(
        &self,
        pipeline: &Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let mut c = self.connection().await?;
        let r = c.req_packed_commands(pipeline, offset, count).await;
        if let Err(e) = &r {
            self.failed(e);
        }
        r
    }
}
