//! The running node: the AJP listener (and optionally an HTTP one) serving an application
//! wrapped in the session manager, and the graceful shutdown of all of it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::app::App;
use crate::cluster::{metrics, Cluster};
use crate::config::NodeConfig;
use crate::connection::{self, ConnSettings};
use crate::http_server;
use crate::session::persist::{self, Loaded};
use crate::session::{SessionManager, Sessions};
use crate::shutdown::{self, Shutdown, Trigger};

/// A node that is serving. Call [`Node::stop`] for a graceful end; dropping it aborts every
/// listener and connection at once.
pub struct Node {
    ajp_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    cluster: Option<Cluster>,
    metrics_addr: Option<SocketAddr>,
    sessions: SessionManager,
    /// Where sessions are saved on stop (`None` without `--session-file`, or when the file
    /// found at start could not be moved aside and must not be overwritten).
    session_file: Option<PathBuf>,
    trigger: Trigger,
    tasks: JoinSet<()>,
}

impl Node {
    /// Bind the listeners and start serving `app` (with sessions: every request carries a
    /// [`crate::Session`] extension).
    pub async fn start<A: App>(cfg: NodeConfig, app: A) -> std::io::Result<Node> {
        let sessions = SessionManager::new(&cfg.route, cfg.session_timeout);
        Self::start_with_sessions(cfg, app, sessions).await
    }

    /// Like [`Node::start`] with a session manager made by the caller (to observe deltas).
    pub async fn start_with_sessions<A: App>(
        cfg: NodeConfig,
        app: A,
        sessions: SessionManager,
    ) -> std::io::Result<Node> {
        if let Some(store) = &cfg.session_store {
            crate::store::redis::attach(store, &sessions)?;
        }
        let app = Sessions::new(app, sessions.clone()).with_context(cfg.context_path.clone());
        let (trigger, shutdown) = shutdown::channel();
        // The cluster first: a joining node copies the sessions before its AJP port opens.
        let cluster = match cfg.cluster.clone() {
            Some(c) => Some(Cluster::start(c, sessions.clone(), shutdown.clone()).await?),
            None => None,
        };
        // Live members know better than a file written when this node last stopped.
        let session_file = match (&cfg.session_file, &cluster) {
            (Some(f), Some(c)) if c.state_received() => {
                log::info!(
                    "session file {}: not read, the sessions came from a live member",
                    f.display()
                );
                Some(f.clone())
            }
            (Some(f), _) => match persist::load(f, &sessions) {
                Loaded::Corrupt { aside: None } => None,
                _ => Some(f.clone()),
            },
            (None, _) => None,
        };
        let metrics_addr = match (&cluster, cfg.metrics) {
            (Some(c), Some(a)) => Some(metrics::start(c.clone(), a).await?),
            _ => None,
        };
        let ajp = TcpListener::bind(cfg.ajp).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("binding the AJP address {}: {e}", cfg.ajp),
            )
        })?;
        let ajp_addr = ajp.local_addr()?;
        let http = match cfg.http {
            Some(a) => Some(TcpListener::bind(a).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("binding the HTTP address {a}: {e}"))
            })?),
            None => None,
        };
        let http_addr = http.as_ref().map(|l| l.local_addr()).transpose()?;
        let mut tasks = JoinSet::new();
        let settings = Arc::new(ConnSettings {
            container: cfg.container.clone(),
            idle_timeout: cfg.idle_timeout,
        });
        tasks.spawn(accept_ajp(
            ajp,
            app.clone(),
            settings,
            cfg.max_connections,
            cfg.shutdown_grace,
            shutdown.clone(),
        ));
        if let Some(l) = http {
            let limits = http_server::Limits {
                max_connections: cfg.max_connections,
                idle_timeout: cfg.idle_timeout,
                grace: cfg.shutdown_grace,
            };
            tasks.spawn(http_server::accept(l, app, limits, shutdown.clone()));
        }
        if let (Some(f), Some(every)) = (&session_file, cfg.session_save_interval) {
            tasks.spawn(persist::save_periodically(
                f.clone(),
                sessions.clone(),
                every,
                shutdown.clone(),
            ));
        }
        tasks.spawn(sessions.clone().sweep(cfg.sweep_interval, shutdown));
        log::info!(
            "route {}: AJP on {ajp_addr}{}, packet size {}, secret {}",
            cfg.route,
            http_addr
                .map(|a| format!(", HTTP on {a}"))
                .unwrap_or_default(),
            cfg.container.packet_size.get(),
            if cfg.container.secret.is_some() {
                "required"
            } else {
                "not required"
            },
        );
        Ok(Node {
            ajp_addr,
            http_addr,
            cluster,
            metrics_addr,
            sessions,
            session_file,
            trigger,
            tasks,
        })
    }

    pub fn ajp_addr(&self) -> SocketAddr {
        self.ajp_addr
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The replication cluster, with `--cluster delta`.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn sessions(&self) -> &SessionManager {
        &self.sessions
    }

    /// Begin a graceful shutdown: stop accepting, close idle connections, let in-flight
    /// requests finish (within the grace period).
    pub fn begin_shutdown(&self) {
        self.trigger.fire();
    }

    /// Shut down and wait until every listener and connection is done (and the sessions
    /// are saved, with a session file).
    pub async fn stop(mut self) {
        self.begin_shutdown();
        self.finish().await;
        if let Some(c) = &self.cluster {
            c.left().await;
        }
    }

    /// Wait until the node has stopped (after [`Node::begin_shutdown`] from elsewhere).
    pub async fn wait(mut self) {
        self.finish().await;
    }

    /// Requests that finished in the grace period changed sessions too: save after them.
    async fn finish(&mut self) {
        while self.tasks.join_next().await.is_some() {}
        if let Some(c) = &self.cluster {
            c.drained();
        }
        if let Some(f) = self.session_file.take() {
            persist::save_logged(f, self.sessions.clone(), true).await;
        }
    }
}

async fn accept_ajp<A: App>(
    listener: TcpListener,
    app: A,
    settings: Arc<ConnSettings>,
    max_connections: usize,
    grace: std::time::Duration,
    mut shutdown: Shutdown,
) {
    let limit = Arc::new(Semaphore::new(max_connections));
    let mut conns = JoinSet::new();
    loop {
        // Like Tomcat's maxConnections: at the limit, stop accepting (the kernel backlog holds
        // newcomers) until a connection closes.
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = shutdown.wait() => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shutdown.wait() => break,
        };
        while conns.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                let (app, settings, sd) = (app.clone(), settings.clone(), shutdown.clone());
                conns.spawn(async move {
                    connection::serve(stream, peer, app, settings, sd).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: the listener itself is fine.
                log::error!("accepting an AJP connection: {e}");
                drop(permit);
                tokio::task::yield_now().await;
            }
        }
    }
    drop(listener);
    log::info!(
        "AJP listener closed; {} connection(s) finishing",
        conns.len()
    );
    let drained =
        tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        log::warn!(
            "{} AJP connection(s) still busy after {grace:?}: closing them",
            conns.len()
        );
        conns.shutdown().await;
    }
}
