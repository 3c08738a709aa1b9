//! The `rjk` command line as clap sees it. A library module so that the packaging can render
//! the man pages from the same definition `--help` prints (`packaging/docs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rjk",
    version,
    about = "Check mod_jk/rjk configurations and explain URI mapping"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Parse the configuration and print every worker's effective settings, warnings and errors.
    /// Exit code 0 when there is no error, 1 otherwise.
    Check {
        #[command(flatten)]
        sources: Sources,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Explain how a URI is mapped: every rule's verdict, the worker, and the member a session
    /// would stick to. Exit code 1 when httpd would refuse the URI (400/404).
    Map {
        /// The request path as a client sends it (%-escapes allowed), e.g. /app/..;/jkstatus
        uri: String,
        /// A Cookie header value (repeatable), e.g. "JSESSIONID=ABC.node1".
        #[arg(long)]
        cookie: Vec<String>,
        #[command(flatten)]
        sources: Sources,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug, Default)]
pub struct Sources {
    /// A workers.properties file (default: the JkWorkersFile of --jk-conf).
    #[arg(long, value_name = "FILE")]
    pub workers: Option<PathBuf>,
    /// A uriworkermap.properties file.
    #[arg(long, value_name = "FILE")]
    pub mounts: Option<PathBuf>,
    /// An httpd configuration whose Jk* directives (JkWorkersFile, JkWorkerProperty, JkMount...)
    /// are read as mod_jk would, following Include lines.
    #[arg(long = "jk-conf", value_name = "FILE")]
    pub jk_conf: Option<PathBuf>,
}
