//! `rjk`: check a mod_jk / rjk configuration before a restart, and explain how a URI is mapped.

mod check;
mod jkconf;
mod style;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rjk", version, about = "Check mod_jk/rjk configurations and explain URI mapping")]
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { sources, json } => check::run(&sources, json),
    }
}

