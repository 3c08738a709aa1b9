//! What members say to each other, and its byte form. Every field is length-prefixed; decoding
//! checks every length against what is left, so a hostile or truncated message is an error,
//! never a panic or a huge allocation.

use bytes::Bytes;

/// One replication message (the payload of a channel frame).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Opens a connection: who is speaking, in which cluster, with a fresh nonce.
    Hello(Hello),
    /// The connecting side's first authenticated frame: proves it holds the secret.
    Ready,
    /// A request's change to one session.
    Delta(Delta),
    /// Every message up to this sequence number was applied (sync replication).
    Ack(u64),
    /// These sessions were used here (coalesced), so replicas keep them alive.
    Accessed(Vec<String>),
    /// This session timed out here.
    Expired(String),
    /// State transfer: send me every session.
    GetAll,
    /// State transfer: some sessions.
    Batch(Vec<Image>),
    /// State transfer: these ids were invalidated (a copy must not keep them).
    Gone(Vec<String>),
    /// State transfer: that was all (this many sessions).
    TransferDone(u64),
    /// The sender is stopping (a graceful leave).
    Bye,
    /// Liveness check (the TCP check of a suspect member), answered with an `Ack`.
    Ping,
    /// Backup mode: the sender takes this session over; answered with `Fetched`.
    Fetch(String),
    /// Backup mode: the answer to `Fetch` of the id given.
    Fetched(String, Fetched),
    /// Backup mode: the receiver is no longer one of these sessions' holders: drop each copy
    /// unless it is newer than the version given (acknowledged).
    Drop(Vec<(String, u64)>),
}

/// What a member answers to `Fetch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The session, which the sender now serves (ours moved to its route).
    Image(Image),
    /// Another live member serves it now (under this id): ask it.
    Moved(String),
    /// Not held here, or another member answers for it.
    NotHere,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub cluster: String,
    /// The sender's replication listener (its identity among members).
    pub listen: String,
    pub route: String,
    pub nonce: [u8; 16],
}

/// A session change, tagged with the session's version after it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Delta {
    pub id: String,
    pub version: u64,
    pub created: bool,
    pub previous_id: Option<String>,
    pub invalidated: bool,
    /// `changes` is the whole attribute set (a re-bound session: the new owner's state wins).
    pub full: bool,
    pub max_inactive_ms: Option<u64>,
    /// `Some` = set, `None` = removed.
    pub changes: Vec<(String, Option<Bytes>)>,
}

/// A whole session, for state transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    pub version: u64,
    pub max_inactive_ms: u64,
    /// Time since its last access, as the sender saw it.
    pub idle_ms: u64,
    pub attributes: Vec<(String, Bytes)>,
}

/// The bytes could not be a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed message: {}", self.0)
    }
}

mod kind {
    pub const HELLO: u8 = 1;
    pub const READY: u8 = 2;
    pub const DELTA: u8 = 3;
    pub const ACK: u8 = 4;
    pub const ACCESSED: u8 = 5;
    pub const EXPIRED: u8 = 6;
    pub const GET_ALL: u8 = 7;
    pub const BATCH: u8 = 8;
    pub const TRANSFER_DONE: u8 = 9;
    pub const BYE: u8 = 10;
    pub const PING: u8 = 11;
    pub const GONE: u8 = 12;
    pub const FETCH: u8 = 13;
    pub const FETCHED: u8 = 14;
    pub const DROP: u8 = 15;
}

