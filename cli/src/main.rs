//! `rjk`: check a mod_jk / rjk configuration before a restart, and explain how a URI is mapped.

mod check;
mod jkconf;
mod map;
mod mounts;
mod style;

use std::process::ExitCode;

use clap::Parser;
use rjk_cli::args::{Cli, Command};

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
