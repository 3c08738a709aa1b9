//! `JkOptions +FlushPackets`: each AJP body chunk is passed on to the client as it arrives, so a
//! backend that produces its answer slowly is seen progressing. rjk-node's `/download` holds its
//! second chunk back for `pause_ms`; a raw socket records when the client holds which bytes.
//! mod_jk runs every case too, so the expectations are the reference's behaviour.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rjk_tests::cluster::{front, member_lines, Connector, Node};
use rjk_tests::httpd::{Httpd, Mpm};

/// How long the node holds back everything after the first chunk.
const PAUSE: Duration = Duration::from_secs(3);
/// The first chunk must be in the client's hands well before the node even sends the rest.
const EARLY: Duration = Duration::from_secs(2);
/// Small, so that without a flush httpd keeps it in its output buffer.
const FIRST: usize = 1000;
const TOTAL: usize = 2 * FIRST;

struct Front {
    _node: Node,
    httpd: Httpd,
    dir: std::path::PathBuf,
}

impl Front {
    /// One node behind `c` (event MPM), every URL mounted, `jk` extra lines (JkOptions).
    fn start(c: Connector, name: &str, jk: &str) -> Front {
        let node = Node::start("n1", None, &[]).unwrap();
        let workers = format!(
            "worker.list=n1\nworker.n1.type=ajp13\n{}",
            member_lines(std::slice::from_ref(&node), |_| String::new())
        );
        let dir = std::env::temp_dir().join(format!(
            "rjk-stream-{name}-{}-{}",
            c.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let httpd = front(
            &dir,
            c,
            Mpm::Event,
            &workers,
            &format!("JkMount /* n1\n{jk}"),
        )
        .unwrap();
        Front {
            _node: node,
            httpd,
            dir,
        }
    }

    fn stop(self) {
        self.httpd.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the client saw of one response, in the order it arrived.
struct Arrival {
    status: u16,
    body: Vec<u8>,
    /// Since the request was sent: when the client first held at least `FIRST` body bytes.
    first_at: Duration,
    /// How many body bytes it held at that moment.
    held_with_first: usize,
    /// When the whole body was in.
    done_at: Duration,
}

/// GET `path` over a raw socket (HTTP/1.0: the body is the bytes after the head, no chunked
/// framing) and note, read by read, how much of the body had arrived and when.
fn fetch(addr: SocketAddr, path: &str) -> Arrival {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let sent = Instant::now();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let mut reads: Vec<(Duration, usize)> = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        reads.push((sent.elapsed(), raw.len()));
    }
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body_at = |&(t, len): &(Duration, usize)| (t, len.saturating_sub(head_end));
    let (first_at, held_with_first) = reads
        .iter()
        .map(body_at)
        .find(|&(_, b)| b >= FIRST)
        .unwrap_or((Duration::MAX, 0));
    let done_at = reads.last().map_or(Duration::MAX, |&(t, _)| t);
    Arrival {
        status,
        body: raw[head_end..].to_vec(),
        first_at,
        held_with_first,
        done_at,
    }
}

/// The node's download pattern, as the client must receive it.
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64).map(rjk_node::demo::pattern_byte).collect()
}

fn slow_download(flush: bool) -> String {
    format!(
        "/download?bytes={TOTAL}&chunk={FIRST}&pause_ms={}&flush={}",
        PAUSE.as_millis(),
        u8::from(flush)
    )
}

/// Each case waits out the node's pause: run the reference and ours side by side.
fn both(f: impl Fn(Connector) + Sync) {
    std::thread::scope(|s| {
        for c in [Connector::ModJk, Connector::ModRjk] {
            let f = &f;
            s.spawn(move || f(c));
        }
    });
}

#[test]
fn with_flush_packets_the_first_chunk_arrives_while_the_backend_holds_the_rest() {
    both(|c| {
        let fr = Front::start(c, "flush", "JkOptions +FlushPackets\n");
        let a = fetch(fr.httpd.addr(), &slow_download(false));
        let who = c.name();
        assert_eq!(a.status, 200, "{who}");
        assert_eq!(a.body, pattern(TOTAL), "{who}: the whole body, in order");
        assert!(
            a.held_with_first < TOTAL,
            "{who}: the first chunk came alone ({} of {TOTAL} bytes)",
            a.held_with_first
        );
        assert!(
            a.first_at < EARLY,
            "{who}: the first chunk took {:?} (the node sends the rest after {PAUSE:?})",
            a.first_at
        );
        assert!(
            a.done_at >= PAUSE,
            "{who}: the rest came after the node's pause ({:?})",
            a.done_at
        );
        fr.stop();
    });
}

/// The counter-test: the same slow download without FlushPackets stays in httpd's buffer until
/// the end (so the test above measures FlushPackets, not the node), unless the backend itself
/// flushes (an empty AJP body chunk), which goes through either way.
#[test]
fn without_flush_packets_only_the_backends_own_flush_sends_early() {
    both(|c| {
        let fr = Front::start(c, "noflush", "");
        let who = c.name();
        let held = fetch(fr.httpd.addr(), &slow_download(false));
        assert_eq!(held.status, 200, "{who}");
        assert_eq!(held.body, pattern(TOTAL), "{who}");
        assert_eq!(
            held.held_with_first, TOTAL,
            "{who}: without a flush the first chunk waits for the rest"
        );
        assert!(held.first_at >= PAUSE, "{who}: {:?}", held.first_at);

        let flushed = fetch(fr.httpd.addr(), &slow_download(true));
        assert_eq!(flushed.body, pattern(TOTAL), "{who}");
        assert!(
            flushed.held_with_first < TOTAL && flushed.first_at < EARLY,
            "{who}: the backend's flush sends the first chunk at once ({} bytes at {:?})",
            flushed.held_with_first,
            flushed.first_at
        );
        fr.stop();
    });
}

/// Without FlushPackets and with no pause, a small and a multi-packet body arrive whole.
#[test]
fn without_flush_packets_bodies_arrive_whole() {
    let fr = Front::start(Connector::ModRjk, "whole", "");
    for (bytes, chunk) in [(1, 1), (TOTAL, FIRST), (200_000, 8192)] {
        let a = fetch(
            fr.httpd.addr(),
            &format!("/download?bytes={bytes}&chunk={chunk}"),
        );
        assert_eq!(a.status, 200);
        assert_eq!(a.body.len(), bytes);
        assert!(a.body == pattern(bytes), "{bytes} bytes differ");
    }
    fr.stop();
}
