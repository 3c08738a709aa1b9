//! AJP's data types: byte, boolean, u16 integer, and the length-prefixed, NUL-terminated string
//! (0xFFFF = null). Reading borrows from the payload; writing appends to the caller's buffer.

use crate::error::{Error, Field};
use crate::packet::{PacketSize, HEADER_LEN};
use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u8};

type NomResult<'a, T> = nom::IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

/// A cursor over one payload. Every read names its field so an error says where it happened.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    len: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(payload: &'a [u8]) -> Self {
        Reader {
            rest: payload,
            len: payload.len(),
        }
    }

    #[inline]
    pub fn pos(&self) -> usize {
        self.len - self.rest.len()
    }

    /// The bytes not read yet.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Pass over `n` bytes of [`rest`](Self::rest) (a caller's own read of them).
    #[inline]
    pub fn skip(&mut self, n: usize) {
        self.rest = &self.rest[n.min(self.rest.len())..];
    }

    #[cfg(test)]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    #[inline]
    fn run<T>(
        &mut self,
        field: Field,
        p: impl FnOnce(&'a [u8]) -> NomResult<'a, T>,
    ) -> Result<T, Error> {
        let at = self.pos();
        match p(self.rest) {
            Ok((rest, v)) => {
                self.rest = rest;
                Ok(v)
            }
            Err(_) => Err(Error::Truncated { field, at }),
        }
    }

    #[inline]
    pub fn u8(&mut self, field: Field) -> Result<u8, Error> {
        self.run(field, be_u8)
    }

    #[inline]
    pub fn u16(&mut self, field: Field) -> Result<u16, Error> {
        self.run(field, be_u16)
    }

    #[inline]
    pub fn bool(&mut self, field: Field) -> Result<bool, Error> {
        Ok(self.u8(field)? != 0)
    }

    #[inline]
    pub fn bytes(&mut self, n: usize, field: Field) -> Result<&'a [u8], Error> {
        self.run(field, take(n))
    }

    /// A string whose u16 length has already been read.
    #[inline]
    pub fn string_body(&mut self, len: u16, field: Field) -> Result<&'a [u8], Error> {
        let s = self.bytes(len as usize, field)?;
        let at = self.pos();
        match self.u8(field) {
            Ok(0) => Ok(s),
            Ok(_) | Err(_) => Err(Error::Unterminated { field, at }),
        }
    }

    /// A string; `None` for the null string (length 0xFFFF, no bytes, no terminator).
    #[inline]
    pub fn string(&mut self, field: Field) -> Result<Option<&'a [u8]>, Error> {
        match self.u16(field)? {
            0xFFFF => Ok(None),
            len => self.string_body(len, field).map(Some),
        }
    }

    /// A string where null is read as empty (what Tomcat does for most fields).
    #[inline]
    pub fn string_or_empty(&mut self, field: Field) -> Result<&'a [u8], Error> {
        Ok(self.string(field)?.unwrap_or(b""))
    }
}

/// A write did not fit (or could not be represented); the writer keeps the detailed error.
/// Being one byte, it keeps every write's `Result` in a register on the hot path.
#[derive(Debug)]
pub(crate) struct Full;

/// Appends one packet to a caller-provided buffer, refusing to grow it past the packet size.
/// `finish` writes the length; dropping without `finish` (an error) removes the partial packet.
///
/// The whole packet's room is reserved up front, so appends never reallocate, and the write
/// position is tracked locally so room checks do not reload the vector's length.
pub(crate) struct Writer<'v> {
    out: &'v mut Vec<u8>,
    start: usize,
    pos: usize,
    limit: usize,
    done: bool,
    error: Option<Error>,
}

impl<'v> Writer<'v> {
    pub fn begin(out: &'v mut Vec<u8>, magic: [u8; 2], size: PacketSize) -> Self {
        let start = out.len();
        let limit = start + HEADER_LEN + size.max_payload();
        out.reserve(limit - start);
        let mut w = Writer {
            out,
            start,
            pos: start,
            limit,
            done: false,
            error: None,
        };
        w.put(&[magic[0], magic[1], 0, 0]);
        w
    }

