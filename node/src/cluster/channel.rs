//! The replication channel: TCP between members, framed, every frame authenticated with the
//! cluster secret and numbered, so a peer without the secret is refused and a captured frame
//! cannot be replayed.
//!
//! Frame: `u32 length | u64 sequence | message | HMAC-SHA256 (32 bytes)`; the MAC covers the
//! direction, the sequence and the message. Handshake (the connecting side is the client):
//!
//! 1. client → `Hello{cluster, listen, route, nonce_c}`, sequence 0, MAC with the hello key
//!    (derived from the secret alone);
//! 2. server → its own `Hello{.., nonce_s}`, sequence 0, MAC with the connection key
//!    `HMAC(secret, nonce_c ‖ nonce_s)`: the client now knows the server holds the secret;
//! 3. client → `Ready`, sequence 1, MAC with the connection key: the server now knows the
//!    client holds it (a replayed hello cannot produce this, since `nonce_s` is fresh).
//!
//! After that each direction numbers its frames 1, 2, 3...: a frame whose number is not the
//! next one (replayed, dropped, reordered) closes the connection. Nothing is encrypted: the
//! secret buys authenticity and integrity; run the channel on a private network.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::message::{Hello, Malformed, Message};

type HmacSha256 = Hmac<Sha256>;

const MAC_LEN: usize = 32;
/// The largest frame accepted from an authenticated member (a state-transfer batch is far
/// smaller).
pub const MAX_FRAME: usize = 32 << 20;
/// The largest hello: read before anything is authenticated, so kept small.
const MAX_HELLO: usize = 4096;

/// Why a frame or a handshake was refused.
#[derive(Debug)]
pub enum ChannelError {
    Io(std::io::Error),
    /// The MAC does not match: the peer does not hold our secret (or the bytes were altered).
    BadMac,
    /// Not the next sequence number: a replayed, lost or reordered frame.
    Sequence {
        got: u64,
        want: u64,
    },
    Malformed(Malformed),
    TooLarge(usize),
    /// The peer belongs to another cluster (`--cluster-name`).
    OtherCluster(String),
    /// The peer broke the handshake order.
    Unexpected(&'static str),
    /// The server hung up on our hello: it did not accept our MAC (another secret).
    Refused,
    Timeout,
}

impl std::fmt::Display for ChannelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelError::Io(e) => write!(f, "{e}"),
            ChannelError::BadMac => f.write_str(
                "authentication failed (wrong --cluster-secret, or the message was altered)",
            ),
            ChannelError::Sequence { got, want } => write!(
                f,
                "message number {got} where {want} was due: replayed or out of order"
            ),
            ChannelError::Malformed(m) => write!(f, "{m}"),
            ChannelError::TooLarge(n) => write!(f, "frame of {n} bytes is too large"),
            ChannelError::OtherCluster(c) => write!(f, "member of another cluster ({c:?})"),
            ChannelError::Unexpected(what) => write!(f, "handshake broken: {what}"),
            ChannelError::Refused => f.write_str(
                "the member closed the connection at our hello: authentication failed \
                 (different --cluster-secret?)",
            ),
            ChannelError::Timeout => f.write_str("handshake timed out"),
        }
    }
}

impl From<std::io::Error> for ChannelError {
    fn from(e: std::io::Error) -> Self {
        ChannelError::Io(e)
    }
}

fn heartbeat_key(secret: &[u8]) -> HmacSha256 {
    let mut m = keyed(secret);
    m.update(b"rjk-cluster heartbeat v1");
    keyed(&m.finalize().into_bytes())
}

/// The signature of a multicast heartbeat.
pub(crate) fn heartbeat_tag(secret: &[u8], body: &[u8]) -> [u8; MAC_LEN] {
    let mut m = heartbeat_key(secret);
    m.update(body);
    m.finalize().into_bytes().into()
}

pub(crate) fn heartbeat_ok(secret: &[u8], body: &[u8], tag: &[u8]) -> bool {
    let mut m = heartbeat_key(secret);
    m.update(body);
    m.verify_slice(tag).is_ok()
}

