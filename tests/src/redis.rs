//! Debian's redis-server on loopback for the session-store tests: a standalone server or a
//! Redis Cluster (three masters, three replicas) made with `redis-cli --cluster create`. Every
//! server is a [`Child`] stopped by pid; each keeps its files in the test's directory.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::{free_port, wait_for_port, wait_until, Child};

/// One redis-server process.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Redis {
    /// A server on a free loopback port; every write is on disk before it is acknowledged
    /// (`appendfsync always`), so a restart after `kill -9` keeps what clients were told.
    pub fn start(dir: &Path, extra: &[&str]) -> io::Result<Redis> {
        let mut r = Redis {
            port: free_port(),
            dir: dir.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        std::fs::create_dir_all(dir)?;
        r.restart()?;
        Ok(r)
    }

    /// Start it (again) on the same port with the same files.
    pub fn restart(&mut self) -> io::Result<()> {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", &self.dir.display().to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--daemonize", "no", "--protected-mode", "no"])
            .args([
                "--logfile",
                &self.dir.join("redis.log").display().to_string(),
            ])
            .args(&self.extra);
        self.child = Some(Child::spawn(
            &format!("redis-server :{}", self.port),
            &mut cmd,
        )?);
        wait_for_port(self.addr(), Duration::from_secs(10))?;
        // The port opens before the append-only file is loaded: wait until it answers.
        wait_until(
            &format!("redis :{} to load", self.port),
            Duration::from_secs(10),
            || self.cli(&["PING"]).ok().filter(|r| r.trim() == "PONG"),
        )?;
        Ok(())
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `kill -9`, and wait until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.signal(libc::SIGKILL);
            c.stop(Duration::from_secs(5));
        }
    }

    /// Send `sig` (SIGSTOP: Redis hangs with its connections open; SIGCONT).
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            c.signal(sig);
        }
    }

    /// `redis-cli -p PORT args…` (authenticated when started with `--requirepass`).
    pub fn cli(&self, args: &[&str]) -> io::Result<String> {
        let pass = self
            .extra
            .iter()
            .position(|a| a == "--requirepass")
            .and_then(|i| self.extra.get(i + 1));
        match pass {
            Some(p) => {
                let mut v = vec!["--no-auth-warning", "-a", p.as_str()];
                v.extend_from_slice(args);
                cli(self.port, &v)
            }
            None => cli(self.port, args),
        }
    }

    /// `INFO commandstats` as command → calls.
    pub fn commandstats(&self) -> BTreeMap<String, u64> {
        let text = self.cli(&["INFO", "commandstats"]).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = rest
                    .strip_prefix("calls=")?
                    .split(',')
                    .next()?
                    .parse()
                    .ok()?;
                Some((name.to_string(), calls))
            })
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

/// `redis-cli -p port args…`.
pub fn cli(port: u16, args: &[&str]) -> io::Result<String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Calls per command between two [`Redis::commandstats`] readings.
pub fn stats_delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// A Redis Cluster on loopback: `masters` masters with one replica each.
pub struct RedisCluster {
    pub nodes: Vec<Redis>,
}

