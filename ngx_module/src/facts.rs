//! An nginx request as lb-core's `RequestFacts`: what `prepare` turns into the Forward Request
//! with mod_jk's rules. Environment lookups go to nginx variables (`$ssl_*`, `set $X ...;`),
//! lower-cased as nginx names them.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;

use lb_core::directive::server::ServerSettings;
use lb_core::forward::prepare::{env_names, RequestFacts};
use lb_core::forward::IpText;

use crate::ffi;

/// Per configuration (its runtime): what each environment name asked for (mod_jk's
/// indicators, the `JK_*` notes, `rjk_env_var`s) is in nginx, resolved on its first request, so
/// the usual absent names cost a comparison and a declared variable a call of its handler,
/// without lower-casing and hashing its name again. Found by the name's address and length
/// (the names are the configuration's or literals), then compared, so a short-lived name only
/// costs a miss. A short list, searched from where the last search ended: a request asks for
/// the same names in the same order, so each search is usually one comparison.
#[derive(Default)]
pub struct Known {
    names: RefCell<Vec<Name>>,
    next: Cell<usize>,
    /// Per server settings (by address: the configuration's, living as long as the runtime):
    /// whether no name `prepare` asks can have a value on a plain connection.
    empty: RefCell<Vec<(usize, bool)>>,
}

struct Name {
    at: usize,
    kept: Box<str>,
    var: Var,
}

#[derive(Clone, Copy)]
enum Var {
    /// No variable of that name on any request.
    Absent,
    /// A declared variable (`set`, modules): nginx's entry, valid while the cycle is.
    Declared(*mut ffi::ngx_http_variable_t),
    /// One of nginx's prefixed families (`http_`, `cookie_`...): looked up by name.
    Prefixed,
}

/// Byte equality of two short names without a call to `bcmp`.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 4 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    if n < 8 {
        let half = |s: &[u8], i: usize| u32::from_ne_bytes(s[i..i + 4].try_into().unwrap());
        return half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4);
    }
    let word = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().unwrap());
    // Whole words, the last one overlapping the one before.
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

impl Known {
    /// `None`: not asked before.
    #[inline]
    fn get(&self, name: &str) -> Option<Var> {
        let names = self.names.borrow();
        let at = name.as_ptr() as usize;
        let is = |k: &Name| k.at == at && k.kept.len() == name.len();
        let hint = self.next.get();
        let i = match names.get(hint) {
            Some(k) if is(k) => hint,
            _ => names.iter().position(is)?,
        };
        self.next.set(i + 1);
        let k = &names[i];
        same(k.kept.as_bytes(), name.as_bytes()).then_some(k.var)
    }

    /// Whether a request without TLS under `s` has none of the environment names `prepare`
    /// asks for: none is an nginx variable, except nginx's `$https` as the `https` indicator
    /// (empty without TLS, and the TLS names are asked only when it is `on`). Found out on the
    /// first request of each server's settings.
    ///
    /// # Safety
    /// `r` must be a live request of this runtime's configuration.
    pub unsafe fn plain_env_empty(
        &self,
        r: *mut ffi::ngx_http_request_t,
        s: &ServerSettings,
    ) -> bool {
        let at = s as *const ServerSettings as usize;
        if let Some(&(_, empty)) = self.empty.borrow().iter().find(|(a, _)| *a == at) {
            return empty;
        }
        // nginx's `$https` is empty without TLS: harmless as the `https` indicator, if it is
        // asked for nothing else.
        let https = s.indicators.https.as_str();
        let only_https =
            |name: &str| name == https && env_names(s).filter(|(n, _)| *n == name).count() == 1;
        let empty = env_names(s).all(|(name, tls)| {
            let lower = name.to_ascii_lowercase();
            // SAFETY: the caller's promise.
            let var = unsafe { resolve(r, lower.as_bytes()) };
            tls || matches!(var, Var::Absent) || (lower == "https" && only_https(name))
        });
        self.empty.borrow_mut().push((at, empty));
        empty
    }

