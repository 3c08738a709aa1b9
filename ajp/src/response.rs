//! Messages from the container to the web server: Send Headers, Send Body Chunk, End Response,
//! Get Body Chunk and CPong.

use crate::codes::{self, kind};
use crate::error::{Error, Field};
use crate::packet::{PacketSize, FROM_CONTAINER};
use crate::request::{HeaderKind, Headers};
use crate::wire::{self, Reader};

/// CPong, the container's answer to CPing.
pub const CPONG: &[u8] = &[0x41, 0x42, 0x00, 0x01, kind::CPONG];

/// A decoded Send Headers, validated once; headers are read lazily from the payload.
#[derive(Clone, Copy, Debug)]
pub struct SendHeaders<'a> {
    status: u16,
    reason: Option<&'a [u8]>,
    num_headers: u16,
    headers_raw: &'a [u8],
    /// The first Content-Length header's value, noted while `decode` validated the headers.
    content_length: Option<&'a [u8]>,
}

impl<'a> SendHeaders<'a> {
    /// Decode a Send Headers payload (type byte included).
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let (mut head, start) = Self::head(payload)?;
        let mut r = Reader::new(payload);
        r.skip(start);
        for i in 0..head.num_headers {
            let (name, value) = read_response_header(&mut r, i)?;
            // The one header a proxy needs before it writes the head (to frame the body):
            // noted in the validating pass, so nobody reads the headers again for it.
            if head.content_length.is_none() && codes::is_content_length(name) {
                head.content_length = Some(value);
            }
        }
        head.headers_raw = &payload[start..r.pos()];
        Ok(head)
    }

    /// Type, status, reason and header count, and where the headers start (left to the
    /// caller). A well-formed head is read with plain slice checks; anything else goes the
    /// checked way, which names the fault.
    #[inline]
    fn head(payload: &'a [u8]) -> Result<(Self, usize), Error> {
        match Self::head_fast(payload) {
            Some(head) => Ok(head),
            None => Self::head_checked(payload),
        }
    }

    #[inline(always)]
    fn head_fast(payload: &'a [u8]) -> Option<(Self, usize)> {
        let (&[t, s0, s1, r0, r1], rest) = payload.split_first_chunk::<5>()?;
        if t != kind::SEND_HEADERS {
            return None;
        }
        let (reason, rest) = match u16::from_be_bytes([r0, r1]) {
            0xFFFF => (None, rest),
            len => {
                let (s, rest) = string_fast(rest, len)?;
                (Some(s), rest)
            }
        };
        let (n, rest) = rest.split_first_chunk::<2>()?;
        let head = SendHeaders {
            status: u16::from_be_bytes([s0, s1]),
            reason,
            num_headers: u16::from_be_bytes(*n),
            headers_raw: &[],
            content_length: None,
        };
        Some((head, payload.len() - rest.len()))
    }

    #[cold]
    #[inline(never)]
    fn head_checked(payload: &'a [u8]) -> Result<(Self, usize), Error> {
        let mut r = Reader::new(payload);
        let t = r.u8(Field::new("send_headers.type"))?;
        if t != kind::SEND_HEADERS {
            return Err(Error::UnknownMessage { code: t });
        }
        let status = r.u16(Field::new("send_headers.status"))?;
        let reason = r.string(Field::new("send_headers.reason"))?;
        let num_headers = r.u16(Field::new("send_headers.num_headers"))?;
        let head = SendHeaders {
            status,
            reason,
            num_headers,
            headers_raw: &[],
            content_length: None,
        };
        Ok((head, r.pos()))
    }

    /// A payload [`decode`](Self::decode) accepted before, read again without validating its
    /// headers a second time (the lazy header iterator stops at anything malformed anyway).
    /// Nothing is noted on the way: [`content_length`](Self::content_length) is `None`.
    pub fn decode_again(payload: &'a [u8]) -> Result<Self, Error> {
        let (mut head, start) = Self::head(payload)?;
        head.headers_raw = payload.get(start..).unwrap_or_default();
        Ok(head)
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase as sent. Tomcat sends the status number here ("200"); a null reason
    /// reads as `None`.
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }

    pub fn num_headers(&self) -> u16 {
        self.num_headers
    }

    /// Headers in order; coded names come back in canonical spelling ("Content-Type").
    pub fn headers(&self) -> ResponseHeaders<'a> {
        Headers::new(self.headers_raw, self.num_headers)
    }

    /// The value of the first `Content-Length` header as sent, if any, noted by
    /// [`decode`](Self::decode) while it validated the headers (a head from
    /// [`decode_again`](Self::decode_again) has none noted).
    pub fn content_length(&self) -> Option<&'a [u8]> {
        self.content_length
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// A header's name and value.
type Header<'a> = (&'a [u8], &'a [u8]);