impl RedisCluster {
    pub fn start(dir: &Path, masters: usize) -> io::Result<RedisCluster> {
        let nodes = (0..masters * 2)
            .map(|i| {
                Redis::start(
                    &dir.join(format!("r{i}")),
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "1000",
                        "--appendfsync",
                        "everysec",
                    ],
                )
            })
            .collect::<io::Result<Vec<_>>>()?;
        let mut cmd = Command::new("redis-cli");
        cmd.arg("--cluster").arg("create");
        for n in &nodes {
            cmd.arg(format!("127.0.0.1:{}", n.port));
        }
        let out = cmd
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "redis-cli --cluster create: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let c = RedisCluster { nodes };
        c.wait_ok(Duration::from_secs(20))?;
        Ok(c)
    }

    /// Wait until every live node says `cluster_state:ok` and knows all 16384 slots.
    pub fn wait_ok(&self, timeout: Duration) -> io::Result<()> {
        wait_until("the Redis Cluster to be ok", timeout, || {
            self.nodes
                .iter()
                .filter(|n| n.child.is_some())
                .all(|n| {
                    let i = n.cli(&["CLUSTER", "INFO"]).unwrap_or_default();
                    i.contains("cluster_state:ok") && i.contains("cluster_slots_ok:16384")
                })
                .then_some(())
        })
    }

    /// `redis-cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        let list: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis-cluster://{}", list.join(","))
    }

    /// The node serving `key` as master now.
    pub fn master_of(&self, key: &str) -> Option<usize> {
        let live = self.nodes.iter().find(|n| n.child.is_some())?;
        let slot = live.cli(&["CLUSTER", "KEYSLOT", key]).ok()?;
        let slot: u16 = slot.trim().parse().ok()?;
        let shards = live.cli(&["CLUSTER", "SLOTS"]).ok()?;
        // `CLUSTER SLOTS` in redis-cli's plain output: start, end, then per node ip, port, id.
        let lines: Vec<&str> = shards.lines().map(str::trim).collect();
        let mut i = 0;
        while i + 3 < lines.len() {
            if let (Ok(lo), Ok(hi)) = (lines[i].parse::<u16>(), lines[i + 1].parse::<u16>()) {
                if lines[i + 2] == "127.0.0.1" && (lo..=hi).contains(&slot) {
                    let port: u16 = lines[i + 3].parse().ok()?;
                    return self.nodes.iter().position(|n| n.port == port);
                }
            }
            i += 1;
        }
        None
    }

    /// Calls per command summed over every node.
    pub fn commandstats(&self) -> BTreeMap<String, u64> {
        let mut all = BTreeMap::new();
        for n in self.nodes.iter().filter(|n| n.child.is_some()) {
            for (k, v) in n.commandstats() {
                *all.entry(k).or_insert(0) += v;
            }
        }
        all
    }
}

/// An rjk-node keeping its sessions in Redis, with an AJP port for the balancer and an HTTP
/// port for asking it directly; its log goes to `<dir>/<route>.log`.
pub struct StoreNode {
    pub route: String,
    pub ajp: u16,
    pub http: u16,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl StoreNode {
    pub fn start(dir: &Path, route: &str, store: &str, extra: &[&str]) -> io::Result<StoreNode> {
        StoreNode::start_env(dir, route, store, extra, &[])
    }

    /// Like [`StoreNode::start`], with environment variables for the node.
    pub fn start_env(
        dir: &Path,
        route: &str,
        store: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> io::Result<StoreNode> {
        std::fs::create_dir_all(dir)?;
        let (ajp, http) = (free_port(), free_port());
        let mut args: Vec<String> = [
            "--route",
            route,
            "--ajp",
            &format!("127.0.0.1:{ajp}"),
            "--http",
            &format!("127.0.0.1:{http}"),
            "--no-secret",
            "--session-store",
            store,
            "--log-level",
            "info",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut n = StoreNode {
            route: route.into(),
            ajp,
            http,
            args,
            log: dir.join(format!("{route}.log")),
            child: None,
        };
        let log = std::fs::File::create(&n.log)?;
        let mut cmd = Command::new(crate::workspace_bin("rjk-node"));
        cmd.args(&n.args).envs(env.iter().copied()).stderr(log);
        n.child = Some(Child::spawn(&format!("rjk-node {route}"), &mut cmd)?);
        wait_for_port(n.ajp_addr(), Duration::from_secs(10))
            .and_then(|_| wait_for_port(n.http_addr(), Duration::from_secs(10)))
            .map_err(|e| io::Error::new(e.kind(), format!("{e}\n{}", n.log())))?;
        Ok(n)
    }

    pub fn ajp_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ajp))
    }

    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.http))
    }

    /// `kill -9`, and wait until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.signal(libc::SIGKILL);
            c.stop(Duration::from_secs(5));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// workers.properties: a balancer `lb` over `nodes` (worker name = route), plus `extra`.
pub fn lb_workers(nodes: &[StoreNode], extra: &str) -> String {
    let names: Vec<&str> = nodes.iter().map(|n| n.route.as_str()).collect();
    let mut w = format!(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers={}\n{extra}",
        names.join(",")
    );
    for n in nodes {
        w.push_str(&format!(
            "worker.{r}.type=ajp13\nworker.{r}.host=127.0.0.1\nworker.{r}.port={p}\n",
            r = n.route,
            p = n.ajp
        ));
    }
    w
}
