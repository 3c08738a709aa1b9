//! AJP/1.3, sans-IO: framing, every message in both directions, and the exchange state machines
//! for the web-server (proxy) side and the container side of one request.
//!
//! The crate never touches a socket, a clock or a thread. Decoders borrow from the caller's
//! bytes and report "need more" as `Ok(None)`; encoders append whole packets to a caller-owned
//! `Vec<u8>` and never leave a partial packet behind on error. No input makes it panic.
//!
//! Layers, each tested alone (after h2's codec/proto split):
//! - [`packet`]: the 4-byte header, magic per direction, packet size;
//! - [`request`] / [`response`]: the messages of each direction;
//! - [`exchange`]: one request/response cycle from each side.

pub mod codes;
pub mod error;
pub mod exchange;
pub mod packet;
pub mod request;
pub mod response;
mod wire;

pub use error::{Error, Field};
pub use exchange::container::{
    AttributeFilter, BodyState, ContainerConfig, ContainerEvent, ContainerExchange, Rejection,
};
pub use exchange::proxy::{receive_cpong, BodyMode, ProxyEvent, ProxyExchange};
pub use packet::{split_packet, Direction, PacketSize};
pub use request::{
    decode_body, encode_body, extend_forward_request, Attribute, ForwardRequest, ForwardRequestRef,
    ProxyMessage, RequestEncoder, CPING, PING, SHUTDOWN,
};
pub use response::{
    encode_body_chunk, encode_end_response, encode_get_body_chunk, encode_send_headers,
    ContainerMessage, SendHeaders, CPONG,
};
