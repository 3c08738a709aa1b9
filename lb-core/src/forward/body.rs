//! The request body across attempts (mod_jk: its service loop and outcome rules; ajp_send_request): the first packet of a
//! Content-Length body is read once and kept, so it can be sent again to another connection or
//! member (mod_jk's replay buffer). Anything the backend asks for later is streamed from the
//! client and cannot be replayed; the `ajp` exchange then says the request is no longer
//! replayable. The driver reads the client into [`Body::space`]; nothing here does I/O.

use ajp::BodyMode;

use super::server::RequestBody;

#[derive(Debug)]
pub struct Body {
    mode: RequestBody,
    /// How much of a Content-Length body the first packet carries (0: no first packet).
    first_want: usize,
    /// Bytes of the first packet read so far; complete when equal to `first_want`.
    first_len: usize,
    /// Body bytes read from the client so far.
    pub read: u64,
}

impl Body {
    /// `first_max`: the most data a first packet may carry on every member (the smallest
    /// `max_packet_size` − 6 among them).
    pub fn new(mode: RequestBody, first_max: usize) -> Self {
        let first_want = match mode {
            RequestBody::Length(n) => usize::try_from(n).unwrap_or(usize::MAX).min(first_max),
            _ => 0,
        };
        Body {
            mode,
            first_want,
            first_len: 0,
            read: 0,
        }
    }

    pub fn mode(&self) -> BodyMode {
        match self.mode {
            RequestBody::None => BodyMode::None,
            RequestBody::Length(n) => BodyMode::ContentLength(n),
            RequestBody::Chunked => BodyMode::Chunked,
        }
    }

    /// The scratch size a request needs: the first packet, or a streamed part.
    pub fn buffer_len(&self, first_max: usize) -> usize {
        match self.mode {
            RequestBody::None => 0,
            _ => first_max.max(1),
        }
    }

    /// The first packet still has to be read from the client: where to put the next bytes
    /// (a range of the body buffer).
    pub fn first_missing(&self) -> Option<std::ops::Range<usize>> {
        (self.first_len < self.first_want).then_some(self.first_len..self.first_want)
    }

    /// The kept first packet (a range of the body buffer), once complete; `None` when the body
    /// has no unasked first packet.
    pub fn first_packet(&self) -> Option<std::ops::Range<usize>> {
        (self.first_want > 0 && self.first_len == self.first_want).then_some(0..self.first_want)
    }

    /// `n` bytes of the first packet arrived. `false`: the client ended the body early.
    pub fn first_read(&mut self, n: usize) -> bool {
        self.read += n as u64;
        self.first_len += n;
        n > 0
    }

    /// `n` bytes of a streamed part arrived (the buffer's first packet is gone from now on).
    /// `false`: the client ended a Content-Length body before its length.
    pub fn part_read(&mut self, n: usize) -> bool {
        self.first_len = 0;
        self.first_want = 0;
        self.read += n as u64;
        match self.mode {
            RequestBody::Length(total) => n > 0 || self.read >= total,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_packet_then_parts() {
        let mut b = Body::new(RequestBody::Length(10_000), 8186);
        assert_eq!(b.first_missing(), Some(0..8186));
        assert!(b.first_read(5000));
        assert_eq!(b.first_missing(), Some(5000..8186));
        assert!(b.first_read(3186));
        assert_eq!((b.first_missing(), b.first_packet()), (None, Some(0..8186)));
        assert!(b.part_read(1814));
        assert!(b.part_read(0), "the whole length arrived");
        assert_eq!(b.first_packet(), None);

        let mut short = Body::new(RequestBody::Length(100), 8186);
        assert!(short.first_read(60));
        assert!(!short.first_read(0), "less body than announced");
        let mut chunked = Body::new(RequestBody::Chunked, 8186);
        assert_eq!(chunked.first_missing(), None);
        assert!(chunked.part_read(0));
        assert_eq!(Body::new(RequestBody::None, 8186).buffer_len(8186), 0);
    }
}
