//! rjk-node processes in a replication cluster (`--cluster delta`): each with an AJP port for
//! the balancer, an HTTP port for asking one node directly, a replication port and a metrics
//! port, all on loopback. A member can be killed and started again with the same flags; its
//! log goes to a file in the test's directory.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::http;
use crate::proc::{free_port, wait_until, Child};

pub const SECRET: &str = "cluster-test-secret";

pub struct Member {
    pub route: String,
    pub ajp: u16,
    pub http: u16,
    pub repl: u16,
    pub metrics: u16,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

fn lo(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Member {
    /// A member that will replicate with `peers` (replication ports), not started yet.
    pub fn new(dir: &Path, route: &str, repl: u16, peers: &[u16], extra: &[&str]) -> Member {
        let (ajp, http, metrics) = (free_port(), free_port(), free_port());
        let members: Vec<String> = peers.iter().map(|p| lo(*p).to_string()).collect();
        let mut args: Vec<String> = vec![
            "--route".into(),
            route.into(),
            "--ajp".into(),
            lo(ajp).to_string(),
            "--http".into(),
            lo(http).to_string(),
            "--no-secret".into(),
            "--cluster-listen".into(),
            lo(repl).to_string(),
            "--metrics".into(),
            lo(metrics).to_string(),
            "--log-level".into(),
            // RJK_TEST_NODE_LOG=debug to see the cluster's decisions in the nodes' logs.
            std::env::var("RJK_TEST_NODE_LOG").unwrap_or_else(|_| "info".into()),
        ];
        if !members.is_empty() {
            args.extend(["--cluster-members".into(), members.join(",")]);
        }
        // `--cluster backup` (or another mode) in `extra` replaces the default.
        if !extra.contains(&"--cluster") {
            args.extend(["--cluster".into(), "delta".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        // Every test directory is its own cluster: members of two tests running at once
        // (ports get reused) never join each other.
        if !extra.contains(&"--cluster-name") {
            let name = dir.to_string_lossy().into_owned();
            args.extend(["--cluster-name".into(), name]);
        }
        if !extra.iter().any(|a| a.starts_with("--cluster-secret")) {
            args.extend(["--cluster-secret".into(), SECRET.into()]);
        }
        Member {
            route: route.into(),
            ajp,
            http,
            repl,
            metrics,
            args,
            log: dir.join(format!("{route}.log")),
            child: None,
        }
    }

    /// Start it and wait for its AJP port, which opens only after state transfer. A port of
    /// its own (AJP, HTTP, metrics) that something grabbed since it was picked is picked
    /// again; the replication port, which the others know, is retried as it is.
    pub fn start(&mut self) -> io::Result<()> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let before = self.log().len();
            match self.start_once() {
                Err(e) if attempts < 5 => {
                    let fresh = self.log().get(before..).unwrap_or_default().to_string();
                    if !fresh.contains("Address already in use") {
                        return Err(e);
                    }
                    if let Some(child) = self.child.take() {
                        drop(child);
                    }
                    for (flag, port) in [
                        ("--ajp", &mut self.ajp),
                        ("--http", &mut self.http),
                        ("--metrics", &mut self.metrics),
                    ] {
                        if fresh.contains(&lo(*port).to_string()) {
                            *port = free_port();
                            if let Some(i) = self.args.iter().position(|a| a == flag) {
                                self.args[i + 1] = lo(*port).to_string();
                            }
                        }
                    }
                }
                other => return other,
            }
        }
    }

    fn start_once(&mut self) -> io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let from = log.metadata()?.len() as usize;
        let mut cmd = Command::new(crate::workspace_bin("rjk-node"));
        cmd.args(&self.args).stderr(log);
        let mut child = Child::spawn(&format!("rjk-node {}", self.route), &mut cmd)?;
        let ajp = lo(self.ajp);
        let up = wait_until(
            &format!("{} to open its AJP port", self.route),
            Duration::from_secs(20),
            || {
                if !child.alive() {
                    return Some(false);
                }
                // The node logs this once every listener is bound; a connect alone could
                // reach another process that took the port first (the node then exits).
                let ready = format!("AJP on {ajp},");
                // Only this start's lines: a restart appends to the same log.
                std::fs::read(&self.log)
                    .ok()
                    .filter(|l| String::from_utf8_lossy(&l[from.min(l.len())..]).contains(&ready))
                    .map(|_| true)
            },
        );
        self.child = Some(child);
        match up {
            Ok(true) => Ok(()),
            Ok(false) => Err(io::Error::other(format!(
                "{} exited at start:\n{}",
                self.route,
                self.log()
            ))),
            Err(e) => Err(io::Error::new(e.kind(), format!("{e}\n{}", self.log()))),
        }
    }

    /// `kill -9`, and wait until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // A stopped process (SIGSTOP test) is killed just the same.
            c.signal(libc::SIGKILL);
            c.stop(Duration::from_secs(5));
        }
    }

