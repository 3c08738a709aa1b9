//! A scripted web-server side: a request body to hand out, and a record of what was written.

use std::io;

use lb_core::forward::blocking::ServerSide;

#[derive(Debug, Default)]
pub struct Client {
    /// The request body the client sends.
    pub body: Vec<u8>,
    /// Hand out at most this many body bytes per read (0: all at once).
    pub read_chunk: usize,
    read_pos: usize,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub out: Vec<u8>,
    pub flushes: usize,
    pub heads_written: usize,
    /// The client goes away once this many body bytes were written.
    pub gone_after: Option<usize>,
    /// Headers kept for the web server's own error page.
    pub kept: Vec<(String, String)>,
}

impl Client {
    pub fn new() -> Self {
        Client::default()
    }

    pub fn with_body(body: &[u8]) -> Self {
        Client {
            body: body.to_vec(),
            ..Client::default()
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl ServerSide for Client {
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = &self.body[self.read_pos..];
        let mut n = left.len().min(buf.len());
        if self.read_chunk > 0 {
            n = n.min(self.read_chunk);
        }
        buf[..n].copy_from_slice(&left[..n]);
        self.read_pos += n;
        Ok(n)
    }

    fn write_head(&mut self, head: &ajp::SendHeaders<'_>) -> io::Result<()> {
        self.heads_written += 1;
        self.status = Some(head.status());
        self.headers = head
            .headers()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        Ok(())
    }

    fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        if self.client_gone() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "client gone"));
        }
        self.out.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }

    fn client_gone(&self) -> bool {
        self.gone_after.is_some_and(|n| self.out.len() >= n)
    }

    fn keep_for_error_page(&mut self, name: &[u8], value: &[u8]) {
        self.kept.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
}
