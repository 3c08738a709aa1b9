//! The node's settings: command-line flags (`rjk-node --help`) and the validated [`NodeConfig`]
//! the library runs with. Every mistake is reported before anything binds a port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ajp::{ContainerConfig, PacketSize};
use clap::Parser;

use crate::cluster::multicast::Multicast;
use crate::cluster::{ClusterConfig, Replication};

/// rjk-node: serve an application over AJP/1.3 with Tomcat-style sessions.
#[derive(Parser, Debug, Clone)]
#[command(name = "rjk-node", version, about, long_about = None)]
pub struct Args {
    /// This node's route (Tomcat's jvmRoute): the suffix of every session id it issues, and
    /// the name the balancer knows it by.
    #[arg(long, value_name = "NAME")]
    pub route: String,

    /// Address to accept AJP connections on. Loopback by default, as Tomcat since Ghostcat.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8009")]
    pub ajp: SocketAddr,

    /// Secret every request must carry (mod_jk `secret`, mod_proxy_ajp `secret=`).
    #[arg(long, value_name = "S", conflicts_with_all = ["secret_file", "no_secret"])]
    pub secret: Option<String>,

    /// Read the secret from this file (surrounding whitespace is ignored).
    #[arg(long, value_name = "F", conflicts_with = "no_secret")]
    pub secret_file: Option<PathBuf>,

    /// Accept requests without a secret. Required to run without one, like Tomcat's
    /// `secretRequired="false"`.
    #[arg(long)]
    pub no_secret: bool,

    /// AJP packet size in bytes (8192..65536); must match the web server's `max_packet_size`.
    #[arg(long, value_name = "N", default_value_t = 8192)]
    pub packet_size: usize,

    /// Request attributes outside Tomcat's well-known list pass only when their whole name
    /// matches this regular expression (Tomcat's `allowedRequestAttributesPattern`).
    #[arg(long, value_name = "REGEX")]
    pub allowed_request_attributes: Option<String>,

    /// Stop accepting new connections while this many are open (AJP and --http each).
    #[arg(long, value_name = "N", default_value_t = 8192)]
    pub max_connections: usize,

    /// Close a connection (AJP or --http) idle for this long between requests (0 = never,
    /// Tomcat's default).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub idle_timeout: u64,

    /// Also serve the application over HTTP/1.1 on this address.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,

    /// Where the web server mounts the application (e.g. /app for `JkMount /app/*`): the
    /// session cookie's Path, as Tomcat sets it for a context.
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub context_path: String,

    /// The application to serve (only `demo` is built in).
    #[arg(long, value_name = "NAME", default_value = "demo")]
    pub app: String,

    /// Sessions expire after this long without a request (Tomcat's default: 30 minutes).
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub session_timeout: u64,

    /// Keep sessions across restarts in this file (Tomcat's SESSIONS.ser): read before the
    /// listeners open, written atomically on SIGTERM/SIGINT. With --cluster delta the
    /// sessions of a live member win and the file is read only when none answers.
    #[arg(long, value_name = "PATH")]
    pub session_file: Option<PathBuf>,

    /// Also save the session file this often, so a crash (kill -9) loses at most this
    /// much (0 = only on a graceful stop).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub session_save_interval: u64,

    /// On SIGTERM/SIGINT, give in-flight requests this long to finish.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub shutdown_grace: u64,

    /// Session replication: `none`, `delta` (all-to-all: every member holds every session),
    /// or `backup` (each session on its primary and --backups members chosen by hashing).
    #[arg(long, value_name = "MODE", default_value = "none")]
    pub cluster: String,

    /// With --cluster backup: copies of each session besides its primary's.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub backups: usize,

    /// This node's replication listener (loopback by default, like the AJP port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4000")]
    pub cluster_listen: SocketAddr,

    /// Static membership: the members' replication addresses, comma-separated. The same list
    /// can be given to every node (a node ignores its own address).
    #[arg(long, value_name = "ADDR,ADDR,...", value_delimiter = ',')]
    pub cluster_members: Vec<SocketAddr>,

