//! An nginx request as lb-core's `RequestFacts`: what `prepare` turns into the Forward Request
//! with mod_jk's rules. Environment lookups go to nginx variables (`$ssl_*`, `set $X ...;`),
//! lower-cased as nginx names them.

use std::cell::RefCell;
use std::net::SocketAddr;

use lb_core::forward::prepare::RequestFacts;

use crate::ffi;

/// Per configuration (its runtime): whether each name asked for (mod_jk's indicators, the
/// `JK_*` notes, `rjk_env_var`s) can be an nginx variable, so the usual absent ones cost no
/// lookup. Found by the name's address and length: the names are the configuration's or
/// literals, outliving the runtime; the name is kept and compared, so a short-lived one asked
/// for only costs a miss. A short list, searched from where the last search ended: a request
/// asks for the same names in the same order, so each search is usually one comparison.
#[derive(Default)]
pub struct Known {
    names: RefCell<Vec<Name>>,
    next: std::cell::Cell<usize>,
}

struct Name {
    at: usize,
    kept: Box<str>,
    defined: bool,
}

impl Known {
    /// `None`: not asked before.
    #[inline]
    fn get(&self, name: &str) -> Option<bool> {
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
        (*k.kept == *name).then_some(k.defined)
    }

    fn set(&self, name: &str, defined: bool) {
        let mut names = self.names.borrow_mut();
        let at = name.as_ptr() as usize;
        let kept = name.into();
        match names
            .iter_mut()
            .find(|k| k.at == at && k.kept.len() == name.len())
        {
            Some(k) => {
                k.kept = kept;
                k.defined = defined;
            }
            None => names.push(Name { at, kept, defined }),
        }
    }
}

/// Whether `lower` could name a variable on some request: declared in the configuration
/// (`set`, modules) or one of nginx's prefixed families.
fn defined(lower: &str) -> bool {
    const PREFIXES: [&str; 5] = ["http_", "sent_http_", "sent_trailer_", "cookie_", "arg_"];
    if PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    // SAFETY: the cycle's http main configuration is live while requests run; the hash is
    // only read.
    unsafe {
        let cmcf = ffi::core_main_conf_of_cycle(ffi::ngx_cycle);
        if cmcf.is_null() {
            return true;
        }
        let key = ffi::ngx_hash_key(lower.as_ptr() as *mut u8, lower.len());
        !ffi::ngx_hash_find(
            &mut (*cmcf).variables_hash,
            key,
            lower.as_ptr() as *mut u8,
            lower.len(),
        )
        .is_null()
    }
}

/// A borrowed nginx request, with the addresses decoded once. The client's address text and
/// the server name are nginx's own (the connection's and the request's memory); the local
/// address is formatted here, without allocating.
pub struct NgxRequest<'k> {
    r: *mut ffi::ngx_http_request_t,
    known: &'k Known,
    client: (*const [u8], u16),
    local: (Text, u16),
    server: *const [u8],
}

/// An IP address as text, inline (the longest IPv6 text is 45 bytes).
pub struct Text {
    buf: [u8; 46],
    len: u8,
}

impl Text {
    fn of(ip: Option<std::net::IpAddr>) -> Text {
        let mut t = Text {
            buf: [0; 46],
            len: 0,
        };
        match ip {
            Some(std::net::IpAddr::V4(v4)) => {
                for (i, o) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        t.push(b'.');
                    }
                    if o >= 100 {
                        t.push(b'0' + o / 100);
                    }
                    if o >= 10 {
                        t.push(b'0' + o / 10 % 10);
                    }
                    t.push(b'0' + o % 10);
                }
            }
            Some(ip) => {
                use std::io::Write;
                let mut w = &mut t.buf[..];
                let _ = write!(w, "{ip}");
                let left = w.len();
                t.len = (46 - left) as u8;
            }
            None => {}
        }
        t
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len as usize] = b;
        self.len += 1;
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
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
    /// # Safety
    /// `r` must be a live request, and outlive the value.
    pub unsafe fn new(r: *mut ffi::ngx_http_request_t, known: &'k Known) -> NgxRequest<'k> {
        unsafe {
            let c = (*r).connection;
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
                Text::of(local.map(|a| a.ip())),
                local.map_or(0, |a| a.port()),
            );
            let server = ffi::bytes(&(*r).headers_in.server) as *const [u8];
            NgxRequest {
                r,
                known,
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
        // The usual name is known not to be a variable: no lookup, no frame for one.
        match self.known.get(name) {
            Some(false) => None,
            known => self.look_up(name, known),
        }
    }

    #[inline(never)]
    fn look_up<'a>(&self, name: &str, known: Option<bool>) -> Option<&'a [u8]> {
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
        let mut key = ffi::ngx_str_t {
            len: lower.len(),
            data: lower.as_mut_ptr(),
        };
        // SAFETY: the request is live; ngx_hash_key reads the name's bytes; the value's bytes
        // are in the request's memory.
        unsafe {
            let hash = ffi::ngx_hash_key(key.data, key.len);
            let v = ffi::ngx_http_get_variable(self.r, &mut key, hash);
            if known.is_none() {
                self.known
                    .set(name, defined(std::str::from_utf8_unchecked(lower)));
            }
            if v.is_null() || (*v).not_found() != 0 || (*v).valid() == 0 {
                return None;
            }
            Some(ffi::bytes(&ffi::ngx_str_t {
                len: (*v).len() as usize,
                data: (*v).data,
            }))
        }
    }
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
