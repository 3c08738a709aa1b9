//! State transfer: before a joining node opens its AJP listener it asks one live member for
//! every session. The answer streams in batches (no message holds them all, so a big session
//! set never needs one huge buffer or one long timeout); what members send meanwhile is held
//! back and applied afterwards, by version. If nobody answers within
//! `--state-transfer-timeout`, the node starts with what it has and says so.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::channel::Sealer;
use super::delta::{self, Applied};
use super::link::Outgoing;
use super::message::Message;
use super::Inner;
use crate::session::manager::lock;

/// Sessions per batch, and bytes per batch at most (whichever comes first).
const BATCH_SESSIONS: usize = 500;
const BATCH_BYTES: usize = 1 << 20;

/// How long a joining node waits for its first connection attempts to settle.
const DISCOVERY: Duration = Duration::from_secs(5);
/// How long it waits for the members it reached to connect back (so that no change made
/// after the snapshot can miss it).
const CONNECT_BACK: Duration = Duration::from_secs(2);

/// Answer `GetAll`: every session, in batches, then `TransferDone`.
pub(crate) async fn send_all(
    inner: &Inner,
    wr: &mut OwnedWriteHalf,
    sealer: &mut Sealer,
) -> std::io::Result<()> {
    let now = Instant::now();
    let entries = inner.sessions.entries();
    let total = entries.len() as u64;
    let mut batch = Vec::new();
    let mut bytes = 0;
    for (id, e) in entries {
        let img = delta::image(id, &lock(&e), now);
        bytes += img.id.len()
            + img
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.len() + 8)
                .sum::<usize>();
        batch.push(img);
        if batch.len() >= BATCH_SESSIONS || bytes >= BATCH_BYTES {
            wr.write_all(&sealer.seal(&Message::Batch(std::mem::take(&mut batch))))
                .await?;
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        wr.write_all(&sealer.seal(&Message::Batch(batch))).await?;
    }
    for gone in inner.sessions.tombstones().chunks(1000) {
        wr.write_all(&sealer.seal(&Message::Gone(gone.to_vec())))
            .await?;
    }
    wr.write_all(&sealer.seal(&Message::TransferDone(total)))
        .await?;
    log::info!("cluster: sent {total} session(s) to a joining member");
    Ok(())
}

/// Join: copy the sessions of one live member, then apply what arrived meanwhile. True when
/// a member answered (its sessions, even none, are the cluster's state).
pub(crate) async fn receive(inner: &Arc<Inner>) -> bool {
    let t0 = Instant::now();
    let timeout = inner.cfg.state_transfer_timeout;
    let members = &inner.members;
    if let Some(m) = &inner.cfg.multicast {
        // Members are known only once heard: a node that hears nobody for the drop time
        // (the time after which silence means absence) is alone.
        members
            .wait_for(m.drop_time, |ms| !ms.all().is_empty())
            .await;
    }
    members
        .wait_for(DISCOVERY.min(timeout), |m| {
            m.all().iter().all(|p| p.tried.load(Ordering::SeqCst))
        })
        .await;
    let mut got = None;
    if members.live().is_empty() {
        log::info!("cluster: no member answered: starting with no sessions");
    } else {
        members
            .wait_for(CONNECT_BACK, |m| {
                m.live()
                    .iter()
                    .all(|l| l.peer.inbound.load(Ordering::SeqCst) > 0)
            })
            .await;
        let deadline = t0 + timeout;
        for m in members.live() {
            if Instant::now() >= deadline {
                break;
            }
            match from(inner, &m.peer, &m.link.tx, deadline).await {
                Ok(n) => {
                    got = Some((n, m.peer.addr));
                    break;
                }
                Err(e) => log::warn!("cluster: state transfer from {}: {e}", m.peer.addr),
            }
        }
        if got.is_none() {
            log::error!(
                "cluster: no session state received within {timeout:?}: starting with what \
                 arrived ({} session(s))",
                inner.sessions.len()
            );
        }
    }
    // Now apply what members sent while we were copying, in the order it came.
    let held = {
        let mut p = lock(&inner.pending);
        let held = p.take().unwrap_or_default();
        for m in &held {
            delta::apply(inner, m.clone());
        }
        held.len()
    };
    let took = t0.elapsed();
    inner
        .metrics
        .transfer_ms
        .store(took.as_millis() as u64, Ordering::Relaxed);
    if let Some((n, addr)) = got {
        inner.metrics.transfer_sessions.store(n, Ordering::Relaxed);
        log::info!(
            "cluster: state transfer: {n} session(s) from {addr} in {} ms ({held} change(s) \
             held back and applied after)",
            took.as_millis()
        );
    }
    got.is_some()
}

async fn from(
    inner: &Inner,
    peer: &super::membership::Peer,
    link: &mpsc::Sender<Outgoing>,
    deadline: Instant,
) -> Result<u64, String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    *lock(&peer.transfer) = Some(tx);
    let result = async {
        link.send(Outgoing {
            msg: Message::GetAll,
            done: None,
        })
        .await
        .map_err(|_| "the connection closed".to_string())?;
        let mut n = 0u64;
        loop {
            let msg = tokio::time::timeout_at(deadline.into(), rx.recv())
                .await
                .map_err(|_| "timed out".to_string())?
                .ok_or("the connection closed")?;
            match msg {
                Message::Batch(images) => {
                    let now = Instant::now();
                    for img in images {
                        if delta::apply_image(&inner.sessions, img, now) == Applied::Yes {
                            n += 1;
                        }
                    }
                }
                Message::Gone(ids) => {
                    for id in ids {
                        inner.sessions.remove(&id);
                    }
                }
                Message::TransferDone(_) => return Ok(n),
                _ => {}
            }
        }
    }
    .await;
    *lock(&peer.transfer) = None;
    result
}

/// A member we had lost touch with is back (it reconnected to us): copy its sessions again,
/// by version, in case we missed changes meanwhile (a pause, a partition). Runs beside
/// serving; only one at a time per member.
pub(crate) async fn resync(inner: Arc<Inner>, peer: Arc<super::membership::Peer>) {
    if lock(&inner.pending).is_some() || peer.resyncing.swap(true, Ordering::SeqCst) {
        return;
    }
    inner.catching_up.fetch_add(1, Ordering::SeqCst);
    // Our own connection to it may still be on its way back.
    inner
        .members
        .wait_for(inner.handshake_timeout(), |_| {
            lock(&peer.state).link.is_some()
        })
        .await;
    let link = lock(&peer.state).link.clone();
    if let Some(l) = link {
        let deadline = Instant::now() + inner.cfg.state_transfer_timeout;
        match from(&inner, &peer, &l.tx, deadline).await {
            Ok(n) => log::info!(
                "cluster: member {} is back: re-synchronised, {n} session(s) compared",
                peer.addr
            ),
            Err(e) => log::warn!("cluster: re-synchronising with {}: {e}", peer.addr),
        }
    }
    inner.catching_up.fetch_sub(1, Ordering::SeqCst);
    peer.resyncing.store(false, Ordering::SeqCst);
}