impl Message {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello(h) => {
                out.push(kind::HELLO);
                put_str(out, &h.cluster);
                put_str(out, &h.listen);
                put_str(out, &h.route);
                out.extend_from_slice(&h.nonce);
            }
            Message::Ready => out.push(kind::READY),
            Message::Delta(d) => {
                out.push(kind::DELTA);
                put_str(out, &d.id);
                out.extend_from_slice(&d.version.to_be_bytes());
                out.push(
                    u8::from(d.created) | (u8::from(d.invalidated) << 1) | (u8::from(d.full) << 2),
                );
                put_opt(out, d.previous_id.as_deref().map(str::as_bytes));
                match d.max_inactive_ms {
                    Some(ms) => {
                        out.push(1);
                        out.extend_from_slice(&ms.to_be_bytes());
                    }
                    None => out.push(0),
                }
                out.extend_from_slice(&(d.changes.len() as u32).to_be_bytes());
                for (k, v) in &d.changes {
                    put_str(out, k);
                    put_opt(out, v.as_deref());
                }
            }
            Message::Ack(n) => {
                out.push(kind::ACK);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Message::Accessed(ids) => put_ids(out, kind::ACCESSED, ids),
            Message::Gone(ids) => put_ids(out, kind::GONE, ids),
            Message::Expired(id) => {
                out.push(kind::EXPIRED);
                put_str(out, id);
            }
            Message::GetAll => out.push(kind::GET_ALL),
            Message::Batch(images) => {
                out.push(kind::BATCH);
                out.extend_from_slice(&(images.len() as u32).to_be_bytes());
                for i in images {
                    put_image(out, i);
                }
            }
            Message::TransferDone(n) => {
                out.push(kind::TRANSFER_DONE);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Message::Bye => out.push(kind::BYE),
            Message::Ping => out.push(kind::PING),
            Message::Fetch(id) => {
                out.push(kind::FETCH);
                put_str(out, id);
            }
            Message::Fetched(id, answer) => {
                out.push(kind::FETCHED);
                put_str(out, id);
                match answer {
                    Fetched::Image(i) => {
                        out.push(1);
                        put_image(out, i);
                    }
                    Fetched::Moved(to) => {
                        out.push(2);
                        put_str(out, to);
                    }
                    Fetched::NotHere => out.push(0),
                }
            }
            Message::Drop(ids) => {
                out.push(kind::DROP);
                out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
                for (id, v) in ids {
                    put_str(out, id);
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
        }
    }

    pub fn decode(b: &[u8]) -> Result<Message, Malformed> {
        let mut r = Reader(b);
        let m = match r.u8()? {
            kind::HELLO => Message::Hello(Hello {
                cluster: r.string()?,
                listen: r.string()?,
                route: r.string()?,
                nonce: r.take(16)?.try_into().map_err(|_| Malformed("nonce"))?,
            }),
            kind::READY => Message::Ready,
            kind::DELTA => {
                let id = r.string()?;
                let version = r.u64()?;
                let flags = r.u8()?;
                let previous_id = r.opt()?.map(text).transpose()?;
                let max_inactive_ms = match r.u8()? {
                    0 => None,
                    _ => Some(r.u64()?),
                };
                let n = r.count()?;
                let mut changes = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    changes.push((r.string()?, r.opt()?.map(Bytes::copy_from_slice)));
                }
                Message::Delta(Delta {
                    id,
                    version,
                    created: flags & 1 != 0,
                    full: flags & 4 != 0,
                    invalidated: flags & 2 != 0,
                    previous_id,
                    max_inactive_ms,
                    changes,
                })
            }
            kind::ACK => Message::Ack(r.u64()?),
            kind::ACCESSED => Message::Accessed(r.ids()?),
            kind::GONE => Message::Gone(r.ids()?),
            kind::EXPIRED => Message::Expired(r.string()?),
            kind::GET_ALL => Message::GetAll,
            kind::BATCH => {
                let n = r.count()?;
                let mut images = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    images.push(r.image()?);
                }
                Message::Batch(images)
            }
            kind::TRANSFER_DONE => Message::TransferDone(r.u64()?),
            kind::BYE => Message::Bye,
            kind::PING => Message::Ping,
            kind::FETCH => Message::Fetch(r.string()?),
            kind::FETCHED => {
                let id = r.string()?;
                let answer = match r.u8()? {
                    0 => Fetched::NotHere,
                    1 => Fetched::Image(r.image()?),
                    2 => Fetched::Moved(r.string()?),
                    _ => return Err(Malformed("unknown fetch answer")),
                };
                Message::Fetched(id, answer)
            }
            kind::DROP => {
                let n = r.count()?;
                let mut ids = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    ids.push((r.string()?, r.u64()?));
                }
                Message::Drop(ids)
            }
            _ => return Err(Malformed("unknown message kind")),
        };
        if !r.0.is_empty() {
            return Err(Malformed("trailing bytes"));
        }
        Ok(m)
    }
}

fn put_ids(out: &mut Vec<u8>, kind: u8, ids: &[String]) {
    out.push(kind);
    out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
    for id in ids {
        put_str(out, id);
    }
}

