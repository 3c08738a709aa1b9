//! The runtime state table shared by every process of a server (mod_jk: its shared memory).
//!
//! A fixed `#[repr(C)]` layout of atomics ([`layout`]) over any memory region ([`Region`]):
//! heap for tests, an anonymous shared mapping inherited across fork, a file (`JkShmFile`)
//! that tools can map, or memory the adapter already has. Choosing and counting touch only
//! atomics; [`ShmTable::lock`] (a cross-process lock) serves `lock=P` and configuration changes.
//! Configuration changes bump the balancer record's `sequence`; each process compares it with
//! its own and pulls (see `balancer`). A member's connection settings ([`ConnSlot`]) carry
//! their own sequence, which its pool in each process checks before a request (see `pool`).
//!
//! # Setting it up in an adapter
//!
//! - **httpd** (prefork/worker/event): in `post_config`, in the parent, size the table for
//!   every lb and every member / stand-alone ajp13 worker and create it before the children
//!   fork — [`ShmTable::file`] for `JkShmFile` (tools can then [`ShmTable::open_file`] it), else
//!   [`ShmTable::anonymous`]. Children inherit the mapping; each builds its balancers over the
//!   same `Arc<ShmTable>` (the first to claim an lb pushes its configuration, later ones pull).
//! - **nginx**: in the zone's init callback, wrap the zone's memory with
//!   [`Region::from_raw`] and [`ShmTable::create`] it (or [`ShmTable::attach`] when the zone
//!   already holds a table after a reload).
//! - **Tests and single-process servers**: [`ShmTable::heap`].
//!
//! ```
//! use std::sync::Arc;
//! use lb_core::shm::ShmTable;
//!
//! let dir = std::env::temp_dir().join(format!("rjk-shm-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("jk.shm");
//! // One lb with three members and one stand-alone worker: 1 lb record, 4 member records.
//! let table = Arc::new(ShmTable::file(&path, 1, 4).unwrap());
//! let (lb, pushed) = table.claim_lb("balancer").unwrap();
//! assert!(pushed, "the first process to claim a record sets it up");
//! // A status tool maps the same file and reads the live counters.
//! let tool = ShmTable::open_file(&path).unwrap();
//! assert_eq!(tool.lb(lb).name.load(), "balancer");
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub mod keep;
pub mod layout;
mod lock;
mod published;
mod records;
mod region;
mod table;

pub use layout::{ConnSlot, LbSlot, MemberSlot, Text};
pub use lock::TableLock;
pub use published::Published;
pub use records::{MemberRecord, MemberRef, Records};
pub use region::{JkShmFile, Region};
pub use table::{ShmError, ShmTable};