    /// Multicast membership instead of a static list: heartbeats to GROUP:PORT
    /// (e.g. 228.0.0.4:45564), as Tomcat's McastService.
    #[arg(long, value_name = "GROUP:PORT")]
    pub cluster_multicast: Option<SocketAddr>,

    /// The local interface address for multicast heartbeats.
    #[arg(long, value_name = "IP")]
    pub cluster_interface: Option<std::net::Ipv4Addr>,

    /// Multicast heartbeat period (Tomcat's McastService frequency).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub cluster_heartbeat: u64,

    /// A member not heard for this long is suspected, then evicted if its TCP check fails
    /// (Tomcat's dropTime).
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub cluster_drop_time: u64,

    /// Secret every replication message is authenticated with (HMAC-SHA256). Required in
    /// any cluster mode unless --cluster-insecure.
    #[arg(long, value_name = "S", conflicts_with_all = ["cluster_secret_file", "cluster_insecure"])]
    pub cluster_secret: Option<String>,

    /// Read the cluster secret from this file (surrounding whitespace is ignored).
    #[arg(long, value_name = "F", conflicts_with = "cluster_insecure")]
    pub cluster_secret_file: Option<PathBuf>,

    /// Run a cluster without a secret: anyone who reaches the replication port can change
    /// sessions. For trusted test networks only.
    #[arg(long)]
    pub cluster_insecure: bool,

    /// Nodes with another cluster name ignore each other.
    #[arg(long, value_name = "NAME", default_value = "rjk")]
    pub cluster_name: String,

    /// `sync`: a response leaves only once every live member acknowledged the request's
    /// session changes. `async`: at once; changes follow through a bounded queue (a crash can
    /// lose the last few milliseconds of changes).
    #[arg(long, value_name = "MODE", default_value = "sync")]
    pub replication: String,

    /// How long a request waits for acknowledgements (sync); a member that misses it is
    /// suspected and checked, and the request completes anyway.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub replication_timeout: u64,

    /// How long a joining node waits for the sessions of a live member before it starts
    /// without them.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub state_transfer_timeout: u64,

    /// Serve Prometheus metrics (`/metrics`) and a JSON cluster view (`/cluster`) here.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,

    /// Keep sessions in Redis instead of this node: `redis://[user:pass@]HOST:PORT[/DB]`,
    /// `rediss://…` (TLS), or `redis-cluster://HOST:PORT,HOST:PORT,…` (Redis Cluster). Any
    /// node can then serve any session. Not with --cluster (delta or backup) or --session-file.
    #[arg(long, value_name = "URL")]
    pub session_store: Option<String>,

    /// Read the Redis password from this file (surrounding whitespace is ignored).
    #[arg(long, value_name = "F")]
    pub session_store_password_file: Option<PathBuf>,

    /// With --session-store: keep up to N recently read sessions in memory, kept current by
    /// Redis client-side caching, so a sticky request costs no read round trip.
    #[arg(long, value_name = "N")]
    pub session_cache: Option<usize>,

    /// error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", default_value = "info", value_parser = parse_level)]
    pub log_level: log::LevelFilter,
}

fn parse_level(s: &str) -> Result<log::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("{s:?}: use off, error, warn, info, debug or trace"))
}

/// Validated settings for [`crate::Node`].
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub route: String,
    pub ajp: SocketAddr,
    pub http: Option<SocketAddr>,
    /// Packet size, secret and request-attribute filter, as the `ajp` crate checks them.
    pub container: Arc<ContainerConfig>,
    pub max_connections: usize,
    pub idle_timeout: Option<Duration>,
    /// Where the application is mounted (`--context-path`).
    pub context_path: crate::ContextPath,
    pub shutdown_grace: Duration,
    pub session_timeout: Duration,
    /// `--session-file`: sessions kept across restarts.
    pub session_file: Option<PathBuf>,
    /// `--session-save-interval`: periodic saves besides the one on stop.
    pub session_save_interval: Option<Duration>,
    /// How often expired sessions are swept.
    pub sweep_interval: Duration,
    /// Replication with other nodes (`--cluster delta`).
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// Where `--metrics` is served (needs a cluster).
    pub metrics: Option<SocketAddr>,
    /// `--session-store`: sessions in Redis.
    pub session_store: Option<crate::store::redis::RedisConfig>,
}