    fn set(&self, name: &str, var: Var) {
        let mut names = self.names.borrow_mut();
        let at = name.as_ptr() as usize;
        let kept = name.into();
        match names
            .iter_mut()
            .find(|k| k.at == at && k.kept.len() == name.len())
        {
            Some(k) => {
                k.kept = kept;
                k.var = var;
            }
            None => names.push(Name { at, kept, var }),
        }
    }
}

/// What `lower` names in the request's configuration: a declared variable, a prefixed family,
/// or nothing.
///
/// # Safety
/// `r` must be a live request.
unsafe fn resolve(r: *mut ffi::ngx_http_request_t, lower: &[u8]) -> Var {
    const PREFIXES: [&[u8]; 5] = [
        b"http_",
        b"sent_http_",
        b"sent_trailer_",
        b"cookie_",
        b"arg_",
    ];
    // SAFETY: the request's http main configuration is live while it runs; the hash is only
    // read.
    unsafe {
        let cmcf = ffi::core_main_conf_of(r);
        let key = ffi::ngx_hash_key(lower.as_ptr() as *mut u8, lower.len());
        let v = ffi::ngx_hash_find(
            &mut (*cmcf).variables_hash,
            key,
            lower.as_ptr() as *mut u8,
            lower.len(),
        ) as *mut ffi::ngx_http_variable_t;
        if !v.is_null() {
            Var::Declared(v)
        } else if PREFIXES.iter().any(|p| lower.starts_with(p)) {
            Var::Prefixed
        } else {
            Var::Absent
        }
    }
}

/// A borrowed nginx request, with the addresses decoded once. The client's address text and
/// the server name are nginx's own (the connection's and the request's memory); the local
/// address is formatted here, without allocating.
pub struct NgxRequest<'k> {
    r: *mut ffi::ngx_http_request_t,
    known: &'k Known,
    /// No environment name `prepare` asks for has a value ([`Known::plain_env_empty`]).
    no_env: bool,
    client: (*const [u8], u16),
    local: (IpText, u16),
    server: *const [u8],
}

