//! rjk-cli as a library: only the command-line definition, for tools that render it (man pages).

pub mod args;
