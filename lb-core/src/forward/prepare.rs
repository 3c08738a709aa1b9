//! From what a web server knows about a request to the [`RequestHead`] the engine forwards:
//! the ForwardURI form, the body mode (Content-Length, chunked, `JK_IGNORE_CL`), mod_jk's
//! `Content-Length: 0` for bodiless requests, the client and server addresses with their
//! indicator overrides and `ForwardLocal/PhysicalAddress`, mod_ssl's data, `JkEnvVar`
//! attributes, the sticky session, and the per-request switches (`JK_REPLY_TIMEOUT`,
//! `JK_STATELESS`, the mount's extensions). httpd and nginx only implement [`RequestFacts`].

use std::borrow::Cow;
use std::time::Duration;

use super::server::{ForwardOptions, RequestBody, RequestHead, Tls};
use crate::config::LbWorker;
use crate::directive::options::Flag;
use crate::directive::server::ServerSettings;
use crate::mount::Extensions;
use crate::{route, uri};

/// The web server's raw view of one request (what httpd's `request_rec` or nginx's request
/// holds), before any of mod_jk's rules. Everything it hands out lives as long as the request
/// (`'r`), so the prepared request borrows it instead of copying.
pub trait RequestFacts<'r> {
    fn method(&self) -> &'r [u8];
    /// The decoded path before the mapper normalised it (what ForwardURI* starts from).
    fn original_uri(&self) -> &'r [u8];
    /// The request line's raw target.
    fn unparsed_uri(&self) -> &'r [u8];
    fn protocol(&self) -> &'r [u8];
    fn query(&self) -> Option<&'r [u8]>;
    /// Every request header, in order.
    fn for_each_header(&self, f: &mut dyn FnMut(&'r [u8], &'r [u8]));
    /// A request environment variable (SetEnv, mod_ssl, mod_rewrite...).
    fn env(&self, name: &str) -> Option<&'r [u8]>;
    /// The request has no environment variable at all: `prepare` then skips its dozen
    /// lookups of indicator names. `false` (the default) means: look them up.
    fn no_env(&self) -> bool {
        false
    }
    /// The client as the server sees it (after mod_remoteip and the like).
    fn client(&self) -> (&'r [u8], u16);
    /// The TCP peer.
    fn physical_client(&self) -> (&'r [u8], u16);
    /// The server's address of this connection.
    fn local(&self) -> (&'r [u8], u16);
    /// The virtual host's name and port.
    fn server(&self) -> (&'r [u8], u16);
    fn remote_user(&self) -> Option<&'r [u8]>;
    fn auth_type(&self) -> Option<&'r [u8]>;
}

/// mod_jk's reading of JK_STICKY_IGNORE / JK_STATELESS: set and empty or non-zero means on.
fn env_flag(v: Option<&[u8]>) -> bool {
    v.is_some_and(|v| v.is_empty() || v != b"0")
}

fn number<T: std::str::FromStr>(v: Option<&[u8]>) -> Option<T> {
    std::str::from_utf8(v?).ok()?.trim().parse().ok()
}

/// A request ready to forward, borrowing what the web server and the configuration hold (only
/// the forwarded URI may be a new string); [`Prepared::with_head`] lends the engine a view.
#[derive(Clone, Debug)]
pub struct Prepared<'r> {
    pub method: &'r [u8],
    /// The forwarded URI (ForwardURI* form).
    pub uri: Cow<'r, [u8]>,
    query: Option<&'r [u8]>,
    protocol: &'r [u8],
    headers: Headers<'r>,
    body: RequestBody,
    remote_addr: &'r [u8],
    remote_port: u16,
    local_addr: &'r [u8],
    server_name: &'r [u8],
    server_port: u16,
    remote_user: Option<&'r [u8]>,
    auth_type: Option<&'r [u8]>,
    tls: Option<Tls<'r>>,
    env: Vec<(&'r [u8], &'r [u8])>,
    /// The sticky session id, for an lb request that has one.
    pub session: Option<SessionId>,
    options: ForwardOptions,
    rule: Option<&'r Extensions>,
}

/// A request's headers: on the stack up to `INLINE` (a browser sends a dozen), on the heap
/// beyond, so preparing the usual request allocates nothing.
#[derive(Clone, Debug)]
struct Headers<'r> {
    inline: [(&'r [u8], &'r [u8]); INLINE],
    len: usize,
    /// Every header once more than `INLINE` came (then `inline` is unused).
    spilled: Option<Vec<(&'r [u8], &'r [u8])>>,
}

const INLINE: usize = 32;

impl Default for Headers<'_> {
    fn default() -> Self {
        Headers {
            inline: [(&[][..], &[][..]); INLINE],
            len: 0,
            spilled: None,
        }
    }
}

