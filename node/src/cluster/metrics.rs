//! What the cluster counts, and `--metrics ADDR`: `GET /metrics` (Prometheus text format) and
//! `GET /cluster` (this node's view of the cluster as JSON).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Cluster, Inner, Replication};
use crate::demo::json::Obj;
use crate::session::manager::lock;

/// Counters since start (all monotonic except the transfer gauges).
#[derive(Default, Debug)]
pub struct Metrics {
    pub deltas_sent: AtomicU64,
    pub deltas_applied: AtomicU64,
    pub deltas_stale: AtomicU64,
    pub acks: AtomicU64,
    pub ack_timeouts: AtomicU64,
    pub ack_latency: Histogram,
    /// Peers refused at the handshake (wrong secret).
    pub rejected_peers: AtomicU64,
    /// Frames refused on an open connection (bad MAC, replayed or out of order).
    pub rejected_messages: AtomicU64,
    pub joins: AtomicU64,
    pub leaves: AtomicU64,
    pub suspects: AtomicU64,
    pub evictions: AtomicU64,
    pub transfer_ms: AtomicU64,
    pub transfer_sessions: AtomicU64,
    /// Backup mode: requests that had to fetch their session, and those that found none.
    pub fetches: AtomicU64,
    pub fetch_misses: AtomicU64,
    /// Copies refused by a fetch: a backup's copy under our route of a session we handed on.
    pub fetch_stale: AtomicU64,
    pub fetch_latency: Histogram,
    /// Sessions this node took over (fetched, or of a lost primary) and handed over.
    pub takeovers: AtomicU64,
    pub handovers: AtomicU64,
    /// Whole copies sent to new holders, copies dropped by us and by others on our word.
    pub copies_sent: AtomicU64,
    pub drops_sent: AtomicU64,
    pub drops_applied: AtomicU64,
    /// Copies being re-placed now (gauge), and whether the last re-placement finished.
    pub replacing: AtomicU64,
    pub converged: AtomicU64,
    pub replace_ms: AtomicU64,
    /// Sessions handed off by a graceful stop.
    pub handoffs: AtomicU64,
    /// Bytes written to members on our connections (frames, MACs included).
    pub bytes_sent: AtomicU64,
}

/// Bucket upper bounds of the acknowledgement latency, in microseconds.
const BUCKETS_US: [u64; 12] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