/// One header (`i`: its index, for errors). A well-formed header is read by
/// [`header_fast`]; anything else goes the checked way, which finds the same header or says
/// exactly what is wrong.
#[inline]
pub(crate) fn read_response_header<'a>(
    r: &mut Reader<'a>,
    i: u16,
) -> Result<(&'a [u8], &'a [u8]), Error> {
    match header_fast(r.rest()) {
        Some((h, used)) => {
            r.skip(used);
            Ok(h)
        }
        None => read_response_header_checked(r, i),
    }
}

/// A header at the front of `b` and the bytes it takes, or `None` for anything that is not a
/// whole, well-formed header (the checked reader then names the fault). Runs for every
/// response header, twice per response (validation, then the web server's copy).
#[inline(always)]
fn header_fast(b: &[u8]) -> Option<(Header<'_>, usize)> {
    let (n, rest) = b.split_first_chunk::<2>()?;
    let n = u16::from_be_bytes(*n);
    let (name, rest) = if n >> 8 == 0xA0 {
        (codes::response_header_name(n)?.as_bytes(), rest)
    } else if n == 0xFFFF {
        (&b""[..], rest)
    } else {
        string_fast(rest, n)?
    };
    let (v, rest) = rest.split_first_chunk::<2>()?;
    let (value, rest) = match u16::from_be_bytes(*v) {
        0xFFFF => (&b""[..], rest),
        len => string_fast(rest, len)?,
    };
    Some(((name, value), b.len() - rest.len()))
}

/// A string's bytes whose length was read, its NUL terminator, and what follows.
#[inline(always)]
fn string_fast(b: &[u8], len: u16) -> Option<(&[u8], &[u8])> {
    let len = len as usize;
    match b.get(len) {
        Some(0) => Some((&b[..len], &b[len + 1..])),
        _ => None,
    }
}

#[cold]
#[inline(never)]
fn read_response_header_checked<'a>(
    r: &mut Reader<'a>,
    i: u16,
) -> Result<(&'a [u8], &'a [u8]), Error> {
    let f = Field::nth("send_headers.header", i);
    let n = r.u16(f)?;
    let name = if n >> 8 == 0xA0 {
        codes::response_header_name(n)
            .ok_or(Error::InvalidHeaderCode { field: f, code: n })?
            .as_bytes()
    } else if n == 0xFFFF {
        b""
    } else {
        r.string_body(n, f)?
    };
    let value = r.string_or_empty(f)?;
    Ok((name, value))
}

/// Response headers (codes 0xA001–0xA00B).
#[derive(Clone, Copy, Debug)]
pub struct ResponseKind;

impl HeaderKind for ResponseKind {
    const RESPONSE: bool = true;
}

/// Iterator over a validated Send Headers' headers.
pub type ResponseHeaders<'a> = Headers<'a, ResponseKind>;

/// Append a Send Headers packet. Known header names (case-insensitive) go out coded.
pub fn encode_send_headers<'h>(
    status: u16,
    reason: &[u8],
    headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
    size: PacketSize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    wire::packet(out, FROM_CONTAINER, size, |w| {
        w.u8(kind::SEND_HEADERS, Field::new("send_headers.type"))?;
        w.u16(status, Field::new("send_headers.status"))?;
        w.string(Some(reason), Field::new("send_headers.reason"))?;
        let count_at = w.pos();
        w.u16(0, Field::new("send_headers.num_headers"))?;
        let mut count: u16 = 0;
        for (name, value) in headers {
            let f = Field::nth("send_headers.header", count);
            match codes::response_header_code(name) {
                Some(code) => w.u16(code, f)?,
                None if name.len() >= codes::HEADER_CODE_BASE as usize => {
                    let len = name.len();
                    return Err(w.fail(Error::StringTooLong { field: f, len }));
                }
                None => w.string(Some(name), f)?,
            }
            w.string(Some(value), f)?;
            count = match count.checked_add(1) {
                Some(n) => n,
                None => {
                    return Err(w.fail(Error::StringTooLong {
                        field: f,
                        len: 0x10000,
                    }))
                }
            };
        }
        w.patch_u16(count_at, count);
        Ok(())
    })
}