impl<'r> Headers<'r> {
    fn push(&mut self, h: (&'r [u8], &'r [u8])) {
        match &mut self.spilled {
            Some(all) => all.push(h),
            None if self.len < INLINE => {
                self.inline[self.len] = h;
                self.len += 1;
            }
            None => {
                let mut all = Vec::with_capacity(2 * INLINE);
                all.extend_from_slice(&self.inline);
                all.push(h);
                self.spilled = Some(all);
            }
        }
    }

    /// Keep the headers whose name passes `keep`.
    fn retain(&mut self, keep: impl Fn(&[u8]) -> bool) {
        if let Some(all) = &mut self.spilled {
            all.retain(|(n, _)| keep(n));
            return;
        }
        let mut kept = 0;
        for i in 0..self.len {
            if keep(self.inline[i].0) {
                self.inline[kept] = self.inline[i];
                kept += 1;
            }
        }
        self.len = kept;
    }

    fn as_slice(&self) -> &[(&'r [u8], &'r [u8])] {
        match &self.spilled {
            Some(all) => all,
            None => &self.inline[..self.len],
        }
    }
}

/// Build the request for worker `lb` (its session settings; `None` for an ajp13 worker),
/// mapped by a rule with `ext`, under server settings `s`.
pub fn prepare<'r>(
    req: &dyn RequestFacts<'r>,
    s: &'r ServerSettings,
    lb: Option<&LbWorker>,
    ext: &'r Extensions,
) -> Prepared<'r> {
    let mut p = blank(req, s, ext);
    fill(&mut p, req, s, lb, ext);
    p
}

/// As [`prepare`], the request lent to `f` instead of returned: a caller that cannot have it
/// built in its own frame does not copy its 1 KiB of inline headers out.
pub fn prepare_with<'r, R>(
    req: &dyn RequestFacts<'r>,
    s: &'r ServerSettings,
    lb: Option<&LbWorker>,
    ext: &'r Extensions,
    f: impl FnOnce(&Prepared<'r>) -> R,
) -> R {
    let mut p = blank(req, s, ext);
    fill(&mut p, req, s, lb, ext);
    f(&p)
}

/// The request line and nothing else yet (built where it stays: the inline headers are
/// neither zeroed twice nor moved).
#[inline(always)]
fn blank<'r>(
    req: &dyn RequestFacts<'r>,
    s: &'r ServerSettings,
    ext: &'r Extensions,
) -> Prepared<'r> {
    // Bytes in, bytes out: a path that is not UTF-8 is forwarded %-encoded, as mod_jk does.
    let uri = uri::forward_uri_bytes(
        req.original_uri(),
        req.unparsed_uri(),
        s.options.forward_uri,
    );
    Prepared {
        method: req.method(),
        uri,
        query: req.query(),
        protocol: req.protocol(),
        headers: Headers::default(),
        body: RequestBody::None,
        remote_addr: b"",
        remote_port: 0,
        local_addr: b"",
        server_name: b"",
        server_port: 0,
        remote_user: None,
        auth_type: None,
        tls: None,
        env: Vec::new(),
        session: None,
        options: ForwardOptions::default(),
        rule: ext.steers_engine().then_some(ext),
    }
}

