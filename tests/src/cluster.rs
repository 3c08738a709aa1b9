//! rjk-node backends and a web server in front of them: the fixture every balancing scenario
//! runs on, with Debian's mod_jk or our mod_rjk loaded the same way.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::httpd::{Httpd, Mpm, MODULES};
use crate::proc::{free_port, wait_for_port, Child};

/// One rjk-node serving the demo application over AJP on loopback.
pub struct Node {
    pub route: String,
    pub port: u16,
    child: Child,
}

impl Node {
    pub fn start(route: &str, secret: Option<&str>, extra: &[&str]) -> io::Result<Node> {
        Node::start_on(route, free_port(), secret, extra)
    }

    /// Start again on the same port (after `kill`): the node "comes back".
    pub fn restart(&mut self) -> io::Result<()> {
        *self = Node::start_on(&self.route, self.port, None, &[])?;
        Ok(())
    }

    fn start_on(route: &str, port: u16, secret: Option<&str>, extra: &[&str]) -> io::Result<Node> {
        let mut cmd = Command::new(crate::workspace_bin("rjk-node"));
        cmd.args([
            "--route",
            route,
            "--ajp",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "warn",
        ]);
        match secret {
            Some(s) => cmd.args(["--secret", s]),
            None => cmd.arg("--no-secret"),
        };
        cmd.args(extra);
        let child = Child::spawn(&format!("rjk-node {route}"), &mut cmd)?;
        wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(10),
        )?;
        Ok(Node {
            route: route.to_owned(),
            port,
            child,
        })
    }

    /// Stop it now (a node "dies").
    pub fn kill(&mut self) {
        self.child.signal(libc::SIGKILL);
        self.child.stop(Duration::from_secs(5));
    }

    pub fn pid(&self) -> i32 {
        self.child.pid()
    }
}

/// Which connector module the front httpd loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    /// Debian's libapache2-mod-jk: the reference.
    ModJk,
    /// Ours.
    ModRjk,
}

impl Connector {
    pub fn load_line(self) -> String {
        match self {
            Connector::ModJk => format!("LoadModule jk_module {MODULES}/mod_jk.so\n"),
            Connector::ModRjk => format!(
                "LoadModule jk_module {}\n",
                crate::workspace_bin("libmod_rjk.so").display()
            ),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Connector::ModJk => "mod_jk",
            Connector::ModRjk => "mod_rjk",
        }
    }
}

/// An httpd with `connector`, `workers` as its workers.properties, and `jk` extra Jk lines
/// (mounts, options). The shm and log files live in `dir`.
pub fn front(
    dir: &Path,
    connector: Connector,
    mpm: Mpm,
    workers: &str,
    jk: &str,
) -> io::Result<Httpd> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("workers.properties"), workers)?;
    let body = format!(
        "{}JkWorkersFile {d}/workers.properties\nJkShmFile {d}/run/jk.shm\nJkLogFile {d}/logs/jk.log\nJkLogLevel error\n{jk}\n",
        connector.load_line(),
        d = dir.display()
    );
    Httpd::start(dir, mpm, &body)
}

/// `worker.<route>.host/port` lines for these nodes (plus `extra` per node, e.g. lbfactor).
pub fn member_lines(nodes: &[Node], extra: impl Fn(&Node) -> String) -> String {
    nodes
        .iter()
        .map(|n| {
            format!(
                "worker.{r}.host=127.0.0.1\nworker.{r}.port={p}\n{}",
                extra(n),
                r = n.route,
                p = n.port
            )
        })
        .collect()
}

/// One rjk-node per route, default flags.
pub fn nodes(routes: &[&str]) -> Vec<Node> {
    routes
        .iter()
        .map(|r| Node::start(r, None, &[]).unwrap())
        .collect()
}

/// workers.properties for a balancer `lb` over `nodes`, with `also` (e.g. a status worker
/// defined in `extra`) in worker.list.
pub fn lb_workers(nodes: &[Node], also: &[&str], extra: &str) -> String {
    let routes: Vec<&str> = nodes.iter().map(|n| n.route.as_str()).collect();
    let list: String = also.iter().map(|w| format!(",{w}")).collect();
    format!(
        "worker.list=lb{list}\nworker.lb.type=lb\nworker.lb.balance_workers={}\n{extra}{}",
        routes.join(","),
        member_lines(nodes, |_| String::new())
    )
}
