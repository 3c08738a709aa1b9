//! The replication cluster: with `--cluster delta` every live member holds every session;
//! with `--cluster backup` ([`backup`]) each session lives on its primary and `--backups`
//! members chosen by hashing, on the same channel, membership and delta machinery.
//!
//! - [`channel`]: TCP between members, framed, HMAC-authenticated, numbered against replay;
//! - [`message`]: what members say to each other;
//! - [`membership`]: who is live, suspect or gone (static list, handshake to join, a TCP
//!   check before an eviction); [`multicast`]: heartbeats instead of a list;
//! - `link`: our connection to one member (sends, collects acknowledgements);
//! - `inbound`: connections members opened to us (applies, acknowledges, answers state
//!   transfer);
//! - [`delta`]: what a finished request ships (versioned deltas, access, expiry) and how a
//!   replica applies it — in version order, never resurrecting an invalidated session;
//! - [`transfer`]: a joining node's copy of every session, streamed in batches before its AJP
//!   listener opens;
//! - [`rebind`]: what the application sees when a session moved to this node's route;
//! - [`metrics`]: counters for `--metrics`;
//! - [`backup`]: `--cluster backup` (placement by hashing, fetch and hand-over, re-placement,
//!   graceful hand-off) on all of the above.
//!
//! Sync replication (the default): the request's response does not leave before every live
//! member acknowledged its deltas, bounded by `--replication-timeout` (a member that misses it
//! becomes suspect and is checked). Async: deltas go through a bounded queue per member and
//! the request does not wait; what a crash can lose is what sits in those queues (in practice
//! the last few milliseconds of changes).

pub mod backup;
pub mod channel;
pub mod delta;
mod inbound;
mod link;
pub mod membership;
pub mod message;
pub mod metrics;
pub mod multicast;
pub mod rebind;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::session::SessionManager;
use crate::shutdown::Shutdown;
use membership::Membership;
use message::{Hello, Message};
pub use metrics::Metrics;
pub use rebind::OriginalSessionId;

/// When a request's response may leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    /// After every live member acknowledged the request's changes.
    Sync,
    /// At once; changes follow through a bounded queue.
    Async,
}

/// Settings of `--cluster delta`.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub listen: SocketAddr,
    /// The other members' replication addresses (ours is ignored if listed).
    pub members: Vec<SocketAddr>,
    /// The shared secret; `None` only with `--cluster-insecure` (frames are then signed with
    /// an empty key: integrity against accidents, no authentication).
    pub secret: Option<Vec<u8>>,
    pub name: String,
    pub replication: Replication,
    pub replication_timeout: Duration,
    pub state_transfer_timeout: Duration,
    /// Deltas waiting per member before a request has to wait (async backpressure).
    pub queue: usize,
    /// Multicast heartbeats find the members (instead of, or besides, the static list).
    pub multicast: Option<multicast::Multicast>,
    /// `--cluster backup`: this many backups per session besides its primary (`None`:
    /// `--cluster delta`, every member holds everything).
    pub backups: Option<usize>,
}

impl ClusterConfig {
    pub fn new(listen: SocketAddr) -> ClusterConfig {
        ClusterConfig {
            listen,
            members: Vec::new(),
            secret: None,
            name: "rjk".into(),
            replication: Replication::Sync,
            replication_timeout: Duration::from_millis(1000),
            state_transfer_timeout: Duration::from_secs(60),
            queue: 4096,
            multicast: None,
            backups: None,
        }
    }
}

/// What every cluster task shares.
pub(crate) struct Inner {
    pub cfg: ClusterConfig,
    pub secret: Vec<u8>,
    /// Our listener's real address (the identity we announce).
    pub listen: SocketAddr,
    pub route: String,
    pub sessions: SessionManager,
    pub members: Membership,
    /// When members' heartbeats were last heard (multicast membership only).
    pub heard: Option<multicast::Heard>,
    pub metrics: Metrics,
    /// Serialises version stamping and enqueueing, so every member sees one session's deltas
    /// in version order.
    pub publish: tokio::sync::Mutex<()>,
    /// Sessions used since the last `Accessed` message.
    pub accessed: Mutex<std::collections::HashSet<String>>,
    /// While state transfer runs, what members send is kept here and applied after it.
    pub pending: Mutex<Option<Vec<Message>>>,
    /// Re-synchronisations in flight: meanwhile this node re-binds no session.
    pub catching_up: std::sync::atomic::AtomicUsize,
    pub shutdown: Shutdown,
    /// `--cluster backup`: placement, fetches, re-placement.
    pub backup: Option<backup::State>,
    /// Fires once the goodbyes are acknowledged (after shutdown).
    pub left: Shutdown,
    left_trigger: crate::shutdown::Trigger,
}

impl Inner {
    pub fn hello(&self) -> Hello {
        Hello {
            cluster: self.cfg.name.clone(),
            listen: self.listen.to_string(),
            route: self.route.clone(),
            nonce: [0; 16],
        }
    }

