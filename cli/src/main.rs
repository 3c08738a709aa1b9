//! `rjk`: check a mod_jk / rjk configuration before a restart, and explain how a URI is mapped.

mod check;
mod jkconf;
mod map;
mod mounts;
mod style;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rjk",
    version,
    about = "Check mod_jk/rjk configurations and explain URI mapping"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse the configuration and print every worker's effective settings, warnings and errors.
    /// Exit code 0 when there is no error, 1 otherwise.
    Check {
        #[command(flatten)]
        sources: check::Sources,
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
        sources: check::Sources,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { sources, json } => check::run(&sources, json),
        Command::Map {
            uri,
            cookie,
            sources,
            json,
        } => {
            let c = check::load(&sources);
            let st = style::Style::stdout();
            let mut prefix = String::new();
            for d in c
                .loaded
                .diagnostics
                .iter()
                .filter(|d| d.severity == lb_core::config::Severity::Error)
            {
                prefix.push_str(&format!("{d}\n"));
            }
            let mut a = map::map(&c.table, c.loaded.workers.as_ref(), &uri, &cookie, st);
            if !json && !prefix.is_empty() {
                a.text = format!("{prefix}\n{}", a.text);
            }
            map::print(&a, json)
        }
    }
}
