//! Framing: the 4-byte header that carries every AJP packet in both directions.

use crate::error::Error;

/// Magic of packets from the web server to the container.
pub const TO_CONTAINER: [u8; 2] = [0x12, 0x34];
/// Magic of packets from the container to the web server (`AB`).
pub const FROM_CONTAINER: [u8; 2] = [0x41, 0x42];
/// Length of the packet header (magic + u16 payload length).
pub const HEADER_LEN: usize = 4;

/// Which way a packet travels; each direction has its own magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ToContainer,
    FromContainer,
}

impl Direction {
    pub const fn magic(self) -> [u8; 2] {
        match self {
            Direction::ToContainer => TO_CONTAINER,
            Direction::FromContainer => FROM_CONTAINER,
        }
    }
}

/// The agreed maximum packet size, header included (mod_jk `max_packet_size`, Tomcat `packetSize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketSize(u32);

impl PacketSize {
    pub const MIN: usize = 8192;
    pub const MAX: usize = 65536;

    /// The largest size allowed: for encoding what is checked against a member's size later.
    pub const LARGEST: PacketSize = PacketSize(Self::MAX as u32);

    pub fn new(size: usize) -> Result<Self, Error> {
        if (Self::MIN..=Self::MAX).contains(&size) {
            Ok(PacketSize(size as u32))
        } else {
            Err(Error::InvalidPacketSize { size })
        }
    }

    pub const fn get(self) -> usize {
        self.0 as usize
    }

    /// Largest payload a packet may declare. The u16 length caps it at 65535 in any case.
    pub const fn max_payload(self) -> usize {
        let p = self.0 as usize - HEADER_LEN;
        if p > 0xFFFF {
            0xFFFF
        } else {
            p
        }
    }

    /// Largest request-body data in one packet to the container (header + u16 length).
    pub const fn max_body_to_container(self) -> usize {
        self.0 as usize - 6
    }

    /// Largest data in one Send Body Chunk (header + type + u16 length + NUL).
    pub const fn max_send_chunk(self) -> usize {
        self.0 as usize - 8
    }
}

impl Default for PacketSize {
    fn default() -> Self {
        PacketSize(8192)
    }
}

/// Split one packet off the front of `buf`: `Ok(None)` when more bytes are needed, else the
/// payload and the number of bytes the whole packet took.
pub fn split_packet(
    buf: &[u8],
    dir: Direction,
    size: PacketSize,
) -> Result<Option<(&[u8], usize)>, Error> {
    let magic = dir.magic();
    // Check the magic as soon as it is there, so garbage is refused without waiting for more.
    match buf {
        [] => return Ok(None),
        [a, ..] if *a != magic[0] => {
            return Err(Error::BadMagic {
                found: [*a, buf.get(1).copied().unwrap_or(0)],
                expected: magic,
            })
        }
        [a, b, ..] if *b != magic[1] => {
            return Err(Error::BadMagic {
                found: [*a, *b],
                expected: magic,
            })
        }
        _ => {}
    }
    let Some(&[_, _, hi, lo]) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([hi, lo]) as usize;
    if len > size.max_payload() {
        return Err(Error::TooLong {
            len,
            max: size.max_payload(),
        });
    }
    match buf.get(HEADER_LEN..HEADER_LEN + len) {
        Some(payload) => Ok(Some((payload, HEADER_LEN + len))),
        None => Ok(None),
    }
}

/// How many bytes the packet at the front of `buf` needs in all, once its header is there.
/// Lets a driver read exactly one packet (useful when the rest of the stream is not ours).
pub fn packet_len(buf: &[u8]) -> Option<usize> {
    match buf.get(..HEADER_LEN) {
        Some(&[_, _, hi, lo]) => Some(HEADER_LEN + u16::from_be_bytes([hi, lo]) as usize),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_size_bounds() {
        assert!(PacketSize::new(8191).is_err());
        assert!(PacketSize::new(65537).is_err());
        assert_eq!(PacketSize::new(65536).unwrap().max_payload(), 65532);
        assert_eq!(PacketSize::default().max_payload(), 8188);
        assert_eq!(PacketSize::default().max_body_to_container(), 8186);
        assert_eq!(PacketSize::default().max_send_chunk(), 8184);
    }

    #[test]
    fn splitting() {
        let s = PacketSize::default();
        let d = Direction::FromContainer;
        assert_eq!(split_packet(&[], d, s), Ok(None));
        assert_eq!(split_packet(&[0x41], d, s), Ok(None));
        assert_eq!(split_packet(&[0x41, 0x42, 0x00], d, s), Ok(None));
        assert_eq!(split_packet(&[0x41, 0x42, 0x00, 0x01], d, s), Ok(None));
        let pkt = [0x41, 0x42, 0x00, 0x01, 0x09, 0xAA];
        assert_eq!(split_packet(&pkt, d, s), Ok(Some((&pkt[4..5], 5))));
        assert!(matches!(
            split_packet(&[0x12], d, s),
            Err(Error::BadMagic { .. })
        ));
        assert!(matches!(
            split_packet(&[0x41, 0x43], d, s),
            Err(Error::BadMagic { .. })
        ));
        assert_eq!(
            split_packet(&[0x41, 0x42, 0x20, 0x00], d, s),
            Err(Error::TooLong {
                len: 0x2000,
                max: 8188
            })
        );
        assert_eq!(packet_len(&pkt), Some(5));
    }
}