/// A Prometheus histogram (cumulative buckets, sum, count).
#[derive(Default, Debug)]
pub struct Histogram {
    buckets: [AtomicU64; 12],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        for (b, le) in self.buckets.iter().zip(BUCKETS_US) {
            if us <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// One member as this node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    pub addr: String,
    pub route: Option<String>,
    /// `live`, `suspect` or `down`.
    pub state: &'static str,
    /// Its connections to us.
    pub inbound: usize,
}

/// The JSON cluster view.
#[derive(Clone, Debug)]
pub struct View {
    pub name: String,
    pub route: String,
    pub listen: String,
    pub replication: &'static str,
    pub sessions: usize,
    pub members: Vec<MemberView>,
    /// Backup mode: sessions held as primary and as backup.
    pub roles: Option<(usize, usize)>,
}

pub(crate) fn view(inner: &Inner) -> View {
    let members = inner
        .members
        .all()
        .into_iter()
        .map(|p| {
            let st = lock(&p.state);
            MemberView {
                addr: p.addr.to_string(),
                route: st.route.clone(),
                state: match (&st.link, st.suspect) {
                    (None, _) => "down",
                    (Some(_), true) => "suspect",
                    (Some(_), false) => "live",
                },
                inbound: p.inbound.load(Ordering::Relaxed),
            }
        })
        .collect();
    View {
        name: inner.cfg.name.clone(),
        route: inner.route.clone(),
        listen: inner.listen.to_string(),
        replication: match inner.cfg.replication {
            Replication::Sync => "sync",
            Replication::Async => "async",
        },
        sessions: inner.sessions.len(),
        members,
        roles: inner.backup.as_ref().map(|_| super::backup::roles(inner)),
    }
}

impl View {
    pub fn to_json(&self) -> String {
        let members: Vec<String> = self
            .members
            .iter()
            .map(|m| {
                Obj::new()
                    .str("addr", &m.addr)
                    .opt_str("route", m.route.as_deref())
                    .str("state", m.state)
                    .num("inbound", m.inbound)
                    .end()
            })
            .collect();
        let mut o = Obj::new()
            .str("cluster", &self.name)
            .str("route", &self.route)
            .str("listen", &self.listen)
            .str("replication", self.replication)
            .num("sessions", self.sessions);
        if let Some((p, b)) = self.roles {
            o = o.str("mode", "backup").num("primary", p).num("backup", b);
        }
        o.raw("members", &format!("[{}]", members.join(","))).end()
    }
}

/// The Prometheus exposition of `m` and the view.
pub fn prometheus(m: &Metrics, v: &View) -> String {
    let mut o = String::new();
    let live = v.members.iter().filter(|m| m.state != "down").count();
    let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
        o.push_str(&format!(
            "# HELP rjk_cluster_{name} {help}\n# TYPE rjk_cluster_{name} {kind}\nrjk_cluster_{name} {value}\n"
        ));
    };
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    gauge(
        "members",
        "Members known (other than this node).",
        "gauge",
        v.members.len() as u64,
    );
    gauge(
        "members_live",
        "Members connected (live or suspect).",
        "gauge",
        live as u64,
    );
    gauge(
        "sessions",
        "Sessions held here (own and replicas).",
        "gauge",
        v.sessions as u64,
    );
    gauge(
        "deltas_sent_total",
        "Deltas queued to members.",
        "counter",
        c(&m.deltas_sent),
    );
    gauge(
        "deltas_applied_total",
        "Deltas from members applied.",
        "counter",
        c(&m.deltas_applied),
    );
    gauge(
        "deltas_stale_total",
        "Deltas from members not newer than ours.",
        "counter",
        c(&m.deltas_stale),
    );
    gauge(
        "acks_total",
        "Acknowledgements received in time (sync).",
        "counter",
        c(&m.acks),
    );
    gauge(
        "ack_timeouts_total",
        "Acknowledgements that missed --replication-timeout.",
        "counter",
        c(&m.ack_timeouts),
    );
    gauge(
        "rejected_peers_total",
        "Peers refused at the handshake (authentication).",
        "counter",
        c(&m.rejected_peers),
    );
    gauge(
        "rejected_messages_total",
        "Messages refused (bad MAC, replay, order).",
        "counter",
        c(&m.rejected_messages),
    );
    gauge(
        "joins_total",
        "Members that joined.",
        "counter",
        c(&m.joins),
    );
    gauge(
        "leaves_total",
        "Members that left or were lost.",
        "counter",
        c(&m.leaves),
    );
    gauge(
        "suspects_total",
        "Members suspected.",
        "counter",
        c(&m.suspects),
    );
    gauge(
        "evictions_total",
        "Members evicted after a failed check.",
        "counter",
        c(&m.evictions),
    );
    gauge(
        "bytes_sent_total",
        "Bytes sent to members on our connections (framing and MACs included).",
        "counter",
        c(&m.bytes_sent),
    );
    gauge(
        "state_transfer_milliseconds",
        "Duration of the state transfer at start.",
        "gauge",
        c(&m.transfer_ms),
    );
    gauge(
        "state_transfer_sessions",
        "Sessions received by the state transfer.",
        "gauge",
        c(&m.transfer_sessions),
    );
    if let Some((p, b)) = v.roles {
        let mut more = String::new();
        let mut g = |name: &str, help: &str, kind: &str, value: u64| {
            more.push_str(&format!(
                "# HELP rjk_cluster_{name} {help}\n# TYPE rjk_cluster_{name} {kind}\nrjk_cluster_{name} {value}\n"
            ));
        };
        g(
            "sessions_primary",
            "Sessions served here (backup mode).",
            "gauge",
            p as u64,
        );
        g(
            "sessions_backup",
            "Copies held for other members (backup mode).",
            "gauge",
            b as u64,
        );
        g(
            "fetches_total",
            "Requests that fetched their session from a member.",
            "counter",
            c(&m.fetches),
        );
        g(
            "fetch_misses_total",
            "Fetches no member could answer.",
            "counter",
            c(&m.fetch_misses),
        );
        g(
            "fetch_stale_total",
            "Stale copies a fetch refused (of a session this node had handed on).",
            "counter",
            c(&m.fetch_stale),
        );
        g(
            "takeovers_total",
            "Sessions taken over (fetched, or of a lost primary).",
            "counter",
            c(&m.takeovers),
        );
        g(
            "handovers_total",
            "Sessions handed over to a member that fetched them.",
            "counter",
            c(&m.handovers),
        );
        g(
            "copies_sent_total",
            "Whole copies sent to new holders.",
            "counter",
            c(&m.copies_sent),
        );
        g(
            "drops_sent_total",
            "Copies old holders were told to drop.",
            "counter",
            c(&m.drops_sent),
        );
        g(
            "drops_applied_total",
            "Copies dropped here on a member's word.",
            "counter",
            c(&m.drops_applied),
        );
        g(
            "replacing",
            "Copies being re-placed now.",
            "gauge",
            c(&m.replacing),
        );
        g(
            "converged",
            "1 once the last membership change is fully re-placed.",
            "gauge",
            c(&m.converged),
        );
        g(
            "replacement_milliseconds",
            "Duration of the last re-placement.",
            "gauge",
            c(&m.replace_ms),
        );
        g(
            "handoffs_total",
            "Sessions handed off by a graceful stop.",
            "counter",
            c(&m.handoffs),
        );
        o.push_str(&more);
    }
    let h = &m.ack_latency;
    o.push_str("# HELP rjk_cluster_ack_latency_seconds Time a request waited for acknowledgements (sync).\n# TYPE rjk_cluster_ack_latency_seconds histogram\n");
    for (b, le) in h.buckets.iter().zip(BUCKETS_US) {
        o.push_str(&format!(
            "rjk_cluster_ack_latency_seconds_bucket{{le=\"{}\"}} {}\n",
            le as f64 / 1e6,
            c(b)
        ));
    }
    let count = c(&h.count);
    o.push_str(&format!(
        "rjk_cluster_ack_latency_seconds_bucket{{le=\"+Inf\"}} {count}\nrjk_cluster_ack_latency_seconds_sum {}\nrjk_cluster_ack_latency_seconds_count {count}\n",
        c(&h.sum_us) as f64 / 1e6
    ));
    o
}