    /// Continue the packet that starts at `start` in `out` and runs to its end (its header
    /// is rewritten by `finish`). Dropped without `finish`, it truncates to `start`, so callers
    /// that must keep the old packet use [`restore`](Self::restore).
    pub fn reopen(out: &'v mut Vec<u8>, start: usize, size: PacketSize) -> Self {
        let limit = start + HEADER_LEN + size.max_payload();
        let pos = out.len();
        out.reserve(limit.saturating_sub(pos));
        Writer {
            out,
            start,
            pos,
            limit,
            done: false,
            error: None,
        }
    }

    /// Give up: cut what was appended and put the terminator back, leaving the packet as it
    /// was before [`reopen`](Self::reopen) (`end` is its old length).
    pub fn restore(mut self, end: usize) {
        self.out.truncate(end - 1);
        self.out.push(crate::codes::attr::ARE_DONE);
        self.done = true;
    }

    /// Append `v`. Callers have checked `pos + v.len() <= limit`; the room was reserved in
    /// `begin`, so this never reallocates.
    #[inline(always)]
    fn put(&mut self, v: &[u8]) {
        self.out.extend_from_slice(v);
        self.pos += v.len();
    }

    #[cold]
    pub fn fail(&mut self, e: Error) -> Full {
        self.error.get_or_insert(e);
        Full
    }

    /// The error behind a `Full`.
    pub fn error(&mut self) -> Error {
        self.error.take().unwrap_or(Error::Unexpected {
            what: "an encoding failure",
            state: "writing a packet",
        })
    }

    #[inline(always)]
    fn room(&mut self, n: usize, field: Field) -> Result<(), Full> {
        if self.pos + n > self.limit {
            let needed = self.pos + n - self.start;
            let max = self.limit - self.start;
            return Err(self.fail(Error::DoesNotFit { field, needed, max }));
        }
        Ok(())
    }

    #[inline(always)]
    pub fn pos(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    pub fn u8(&mut self, v: u8, field: Field) -> Result<(), Full> {
        self.room(1, field)?;
        self.put(&[v]);
        Ok(())
    }

    #[inline(always)]
    pub fn u16(&mut self, v: u16, field: Field) -> Result<(), Full> {
        self.room(2, field)?;
        self.put(&v.to_be_bytes());
        Ok(())
    }

    #[inline(always)]
    pub fn bool(&mut self, v: bool, field: Field) -> Result<(), Full> {
        self.u8(v as u8, field)
    }

    #[inline(always)]
    pub fn raw(&mut self, v: &[u8], field: Field) -> Result<(), Full> {
        self.room(v.len(), field)?;
        self.put(v);
        Ok(())
    }

    /// A string, or the null string for `None`. Lengths of 0xFFFF and above cannot be written.
    #[inline(always)]
    pub fn string(&mut self, v: Option<&[u8]>, field: Field) -> Result<(), Full> {
        let Some(v) = v else {
            return self.u16(0xFFFF, field);
        };
        if v.len() >= 0xFFFF {
            return Err(self.fail(Error::StringTooLong {
                field,
                len: v.len(),
            }));
        }
        self.room(v.len() + 3, field)?;
        self.put(&(v.len() as u16).to_be_bytes());
        self.put(v);
        self.put(&[0]);
        Ok(())
    }

    /// Byte `code`, then the string `a`, then the string `b` if any (an attribute: code and
    /// value, or code, name and value), in as few appends as the bytes allow, when all of it
    /// fits; otherwise `false` and nothing written, for the caller's field-by-field write to
    /// name the fault. Runs for every attribute of every request.
    #[inline(always)]
    pub fn code_and_strings(&mut self, code: u8, a: &[u8], b: Option<&[u8]>) -> bool {
        let b_len = b.map_or(0, |b| b.len() + 3);
        if a.len() >= 0xFFFF
            || b.is_some_and(|b| b.len() >= 0xFFFF)
            || self.pos + 1 + a.len() + 3 + b_len > self.limit
        {
            return false;
        }
        let [hi, lo] = (a.len() as u16).to_be_bytes();
        self.put(&[code, hi, lo]);
        self.put(a);
        if let Some(b) = b {
            let [hi, lo] = (b.len() as u16).to_be_bytes();
            self.put(&[0, hi, lo]);
            self.put(b);
        }
        self.put(&[0]);
        true
    }

    /// The u16 `code`, then the string `v` (a coded header and its value), as
    /// [`code_and_strings`](Self::code_and_strings) does.
    #[inline(always)]
    pub fn u16_and_string(&mut self, code: u16, v: &[u8]) -> bool {
        if v.len() >= 0xFFFF || self.pos + 2 + v.len() + 3 > self.limit {
            return false;
        }
        let [c0, c1] = code.to_be_bytes();
        let [hi, lo] = (v.len() as u16).to_be_bytes();
        self.put(&[c0, c1, hi, lo]);
        self.put(v);
        self.put(&[0]);
        true
    }

    /// The strings `a` and `b` (a header's name and value), as
    /// [`code_and_strings`](Self::code_and_strings) does.
    #[inline(always)]
    pub fn two_strings(&mut self, a: &[u8], b: &[u8]) -> bool {
        if a.len() >= 0xFFFF || b.len() >= 0xFFFF || self.pos + a.len() + b.len() + 6 > self.limit {
            return false;
        }
        let [hi, lo] = (a.len() as u16).to_be_bytes();
        self.put(&[hi, lo]);
        self.put(a);
        let [hi, lo] = (b.len() as u16).to_be_bytes();
        self.put(&[0, hi, lo]);
        self.put(b);
        self.put(&[0]);
        true
    }

    /// Overwrite a u16 written earlier at absolute position `at` (counts known only later).
    pub fn patch_u16(&mut self, at: usize, v: u16) {
        if let Some(slot) = self.out.get_mut(at..at + 2) {
            slot.copy_from_slice(&v.to_be_bytes());
        }
    }

    pub fn finish(mut self) {
        let len = (self.pos - self.start - HEADER_LEN) as u16;
        self.patch_u16(self.start + 2, len);
        self.done = true;
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.out.truncate(self.start);
        }
    }
}