    /// SIGTERM: a graceful stop (it says goodbye to the cluster).
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.stop(Duration::from_secs(15));
        }
    }

    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            c.signal(sig);
        }
    }

    /// SIGSTOP, and wait until the kernel reports it stopped (state `T`).
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
        let Some(c) = &self.child else { return };
        let stat = format!("/proc/{}/stat", c.pid());
        wait_until(
            &format!("{} to stop", self.route),
            Duration::from_secs(5),
            || {
                let s = std::fs::read_to_string(&stat).ok()?;
                // The state follows the parenthesised command name.
                let state = s.rsplit_once(')')?.1.split_whitespace().next()?.to_string();
                (state == "T").then_some(())
            },
        )
        .unwrap();
    }

    pub fn http_addr(&self) -> SocketAddr {
        lo(self.http)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /cluster` of its metrics server (JSON).
    pub fn view(&self) -> String {
        http::get(lo(self.metrics), "/cluster", &[])
            .map(|r| r.text())
            .unwrap_or_default()
    }

    /// `GET /metrics` (Prometheus text).
    pub fn prometheus(&self) -> String {
        http::get(lo(self.metrics), "/metrics", &[])
            .map(|r| r.text())
            .unwrap_or_default()
    }

    /// A counter or gauge from `/metrics` (`rjk_cluster_<name>`).
    pub fn metric(&self, name: &str) -> Option<u64> {
        let text = self.prometheus();
        let prefix = format!("rjk_cluster_{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
    }

    /// How it holds session `id` in backup mode: `primary`, `backup` or `none`.
    pub fn role_of(&self, id: &str) -> String {
        http::get(lo(self.metrics), &format!("/cluster/holds/{id}"), &[])
            .map(|r| r.text().trim().to_string())
            .unwrap_or_default()
    }

    /// Whether it is running (not killed or stopped by the test).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Its process id, while running.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.pid())
    }

    /// Sessions it holds (own and replicas).
    pub fn sessions(&self) -> Option<u64> {
        self.metric("sessions")
    }

    /// Wait until every other member is live in its view.
    pub fn wait_live(&self, others: usize) -> io::Result<()> {
        wait_until(
            &format!("{} to see {others} live members", self.route),
            Duration::from_secs(20),
            || (self.live_members() == others).then_some(()),
        )
    }

    /// Members live in its view (`/cluster`).
    pub fn live_members(&self) -> usize {
        self.view().matches("\"state\":\"live\"").count()
    }

    /// The state it gives the member with `route` (`live`, `suspect`, `down`), if it knows it.
    pub fn state_of(&self, route: &str) -> Option<String> {
        let v = self.view();
        let at = v.find(&format!("\"route\":\"{route}\""))?;
        json_field(&v[at..], "state")
    }
}

/// `n` members (routes n1..), every one listing all replication ports, started in order.
pub fn start(dir: &Path, n: usize, extra: &[&str]) -> io::Result<Vec<Member>> {
    start_listing(dir, n, true, extra)
}

/// Like [`start`]; with `list` false the members get no static list (they find each other
/// another way, e.g. `--cluster-multicast` in `extra`).
pub fn start_listing(dir: &Path, n: usize, list: bool, extra: &[&str]) -> io::Result<Vec<Member>> {
    std::fs::create_dir_all(dir)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match start_cluster(dir, n, list, extra) {
            // Another process took a replication port between our pick and the bind (an
            // outgoing connection's ephemeral port): every member lists them all, so all are
            // picked again (the members started so far were stopped when dropped).
            Err(e) if attempts < 4 && e.to_string().contains("binding the cluster address") => {}
            other => return other,
        }
    }
}

fn start_cluster(dir: &Path, n: usize, list: bool, extra: &[&str]) -> io::Result<Vec<Member>> {
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let listed: &[u16] = if list { &ports } else { &[] };
    let mut ms: Vec<Member> = (0..n)
        .map(|i| Member::new(dir, &format!("n{}", i + 1), ports[i], listed, extra))
        .collect();
    for m in &mut ms {
        m.start()?;
    }
    for m in &ms {
        m.wait_live(n - 1)?;
    }
    Ok(ms)
}

/// workers.properties: a sticky balancer `lb` over the members (worker name = route).
pub fn lb_workers(members: &[Member]) -> String {
    let names: Vec<&str> = members.iter().map(|m| m.route.as_str()).collect();
    let mut w = format!(
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers={}\n",
        names.join(",")
    );
    for m in members {
        w.push_str(&format!(
            "worker.{r}.type=ajp13\nworker.{r}.host=127.0.0.1\nworker.{r}.port={p}\n",
            r = m.route,
            p = m.ajp
        ));
    }
    w
}

/// The `JSESSIONID` a response sets, if any.
pub fn set_cookie_id(r: &http::Response) -> Option<String> {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| {
            v.strip_prefix("JSESSIONID=")
                .map(|rest| rest.split(';').next().unwrap_or("").to_string())
        })
}

/// A field of the demo's flat JSON answers, as text.
pub fn json_field(json: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat)? + pat.len();
    let rest = &json[at..];
    if let Some(r) = rest.strip_prefix('"') {
        Some(r[..r.find('"')?].to_string())
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}