/// Serve `/metrics` and `/cluster` on `listener` until shutdown.
pub(crate) async fn serve(cluster: Cluster, listener: TcpListener) {
    let mut sd = cluster.inner.shutdown.clone();
    loop {
        let (mut s, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(_) => { tokio::task::yield_now().await; continue; }
            },
            () = sd.wait() => return,
        };
        let cluster = cluster.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            // Read the request head (bounded); only the request line matters.
            while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf[n..])).await {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                    Ok(Ok(k)) => n += k,
                }
            }
            let line = String::from_utf8_lossy(&buf[..n]);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (status, ctype, body) = match path {
                "/metrics" => (
                    "200 OK",
                    "text/plain; version=0.0.4",
                    prometheus(cluster.metrics(), &cluster.view()),
                ),
                "/cluster" => ("200 OK", "application/json", cluster.view().to_json()),
                // Does this node hold that session (backup mode; you must know the id)?
                p if p.starts_with("/cluster/holds/") => (
                    "200 OK",
                    "text/plain",
                    format!("{}\n", cluster.role_of(&p["/cluster/holds/".len()..])),
                ),
                _ => (
                    "404 Not Found",
                    "text/plain",
                    "try /metrics or /cluster\n".into(),
                ),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        });
    }
}

/// Start `--metrics` on `addr`; errors name the address.
pub(crate) async fn start(
    cluster: Cluster,
    addr: std::net::SocketAddr,
) -> std::io::Result<std::net::SocketAddr> {
    let l = TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("binding the metrics address {addr}: {e}"))
    })?;
    let a = l.local_addr()?;
    tokio::spawn(serve(cluster, l));
    Ok(a)
}
