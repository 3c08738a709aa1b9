//! The runtime state table shared by every process of a server (mod_jk.md §7).
//!
//! A fixed `#[repr(C)]` layout of atomics ([`layout`]) over any memory region ([`Region`]):
//! heap for tests, an anonymous shared mapping inherited across fork, a file (`JkShmFile`)
//! that tools can map, or memory the adapter already has. Choosing and counting touch only
//! atomics; [`ShmTable::lock`] (a cross-process lock) serves `lock=P` and configuration changes.
//! Configuration changes bump the balancer record's `sequence`; each process compares it with
//! its own and pulls (see `balancer`).

pub mod layout;
mod lock;
mod published;
mod region;
mod table;

pub use layout::{LbSlot, MemberSlot, Text};
pub use lock::TableLock;
pub use published::Published;
pub use region::{JkShmFile, Region};
pub use table::{ShmError, ShmTable};