/// Everything else mod_jk's rules put in the request.
#[inline(always)]
fn fill<'r>(
    p: &mut Prepared<'r>,
    req: &dyn RequestFacts<'r>,
    s: &'r ServerSettings,
    lb: Option<&LbWorker>,
    ext: &'r Extensions,
) {
    let ind = &s.indicators;
    let no_env = req.no_env();
    let env = |name: &str| if no_env { None } else { req.env(name) };
    let headers = &mut p.headers;
    let (mut chunked, mut length) = (false, None::<u64>);
    req.for_each_header(&mut |n, v| {
        if n.eq_ignore_ascii_case(b"transfer-encoding") && v.eq_ignore_ascii_case(b"chunked") {
            chunked = true;
        } else if n.eq_ignore_ascii_case(b"content-length") {
            length = number(Some(v));
        }
        headers.push((n, v));
    });
    let ignore_cl = env(&ind.ignore_cl).is_some();
    let body = match (chunked, length) {
        (true, _) => RequestBody::Chunked,
        (false, Some(n)) if n > 0 && ignore_cl => RequestBody::Chunked,
        (false, Some(n)) if n > 0 => RequestBody::Length(n),
        _ => RequestBody::None,
    };
    if chunked || (ignore_cl && body == RequestBody::Chunked) {
        // The length is unknown to the backend: a Content-Length would contradict the stream.
        headers.retain(|n| !n.eq_ignore_ascii_case(b"content-length"));
    }
    if body == RequestBody::None && length.is_none() {
        // In AJP an absent Content-Length means "unknown, non-zero": say 0, as mod_jk does.
        headers.push((b"Content-Length", b"0"));
    }
    p.body = body;

    let (addr, port) = if s.options.has(Flag::FORWARD_PHYSICAL_ADDRESS) {
        req.physical_client()
    } else if s.options.has(Flag::FORWARD_LOCAL_ADDRESS) {
        (req.local().0, 0)
    } else {
        req.client()
    };
    let (server_name, server_port) = req.server();
    let https = env(&ind.https).is_some_and(|v| v.eq_ignore_ascii_case(b"on"));
    p.tls = https.then(|| Tls {
        cert: env(&ind.certs),
        cipher: env(&ind.cipher),
        session: env(&ind.session),
        key_size: s
            .options
            .has(Flag::FORWARD_KEY_SIZE)
            .then(|| number(env(&ind.key_size)))
            .flatten(),
        protocol: env(&ind.ssl_protocol),
    });
    p.env = s
        .env_vars
        .iter()
        .filter_map(|(n, default)| {
            let v = env(n).or_else(|| default.as_ref().map(|d| d.as_bytes()))?;
            Some((n.as_bytes(), v))
        })
        .collect();

    p.session = lb
        .filter(|lb| lb.sticky_session.value)
        .and_then(|lb| session(lb, ext, &p.uri, p.headers.as_slice(), &env));
    let reply_timeout = number::<i64>(env(REPLY_TIMEOUT))
        .filter(|&v| v >= 0)
        .or(ext.reply_timeout.filter(|&v| v >= 0))
        .map(|v| Duration::from_millis(v as u64));

    p.remote_addr = env(&ind.remote_addr).unwrap_or(addr);
    p.remote_port = number(env(&ind.remote_port)).unwrap_or(port);
    p.local_addr = env(&ind.local_addr).unwrap_or_else(|| req.local().0);
    p.server_name = env(&ind.local_name).unwrap_or(server_name);
    p.server_port = number(env(&ind.local_port)).unwrap_or(server_port);
    p.remote_user = env(&ind.remote_user).or_else(|| req.remote_user());
    p.auth_type = env(&ind.auth_type).or_else(|| req.auth_type());
    p.options = ForwardOptions {
        flush_packets: s.options.has(Flag::FLUSH_PACKETS),
        flush_header: s.options.has(Flag::FLUSH_HEADER),
        reply_timeout,
        // sticky_session_id already applied JK_STICKY_IGNORE and the rule's sticky_ignore.
        sticky_ignore: p.session.is_none(),
        stateless: env_flag(env(STATELESS)) || ext.stateless,
    };
}

