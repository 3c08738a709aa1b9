//! Errors are values that say what was being read or written and where.

use std::fmt;

/// Which field of which message an error is about. `index` numbers repeated fields (headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub index: Option<u16>,
}

impl Field {
    pub const fn new(name: &'static str) -> Self {
        Field { name, index: None }
    }
    pub const fn nth(name: &'static str, index: u16) -> Self {
        Field {
            name,
            index: Some(index),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{}]", self.name, i),
            None => f.write_str(self.name),
        }
    }
}

/// Everything that can go wrong reading or writing AJP/1.3. Offsets are into the packet payload
/// (after the 4-byte header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The first two bytes of a packet are not the magic for its direction.
    BadMagic { found: [u8; 2], expected: [u8; 2] },
    /// A packet declares more payload than the agreed packet size allows.
    TooLong { len: usize, max: usize },
    /// A packet has no payload where a message was expected.
    EmptyPacket,
    /// The payload ended while reading `field`.
    Truncated { field: Field, at: usize },
    /// A string was not followed by its NUL terminator.
    Unterminated { field: Field, at: usize },
    /// A message type this side does not accept.
    UnknownMessage { code: u8 },
    /// A method code outside 1..=27 and not 0xFF (stored method).
    InvalidMethod { code: u8 },
    /// Method 0xFF without a stored_method attribute naming it.
    MissingStoredMethod,
    /// A coded header outside the table for its direction.
    InvalidHeaderCode { field: Field, code: u16 },
    /// An attribute code outside 0x01..=0x0D.
    UnknownAttribute { code: u8, at: usize },
    /// A Content-Length header that is not a number, or appears twice.
    BadContentLength,
    /// Encoding: the message does not fit in one packet of the agreed size.
    DoesNotFit {
        field: Field,
        needed: usize,
        max: usize,
    },
    /// Encoding: a string too long for AJP's u16 length (or a header name that would read as a code).
    StringTooLong { field: Field, len: usize },
    /// A packet size outside 8192..=65536.
    InvalidPacketSize { size: usize },
    /// A message that is not allowed in the exchange's current state.
    Unexpected {
        what: &'static str,
        state: &'static str,
    },
    /// More request body than the container asked for or the Content-Length promised.
    BodyOverrun { len: usize, allowed: usize },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            BadMagic { found, expected } => write!(
                f,
                "bad AJP packet signature {:02x} {:02x} (expected {:02x} {:02x}): the peer is not speaking AJP/1.3 in this direction",
                found[0], found[1], expected[0], expected[1]
            ),
            TooLong { len, max } => write!(
                f,
                "AJP packet declares {len} payload bytes but the packet size allows {max}: both ends must use the same max_packet_size/packetSize"
            ),
            EmptyPacket => f.write_str("empty AJP packet where a message was expected"),
            Truncated { field, at } => {
                write!(f, "AJP message truncated while reading {field} at offset {at}")
            }
            Unterminated { field, at } => {
                write!(f, "AJP string {field} at offset {at} lacks its NUL terminator")
            }
            UnknownMessage { code } => write!(f, "unexpected AJP message type {code}"),
            InvalidMethod { code } => write!(f, "invalid AJP method code {code}"),
            MissingStoredMethod => {
                f.write_str("method code 0xFF (stored method) without a stored_method attribute")
            }
            InvalidHeaderCode { field, code } => {
                write!(f, "invalid AJP header code {code:#06x} in {field}")
            }
            UnknownAttribute { code, at } => {
                write!(f, "unknown AJP attribute code {code:#04x} at offset {at}")
            }
            BadContentLength => {
                f.write_str("Content-Length is not a number or is given more than once")
            }
            DoesNotFit { field, needed, max } => write!(
                f,
                "{field} does not fit in one AJP packet ({needed} bytes needed, packet size {max}); raise max_packet_size on both ends"
            ),
            StringTooLong { field, len } => {
                write!(f, "{field} is {len} bytes, too long for an AJP string")
            }
            InvalidPacketSize { size } => {
                write!(f, "AJP packet size {size} is outside 8192..=65536")
            }
            Unexpected { what, state } => {
                write!(f, "AJP protocol error: {what} while {state}")
            }
            BodyOverrun { len, allowed } => write!(
                f,
                "request body packet of {len} bytes where at most {allowed} may be sent"
            ),
        }
    }
}

impl std::error::Error for Error {}
