//! The web server's side of one request, as the adapters present it: the request head (plain
//! borrowed data the machine copies what it needs from).

use std::io;
use std::time::Duration;

use crate::mount::Extensions;

/// How the request body arrives from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// No body (no Content-Length and not chunked, or Content-Length: 0).
    None,
    /// Exactly this many bytes (Content-Length).
    Length(u64),
    /// Chunked from the client: length unknown, streamed only when the backend asks.
    Chunked,
}

/// TLS details of the client connection (httpd's mod_ssl variables).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tls<'a> {
    /// PEM client certificate (`SSL_CLIENT_CERT`, plus the chain with ForwardSSLCertChain).
    pub cert: Option<&'a [u8]>,
    pub cipher: Option<&'a [u8]>,
    pub session: Option<&'a [u8]>,
    /// Sent only with `JkOptions +ForwardKeySize` (the default); the adapter leaves it `None`
    /// otherwise.
    pub key_size: Option<u16>,
    /// `SSL_PROTOCOL`, sent as the `AJP_SSL_PROTOCOL` attribute.
    pub protocol: Option<&'a [u8]>,
}

/// Per-request switches from `JkOptions` and the request's environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardOptions {
    /// `FlushPackets`: flush the client after every body chunk.
    pub flush_packets: bool,
    /// `FlushHeader`: flush the client after the response head.
    pub flush_header: bool,
    /// `JK_REPLY_TIMEOUT` or the mount's `reply_timeout=`: overrides the worker's reply timeout
    /// (`Some(ZERO)` turns it off).
    pub reply_timeout: Option<Duration>,
    /// `JK_STICKY_IGNORE` / `sticky_ignore=`: balance as if there were no session.
    pub sticky_ignore: bool,
    /// `JK_STATELESS` / `stateless=`: the request does not count as a new session.
    pub stateless: bool,
}

/// One request as the backend should see it. The adapter fills it from its own structures;
/// `uri` is already in the worker's ForwardURI form (see `crate::uri`).
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    pub method: &'a [u8],
    pub uri: &'a [u8],
    /// Without the `?`.
    pub query_string: Option<&'a [u8]>,
    pub protocol: &'a [u8],
    pub headers: &'a [(&'a [u8], &'a [u8])],
    pub body: RequestBody,
    pub remote_addr: &'a [u8],
    pub remote_port: u16,
    pub remote_host: Option<&'a [u8]>,
    /// The server's address of the client connection (`AJP_LOCAL_ADDR`).
    pub local_addr: &'a [u8],
    pub server_name: &'a [u8],
    pub server_port: u16,
    pub remote_user: Option<&'a [u8]>,
    pub auth_type: Option<&'a [u8]>,
    /// `Some` on an HTTPS connection.
    pub tls: Option<Tls<'a>>,
    /// `JkEnvVar` values, sent as request attributes (unset ones are left out by the adapter).
    pub env: &'a [(&'a [u8], &'a [u8])],
    /// The request's session id (`crate::route::session_id`), for the balancer.
    pub session_id: Option<&'a str>,
    pub options: ForwardOptions,
    /// The mount's extensions that steer the engine (`active=`/`disabled=`/`stopped=`,
    /// `fail_on_status=`, `use_server_errors=`); `None` when the rule sets none of them.
    pub rule: Option<&'a Extensions>,
}

impl<'a> RequestHead<'a> {
    /// A minimal request for tests and benchmarks: no headers, no body, loopback addresses.
    pub fn get(uri: &'a [u8]) -> Self {
        RequestHead {
            method: b"GET",
            uri,
            query_string: None,
            protocol: b"HTTP/1.1",
            headers: &[],
            body: RequestBody::None,
            remote_addr: b"127.0.0.1",
            remote_port: 0,
            remote_host: None,
            local_addr: b"127.0.0.1",
            server_name: b"localhost",
            server_port: 80,
            remote_user: None,
            auth_type: None,
            tls: None,
            env: &[],
            session_id: None,
            options: ForwardOptions::default(),
            rule: None,
        }
    }
}

/// What the adapter does for the engine: read the client's body, write the response.
/// Errors from the write side mean the client is gone.
pub trait ServerSide {
    /// Read request body into `buf`; `Ok(0)` means the body is complete.
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Send the response status line and headers (as the backend sent them; the adapter applies
    /// its own rules, e.g. Content-Type via `ap_set_content_type`).
    fn write_head(&mut self, head: &ajp::SendHeaders<'_>) -> io::Result<()>;

    fn write_body(&mut self, data: &[u8]) -> io::Result<()>;

    fn flush(&mut self) -> io::Result<()>;

    /// The client connection is known to be closed (httpd's `connection->aborted`).
    fn client_gone(&self) -> bool;

    /// A backend header that survives onto the web server's own error page
    /// (`use_server_errors`: the `WWW-Authenticate` of a 401). Servers without error pages
    /// ignore it.
    fn keep_for_error_page(&mut self, _name: &[u8], _value: &[u8]) {}
}
