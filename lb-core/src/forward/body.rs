//! The request body across attempts (mod_jk.md §3.7, §4.4): the first packet of a
//! Content-Length body is read once and kept, so it can be sent again to another connection or
//! member (mod_jk's replay buffer). Anything the backend asks for later is streamed from the
//! client and cannot be replayed, so from then on the request is not retried.

use ajp::BodyMode;

use super::failure::Failure;
use super::server::{RequestBody, ServerSide};

#[derive(Debug)]
pub struct Body {
    mode: RequestBody,
    /// The first packet's data (Content-Length bodies), then scratch space for streamed reads.
    buf: Vec<u8>,
    first_len: usize,
    first_read: bool,
    /// The backend asked for more body and got it: the request can no longer be retried.
    pub streamed: bool,
    /// Body bytes read from the client so far.
    pub read: u64,
}

impl Body {
    /// `first_max`: the most data a first packet may carry on every member (the smallest
    /// `max_packet_size` − 6 among them).
    pub fn new(mode: RequestBody, first_max: usize) -> Self {
        let cap = match mode {
            RequestBody::None => 0,
            RequestBody::Length(n) => usize::try_from(n).unwrap_or(usize::MAX).min(first_max),
            RequestBody::Chunked => first_max,
        };
        Body {
            mode,
            buf: Vec::with_capacity(cap),
            first_len: 0,
            first_read: false,
            streamed: false,
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

    /// The unasked first packet of a Content-Length body, read from the client the first time.
    pub fn first_packet(&mut self, server: &mut dyn ServerSide) -> Result<Option<&[u8]>, Failure> {
        let RequestBody::Length(n) = self.mode else {
            return Ok(None);
        };
        if n == 0 {
            return Ok(None);
        }
        if !self.first_read {
            let want = self.buf.capacity();
            self.buf.resize(want, 0);
            let got = read_full(server, &mut self.buf)?;
            self.buf.truncate(got);
            self.read += got as u64;
            if got < want {
                return Err(Failure::ClientRead(None));
            }
            self.first_len = got;
            self.first_read = true;
        }
        Ok(Some(&self.buf[..self.first_len]))
    }

    /// Read the next part the backend asked for (at most `max` bytes); empty means the body is
    /// complete. Marks the request as no longer retryable.
    pub fn next_part(&mut self, server: &mut dyn ServerSide, max: usize) -> Result<&[u8], Failure> {
        self.streamed = true;
        self.first_len = 0;
        let max = max.min(self.buf.capacity().max(1)).max(1);
        self.buf.resize(max, 0);
        let got = loop {
            match server.read_body(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::ClientRead(Some(e))),
            }
        };
        self.read += got as u64;
        if let RequestBody::Length(n) = self.mode {
            if got == 0 && self.read < n {
                return Err(Failure::ClientRead(None));
            }
        }
        Ok(&self.buf[..got])
    }
}

/// Fill `buf` from the client, stopping early only at the end of the body.
fn read_full(server: &mut dyn ServerSide, buf: &mut [u8]) -> Result<usize, Failure> {
    let mut got = 0;
    while got < buf.len() {
        match server.read_body(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::ClientRead(Some(e))),
        }
    }
    Ok(got)
}
