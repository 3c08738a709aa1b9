//! Multicast membership (`--cluster-multicast GROUP:PORT`), after Tomcat's McastService: every
//! member sends a heartbeat every `frequency` (500 ms) to the group; a member heard is dialled
//! (and becomes live after the authenticated handshake); a member not heard for `drop_time`
//! (3000 ms) is suspected and evicted only if the TCP check fails, so a lost datagram never
//! evicts a live node. A member that stops gracefully sends a last heartbeat saying so.
//!
//! Heartbeats are signed with the cluster secret (HMAC-SHA256): a forged one cannot make us
//! dial anyone, and the handshake authenticates anyway.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::channel;
use super::membership;
use super::Inner;
use crate::session::manager::lock;

/// Settings of multicast membership.
#[derive(Clone, Debug)]
pub struct Multicast {
    pub group: SocketAddrV4,
    /// The interface address to send and join on (0.0.0.0: the kernel's choice).
    pub interface: Ipv4Addr,
    pub frequency: Duration,
    pub drop_time: Duration,
}

const MAGIC: &[u8; 6] = b"RJKHB1";
const LEAVING: u8 = 1;

/// When each member was last heard.
#[derive(Default)]
pub(crate) struct Heard(Mutex<HashMap<SocketAddr, Instant>>);

impl Heard {
    /// It proved it is there some other way (it connected to us, authenticated).
    pub fn touch(&self, addr: SocketAddr) {
        lock(&self.0).insert(addr, Instant::now());
    }

    /// Heard within the drop time.
    pub fn recent(&self, addr: SocketAddr, drop_time: Duration) -> bool {
        lock(&self.0)
            .get(&addr)
            .is_some_and(|t| t.elapsed() < drop_time)
    }
}

/// Bind the group's port (shared with other members on this host) and join the group.
pub(crate) fn socket(m: &Multicast) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::from(([0, 0, 0, 0], m.group.port())).into())?;
    s.join_multicast_v4(m.group.ip(), &m.interface)?;
    s.set_multicast_if_v4(&m.interface)?;
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(1)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

fn heartbeat(inner: &Inner, leaving: bool) -> Vec<u8> {
    let mut b = MAGIC.to_vec();
    b.push(if leaving { LEAVING } else { 0 });
    for s in [&inner.cfg.name, &inner.listen.to_string(), &inner.route] {
        b.extend_from_slice(&(s.len() as u16).to_be_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    let tag = channel::heartbeat_tag(&inner.secret, &b);
    b.extend_from_slice(&tag);
    b
}

/// A verified heartbeat: (cluster, listen, route, leaving).
fn parse(secret: &[u8], b: &[u8]) -> Option<(String, SocketAddr, String, bool)> {
    let body = b.get(..b.len().checked_sub(32)?)?;
    if !channel::heartbeat_ok(secret, body, &b[body.len()..]) {
        return None;
    }
    let rest = body.strip_prefix(MAGIC)?;
    let (&flags, mut rest) = rest.split_first()?;
    let mut field = || -> Option<String> {
        let n = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
        let s = std::str::from_utf8(rest.get(2..2 + n)?).ok()?.to_string();
        rest = &rest[2 + n..];
        Some(s)
    };
    let (cluster, listen, route) = (field()?, field()?, field()?);
    Some((cluster, listen.parse().ok()?, route, flags & LEAVING != 0))
}

/// Send heartbeats, hear the others', suspect the silent; until shutdown (then say goodbye).
pub(crate) async fn run(inner: Arc<Inner>, sock: UdpSocket, m: Multicast) {
    let mut sd = inner.shutdown.clone();
    let mut tick = tokio::time::interval(m.frequency);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = vec![0u8; 2048];
    let mut bad_logged = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = sock.send_to(&heartbeat(&inner, false), m.group).await {
                    log::warn!("cluster: sending a heartbeat to {}: {e}", m.group);
                }
                suspect_silent(&inner, &m);
            }
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, from)) => match parse(&inner.secret, &buf[..n]) {
                    Some((cluster, listen, route, leaving)) if cluster == inner.cfg.name => {
                        heard(&inner, listen, &route, leaving);
                    }
                    Some(_) => {}
                    None => {
                        if !std::mem::replace(&mut bad_logged, true) {
                            log::warn!(
                                "cluster: ignoring heartbeats from {from} that do not carry our \
                                 secret's signature"
                            );
                        }
                    }
                },
                Err(e) => log::debug!("cluster: multicast receive: {e}"),
            },
            () = sd.wait() => {
                let _ = sock.send_to(&heartbeat(&inner, true), m.group).await;
                return;
            }
        }
    }
}

fn heard(inner: &Arc<Inner>, listen: SocketAddr, route: &str, leaving: bool) {
    if super::is_self(listen, inner.listen) {
        return;
    }
    let Some(h) = &inner.heard else { return };
    if leaving {
        lock(&h.0).remove(&listen);
        if let Some(p) = inner.members.all().into_iter().find(|p| p.addr == listen) {
            membership::leaving(&p);
            inner.members.bump();
        }
        return;
    }
    let first = lock(&h.0).insert(listen, Instant::now()).is_none();
    if first {
        log::info!("cluster: heard member {listen} (route {route})");
    }
    let peer = membership::add(inner, listen);
    if lock(&peer.state).link.is_none() {
        peer.kick.notify_one();
    }
}

/// A live member not heard for the drop time becomes suspect (then the TCP check decides).
fn suspect_silent(inner: &Arc<Inner>, m: &Multicast) {
    let Some(h) = &inner.heard else { return };
    for live in inner.members.live() {
        if !live.suspect && !h.recent(live.peer.addr, m.drop_time) {
            let why = format!("no heartbeat for {:?}", m.drop_time);
            membership::suspect(inner, &live.peer, &why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_need_the_secret() {
        let mut b = MAGIC.to_vec();
        b.push(LEAVING);
        for s in ["rjk", "127.0.0.1:4000", "n1"] {
            b.extend_from_slice(&(s.len() as u16).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        let mut signed = b.clone();
        signed.extend_from_slice(&channel::heartbeat_tag(b"k", &b));
        let (c, l, r, leaving) = parse(b"k", &signed).unwrap();
        assert_eq!(
            (c.as_str(), l.port(), r.as_str(), leaving),
            ("rjk", 4000, "n1", true)
        );
        assert!(parse(b"other", &signed).is_none());
        for n in 0..signed.len() {
            assert!(parse(b"k", &signed[..n]).is_none());
        }
    }
}