/// Append one Send Body Chunk (at most `size.max_send_chunk()` bytes; empty = flush).
pub fn encode_body_chunk(data: &[u8], size: PacketSize, out: &mut Vec<u8>) -> Result<(), Error> {
    if data.len() > size.max_send_chunk() {
        return Err(Error::DoesNotFit {
            field: Field::new("send_body_chunk.data"),
            needed: data.len() + 8,
            max: size.get(),
        });
    }
    wire::packet(out, FROM_CONTAINER, size, |w| {
        let f = Field::new("send_body_chunk");
        w.u8(kind::SEND_BODY_CHUNK, f)?;
        w.u16(data.len() as u16, f)?;
        w.raw(data, f)?;
        w.u8(0, f)
    })
}

/// Append End Response. `reuse = false` tells the web server to close the connection.
pub fn encode_end_response(reuse: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x41, 0x42, 0x00, 0x02, kind::END_RESPONSE, reuse as u8]);
}

/// Append Get Body Chunk asking for up to `len` bytes.
pub fn encode_get_body_chunk(len: u16, out: &mut Vec<u8>) {
    let [hi, lo] = len.to_be_bytes();
    out.extend_from_slice(&[0x41, 0x42, 0x00, 0x03, kind::GET_BODY_CHUNK, hi, lo]);
}

