//! End-to-end test harness: start real servers (apache2, nginx, Tomcat, rjk-node) on loopback,
//! on ports the test picks, and stop every one of them by pid when the test ends, also on failure.
//!
//! Nothing here sleeps to synchronise: readiness is polled with a deadline (`wait_until`).

pub mod browser;
pub mod cluster;
pub mod dpkg;
pub mod fake_ajp;
pub mod front;
pub mod http;
pub mod httpd;
pub mod load;
pub mod nginx;
pub mod proc;
pub mod redis;
pub mod replicated;
pub mod rig;
pub mod served;
pub mod sessions;
pub mod status;
pub mod strict_http;
pub mod tomcat;

pub use proc::{free_port, wait_for_port, wait_until, Child, Deadline};

/// Path of a binary built from this workspace (`rjk`, `rjk-node`), in the same profile as the
/// test. The Makefile builds every binary before running tests; say so if it is missing.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let target = target_dir();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let p = target.join(profile).join(name);
    assert!(
        p.exists(),
        "{} not found: build the workspace binaries first (`cargo build --workspace --bins`)",
        p.display()
    );
    p
}

/// The workspace's cargo target directory (`CARGO_TARGET_DIR`, else `target/`): where binaries
/// are found and where tests leave artifacts (screenshots) for people to look at.
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}