/// Which way a frame travels (part of the MAC, so a frame cannot be reflected back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ClientToServer = 0,
    ServerToClient = 1,
}

fn hello_key(secret: &[u8]) -> HmacSha256 {
    let mut m = keyed(secret);
    m.update(b"rjk-cluster hello v1");
    keyed(&m.finalize().into_bytes())
}

fn conn_key(secret: &[u8], client: &[u8; 16], server: &[u8; 16]) -> HmacSha256 {
    let mut m = keyed(secret);
    m.update(b"rjk-cluster connection v1");
    m.update(client);
    m.update(server);
    keyed(&m.finalize().into_bytes())
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    HmacSha256::new_from_slice(key).expect("HMAC accepts any key length")
}

fn mac(key: &HmacSha256, dir: Direction, seq: u64, payload: &[u8]) -> HmacSha256 {
    let mut m = key.clone();
    m.update(&[dir as u8]);
    m.update(&seq.to_be_bytes());
    m.update(payload);
    m
}

/// Numbers and signs outgoing frames.
pub struct Sealer {
    key: HmacSha256,
    dir: Direction,
    next: u64,
}

impl Sealer {
    /// The whole frame for `msg`, length prefix included.
    pub fn seal(&mut self, msg: &Message) -> Vec<u8> {
        let seq = self.next;
        self.next += 1;
        seal_with(&self.key, self.dir, seq, msg)
    }

    /// The number the next frame will carry.
    pub fn next_seq(&self) -> u64 {
        self.next
    }
}

fn seal_with(key: &HmacSha256, dir: Direction, seq: u64, msg: &Message) -> Vec<u8> {
    let mut out = vec![0u8; 12];
    out[4..12].copy_from_slice(&seq.to_be_bytes());
    msg.encode(&mut out);
    let tag = mac(key, dir, seq, &out[12..]).finalize().into_bytes();
    out.extend_from_slice(&tag);
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

/// Checks incoming frames: MAC first, then the sequence number, then the message.
pub struct Opener {
    key: HmacSha256,
    dir: Direction,
    next: u64,
}

impl Opener {
    /// `frame` is what follows the length prefix.
    pub fn open(&mut self, frame: &[u8]) -> Result<(u64, Message), ChannelError> {
        let (seq, msg) = open_with(&self.key, self.dir, frame)?;
        if seq != self.next {
            return Err(ChannelError::Sequence {
                got: seq,
                want: self.next,
            });
        }
        self.next += 1;
        Ok((seq, msg))
    }
}

fn open_with(
    key: &HmacSha256,
    dir: Direction,
    frame: &[u8],
) -> Result<(u64, Message), ChannelError> {
    if frame.len() < 8 + 1 + MAC_LEN {
        return Err(ChannelError::Malformed(Malformed("short frame")));
    }
    let (body, tag) = frame.split_at(frame.len() - MAC_LEN);
    let mut s = [0u8; 8];
    s.copy_from_slice(&body[..8]);
    let seq = u64::from_be_bytes(s);
    // verify_slice compares in constant time.
    mac(key, dir, seq, &body[8..])
        .verify_slice(tag)
        .map_err(|_| ChannelError::BadMac)?;
    let msg = Message::decode(&body[8..]).map_err(ChannelError::Malformed)?;
    Ok((seq, msg))
}

/// Read one frame (without its length prefix).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, ChannelError> {
    read_frame_max(r, MAX_FRAME).await
}

