//! The forwarding engine.
pub mod spec;
