//! An HTTP/1.1 keep-alive client that reads responses by their framing, as a browser or a
//! caching proxy would, and so tells a complete response from a truncated one: a body shorter
//! than its Content-Length, or a chunked body without its last chunk, before the connection
//! ended. (`http.rs` reads to EOF and cannot tell.)

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How one response ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Framed and whole. `keep_alive`: the server left the connection open for the next one.
    Complete {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        keep_alive: bool,
    },
    /// The connection ended inside the response: the client can tell it is incomplete.
    Truncated {
        status: Option<u16>,
        body_so_far: usize,
        framing: &'static str,
    },
    /// No length and no chunking: ended by close, so a truncation could not be told apart.
    CloseDelimited { status: u16, body: Vec<u8> },
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Complete { status, .. } | Outcome::CloseDelimited { status, .. } => {
                Some(*status)
            }
            Outcome::Truncated { status, .. } => *status,
        }
    }

    pub fn body(&self) -> &[u8] {
        match self {
            Outcome::Complete { body, .. } | Outcome::CloseDelimited { body, .. } => body,
            Outcome::Truncated { .. } => &[],
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.body()).into_owned()
    }

    /// A header of a complete response (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        match self {
            Outcome::Complete { headers, .. } => headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

/// One client connection, used for several requests in a row.
pub struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client { s, buf: Vec::new() })
    }

    pub fn set_read_timeout(&self, d: Duration) -> io::Result<()> {
        self.s.set_read_timeout(Some(d))
    }

    /// Send one request (keep-alive) and read its response by its framing.
    pub fn send(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Outcome> {
        self.send_with(method, path, &[], body)
    }

    /// `send` with extra request headers.
    pub fn send_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Outcome> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        self.s.write_all(head.as_bytes())?;
        self.s.write_all(body)?;
        self.read_response(method == "HEAD")
    }

    pub fn get(&mut self, path: &str) -> io::Result<Outcome> {
        self.send("GET", path, &[])
    }

    /// The raw stream, to write a request by hand (then call `read_response`).
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.s
    }

    pub fn read_response(&mut self, head_only: bool) -> io::Result<Outcome> {
        let Some(end) = self.fill_until(|b| find(b, b"\r\n\r\n").map(|p| p + 4))? else {
            return Ok(Outcome::Truncated {
                status: None,
                body_so_far: 0,
                framing: "head",
            });
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let head = String::from_utf8_lossy(&head);
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let h = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let keep_alive = h("connection").is_none_or(|v| !v.contains("close"));
        let no_body = head_only || status == 204 || status == 304 || status < 200;
        let body = if no_body {
            Vec::new()
        } else if h("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            match self.chunked()? {
                Ok(b) => b,
                Err(n) => {
                    return Ok(Outcome::Truncated {
                        status: Some(status),
                        body_so_far: n,
                        framing: "chunked",
                    })
                }
            }
        } else if let Some(len) = h("content-length").and_then(|v| v.parse::<usize>().ok()) {
            match self.fill_until(|b| (b.len() >= len).then_some(len))? {
                Some(n) => self.buf.drain(..n).collect(),
                None => {
                    return Ok(Outcome::Truncated {
                        status: Some(status),
                        body_so_far: self.buf.len(),
                        framing: "content-length",
                    })
                }
            }
        } else {
            while self.more()? {}
            return Ok(Outcome::CloseDelimited {
                status,
                body: std::mem::take(&mut self.buf),
            });
        };
        Ok(Outcome::Complete {
            status,
            headers,
            body,
            keep_alive,
        })
    }

    /// Is the connection closed by the server (EOF or reset) within `wait`?
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let _ = self.s.set_read_timeout(Some(wait));
        let mut b = [0u8; 1];
        match self.s.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
        }
    }

    /// A chunked body: `Ok(Err(bytes so far))` when the connection ended before the last chunk.
    fn chunked(&mut self) -> io::Result<Result<Vec<u8>, usize>> {
        let mut body = Vec::new();
        loop {
            let Some(eol) = self.fill_until(|b| find(b, b"\r\n"))? else {
                return Ok(Err(body.len()));
            };
            let line: Vec<u8> = self.buf.drain(..eol + 2).collect();
            let size_text = String::from_utf8_lossy(&line[..eol]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers end with an empty line.
                return Ok(match self.fill_until(|b| find(b, b"\r\n"))? {
                    Some(0) => {
                        self.buf.drain(..2);
                        Ok(body)
                    }
                    Some(_) => {
                        let t = self.fill_until(|b| find(b, b"\r\n\r\n"))?;
                        match t {
                            Some(p) => {
                                self.buf.drain(..p + 4);
                                Ok(body)
                            }
                            None => Err(body.len()),
                        }
                    }
                    None => Err(body.len()),
                });
            }
            let Some(_) = self.fill_until(|b| (b.len() >= size + 2).then_some(()))? else {
                return Ok(Err(body.len() + self.buf.len().min(size)));
            };
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }

    /// Read until `done` finds what it wants in the buffer; `None` if the connection ended first.
    fn fill_until<T>(&mut self, done: impl Fn(&[u8]) -> Option<T>) -> io::Result<Option<T>> {
        loop {
            if let Some(v) = done(&self.buf) {
                return Ok(Some(v));
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    /// One read into the buffer; false at EOF or reset (both end the response).
    fn more(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 65536];
        match self.s.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