/// Any message the container sends, decoded from one packet payload.
#[derive(Clone, Copy, Debug)]
pub enum ContainerMessage<'a> {
    SendHeaders(SendHeaders<'a>),
    /// Body data; empty means "flush what you have to the client".
    BodyChunk(&'a [u8]),
    EndResponse {
        reuse: bool,
    },
    GetBodyChunk {
        len: u16,
    },
    CPong,
}

impl<'a> ContainerMessage<'a> {
    #[inline]
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        let t = match r.u8(Field::new("message.type")) {
            Ok(t) => t,
            Err(_) => return Err(Error::EmptyPacket),
        };
        Ok(match t {
            kind::SEND_HEADERS => ContainerMessage::SendHeaders(SendHeaders::decode(payload)?),
            kind::SEND_BODY_CHUNK => {
                let n = r.u16(Field::new("send_body_chunk.length"))?;
                // The data must lie inside this packet: a length past it is refused, never read
                // (the memory-disclosure guard). The trailing NUL is optional on read.
                let data = r.bytes(n as usize, Field::new("send_body_chunk.data"))?;
                ContainerMessage::BodyChunk(data)
            }
            kind::END_RESPONSE => ContainerMessage::EndResponse {
                reuse: r.bool(Field::new("end_response.reuse"))?,
            },
            kind::GET_BODY_CHUNK => ContainerMessage::GetBodyChunk {
                len: r.u16(Field::new("get_body_chunk.length"))?,
            },
            kind::CPONG => ContainerMessage::CPong,
            code => return Err(Error::UnknownMessage { code }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header name as sent: coded, or a string.
    type Name<'a> = Result<u16, &'a [u8]>;

    /// Send Headers with these headers.
    fn send_headers(headers: &[(Name<'_>, &[u8])]) -> Vec<u8> {
        let mut p = vec![kind::SEND_HEADERS, 0, 200, 0, 2, b'O', b'K', 0];
        p.extend_from_slice(&(headers.len() as u16).to_be_bytes());
        for (name, value) in headers {
            match name {
                Ok(code) => p.extend_from_slice(&code.to_be_bytes()),
                Err(n) => {
                    p.extend_from_slice(&(n.len() as u16).to_be_bytes());
                    p.extend_from_slice(n);
                    p.push(0);
                }
            }
            p.extend_from_slice(&(value.len() as u16).to_be_bytes());
            p.extend_from_slice(value);
            p.push(0);
        }
        p
    }

    /// The fast header reader reads what the checked one reads, from the same bytes, or
    /// leaves the header to it.
    fn fast_agrees(b: &[u8]) {
        let mut checked = Reader::new(b);
        let want = read_response_header_checked(&mut checked, 0);
        match header_fast(b) {
            Some((h, used)) => {
                assert_eq!(want, Ok(h), "{b:?}");
                assert_eq!(used, checked.pos(), "{b:?}");
            }
            None => assert!(want.is_err(), "{b:?}"),
        }
        let mut r = Reader::new(b);
        assert_eq!(read_response_header(&mut r, 0), want, "{b:?}");
    }

    #[test]
    fn fast_header_reader_agrees_with_the_checked_one() {
        let full = send_headers(&[(Ok(0xA003), b"12"), (Err(b"X-A"), b"v"), (Ok(0xFFFF), b"")]);
        let headers = &full[10..];
        for start in 0..headers.len() {
            for end in start..=headers.len() {
                fast_agrees(&headers[start..end]);
            }
        }
        for b in [
            &[0xA0, 0x0C, 0, 0, 0][..],
            &[0xA0, 0x00, 0, 0, 0],
            &[0xA0, 0x01, 0xFF, 0xFF],
            &[0, 1, b'a', 1, 0, 0, 0],
            &[0, 1, b'a', 0, 0, 1, b'v', 7],
            &[0, 0, 0, 0, 0, 0],
        ] {
            fast_agrees(b);
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_header_reader_agrees_on_any_bytes(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::u8::ANY,
                    proptest::strategy::Just(0u8),
                    proptest::strategy::Just(0xA0u8),
                    proptest::strategy::Just(0xFFu8),
                    0u8..4,
                ],
                0..12,
            )
        ) {
            fast_agrees(&b);
        }
    }

    /// The fast head reader reads what the checked one reads, or leaves the head to it.
    fn head_agrees(p: &[u8]) {
        let want =
            SendHeaders::head_checked(p).map(|(h, at)| (h.status, h.reason, h.num_headers, at));
        match SendHeaders::head_fast(p) {
            Some((h, used)) => {
                assert_eq!(want, Ok((h.status, h.reason, h.num_headers, used)), "{p:?}")
            }
            None => assert!(want.is_err(), "{p:?}"),
        }
    }

    #[test]
    fn fast_head_reader_agrees_with_the_checked_one() {
        let full = send_headers(&[(Ok(0xA003), b"12")]);
        for end in 0..=full.len() {
            head_agrees(&full[..end]);
        }
        for p in [
            &[kind::SEND_HEADERS, 1, 2, 0xFF, 0xFF, 0, 0][..],
            &[kind::SEND_HEADERS, 1, 2, 0, 1, b'x', 1, 0, 0],
            &[kind::SEND_BODY_CHUNK, 1, 2, 0, 0, 0, 0, 0],
            &[kind::SEND_HEADERS, 1, 2, 0, 0, 0, 0, 0],
        ] {
            head_agrees(p);
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_head_reader_agrees_on_any_bytes(
            tail in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::u8::ANY,
                    proptest::strategy::Just(0u8),
                    proptest::strategy::Just(0xFFu8),
                    0u8..4,
                ],
                0..10,
            )
        ) {
            let mut p = vec![kind::SEND_HEADERS];
            p.extend_from_slice(&tail);
            head_agrees(&p);
            head_agrees(&tail);
        }
    }

    #[test]
    fn decode_notes_the_first_content_length() {
        let coded = send_headers(&[(Ok(0xA001), b"text/plain"), (Ok(0xA003), b"12")]);
        assert_eq!(
            SendHeaders::decode(&coded).unwrap().content_length(),
            Some(&b"12"[..])
        );
        let named = send_headers(&[
            (Err(b"X-Content-Length"), b"1"),
            (Err(b"CONTENT-length"), b" 7 "),
            (Ok(0xA003), b"8"),
        ]);
        let h = SendHeaders::decode(&named).unwrap();
        assert_eq!(h.content_length(), Some(&b" 7 "[..]));
        assert_eq!(h.content_length(), h.header(b"content-length"));
        let none = send_headers(&[(Ok(0xA001), b"text/plain"), (Err(b"Content-Lengths"), b"3")]);
        assert_eq!(SendHeaders::decode(&none).unwrap().content_length(), None);
        // Read again, nothing is noted.
        assert_eq!(
            SendHeaders::decode_again(&coded).unwrap().content_length(),
            None
        );
    }
}
