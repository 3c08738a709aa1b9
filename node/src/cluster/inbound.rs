//! Connections members open to us: authenticate (a peer without the secret is refused and
//! logged before anything it sent is looked at), then apply what it sends, acknowledge deltas,
//! and answer state-transfer requests.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::channel::{self, ChannelError};
use super::membership;
use super::message::Message;
use super::{backup, delta, transfer, Inner};

pub(crate) async fn accept(inner: Arc<Inner>, listener: TcpListener) {
    let mut sd = inner.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = sd.wait() => return,
        };
        match accepted {
            Ok((stream, from)) => {
                let _ = stream.set_nodelay(true);
                let inner = inner.clone();
                tokio::spawn(async move {
                    // Close once we said goodbye (members learn it is a leave, not a crash).
                    let mut left = inner.left.clone();
                    tokio::select! {
                        () = serve(&inner, stream, from) => {}
                        () = left.wait() => {}
                    }
                });
            }
            Err(e) => {
                log::error!("cluster: accepting a replication connection: {e}");
                tokio::task::yield_now().await;
            }
        }
    }
}

async fn serve(inner: &Arc<Inner>, mut stream: TcpStream, from: SocketAddr) {
    let auth = match channel::accept(
        &mut stream,
        &inner.secret,
        inner.hello(),
        inner.handshake_timeout(),
    )
    .await
    {
        Ok(a) => a,
        Err(ChannelError::Io(e)) => {
            // A port scan or a TCP check of an old kind: nothing was claimed.
            log::debug!("cluster: connection from {from} ended before its hello: {e}");
            return;
        }
        Err(e @ ChannelError::OtherCluster(_)) => {
            log::info!("cluster: ignoring {from}: {e}");
            return;
        }
        Err(e) => {
            inner.metrics.rejected_peers.fetch_add(1, Ordering::Relaxed);
            log::warn!("cluster: refused replication peer {from}: {e}");
            return;
        }
    };
    let Ok(listen) = auth.peer.listen.parse::<SocketAddr>() else {
        log::warn!(
            "cluster: refused {from}: bad listen address {:?}",
            auth.peer.listen
        );
        return;
    };
    if let Some(h) = &inner.heard {
        h.touch(listen);
    }
    let peer = (!super::is_self(listen, inner.listen)).then(|| membership::add(inner, listen));
    if let Some(p) = &peer {
        let again = p.inbound.fetch_add(1, Ordering::SeqCst) == 0
            && p.seen_inbound.swap(true, Ordering::SeqCst);
        p.kick.notify_one();
        inner.members.bump();
        // Backup mode copies no whole state: re-placement follows the membership instead.
        if again && inner.backup.is_none() {
            tokio::spawn(transfer::resync(inner.clone(), p.clone()));
        }
    }
    let (mut sealer, mut opener) = (auth.sealer, auth.opener);
    let (mut rd, mut wr) = stream.into_split();
    let why = loop {
        let frame = match channel::read_frame(&mut rd).await {
            Ok(f) => f,
            Err(e) => break e.to_string(),
        };
        let (seq, msg) = match opener.open(&frame) {
            Ok(m) => m,
            Err(e) => {
                inner
                    .metrics
                    .rejected_messages
                    .fetch_add(1, Ordering::Relaxed);
                log::warn!("cluster: rejected a message from {from} ({listen}): {e}; closing");
                break e.to_string();
            }
        };
        let reply = match msg {
            m @ (Message::Delta(_) | Message::Fetch(_) | Message::Drop(_))
                if inner.backup.is_some() =>
            {
                let ack = !matches!(m, Message::Fetch(_));
                match backup::receive(inner, m, &auth.peer.route) {
                    Some(answer) => Some(sealer.seal(&answer)),
                    None => ack.then(|| sealer.seal(&Message::Ack(seq))),
                }
            }
            m @ (Message::Delta(_) | Message::Accessed(_) | Message::Expired(_)) => {
                let ack = matches!(m, Message::Delta(_));
                delta::receive(inner, m);
                ack.then(|| sealer.seal(&Message::Ack(seq)))
            }
            Message::Ping => Some(sealer.seal(&Message::Ack(seq))),
            Message::GetAll => {
                if let Err(e) = transfer::send_all(inner, &mut wr, &mut sealer).await {
                    break format!("sending sessions: {e}");
                }
                None
            }
            Message::Bye => {
                if let Some(p) = &peer {
                    membership::leaving(p);
                    inner.members.bump();
                }
                Some(sealer.seal(&Message::Ack(seq)))
            }
            other => {
                log::debug!("cluster: {from}: ignoring {other:?}");
                None
            }
        };
        if let Some(r) = reply {
            if let Err(e) = wr.write_all(&r).await {
                break e.to_string();
            }
        }
    };
    log::debug!("cluster: connection from {from} ({listen}) ended: {why}");
    if let Some(p) = &peer {
        p.inbound.fetch_sub(1, Ordering::SeqCst);
        inner.members.bump();
    }
}