async fn read_frame_max<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, ChannelError> {
    let len = r.read_u32().await? as usize;
    if len > max {
        return Err(ChannelError::TooLarge(len));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

fn nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    // Only fails without any OS entropy source, where nothing secure can run.
    getrandom::fill(&mut n).expect("the operating system's random source is unavailable");
    n
}

/// Send our hello: frame number 0, signed with `key`.
async fn say_hello<S: AsyncWrite + Unpin>(
    stream: &mut S,
    key: &HmacSha256,
    dir: Direction,
    me: &Hello,
) -> std::io::Result<()> {
    stream
        .write_all(&seal_with(key, dir, 0, &Message::Hello(me.clone())))
        .await
}

/// An authenticated connection, both ways.
pub struct Authenticated {
    pub sealer: Sealer,
    pub opener: Opener,
    /// What the peer said about itself.
    pub peer: Hello,
}

/// The client side of the handshake (we connected to `stream`).
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &[u8],
    mut me: Hello,
    timeout: Duration,
) -> Result<Authenticated, ChannelError> {
    me.nonce = nonce();
    let hk = hello_key(secret);
    let cluster = me.cluster.clone();
    let fut = async {
        say_hello(stream, &hk, Direction::ClientToServer, &me).await?;
        let frame = read_frame_max(stream, MAX_HELLO)
            .await
            .map_err(|e| match e {
                ChannelError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    ChannelError::Refused
                }
                e => e,
            })?;
        // The server's hello is signed with the connection key, which needs its nonce: read
        // the nonce first, then check the MAC over everything.
        let body = frame
            .get(8..frame.len().saturating_sub(MAC_LEN))
            .ok_or(ChannelError::Malformed(Malformed("short frame")))?;
        let Message::Hello(peer) = Message::decode(body).map_err(ChannelError::Malformed)? else {
            return Err(ChannelError::Unexpected("the server did not say hello"));
        };
        if peer.cluster != cluster {
            return Err(ChannelError::OtherCluster(peer.cluster));
        }
        let key = conn_key(secret, &me.nonce, &peer.nonce);
        let (seq, _) = open_with(&key, Direction::ServerToClient, &frame)?;
        if seq != 0 {
            return Err(ChannelError::Unexpected("hello with a sequence number"));
        }
        let mut sealer = Sealer {
            key: key.clone(),
            dir: Direction::ClientToServer,
            next: 1,
        };
        stream.write_all(&sealer.seal(&Message::Ready)).await?;
        Ok(Authenticated {
            sealer,
            opener: Opener {
                key,
                dir: Direction::ServerToClient,
                next: 1,
            },
            peer,
        })
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| ChannelError::Timeout)?
}

