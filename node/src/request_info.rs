//! What AJP tells the container about a request beyond HTTP itself: the client's address and
//! port, TLS data, the web server's authentication, the route it chose and any request
//! attributes. Applications find it as a request extension: `req.extensions().get::<AjpInfo>()`.

use std::net::SocketAddr;

use ajp::{Attribute, ForwardRequestRef};

/// The AJP extras of one request. Over `--http` the same type is filled from the socket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AjpInfo {
    /// The client's address as the web server saw it.
    pub remote_addr: String,
    /// The client's port (mod_jk's `AJP_REMOTE_PORT` request attribute), when sent.
    pub remote_port: Option<u16>,
    pub remote_host: Option<String>,
    pub server_name: String,
    pub server_port: u16,
    /// The client connection was TLS.
    pub is_ssl: bool,
    pub tls: Option<TlsInfo>,
    pub remote_user: Option<String>,
    pub auth_type: Option<String>,
    /// The balancer member (jvmRoute) the web server chose, when sent.
    pub route: Option<String>,
    pub context: Option<String>,
    pub servlet_path: Option<String>,
    /// Request attributes (`req_attribute`), in order; the secret is never kept.
    pub attributes: Vec<(String, String)>,
    /// The web server's end of the AJP connection (or the HTTP client).
    pub peer: Option<SocketAddr>,
    /// The request came over AJP (not `--http`).
    pub via_ajp: bool,
}

/// TLS data forwarded by the web server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    pub cipher: Option<String>,
    pub cert: Option<String>,
    pub session: Option<String>,
    pub key_size: Option<u16>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl AjpInfo {
    /// Gather everything from a checked Forward Request.
    pub fn from_request(req: &ForwardRequestRef<'_>, peer: SocketAddr) -> AjpInfo {
        let mut info = AjpInfo {
            remote_addr: text(req.remote_addr()),
            remote_host: req.remote_host().map(text),
            server_name: text(req.server_name()),
            server_port: req.server_port(),
            is_ssl: req.is_ssl(),
            peer: Some(peer),
            via_ajp: true,
            ..AjpInfo::default()
        };
        let mut tls = TlsInfo::default();
        let mut has_tls = false;
        for a in req.attributes() {
            match a {
                Attribute::Context(v) => info.context = Some(text(v)),
                Attribute::ServletPath(v) => info.servlet_path = Some(text(v)),
                Attribute::RemoteUser(v) => info.remote_user = Some(text(v)),
                Attribute::AuthType(v) => info.auth_type = Some(text(v)),
                Attribute::Route(v) => info.route = Some(text(v)),
                Attribute::SslCert(v) => (tls.cert, has_tls) = (Some(text(v)), true),
                Attribute::SslCipher(v) => (tls.cipher, has_tls) = (Some(text(v)), true),
                Attribute::SslSession(v) => (tls.session, has_tls) = (Some(text(v)), true),
                Attribute::SslKeySize(n) => (tls.key_size, has_tls) = (Some(n), true),
                Attribute::ReqAttribute { name, value } => {
                    if name == b"AJP_REMOTE_PORT" {
                        info.remote_port =
                            std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
                    }
                    info.attributes.push((text(name), text(value)));
                }
                // Query string goes into the URI; the secret is checked and forgotten.
                Attribute::QueryString(_) | Attribute::Secret(_) | Attribute::StoredMethod(_) => {}
            }
        }
        if has_tls {
            info.tls = Some(tls);
        }
        info
    }
}
