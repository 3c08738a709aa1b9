//! Who is in the cluster, as this node sees it. A member is *live* once our connection to it
//! completed the authenticated handshake, and *gone* when that connection ends (a killed node's
//! sockets close at once). A member that misses an acknowledgement deadline is *suspect*:
//! requests stop waiting for it, and a TCP check (a fresh connection, handshake and ping within
//! the handshake timeout, as Tomcat's TcpFailureDetector) decides — answered: live again; no
//! answer: evicted (its connection is closed and re-dialled until it answers). Joins and leaves
//! are logged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};

use super::link::{self, Link, Outgoing};
use super::message::{Hello, Message};
use super::Inner;
use crate::session::manager::lock;

/// One member (other than us).
pub(crate) struct Peer {
    /// Its replication address: where we dial it, and how it names itself.
    pub addr: SocketAddr,
    pub state: Mutex<PeerState>,
    /// Wakes the dialer (the member just connected to us, so it is back).
    pub kick: Notify,
    /// The dialer made its first attempt (state transfer waits for that).
    pub tried: AtomicBool,
    /// Authenticated connections it has open to us.
    pub inbound: AtomicUsize,
    /// It connected to us at least once (a later connection means it lost touch with us).
    pub seen_inbound: AtomicBool,
    pub resyncing: AtomicBool,
    /// Where state-transfer messages from it go while we receive them.
    pub transfer: Mutex<Option<mpsc::UnboundedSender<Message>>>,
}

#[derive(Default)]
pub(crate) struct PeerState {
    pub link: Option<Link>,
    pub route: Option<String>,
    pub suspect: bool,
    pub since: Option<Instant>,
    /// It said goodbye: its disconnection is a leave, not a failure.
    pub leaving: bool,
}

/// Every member we know of, and a counter bumped on each change (to wait for one).
pub(crate) struct Membership {
    peers: Mutex<HashMap<SocketAddr, Arc<Peer>>>,
    changed: watch::Sender<u64>,
}

/// A member we can send to now.
pub(crate) struct LiveMember {
    pub peer: Arc<Peer>,
    pub link: Link,
    pub suspect: bool,
}

impl Membership {
    pub fn new() -> Membership {
        Membership {
            peers: Mutex::new(HashMap::new()),
            changed: watch::channel(0).0,
        }
    }

    pub fn all(&self) -> Vec<Arc<Peer>> {
        let mut v: Vec<_> = lock(&self.peers).values().cloned().collect();
        v.sort_by_key(|p| p.addr);
        v
    }

    pub fn live(&self) -> Vec<LiveMember> {
        self.all()
            .into_iter()
            .filter_map(|peer| {
                let st = lock(&peer.state);
                let link = st.link.clone()?;
                let suspect = st.suspect;
                drop(st);
                Some(LiveMember {
                    peer,
                    link,
                    suspect,
                })
            })
            .collect()
    }

    pub fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Wait until `cond` holds or `timeout` passes; returns whether it holds.
    pub async fn wait_for(&self, timeout: Duration, cond: impl Fn(&Membership) -> bool) -> bool {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if cond(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return cond(self);
            }
        }
    }
}

/// Know `addr` as a member and start dialling it (no-op if known).
pub(crate) fn add(inner: &Arc<Inner>, addr: SocketAddr) -> Arc<Peer> {
    let mut peers = lock(&inner.members.peers);
    if let Some(p) = peers.get(&addr) {
        return p.clone();
    }
    let peer = Arc::new(Peer {
        addr,
        state: Mutex::new(PeerState::default()),
        kick: Notify::new(),
        tried: AtomicBool::new(false),
        inbound: AtomicUsize::new(0),
        seen_inbound: AtomicBool::new(false),
        resyncing: AtomicBool::new(false),
        transfer: Mutex::new(None),
    });
    peers.insert(addr, peer.clone());
    drop(peers);
    tokio::spawn(link::dial(inner.clone(), peer.clone()));
    peer
}

pub(crate) fn joined(inner: &Inner, peer: &Peer, link: Link, hello: &Hello) {
    {
        let mut st = lock(&peer.state);
        st.link = Some(link);
        st.route = Some(hello.route.clone());
        st.suspect = false;
        st.leaving = false;
        st.since = Some(Instant::now());
    }
    log::info!(
        "cluster: member {} (route {}) joined",
        peer.addr,
        hello.route
    );
    inner.metrics.joins.fetch_add(1, Ordering::Relaxed);
    inner.members.bump();
}

/// The connection `gen` to `peer` ended.
pub(crate) fn gone(inner: &Inner, peer: &Peer, gen: u64, why: &str) {
    let mut st = lock(&peer.state);
    if st.link.as_ref().map(|l| l.gen) != Some(gen) {
        return;
    }
    st.link = None;
    st.suspect = false;
    let route = st.route.clone().unwrap_or_default();
    if std::mem::take(&mut st.leaving) {
        log::info!("cluster: member {} (route {route}) left", peer.addr);
    } else {
        log::warn!("cluster: member {} (route {route}) lost: {why}", peer.addr);
    }
    drop(st);
    inner.metrics.leaves.fetch_add(1, Ordering::Relaxed);
    inner.members.bump();
}

/// The member said goodbye on its connection to us.
pub(crate) fn leaving(peer: &Peer) {
    let link = {
        let mut st = lock(&peer.state);
        st.leaving = true;
        st.link.take().map(|l| (l, st.route.clone()))
    };
    if let Some((l, route)) = link {
        log::info!(
            "cluster: member {} (route {}) left",
            peer.addr,
            route.unwrap_or_default()
        );
        drop(l);
    }
}

/// `peer` missed a deadline: stop waiting for it and check it.
pub(crate) fn suspect(inner: &Arc<Inner>, peer: &Arc<Peer>, why: &str) {
    {
        let mut st = lock(&peer.state);
        if st.suspect || st.link.is_none() {
            return;
        }
        st.suspect = true;
    }
    log::warn!(
        "cluster: member {} is suspect ({why}): checking it over TCP",
        peer.addr
    );
    inner.metrics.suspects.fetch_add(1, Ordering::Relaxed);
    inner.members.bump();
    let (inner, peer) = (inner.clone(), peer.clone());
    tokio::spawn(async move {
        match link::check(&inner, peer.addr).await {
            Ok(()) => {
                log::info!(
                    "cluster: member {} answered the check: still a member",
                    peer.addr
                );
                lock(&peer.state).suspect = false;
            }
            Err(e) => {
                let gone = lock(&peer.state).link.take();
                if let Some(l) = gone {
                    log::warn!("cluster: member {} evicted: check failed: {e}", peer.addr);
                    inner.metrics.evictions.fetch_add(1, Ordering::Relaxed);
                    drop(l);
                }
            }
        }
        inner.members.bump();
    });
}

/// Graceful stop: tell every member and wait (briefly) until each acknowledged, so it records
/// a leave before our connections close.
pub(crate) async fn leave(inner: &Inner) {
    let live = inner.members.live();
    let mut acked = Vec::new();
    for m in &live {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let bye = Outgoing {
            msg: Message::Bye,
            done: Some(tx),
        };
        if m.link.tx.try_send(bye).is_ok() {
            acked.push(rx);
        }
    }
    for rx in acked {
        let _ = tokio::time::timeout(Duration::from_millis(500), rx).await;
    }
    for m in live {
        lock(&m.peer.state).link = None;
    }
}