fn put_image(out: &mut Vec<u8>, i: &Image) {
    put_str(out, &i.id);
    out.extend_from_slice(&i.version.to_be_bytes());
    out.extend_from_slice(&i.max_inactive_ms.to_be_bytes());
    out.extend_from_slice(&i.idle_ms.to_be_bytes());
    out.extend_from_slice(&(i.attributes.len() as u32).to_be_bytes());
    for (k, v) in &i.attributes {
        put_str(out, k);
        put_bytes(out, v);
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            out.push(1);
            put_bytes(out, b);
        }
        None => out.push(0),
    }
}

fn text(b: &[u8]) -> Result<String, Malformed> {
    String::from_utf8(b.to_vec()).map_err(|_| Malformed("text is not UTF-8"))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    /// An element count: each element takes at least one byte, so a count larger than what
    /// is left is a lie (and would make us allocate for it).
    fn count(&mut self) -> Result<usize, Malformed> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return Err(Malformed("count larger than the message"));
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, Malformed> {
        text(self.bytes()?)
    }
    fn ids(&mut self) -> Result<Vec<String>, Malformed> {
        let n = self.count()?;
        let mut ids = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            ids.push(self.string()?);
        }
        Ok(ids)
    }
    fn image(&mut self) -> Result<Image, Malformed> {
        let id = self.string()?;
        let (version, max_inactive_ms, idle_ms) = (self.u64()?, self.u64()?, self.u64()?);
        let m = self.count()?;
        let mut attributes = Vec::with_capacity(m.min(1024));
        for _ in 0..m {
            attributes.push((self.string()?, Bytes::copy_from_slice(self.bytes()?)));
        }
        Ok(Image {
            id,
            version,
            max_inactive_ms,
            idle_ms,
            attributes,
        })
    }
    fn opt(&mut self) -> Result<Option<&'a [u8]>, Malformed> {
        match self.u8()? {
            0 => Ok(None),
            _ => self.bytes().map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Message> {
        vec![
            Message::Hello(Hello {
                cluster: "rjk".into(),
                listen: "127.0.0.1:4000".into(),
                route: "n1".into(),
                nonce: [7; 16],
            }),
            Message::Ready,
            Message::Delta(Delta {
                id: "A.n1".into(),
                version: 3,
                created: true,
                previous_id: Some("B.n2".into()),
                invalidated: false,
                full: true,
                max_inactive_ms: Some(5000),
                changes: vec![("a".into(), Some(Bytes::from("1"))), ("b".into(), None)],
            }),
            Message::Ack(9),
            Message::Accessed(vec!["x".into(), "y".into()]),
            Message::Expired("E.n1".into()),
            Message::GetAll,
            Message::Batch(vec![Image {
                id: "I.n1".into(),
                version: 2,
                max_inactive_ms: 1000,
                idle_ms: 10,
                attributes: vec![("k".into(), Bytes::from("v"))],
            }]),
            Message::TransferDone(1),
            Message::Bye,
            Message::Gone(vec!["g".into()]),
            Message::Ping,
            Message::Fetch("F.n1".into()),
            Message::Fetched(
                "F.n1".into(),
                Fetched::Image(Image {
                    id: "F.n1".into(),
                    version: 4,
                    max_inactive_ms: 9,
                    idle_ms: 1,
                    attributes: vec![("a".into(), Bytes::from("b"))],
                }),
            ),
            Message::Fetched("F.n1".into(), Fetched::Moved("F.n2".into())),
            Message::Fetched("F.n1".into(), Fetched::NotHere),
            Message::Drop(vec![("D.n1".into(), 7)]),
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in samples() {
            let mut b = Vec::new();
            m.encode(&mut b);
            assert_eq!(Message::decode(&b), Ok(m));
        }
    }

    #[test]
    fn every_truncation_and_extension_is_an_error() {
        for m in samples() {
            let mut b = Vec::new();
            m.encode(&mut b);
            for n in 0..b.len() {
                assert!(Message::decode(&b[..n]).is_err(), "{m:?} cut at {n}");
            }
            b.push(0);
            assert!(Message::decode(&b).is_err());
        }
        assert!(Message::decode(&[kind::ACCESSED, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(Message::decode(&[99]).is_err());
    }
}