impl NodeConfig {
    /// Defaults for tests and embedding: loopback, no secret, 8 KiB packets.
    pub fn new(route: &str) -> NodeConfig {
        NodeConfig {
            route: route.to_string(),
            ajp: SocketAddr::from(([127, 0, 0, 1], 8009)),
            http: None,
            container: Arc::new(ContainerConfig::default()),
            max_connections: 8192,
            idle_timeout: None,
            context_path: crate::ContextPath::default(),
            shutdown_grace: Duration::from_secs(10),
            session_timeout: Duration::from_secs(1800),
            session_file: None,
            session_save_interval: None,
            sweep_interval: Duration::from_secs(60),
            cluster: None,
            metrics: None,
            session_store: None,
        }
    }
}

/// A setting that cannot be used, with what to do about it.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

impl Args {
    /// Check every flag and build the configuration.
    pub fn to_config(&self) -> Result<NodeConfig, ConfigError> {
        let route = self.route.trim();
        if route.is_empty() || !route.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
            return err(format!(
                "--route {:?}: use a non-empty name of visible ASCII characters without ';'",
                self.route
            ));
        }
        let packet_size = PacketSize::new(self.packet_size).or_else(|_| {
            err(format!(
                "--packet-size {}: must be between {} and {}",
                self.packet_size,
                PacketSize::MIN,
                PacketSize::MAX
            ))
        })?;
        let secret = secret_from(&self.secret, &self.secret_file, "--secret-file")?;
        match &secret {
            Some(s) if s.is_empty() => {
                return err("the secret is empty: give a non-empty --secret or --secret-file")
            }
            None if !self.no_secret => {
                return err(
                    "no secret configured: pass --secret S or --secret-file F (and the \
                     same secret to the web server), or --no-secret to accept requests without \
                     one (like Tomcat's secretRequired=\"false\")",
                )
            }
            _ => {}
        }
        let allowed_attributes = match &self.allowed_request_attributes {
            None => None,
            Some(p) => {
                // Tomcat matches the whole attribute name.
                let re = regex::bytes::Regex::new(&format!("^(?:{p})$")).or_else(|e| {
                    err(format!(
                        "--allowed-request-attributes: not a valid regex: {e}"
                    ))
                })?;
                let f: ajp::AttributeFilter = Arc::new(move |name: &[u8]| re.is_match(name));
                Some(f)
            }
        };
        if self.max_connections == 0 {
            return err("--max-connections 0: allow at least one connection");
        }
        if self.session_timeout == 0 {
            return err("--session-timeout 0: sessions need at least one second");
        }
        if self.app != "demo" {
            return err(format!(
                "--app {:?}: the only built-in application is `demo` (embed rjk-node as a \
                 library to serve your own)",
                self.app
            ));
        }
        self.check_session_file()?;
        let context_path = crate::ContextPath::new(&self.context_path)
            .or_else(|e| err(format!("--context-path {e}")))?;
        let session_store = crate::store::redis::flags::config(self).map_err(ConfigError)?;
        let cluster = self.cluster_config()?;
        if self.metrics.is_some() && cluster.is_none() {
            return err("--metrics shows the cluster: use it with --cluster delta");
        }
        Ok(NodeConfig {
            session_store,
            cluster,
            metrics: self.metrics,
            route: route.to_string(),
            ajp: self.ajp,
            http: self.http,
            container: Arc::new(ContainerConfig {
                packet_size,
                secret,
                allowed_attributes,
            }),
            max_connections: self.max_connections,
            context_path,
            idle_timeout: (self.idle_timeout > 0).then(|| Duration::from_secs(self.idle_timeout)),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            session_timeout: Duration::from_secs(self.session_timeout),
            sweep_interval: Duration::from_secs(self.session_timeout.clamp(1, 60)),
            session_file: self.session_file.clone(),
            session_save_interval: (self.session_save_interval > 0)
                .then(|| Duration::from_secs(self.session_save_interval)),
        })
    }

    /// The file itself may be missing (first start), its directory may not.
    fn check_session_file(&self) -> Result<(), ConfigError> {
        let Some(f) = &self.session_file else {
            if self.session_save_interval > 0 {
                return err("--session-save-interval saves --session-file: give the file too");
            }
            return Ok(());
        };
        if f.as_os_str().is_empty() || f.is_dir() {
            return err(format!(
                "--session-file {:?}: give a file name, e.g. /var/lib/rjk-node/sessions",
                f.display().to_string()
            ));
        }
        let dir = match f.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        if !dir.is_dir() {
            return err(format!(
                "--session-file {}: the directory {} does not exist",
                f.display(),
                dir.display()
            ));
        }
        Ok(())
    }
}