/// Encode one packet with `body`; on error nothing is left in `out`.
pub(crate) fn packet(
    out: &mut Vec<u8>,
    magic: [u8; 2],
    size: PacketSize,
    body: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>,
) -> Result<(), Error> {
    let mut w = Writer::begin(out, magic, size);
    match body(&mut w) {
        Ok(()) => {
            w.finish();
            Ok(())
        }
        Err(Full) => Err(w.error()),
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    const F: Field = Field::new("t");

    #[test]
    fn strings() {
        let mut r = Reader::new(&[0, 2, b'h', b'i', 0, 0xFF, 0xFF, 0, 0, 0]);
        assert_eq!(r.string(F), Ok(Some(&b"hi"[..])));
        assert_eq!(r.string(F), Ok(None));
        assert_eq!(r.string(F), Ok(Some(&b""[..])));
        assert!(r.is_empty());
        assert_eq!(
            Reader::new(&[0, 2, b'h', b'i', 1]).string(F),
            Err(Error::Unterminated { field: F, at: 4 })
        );
        assert_eq!(
            Reader::new(&[0, 2, b'h']).string(F),
            Err(Error::Truncated { field: F, at: 2 })
        );
        assert_eq!(
            Reader::new(&[0]).string(F),
            Err(Error::Truncated { field: F, at: 0 })
        );
    }

    #[test]
    fn writer_truncates_on_error() {
        let mut out = b"keep".to_vec();
        let big = vec![b'x'; 9000];
        let r = packet(&mut out, [0x12, 0x34], PacketSize::default(), |w| {
            w.u8(1, F)?;
            w.string(Some(&big), F)
        });
        assert!(matches!(r, Err(Error::DoesNotFit { .. })));
        assert_eq!(out, b"keep");
        packet(&mut out, [0x12, 0x34], PacketSize::default(), |w| {
            w.string(None, F)
        })
        .unwrap();
        assert_eq!(out, b"keep\x12\x34\x00\x02\xff\xff");
    }
}
