//! `/download`'s body: a deterministic byte pattern produced chunk by chunk, optionally with a
//! flush (an empty data frame, which the node turns into an empty AJP body chunk) after each,
//! and optionally a pause before each chunk but the first (a producer that holds data back).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::body::BoxError;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Byte `i` of every download: printable, so a test can compare with its own copy.
pub fn pattern_byte(i: u64) -> u8 {
    ALPHABET[(i % 64) as usize]
}

pub(crate) struct Pattern {
    pos: u64,
    len: u64,
    chunk: usize,
    flush: bool,
    flush_due: bool,
    pause: Duration,
    sleeping: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Pattern {
    pub fn new(len: u64, chunk: usize, flush: bool) -> Pattern {
        Pattern {
            pos: 0,
            len,
            chunk: chunk.max(1),
            flush,
            flush_due: false,
            pause: Duration::ZERO,
            sleeping: None,
        }
    }

    /// Wait `pause` before producing each chunk after the first.
    pub fn with_pause(mut self, pause: Duration) -> Pattern {
        self.pause = pause;
        self
    }
}

impl http_body::Body for Pattern {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.flush_due {
            self.flush_due = false;
            return Poll::Ready(Some(Ok(Frame::data(Bytes::new()))));
        }
        if self.pos >= self.len {
            return Poll::Ready(None);
        }
        if self.pos > 0 && !self.pause.is_zero() {
            let pause = self.pause;
            let sleep = self
                .sleeping
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleeping = None;
        }
        let n = (self.len - self.pos).min(self.chunk as u64);
        let data: Vec<u8> = (self.pos..self.pos + n).map(pattern_byte).collect();
        self.pos += n;
        self.flush_due = self.flush;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(data)))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len - self.pos)
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.len && !self.flush_due
    }
}