/// A secret given as a value or as a file (trimmed); `file_flag` names the flag in errors.
fn secret_from(
    value: &Option<String>,
    file: &Option<PathBuf>,
    file_flag: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    match (value, file) {
        (Some(s), _) => Ok(Some(s.clone().into_bytes())),
        (None, Some(f)) => {
            let s = std::fs::read_to_string(f)
                .or_else(|e| err(format!("{file_flag} {}: cannot read it: {e}", f.display())))?;
            Ok(Some(s.trim().as_bytes().to_vec()))
        }
        (None, None) => Ok(None),
    }
}

impl Args {
    fn cluster_config(&self) -> Result<Option<ClusterConfig>, ConfigError> {
        match self.cluster.as_str() {
            "none" => {
                let given = !self.cluster_members.is_empty()
                    || self.cluster_multicast.is_some()
                    || self.cluster_secret.is_some()
                    || self.cluster_secret_file.is_some();
                if given {
                    return err("cluster flags given but --cluster is none: add --cluster delta");
                }
                return Ok(None);
            }
            "delta" | "backup" => {}
            "redis" => {
                return err(format!(
                    "--cluster {}: not available yet; use delta, backup or none",
                    self.cluster
                ))
            }
            other => return err(format!("--cluster {other:?}: use none, delta or backup")),
        }
        if self.cluster == "backup" && self.backups == 0 {
            return err("--backups 0: a session needs at least one copy besides its primary's");
        }
        let secret = secret_from(
            &self.cluster_secret,
            &self.cluster_secret_file,
            "--cluster-secret-file",
        )?;
        match &secret {
            Some(s) if s.is_empty() => {
                return err("the cluster secret is empty: give a non-empty --cluster-secret")
            }
            None if !self.cluster_insecure => {
                return err(
                    "--cluster delta needs a secret: pass --cluster-secret S or \
                     --cluster-secret-file F (the same on every member), or --cluster-insecure \
                     to replicate without authentication",
                )
            }
            _ => {}
        }
        let multicast = match self.cluster_multicast {
            None if self.cluster_interface.is_some() => {
                return err("--cluster-interface is for --cluster-multicast: give the group too")
            }
            None => None,
            Some(std::net::SocketAddr::V4(g)) if g.ip().is_multicast() => {
                if self.cluster_heartbeat == 0 || self.cluster_drop_time <= self.cluster_heartbeat {
                    return err(
                        "--cluster-drop-time must be longer than --cluster-heartbeat (> 0), \
                         or every lost datagram makes a member suspect",
                    );
                }
                Some(Multicast {
                    group: g,
                    interface: self
                        .cluster_interface
                        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                    frequency: Duration::from_millis(self.cluster_heartbeat),
                    drop_time: Duration::from_millis(self.cluster_drop_time),
                })
            }
            Some(g) => {
                return err(format!(
                    "--cluster-multicast {g}: not an IPv4 multicast group (224.0.0.0/4), \
                     e.g. 228.0.0.4:45564"
                ))
            }
        };
        if multicast.is_none() && self.cluster_members.is_empty() {
            log::warn!(
                "--cluster delta without --cluster-members or --cluster-multicast: this node \
                 replicates only with members that connect to it"
            );
        }
        let replication = match self.replication.as_str() {
            "sync" => Replication::Sync,
            "async" => Replication::Async,
            other => return err(format!("--replication {other:?}: use sync or async")),
        };
        if self.replication_timeout == 0 {
            return err("--replication-timeout 0: give the members at least 1 ms");
        }
        if self.cluster_name.trim().is_empty() {
            return err("--cluster-name is empty");
        }
        let mut c = ClusterConfig::new(self.cluster_listen);
        c.members = self.cluster_members.clone();
        c.secret = secret;
        c.name = self.cluster_name.clone();
        c.replication = replication;
        c.replication_timeout = Duration::from_millis(self.replication_timeout);
        c.state_transfer_timeout = Duration::from_secs(self.state_transfer_timeout);
        c.multicast = multicast;
        c.backups = (self.cluster == "backup").then_some(self.backups);
        Ok(Some(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<NodeConfig, String> {
        let mut v = vec!["rjk-node"];
        v.extend_from_slice(args);
        let a = Args::try_parse_from(v).map_err(|e| e.to_string())?;
        a.to_config().map_err(|e| e.to_string())
    }

    #[test]
    fn secret_is_required_unless_opted_out() {
        let e = parse(&["--route", "n1"]).unwrap_err();
        assert!(e.contains("no secret configured"), "{e}");
        let c = parse(&["--route", "n1", "--no-secret"]).unwrap();
        assert!(c.container.secret.is_none());
        let c = parse(&["--route", "n1", "--secret", "s3"]).unwrap();
        assert_eq!(c.container.secret.as_deref(), Some(&b"s3"[..]));
        assert!(parse(&["--route", "n1", "--secret", "a", "--no-secret"]).is_err());
        assert!(parse(&["--route", "n1", "--secret", ""]).is_err());
    }

    #[test]
    fn secret_file_is_trimmed_and_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("rjk-node-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("secret");
        std::fs::write(&f, "  hush\n").unwrap();
        let c = parse(&["--route", "n1", "--secret-file", f.to_str().unwrap()]).unwrap();
        assert_eq!(c.container.secret.as_deref(), Some(&b"hush"[..]));
        let missing = dir.join("nope");
        let e = parse(&["--route", "n1", "--secret-file", missing.to_str().unwrap()]).unwrap_err();
        assert!(e.contains("nope") && e.contains("cannot read"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ranges_and_defaults() {
        let c = parse(&["--route", "n1", "--no-secret"]).unwrap();
        assert_eq!(c.ajp.to_string(), "127.0.0.1:8009");
        assert_eq!(c.container.packet_size.get(), 8192);
        assert_eq!(c.idle_timeout, None);
        assert_eq!(c.session_timeout, Duration::from_secs(1800));
        for bad in ["8191", "65537", "0"] {
            let e = parse(&["--route", "n1", "--no-secret", "--packet-size", bad]).unwrap_err();
            assert!(e.contains("--packet-size"), "{e}");
        }
        let c = parse(&["--route", "n1", "--no-secret", "--packet-size", "65536"]).unwrap();
        assert_eq!(c.container.packet_size.get(), 65536);
        assert!(parse(&["--no-secret"]).is_err(), "route is required");
        assert!(parse(&["--route", " ", "--no-secret"]).is_err());
        assert!(parse(&["--route", "n1", "--no-secret", "--app", "x"]).is_err());
        assert_eq!(c.context_path.as_str(), "/");
        let c = parse(&["--route", "n1", "--no-secret", "--context-path", "/app"]).unwrap();
        assert_eq!(c.context_path.as_str(), "/app");
        let e = parse(&["--route", "n1", "--no-secret", "--context-path", "app/"]).unwrap_err();
        assert!(e.contains("--context-path") && e.contains("/app"), "{e}");
    }

    #[test]
    fn cluster_flags() {
        let base = ["--route", "n1", "--no-secret"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            parse(&v)
        };
        let backup = ["--cluster", "backup", "--cluster-insecure"];
        let c = with(&backup).unwrap().cluster.unwrap();
        assert_eq!(c.backups, Some(1));
        let c = with(&[&backup[..], &["--backups", "2"]].concat())
            .unwrap()
            .cluster
            .unwrap();
        assert_eq!(c.backups, Some(2));
        let e = with(&[&backup[..], &["--backups", "0"]].concat()).unwrap_err();
        assert!(e.contains("--backups 0"), "{e}");
        assert_eq!(
            with(&["--cluster", "delta", "--cluster-insecure"])
                .unwrap()
                .cluster
                .unwrap()
                .backups,
            None
        );
        assert!(with(&[]).unwrap().cluster.is_none());
        let e = with(&["--cluster", "delta"]).unwrap_err();
        assert!(
            e.contains("--cluster-secret") && e.contains("--cluster-insecure"),
            "{e}"
        );
        let c = with(&[
            "--cluster",
            "delta",
            "--cluster-secret",
            "k",
            "--cluster-members",
            "127.0.0.1:4001,127.0.0.1:4002",
        ])
        .unwrap()
        .cluster
        .unwrap();
        assert_eq!(c.members.len(), 2);
        assert_eq!(c.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(c.replication, Replication::Sync);
        assert_eq!(c.replication_timeout, Duration::from_millis(1000));
        assert_eq!(c.state_transfer_timeout, Duration::from_secs(60));
        assert_eq!(c.name, "rjk");
        assert_eq!(c.secret.as_deref(), Some(&b"k"[..]));
        let c = with(&[
            "--cluster",
            "delta",
            "--cluster-insecure",
            "--replication",
            "async",
        ])
        .unwrap()
        .cluster
        .unwrap();
        assert!(c.secret.is_none());
        assert_eq!(c.replication, Replication::Async);
        let c = with(&[
            "--cluster",
            "delta",
            "--cluster-insecure",
            "--cluster-multicast",
            "228.0.0.4:45564",
        ])
        .unwrap()
        .cluster
        .unwrap();
        let m = c.multicast.unwrap();
        assert_eq!(m.group.to_string(), "228.0.0.4:45564");
        assert_eq!(
            (m.frequency, m.drop_time),
            (Duration::from_millis(500), Duration::from_millis(3000))
        );
        for bad in [
            &["--cluster", "mesh", "--cluster-insecure"][..],
            &[
                "--cluster",
                "delta",
                "--cluster-insecure",
                "--replication",
                "later",
            ],
            &["--cluster", "delta", "--cluster-secret", ""],
            &["--cluster-members", "127.0.0.1:4001"],
            &["--metrics", "127.0.0.1:0"],
            &[
                "--cluster",
                "delta",
                "--cluster-insecure",
                "--cluster-multicast",
                "10.0.0.1:4",
            ],
            &[
                "--cluster",
                "delta",
                "--cluster-insecure",
                "--cluster-interface",
                "127.0.0.1",
            ],
            &[
                "--cluster",
                "delta",
                "--cluster-insecure",
                "--cluster-multicast",
                "228.0.0.4:45564",
                "--cluster-drop-time",
                "400",
            ],
        ] {
            assert!(with(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn attribute_pattern_matches_whole_names() {
        let c = parse(&[
            "--route",
            "n1",
            "--no-secret",
            "--allowed-request-attributes",
            "MY_.*|X",
        ])
        .unwrap();
        let f = c.container.allowed_attributes.clone().unwrap();
        assert!(f(b"MY_A"));
        assert!(f(b"X"));
        assert!(!f(b"XY"));
        assert!(!f(b"A_MY_B"));
        let e = parse(&[
            "--route",
            "n1",
            "--no-secret",
            "--allowed-request-attributes",
            "(",
        ])
        .unwrap_err();
        assert!(e.contains("regex"), "{e}");
    }
}