/// The server side of the handshake (a peer connected to us).
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &[u8],
    mut me: Hello,
    timeout: Duration,
) -> Result<Authenticated, ChannelError> {
    me.nonce = nonce();
    let fut = async {
        let frame = read_frame_max(stream, MAX_HELLO).await?;
        let (seq, msg) = open_with(&hello_key(secret), Direction::ClientToServer, &frame)?;
        let Message::Hello(peer) = msg else {
            return Err(ChannelError::Unexpected("the client did not say hello"));
        };
        if seq != 0 {
            return Err(ChannelError::Unexpected("hello with a sequence number"));
        }
        if peer.cluster != me.cluster {
            return Err(ChannelError::OtherCluster(peer.cluster));
        }
        let key = conn_key(secret, &peer.nonce, &me.nonce);
        say_hello(stream, &key, Direction::ServerToClient, &me).await?;
        let mut opener = Opener {
            key: key.clone(),
            dir: Direction::ClientToServer,
            next: 1,
        };
        match opener.open(&read_frame_max(stream, MAX_HELLO).await?)? {
            (_, Message::Ready) => {}
            _ => return Err(ChannelError::Unexpected("no Ready after hello")),
        }
        Ok(Authenticated {
            sealer: Sealer {
                key,
                dir: Direction::ServerToClient,
                next: 1,
            },
            opener,
            peer,
        })
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| ChannelError::Timeout)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(cluster: &str) -> Hello {
        Hello {
            cluster: cluster.into(),
            listen: "127.0.0.1:1".into(),
            route: "r".into(),
            nonce: [0; 16],
        }
    }

    const T: Duration = Duration::from_secs(5);

    async fn pair(
        client_secret: &'static [u8],
        server_secret: &'static [u8],
    ) -> (
        Result<Authenticated, ChannelError>,
        Result<Authenticated, ChannelError>,
    ) {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        // The server drops its end when done, so a refused client is not left waiting.
        let server =
            tokio::spawn(async move { accept(&mut b, server_secret, hello("rjk"), T).await });
        let c = connect(&mut a, client_secret, hello("rjk"), T).await;
        (c, server.await.unwrap())
    }

    #[tokio::test]
    async fn same_secret_authenticates_both_ways() {
        let (c, s) = pair(b"s3cret", b"s3cret").await;
        let (mut c, mut s) = (c.unwrap(), s.unwrap());
        // The client's frame 1 was its Ready.
        let f = c.sealer.seal(&Message::Ack(5));
        assert_eq!(s.opener.open(&f[4..]).unwrap(), (2, Message::Ack(5)));
        let f = s.sealer.seal(&Message::Ping);
        assert_eq!(c.opener.open(&f[4..]).unwrap(), (1, Message::Ping));
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_on_both_sides() {
        let (c, s) = pair(b"wrong", b"s3cret").await;
        assert!(matches!(s, Err(ChannelError::BadMac)), "{s:?}", s = s.err());
        assert!(c.is_err());
    }

    #[tokio::test]
    async fn replayed_reflected_and_altered_frames_are_rejected() {
        let (c, s) = pair(b"k", b"k").await;
        let (mut c, mut s) = (c.unwrap(), s.unwrap());
        let f1 = c.sealer.seal(&Message::Expired("X".into()));
        s.opener.open(&f1[4..]).unwrap();
        assert!(matches!(
            s.opener.open(&f1[4..]),
            Err(ChannelError::Sequence { got: 2, want: 3 })
        ));
        // A server frame sent back to the server (reflection) fails the MAC.
        let f = s.sealer.seal(&Message::Ping);
        assert!(matches!(s.opener.open(&f[4..]), Err(ChannelError::BadMac)));
        let mut f2 = c.sealer.seal(&Message::Expired("Y".into()));
        let n = f2.len();
        f2[n - 40] ^= 1;
        assert!(matches!(s.opener.open(&f2[4..]), Err(ChannelError::BadMac)));
    }

    #[tokio::test]
    async fn a_replayed_connection_fails_at_ready() {
        // Record a whole client conversation, then play it to a fresh server.
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move { accept(&mut b, b"k", hello("rjk"), T).await });
        let (mut rec_a, mut rec_b) = tokio::io::duplex(1 << 16);
        // A tap in front of the client: everything it writes is also kept.
        let client = tokio::spawn(async move {
            let mut tap = Tap {
                inner: &mut a,
                seen: Vec::new(),
            };
            let r = connect(&mut tap, b"k", hello("rjk"), T).await;
            (r.is_ok(), tap.seen)
        });
        let (ok, seen) = client.await.unwrap();
        assert!(ok && server.await.unwrap().is_ok());
        let replay = tokio::spawn(async move { accept(&mut rec_b, b"k", hello("rjk"), T).await });
        rec_a.write_all(&seen).await.unwrap();
        let r = replay.await.unwrap();
        assert!(matches!(r, Err(ChannelError::BadMac)), "{:?}", r.err());
    }

    #[tokio::test]
    async fn an_unauthenticated_peer_cannot_make_us_allocate() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move { accept(&mut b, b"k", hello("rjk"), T).await });
        a.write_all(&(MAX_FRAME as u32).to_be_bytes())
            .await
            .unwrap();
        assert!(matches!(
            server.await.unwrap(),
            Err(ChannelError::TooLarge(n)) if n == MAX_FRAME
        ));
    }

    #[tokio::test]
    async fn another_cluster_name_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move { accept(&mut b, b"k", hello("rjk"), T).await });
        let _ = connect(&mut a, b"k", hello("other"), T).await;
        assert!(matches!(
            server.await.unwrap(),
            Err(ChannelError::OtherCluster(c)) if c == "other"
        ));
    }

    struct Tap<'a, S> {
        inner: &'a mut S,
        seen: Vec<u8>,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for Tap<'_, S> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut *self.inner).poll_read(cx, buf)
        }
    }

    impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<'_, S> {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let r = std::pin::Pin::new(&mut *self.inner).poll_write(cx, buf);
            if let std::task::Poll::Ready(Ok(n)) = r {
                self.seen.extend_from_slice(&buf[..n]);
            }
            r
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut *self.inner).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut *self.inner).poll_shutdown(cx)
        }
    }
}