    /// How often coalesced access news goes out: often enough that a replica never sees a
    /// used session as idle for long.
    pub fn access_interval(&self) -> Duration {
        (self.sessions.max_inactive() / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// Whether to dial `peer` now: static members always; with multicast, members heard
    /// within the drop time.
    pub fn may_dial(&self, addr: SocketAddr) -> bool {
        match (&self.heard, &self.cfg.multicast) {
            (Some(h), Some(m)) => self.cfg.members.contains(&addr) || h.recent(addr, m.drop_time),
            _ => true,
        }
    }

    /// Handshakes and TCP checks give up after this.
    pub fn handshake_timeout(&self) -> Duration {
        self.cfg.replication_timeout.max(Duration::from_millis(500))
    }
}

/// A running cluster member. Dropping it does not stop it: the node's shutdown does.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
    state_received: bool,
}

impl Cluster {
    /// Open the replication listener, join the members and copy their sessions (state
    /// transfer); returns when this node may start serving.
    pub(crate) async fn start(
        cfg: ClusterConfig,
        sessions: SessionManager,
        shutdown: Shutdown,
    ) -> std::io::Result<Cluster> {
        let listener = TcpListener::bind(cfg.listen).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("binding the cluster address {}: {e}", cfg.listen),
            )
        })?;
        let listen = listener.local_addr()?;
        if cfg.secret.is_none() {
            log::warn!(
                "cluster {:?}: --cluster-insecure: replication messages are not authenticated; \
                 anyone who reaches {listen} can change sessions",
                cfg.name
            );
        }
        let (left_trigger, left) = crate::shutdown::channel();
        let inner = Arc::new(Inner {
            secret: cfg.secret.clone().unwrap_or_default(),
            listen,
            route: sessions.route().to_string(),
            members: Membership::new(),
            heard: cfg.multicast.as_ref().map(|_| Default::default()),
            metrics: Metrics::default(),
            publish: tokio::sync::Mutex::new(()),
            accessed: Mutex::new(Default::default()),
            pending: Mutex::new(Some(Vec::new())),
            catching_up: Default::default(),
            backup: cfg.backups.map(backup::State::new),
            shutdown,
            left,
            left_trigger,
            sessions: sessions.clone(),
            cfg,
        });
        let mut cluster = Cluster {
            inner,
            state_received: false,
        };
        let i = &cluster.inner;
        log::info!(
            "cluster {:?}: replication on {listen}, {} replication, members {}",
            i.cfg.name,
            match i.cfg.replication {
                Replication::Sync => "sync",
                Replication::Async => "async",
            },
            if i.cfg.members.is_empty() {
                "none yet".to_string()
            } else {
                i.cfg
                    .members
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }
        );
        tokio::spawn(inbound::accept(i.clone(), listener));
        if let Some(m) = i.cfg.multicast.clone() {
            let sock = multicast::socket(&m).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "joining multicast group {} on {}: {e}",
                        m.group, m.interface
                    ),
                )
            })?;
            tokio::spawn(multicast::run(i.clone(), sock, m));
        }
        for m in i.cfg.members.clone() {
            if !is_self(m, listen) {
                membership::add(i, m);
            }
        }
        delta::watch_expiry(i);
        let received = if i.backup.is_some() {
            tokio::spawn(backup::send_accessed(i.clone()));
            sessions.set_replicator(Arc::new(backup::Replicate(i.clone())));
            backup::join(i).await
        } else {
            tokio::spawn(delta::send_accessed(i.clone()));
            sessions.set_replicator(Arc::new(delta::Replicate(i.clone())));
            transfer::receive(i).await
        };
        tokio::spawn(leave_on_shutdown(i.clone()));
        cluster.state_received = received;
        Ok(cluster)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The cluster as this node sees it (the JSON view of `--metrics`).
    pub fn view(&self) -> metrics::View {
        metrics::view(&self.inner)
    }

    /// Resolves once, after shutdown began, every member acknowledged our goodbye (or gave
    /// up waiting for it).
    pub(crate) async fn left(&self) {
        self.inner.left.clone().wait().await;
    }

    /// A live member answered the state transfer at start: its sessions are the truth, and
    /// `--session-file` is not read.
    pub fn state_received(&self) -> bool {
        self.state_received
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.inner.listen
    }

    /// `primary ID`, `backup ID` or `none`: how this node holds the session `id` names.
    pub fn role_of(&self, id: &str) -> String {
        backup::role_of(&self.inner, id)
    }

    /// The node's requests are done (after shutdown began): in backup mode it now hands its
    /// sessions off, then leaves.
    pub(crate) fn drained(&self) {
        if let Some(b) = &self.inner.backup {
            b.drained.fire();
        }
    }
}

/// `addr` names this node (the same list can be given to every member).
fn is_self(addr: SocketAddr, listen: SocketAddr) -> bool {
    addr == listen || (addr.port() == listen.port() && addr.ip().is_unspecified())
}

async fn leave_on_shutdown(inner: Arc<Inner>) {
    let mut sd = inner.shutdown.clone();
    sd.wait().await;
    if inner.backup.is_some() {
        backup::handoff::run(&inner).await;
    }
    log::info!("leaving the cluster");
    membership::leave(&inner).await;
    inner.left_trigger.fire();
}