/// The names `prepare` asks literally (mod_jk's request switches).
const STICKY_IGNORE: &str = "JK_STICKY_IGNORE";
const ROUTE: &str = "JK_ROUTE";
const REPLY_TIMEOUT: &str = "JK_REPLY_TIMEOUT";
const STATELESS: &str = "JK_STATELESS";

/// Every environment name [`prepare`] may ask for under `s`, and whether it asks for it only
/// on an HTTPS request (the `https` indicator set to `on`): what an adapter checks once to
/// know that a request has none of them ([`RequestFacts::no_env`]).
pub fn env_names(s: &ServerSettings) -> impl Iterator<Item = (&str, bool)> {
    let ind = &s.indicators;
    let always = [
        &ind.ignore_cl,
        &ind.https,
        &ind.remote_addr,
        &ind.remote_port,
        &ind.local_addr,
        &ind.local_name,
        &ind.local_port,
        &ind.remote_user,
        &ind.auth_type,
    ]
    .into_iter()
    .map(String::as_str)
    .chain([STICKY_IGNORE, ROUTE, REPLY_TIMEOUT, STATELESS])
    .chain(s.env_vars.iter().map(|(n, _)| n.as_str()))
    .map(|n| (n, false));
    let tls = [
        &ind.certs,
        &ind.cipher,
        &ind.session,
        &ind.key_size,
        &ind.ssl_protocol,
    ]
    .into_iter()
    .map(|n| (n.as_str(), true));
    always.chain(tls)
}

/// A sticky session id, kept inline: a request's session is short (Tomcat's: 32 hex digits,
/// a dot and the route), and preparing a sticky request should not allocate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionId {
    Inline {
        bytes: [u8; SESSION_INLINE],
        len: u8,
    },
    Long(String),
}

const SESSION_INLINE: usize = 94;

impl SessionId {
    pub fn new(id: &str) -> SessionId {
        if id.len() > SESSION_INLINE {
            return SessionId::Long(id.to_owned());
        }
        let mut bytes = [0; SESSION_INLINE];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        SessionId::Inline {
            bytes,
            len: id.len() as u8,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // SAFETY: copied from a `str` in `new`, whole.
            SessionId::Inline { bytes, len } => unsafe {
                std::str::from_utf8_unchecked(&bytes[..*len as usize])
            },
            SessionId::Long(s) => s,
        }
    }
}

/// `v` as text: the usual ASCII checked inline, the rest by the UTF-8 decoder.
#[inline]
fn utf8(v: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if v.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(v) })
    } else {
        std::str::from_utf8(v)
    }
}

/// The sticky session id of a request to `lb`: the URI's path parameter, the `Cookie` headers,
/// `JK_STICKY_IGNORE` and `JK_ROUTE`, read without copying when they are UTF-8 (as they are:
/// the forwarded URI is %-encoded, cookies are ASCII), and with the lossy copies otherwise.
fn session<'r>(
    lb: &LbWorker,
    ext: &Extensions,
    uri: &[u8],
    headers: &[(&'r [u8], &'r [u8])],
    env: &dyn Fn(&str) -> Option<&'r [u8]>,
) -> Option<SessionId> {
    const MOST: usize = 8;
    let mut cookies = [""; MOST];
    let mut n = 0;
    let mut plain = true;
    for (_, v) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
    {
        match utf8(v) {
            Ok(v) if n < MOST => {
                cookies[n] = v;
                n += 1;
            }
            _ => plain = false,
        }
    }
    let (ignore, route) = (env(STICKY_IGNORE), env(ROUTE));
    let text = |v: Option<&'r [u8]>| v.map(utf8).transpose();
    match (utf8(uri), text(ignore), text(route)) {
        (Ok(uri), Ok(ignore), Ok(route)) if plain => {
            let rs = route::RequestSession {
                uri,
                cookies: &cookies[..n],
                sticky_ignore_env: ignore,
                route_env: route,
            };
            route::sticky_session_id(lb, Some(ext), &rs).map(|c| SessionId::new(&c))
        }
        _ => {
            let lossy = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
            let uri = lossy(uri);
            let cookies: Vec<String> = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
                .map(|(_, v)| lossy(v))
                .collect();
            let cookies: Vec<&str> = cookies.iter().map(String::as_str).collect();
            let (ignore, route) = (ignore.map(lossy), route.map(lossy));
            let rs = route::RequestSession {
                uri: &uri,
                cookies: &cookies,
                sticky_ignore_env: ignore.as_deref(),
                route_env: route.as_deref(),
            };
            route::sticky_session_id(lb, Some(ext), &rs).map(|c| SessionId::new(&c))
        }
    }
}