/// The address in a `sockaddr`.
///
/// # Safety
/// `sa` must be null or a valid sockaddr of its family.
unsafe fn addr_of(sa: *const ffi::sockaddr) -> Option<SocketAddr> {
    if sa.is_null() {
        return None;
    }
    unsafe {
        match (*sa).sa_family as i32 {
            libc::AF_INET => {
                let s = &*(sa as *const libc::sockaddr_in);
                Some(SocketAddr::from((
                    u32::from_be(s.sin_addr.s_addr).to_be_bytes(),
                    u16::from_be(s.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let s = &*(sa as *const libc::sockaddr_in6);
                Some(SocketAddr::from((
                    s.sin6_addr.s6_addr,
                    u16::from_be(s.sin6_port),
                )))
            }
            _ => None,
        }
    }
}

impl<'k> NgxRequest<'k> {
    /// `settings`: the server's, for a request `prepare` will see (`None`: one it won't).
    ///
    /// # Safety
    /// `r` must be a live request, and outlive the value.
    pub unsafe fn new(
        r: *mut ffi::ngx_http_request_t,
        known: &'k Known,
        settings: Option<&ServerSettings>,
    ) -> NgxRequest<'k> {
        unsafe {
            let c = (*r).connection;
            let no_env =
                (*c).ssl.is_null() && settings.is_some_and(|s| known.plain_env_empty(r, s));
            ffi::ngx_connection_local_sockaddr(c, std::ptr::null_mut(), 0);
            let peer = addr_of((*c).sockaddr);
            // nginx formatted the client's address already (addr_text); a unix socket has
            // none.
            let client = (
                ffi::bytes(&(*c).addr_text) as *const [u8],
                peer.map_or(0, |a| a.port()),
            );
            let local = addr_of((*c).local_sockaddr);
            let local = (
                IpText::of(local.map(|a| a.ip())),
                local.map_or(0, |a| a.port()),
            );
            let server = ffi::bytes(&(*r).headers_in.server) as *const [u8];
            NgxRequest {
                r,
                known,
                no_env,
                client,
                local,
                server,
            }
        }
    }

    fn req(&self) -> &ffi::ngx_http_request_t {
        // SAFETY: alive for as long as self (see new).
        unsafe { &*self.r }
    }

    /// The value of nginx variable `name` (without `$`), if it is set; nginx's own memory (the
    /// request's pool), valid while the request is.
    #[inline]
    pub fn variable<'a>(&self, name: &str) -> Option<&'a [u8]> {
        match self.known.get(name) {
            Some(Var::Absent) => None,
            // SAFETY: resolved for this request's configuration (a runtime is one cycle's).
            Some(Var::Declared(v)) => unsafe { self.value(v) },
            known => self.look_up(name, known.is_none()),
        }
    }

    /// A declared variable's value, as `ngx_http_get_variable` finds it once it has the entry.
    ///
    /// # Safety
    /// `v` must be an entry of this request's variables hash.
    #[inline(never)]
    unsafe fn value<'a>(&self, v: *mut ffi::ngx_http_variable_t) -> Option<&'a [u8]> {
        unsafe {
            let value = if (*v).flags & ffi::NGX_HTTP_VAR_INDEXED as ffi::ngx_uint_t != 0 {
                ffi::ngx_http_get_flushed_variable(self.r, (*v).index)
            } else {
                let mut value: ffi::ngx_http_variable_value_t = std::mem::zeroed();
                let get = (*v).get_handler?;
                if get(self.r, &mut value, (*v).data) != ffi::OK {
                    return None;
                }
                return found(&value);
            };
            if value.is_null() {
                return None;
            }
            found(&*value)
        }
    }

    #[inline(never)]
    fn look_up<'a>(&self, name: &str, first: bool) -> Option<&'a [u8]> {
        // nginx's variable names are lower-case; the usual name fits on the stack.
        let mut stack = [0u8; 64];
        let mut heap = Vec::new();
        let lower: &mut [u8] = if name.len() <= stack.len() {
            &mut stack[..name.len()]
        } else {
            heap.resize(name.len(), 0);
            &mut heap
        };
        for (d, s) in lower.iter_mut().zip(name.bytes()) {
            *d = s.to_ascii_lowercase();
        }
        // SAFETY: the request is live; ngx_hash_key reads the name's bytes; the value's bytes
        // are in the request's memory.
        unsafe {
            if first {
                let var = resolve(self.r, lower);
                self.known.set(name, var);
                match var {
                    Var::Absent => return None,
                    Var::Declared(v) => return self.value(v),
                    Var::Prefixed => {}
                }
            }
            let mut key = ffi::ngx_str_t {
                len: lower.len(),
                data: lower.as_mut_ptr(),
            };
            let hash = ffi::ngx_hash_key(key.data, key.len);
            let v = ffi::ngx_http_get_variable(self.r, &mut key, hash);
            if v.is_null() {
                return None;
            }
            found(&*v)
        }
    }
}

/// A variable value's bytes, if it has one.
///
/// # Safety
/// The value's data must live as long as the request.
unsafe fn found<'a>(v: &ffi::ngx_http_variable_value_t) -> Option<&'a [u8]> {
    if v.not_found() != 0 || v.valid() == 0 {
        return None;
    }
    // SAFETY: the caller's promise.
    Some(unsafe {
        ffi::bytes(&ffi::ngx_str_t {
            len: v.len() as usize,
            data: v.data,
        })
    })
}

/// What it hands out lives as long as the `NgxRequest` (its decoded addresses and looked-up
/// variables are kept there), so the facts are a borrow of it.
impl<'a, 'k> RequestFacts<'a> for &'a NgxRequest<'k> {
    fn method(&self) -> &'a [u8] {
        let r: &'a NgxRequest<'k> = self;
        unsafe { ffi::bytes(&r.req().method_name) }
    }
    fn original_uri(&self) -> &'a [u8] {
        let r: &'a NgxRequest<'k> = self;
        // SAFETY: the request, and the URI bytes in its pool, outlive self.
        unsafe {
            match crate::request::existing(r.r).and_then(|s| s.original_uri.as_ref()) {
                Some(before) => ffi::bytes(before),
                None => ffi::bytes(&r.req().uri),
            }
        }
    }
    fn unparsed_uri(&self) -> &'a [u8] {
        let r: &'a NgxRequest<'k> = self;
        unsafe { ffi::bytes(&r.req().unparsed_uri) }
    }
    fn protocol(&self) -> &'a [u8] {
        let r: &'a NgxRequest<'k> = self;
        let p = unsafe { ffi::bytes(&r.req().http_protocol) };
        if p.is_empty() {
            b"HTTP/1.0"
        } else {
            p
        }
    }
    fn query(&self) -> Option<&'a [u8]> {
        let r: &'a NgxRequest<'k> = self;
        let a = unsafe { ffi::bytes(&r.req().args) };
        (!a.is_empty()).then_some(a)
    }
    fn for_each_header(&self, f: &mut dyn FnMut(&'a [u8], &'a [u8])) {
        let r: &'a NgxRequest<'k> = self;
        // SAFETY: walking nginx's header list of the live request.
        unsafe {
            let mut part: *const ffi::ngx_list_part_t = &r.req().headers_in.headers.part;
            while !part.is_null() {
                let elts = (*part).elts as *const ffi::ngx_table_elt_t;
                for i in 0..(*part).nelts {
                    let h = &*elts.add(i);
                    if h.hash != 0 {
                        f(ffi::bytes(&h.key), ffi::bytes(&h.value));
                    }
                }
                part = (*part).next;
            }
            // A body of unknown length without a Transfer-Encoding header: HTTP/2 (and 3) have
            // no chunked coding, nginx marks the request chunked itself. The backend sees the
            // body as streamed (mod_jk's rule: no Content-Length).
            let h = &r.req().headers_in;
            if h.chunked() != 0 && h.transfer_encoding.is_null() {
                f(b"Transfer-Encoding", b"chunked");
            }
        }
    }
    fn env(&self, name: &str) -> Option<&'a [u8]> {
        let r: &'a NgxRequest<'k> = self;
        r.variable(name)
    }
    fn no_env(&self) -> bool {
        self.no_env
    }
    fn client(&self) -> (&'a [u8], u16) {
        let r: &'a NgxRequest<'k> = self;
        // SAFETY: the connection's address text outlives the request.
        (unsafe { &*r.client.0 }, r.client.1)
    }
    fn physical_client(&self) -> (&'a [u8], u16) {
        self.client()
    }
    fn local(&self) -> (&'a [u8], u16) {
        let r: &'a NgxRequest<'k> = self;
        (r.local.0.bytes(), r.local.1)
    }
    fn server(&self) -> (&'a [u8], u16) {
        let r: &'a NgxRequest<'k> = self;
        // SAFETY: the Host header's bytes live in the request's buffers.
        let host = unsafe { &*r.server };
        let name = if host.is_empty() {
            r.local.0.bytes()
        } else {
            host
        };
        (name, r.local.1)
    }
    fn remote_user(&self) -> Option<&'a [u8]> {
        let r: &'a NgxRequest<'k> = self;
        let u = unsafe { ffi::bytes(&r.req().headers_in.user) };
        (!u.is_empty()).then_some(u)
    }
    fn auth_type(&self) -> Option<&'a [u8]> {
        None
    }
}
