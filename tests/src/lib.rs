//! End-to-end test harness: start real servers (apache2, nginx, Tomcat, rjk-node) on loopback,
//! on ports the test picks, and stop every one of them by pid when the test ends, also on failure.
//!
//! Nothing here sleeps to synchronise: readiness is polled with a deadline (`wait_until`).

pub mod proc;

pub use proc::{free_port, wait_for_port, wait_until, Child, Deadline};
