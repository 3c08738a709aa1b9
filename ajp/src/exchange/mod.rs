//! One request/response cycle, from each side, as sans-IO state machines: the driver feeds
//! received bytes in and sends what the machine appends to its output buffer.

pub mod container;
pub mod proxy;
