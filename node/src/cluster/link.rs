//! Our connection to one member: a dialler that keeps it up (reconnecting with backoff, at once
//! when the member connects to us), a writer that numbers and signs what we send, and a reader
//! that collects acknowledgements and state-transfer answers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::channel::{self, Authenticated, ChannelError, Opener, Sealer};
use super::membership::{self, Peer};
use super::message::Message;
use super::Inner;
use crate::session::manager::lock;

/// Something to send; `done` fires once the member acknowledged it (a delta, ping, bye) or,
/// for anything else, once it was written.
pub(crate) struct Outgoing {
    pub msg: Message,
    pub done: Option<oneshot::Sender<()>>,
}

/// The sending end of a live connection.
#[derive(Clone)]
pub(crate) struct Link {
    pub tx: mpsc::Sender<Outgoing>,
    /// Tells this connection from a later one to the same member.
    pub gen: u64,
}

type Waiters = Arc<Mutex<VecDeque<(u64, oneshot::Sender<()>)>>>;

static GENERATION: AtomicU64 = AtomicU64::new(1);

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Keep a connection to `peer` until shutdown.
pub(crate) async fn dial(inner: Arc<Inner>, peer: Arc<Peer>) {
    let mut sd = inner.shutdown.clone();
    let mut backoff = BACKOFF_MIN;
    let mut last_error = String::new();
    while !sd.is_set() {
        if !inner.may_dial(peer.addr) {
            // A multicast member gone silent: wait to hear it again.
            peer.tried.store(true, Ordering::SeqCst);
            tokio::select! {
                () = peer.kick.notified() => continue,
                () = sd.wait() => break,
            }
        }
        let opened = open(&inner, peer.addr).await;
        // A success counts as tried only once the member is live (in `run`): a joining node
        // that saw "tried" first could find nobody live and skip the state transfer.
        if opened.is_err() {
            mark_tried(&inner, &peer);
        }
        match opened {
            Ok((stream, auth)) => {
                last_error.clear();
                backoff = BACKOFF_MIN;
                run(&inner, &peer, stream, auth).await;
            }
            Err(e) => {
                // Say why once, not on every retry.
                let msg = e.to_string();
                if msg != last_error {
                    match e {
                        ChannelError::BadMac
                        | ChannelError::Refused
                        | ChannelError::OtherCluster(_) => {
                            log::warn!("cluster: member {} refused: {msg}", peer.addr)
                        }
                        _ => log::debug!("cluster: member {} unreachable: {msg}", peer.addr),
                    }
                    last_error = msg;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = peer.kick.notified() => {}
            () = sd.wait() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

fn mark_tried(inner: &Inner, peer: &Peer) {
    if !peer.tried.swap(true, Ordering::SeqCst) {
        inner.members.bump();
    }
}

async fn open(
    inner: &Inner,
    addr: std::net::SocketAddr,
) -> Result<(TcpStream, Authenticated), ChannelError> {
    let t = inner.handshake_timeout();
    let mut s = tokio::time::timeout(t, TcpStream::connect(addr))
        .await
        .map_err(|_| ChannelError::Timeout)??;
    let _ = s.set_nodelay(true);
    let auth = channel::connect(&mut s, &inner.secret, inner.hello(), t).await?;
    Ok((s, auth))
}

/// The TCP check of a suspect: a fresh connection must complete the handshake and answer a
/// ping within the handshake timeout (a stopped process accepts the TCP connection in the
/// kernel but never answers).
pub(crate) async fn check(inner: &Inner, addr: std::net::SocketAddr) -> Result<(), ChannelError> {
    let t = inner.handshake_timeout();
    let (mut s, mut auth) = open(inner, addr).await?;
    let ping = auth.sealer.seal(&Message::Ping);
    let fut = async {
        s.write_all(&ping).await?;
        let frame = channel::read_frame(&mut s).await?;
        match auth.opener.open(&frame)? {
            (_, Message::Ack(_)) => Ok(()),
            _ => Err(ChannelError::Unexpected("no answer to ping")),
        }
    };
    tokio::time::timeout(t, fut)
        .await
        .map_err(|_| ChannelError::Timeout)?
}

async fn run(inner: &Arc<Inner>, peer: &Arc<Peer>, stream: TcpStream, auth: Authenticated) {
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel(inner.cfg.queue.max(1));
    let gen = GENERATION.fetch_add(1, Ordering::Relaxed);
    let waiters: Waiters = Arc::default();
    membership::joined(inner, peer, Link { tx, gen }, &auth.peer);
    mark_tried(inner, peer);
    let why = tokio::select! {
        r = read_loop(inner, peer, rd, auth.opener, waiters.clone()) => r,
        w = write_loop(inner, wr, auth.sealer, rx, waiters.clone()) => w,
    };
    // Dropping the waiters tells requests waiting for this member that it is gone, and
    // dropping the transfer sink tells a state transfer from it (which then tries another).
    lock(&waiters).clear();
    *lock(&peer.transfer) = None;
    membership::gone(inner, peer, gen, &why);
}

async fn read_loop(
    inner: &Inner,
    peer: &Peer,
    mut rd: OwnedReadHalf,
    mut opener: Opener,
    waiters: Waiters,
) -> String {
    loop {
        let frame = match channel::read_frame(&mut rd).await {
            Ok(f) => f,
            Err(ChannelError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return "connection closed".into()
            }
            Err(e) => return e.to_string(),
        };
        let msg = match opener.open(&frame) {
            Ok((_, m)) => m,
            Err(e) => {
                inner
                    .metrics
                    .rejected_messages
                    .fetch_add(1, Ordering::Relaxed);
                log::warn!("cluster: member {}: {e}; closing", peer.addr);
                return e.to_string();
            }
        };
        match msg {
            Message::Ack(n) => {
                let mut w = lock(&waiters);
                while w.front().is_some_and(|(seq, _)| *seq <= n) {
                    if let Some((_, done)) = w.pop_front() {
                        let _ = done.send(());
                    }
                }
            }
            m @ (Message::Batch(_) | Message::Gone(_) | Message::TransferDone(_)) => {
                if let Some(t) = lock(&peer.transfer).as_ref() {
                    let _ = t.send(m);
                }
            }
            Message::Fetched(id, answer) => super::backup::answered(inner, peer.addr, id, answer),
            other => log::debug!("cluster: member {}: ignoring {other:?}", peer.addr),
        }
    }
}

async fn write_loop(
    inner: &Inner,
    mut wr: OwnedWriteHalf,
    mut sealer: Sealer,
    mut rx: mpsc::Receiver<Outgoing>,
    waiters: Waiters,
) -> String {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut written = Vec::new();
    while let Some(first) = rx.recv().await {
        buf.clear();
        let mut next = Some(first);
        // Everything already queued goes out in one write.
        while let Some(o) = next {
            let seq = sealer.next_seq();
            buf.extend_from_slice(&sealer.seal(&o.msg));
            if let Some(done) = o.done {
                if matches!(
                    o.msg,
                    Message::Delta(_) | Message::Ping | Message::Bye | Message::Drop(_)
                ) {
                    lock(&waiters).push_back((seq, done));
                } else {
                    written.push(done);
                }
            }
            next = if buf.len() < 256 * 1024 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if let Err(e) = wr.write_all(&buf).await {
            return e.to_string();
        }
        inner
            .metrics
            .bytes_sent
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        for d in written.drain(..) {
            let _ = d.send(());
        }
    }
    let _ = wr.shutdown().await;
    "closed by us".into()
}