impl Prepared<'_> {
    /// Lend the engine a [`RequestHead`] over this request's data.
    pub fn with_head<R>(&self, f: impl FnOnce(&RequestHead<'_>) -> R) -> R {
        let head = RequestHead {
            method: self.method,
            uri: &self.uri,
            query_string: self.query,
            protocol: self.protocol,
            headers: self.headers.as_slice(),
            body: self.body,
            remote_addr: self.remote_addr,
            remote_port: self.remote_port,
            remote_host: None,
            local_addr: self.local_addr,
            server_name: self.server_name,
            server_port: self.server_port,
            remote_user: self.remote_user,
            auth_type: self.auth_type,
            tls: self.tls,
            env: &self.env,
            session_id: self.session.as_ref().map(SessionId::as_str),
            options: self.options,
            rule: self.rule,
        };
        f(&head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::server::ServerSettings;
    use crate::mount::NO_EXTENSIONS;

    #[derive(Default)]
    struct Facts {
        headers: Vec<(&'static str, &'static str)>,
        env: Vec<(&'static str, &'static str)>,
        /// What `no_env` says (a test's lie, to see that prepare believes it).
        no_env: bool,
        /// Every name `env` was asked for.
        asked: std::cell::RefCell<Vec<String>>,
    }

    impl<'r> RequestFacts<'r> for Facts {
        fn method(&self) -> &'r [u8] {
            b"POST"
        }
        fn original_uri(&self) -> &'r [u8] {
            b"/app/a b"
        }
        fn unparsed_uri(&self) -> &'r [u8] {
            b"/app/a%20b?x=1"
        }
        fn protocol(&self) -> &'r [u8] {
            b"HTTP/1.1"
        }
        fn query(&self) -> Option<&'r [u8]> {
            Some(b"x=1")
        }
        fn for_each_header(&self, f: &mut dyn FnMut(&'r [u8], &'r [u8])) {
            for (n, v) in &self.headers {
                f(n.as_bytes(), v.as_bytes());
            }
        }
        fn env(&self, name: &str) -> Option<&'r [u8]> {
            self.asked.borrow_mut().push(name.to_owned());
            self.env
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
        }
        fn no_env(&self) -> bool {
            self.no_env
        }
        fn client(&self) -> (&'r [u8], u16) {
            (b"203.0.113.7", 51544)
        }
        fn physical_client(&self) -> (&'r [u8], u16) {
            (b"10.0.0.1", 40000)
        }
        fn local(&self) -> (&'r [u8], u16) {
            (b"192.0.2.10", 443)
        }
        fn server(&self) -> (&'r [u8], u16) {
            (b"www.example.com", 443)
        }
        fn remote_user(&self) -> Option<&'r [u8]> {
            None
        }
        fn auth_type(&self) -> Option<&'r [u8]> {
            None
        }
    }

    fn header<'a>(p: &'a Prepared, name: &str) -> Option<&'a [u8]> {
        p.headers
            .as_slice()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    }

    #[test]
    fn body_modes_and_content_length() {
        let s = ServerSettings::default();
        let none = prepare(&Facts::default(), &s, None, &NO_EXTENSIONS);
        assert_eq!(none.body, RequestBody::None);
        assert_eq!(
            header(&none, "content-length"),
            Some(&b"0"[..]),
            "mod_jk's Content-Length: 0"
        );
        assert_eq!(
            &none.uri[..],
            b"/app/a%20b",
            "ForwardURIProxy re-encodes the decoded path"
        );

        let cl = Facts {
            headers: vec![("Content-Length", "10")],
            ..Facts::default()
        };
        assert_eq!(
            prepare(&cl, &s, None, &NO_EXTENSIONS).body,
            RequestBody::Length(10)
        );

        let chunked = Facts {
            headers: vec![("Transfer-Encoding", "chunked"), ("Content-Length", "10")],
            ..Facts::default()
        };
        let p = prepare(&chunked, &s, None, &NO_EXTENSIONS);
        assert_eq!(p.body, RequestBody::Chunked);
        assert_eq!(
            header(&p, "content-length"),
            None,
            "no length for a chunked body"
        );

        let ignore = Facts {
            headers: vec![("Content-Length", "10")],
            env: vec![("JK_IGNORE_CL", "1")],
            ..Facts::default()
        };
        let p = prepare(&ignore, &s, None, &NO_EXTENSIONS);
        assert_eq!(
            (p.body, header(&p, "content-length")),
            (RequestBody::Chunked, None)
        );
    }

    #[test]
    fn indicators_addresses_tls_and_env_attributes() {
        let s = ServerSettings {
            env_vars: vec![
                ("APP_TIER".into(), Some("gold".into())),
                ("UNSET".into(), None),
            ],
            ..ServerSettings::default()
        };
        let f = Facts {
            env: vec![
                ("JK_REMOTE_ADDR", "198.51.100.1"),
                ("HTTPS", "on"),
                ("SSL_CIPHER", "AES"),
                ("SSL_CIPHER_USEKEYSIZE", "256"),
                ("JK_REPLY_TIMEOUT", "1500"),
                ("JK_STATELESS", ""),
            ],
            ..Facts::default()
        };
        let p = prepare(&f, &s, None, &NO_EXTENSIONS);
        assert_eq!(
            (p.remote_addr, p.remote_port),
            (&b"198.51.100.1"[..], 51544)
        );
        let tls = p.tls.as_ref().unwrap();
        assert_eq!((tls.cipher, tls.key_size), (Some(&b"AES"[..]), Some(256)));
        assert_eq!(p.env, vec![(&b"APP_TIER"[..], &b"gold"[..])]);
        assert_eq!(p.options.reply_timeout, Some(Duration::from_millis(1500)));
        assert!(p.options.stateless);
        let mut physical = ServerSettings::default();
        physical.options = physical.options.with(&{
            let mut l = crate::directive::options::OptionLines::default();
            l.read("+ForwardPhysicalAddress");
            l
        });
        let p = prepare(&Facts::default(), &physical, None, &NO_EXTENSIONS);
        assert_eq!((p.remote_addr, p.remote_port), (&b"10.0.0.1"[..], 40000));
        // An adapter that says the environment is empty is not asked for any variable.
        let none = Facts { no_env: true, ..f };
        let p = prepare(&none, &s, None, &NO_EXTENSIONS);
        assert_eq!(p.remote_addr, &b"203.0.113.7"[..]);
        assert!(p.tls.is_none() && !p.options.stateless);
        assert_eq!(p.options.reply_timeout, None);
        assert_eq!(p.env, vec![(&b"APP_TIER"[..], &b"gold"[..])]);
    }

    #[test]
    fn the_mount_may_override_reply_timeout_and_the_environment_wins() {
        let s = ServerSettings::default();
        let ext = Extensions {
            reply_timeout: Some(300),
            ..Extensions::default()
        };
        assert_eq!(
            prepare(&Facts::default(), &s, None, &ext)
                .options
                .reply_timeout,
            Some(Duration::from_millis(300))
        );
        let f = Facts {
            env: vec![("JK_REPLY_TIMEOUT", "0")],
            ..Facts::default()
        };
        assert_eq!(
            prepare(&f, &s, None, &ext).options.reply_timeout,
            Some(Duration::ZERO),
            "0 turns it off"
        );
    }

    #[test]
    fn many_headers_spill_to_the_heap_in_order() {
        let names: Vec<String> = (0..INLINE + 5).map(|i| format!("X-H{i}")).collect();
        let mut h = Headers::default();
        for n in &names {
            h.push((n.as_bytes(), b"v"));
            h.push((b"Content-Length", b"1"));
        }
        h.retain(|n| !n.eq_ignore_ascii_case(b"content-length"));
        let got: Vec<&[u8]> = h.as_slice().iter().map(|(n, _)| *n).collect();
        let want: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
        assert_eq!(got, want);
        let mut few = Headers::default();
        few.push((b"A", b"1"));
        few.push((b"B", b"2"));
        few.retain(|n| n != b"A");
        assert_eq!(few.as_slice(), &[(&b"B"[..], &b"2"[..])]);
    }

    /// An lb worker with mod_jk's defaults (sticky sessions on).
    fn sticky_lb() -> LbWorker {
        let mut l = crate::config::Loader::new();
        l.workers_text(
            "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1\nworker.n1.port=8009\n",
            std::path::Path::new("w.properties"),
        );
        let w = l.finish().workers.expect("workers");
        match &w.get("lb").unwrap().kind {
            crate::config::Kind::Lb(lb) => lb.clone(),
            _ => panic!("lb"),
        }
    }

    #[test]
    fn the_sticky_session_is_read_without_copies_and_survives_odd_bytes() {
        let lb = &sticky_lb();
        let none = |_: &str| -> Option<&'static [u8]> { None };
        let id = |uri: &[u8], headers: &[(&'static [u8], &'static [u8])]| {
            session(lb, &NO_EXTENSIONS, uri, headers, &none).map(|s| s.as_str().to_owned())
        };
        let cookie = |v: &'static [u8]| (&b"Cookie"[..], v);
        assert_eq!(
            id(b"/app", &[cookie(b"a=1"), cookie(b"JSESSIONID=ABC.n1")]).as_deref(),
            Some("ABC.n1"),
            "the second Cookie header"
        );
        assert_eq!(id(b"/app;jsessionid=P.n2", &[]).as_deref(), Some("P.n2"));
        let long = format!("JSESSIONID={}.n1", "x".repeat(200));
        let long: &'static [u8] = Box::leak(long.into_bytes().into_boxed_slice());
        assert_eq!(
            id(b"/app", &[cookie(long)]).map(|s| s.len()),
            Some(203),
            "longer than the inline space"
        );
        // A cookie header that is not UTF-8 is read lossily, as before: the id still counts.
        assert_eq!(
            id(b"/app", &[cookie(b"x=\xff; JSESSIONID=Q.n3")]).as_deref(),
            Some("Q.n3")
        );
        let route = |n: &str| -> Option<&'static [u8]> { (n == "JK_ROUTE").then_some(b"n9") };
        assert_eq!(
            session(lb, &NO_EXTENSIONS, b"/app", &[], &route).map(|s| s.as_str().to_owned()),
            Some(crate::route::forced_session_id("n9"))
        );
    }

    #[test]
    fn env_names_lists_every_name_prepare_asks_for() {
        let lb = &sticky_lb();
        let mut s = ServerSettings {
            env_vars: vec![("APP_TIER".into(), None)],
            ..ServerSettings::default()
        };
        s.options = s.options.with(&{
            let mut l = crate::directive::options::OptionLines::default();
            l.read("+ForwardKeySize");
            l
        });
        let names: Vec<(&str, bool)> = env_names(&s).collect();
        for https in ["on", "off"] {
            let f = Facts {
                env: vec![("HTTPS", https)],
                ..Facts::default()
            };
            let _ = prepare(&f, &s, Some(lb), &NO_EXTENSIONS);
            let asked = f.asked.borrow();
            for a in asked.iter() {
                let listed = names.iter().find(|(n, _)| n == a);
                assert!(listed.is_some(), "{a} is asked but not in env_names");
                assert!(
                    https == "on" || !listed.unwrap().1,
                    "{a} asked without HTTPS"
                );
            }
            let want = names
                .iter()
                .filter(|(_, tls)| https == "on" || !tls)
                .count();
            assert_eq!(asked.len(), want, "{asked:?}");
        }
    }
}
