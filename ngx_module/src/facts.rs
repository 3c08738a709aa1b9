//! An nginx request as lb-core's `RequestFacts`: what `prepare` turns into the Forward Request
//! with mod_jk's rules. Environment lookups go to nginx variables (`$ssl_*`, `set $X ...;`),
//! lower-cased as nginx names them.

use std::cell::RefCell;
use std::net::SocketAddr;

use lb_core::forward::prepare::RequestFacts;

use crate::ffi;

thread_local! {
    /// Names asked for (mod_jk's indicators) that are no nginx variable in this configuration:
    /// not looked up again in this worker process (variables are fixed per configuration).
    static ABSENT: RefCell<rustc_hash::FxHashSet<String>> = RefCell::new(Default::default());
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

/// A borrowed nginx request, with the addresses decoded once.
pub struct NgxRequest {
    r: *mut ffi::ngx_http_request_t,
    client: (Vec<u8>, u16),
    local: (Vec<u8>, u16),
    server: Vec<u8>,
    /// Variable values looked up (owned here so `env` can lend them).
    vars: RefCell<Vec<Box<[u8]>>>,
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

fn split(a: Option<SocketAddr>) -> (Vec<u8>, u16) {
    a.map_or((Vec::new(), 0), |a| (ip_text(a.ip()), a.port()))
}

/// An address as text; IPv4 (the usual case) without the formatting machinery.
fn ip_text(ip: std::net::IpAddr) -> Vec<u8> {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string().into_bytes();
    };
    let mut out = Vec::with_capacity(15);
    for (i, o) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        if o >= 100 {
            out.push(b'0' + o / 100);
        }
        if o >= 10 {
            out.push(b'0' + o / 10 % 10);
        }
        out.push(b'0' + o % 10);
    }
    out
}

impl NgxRequest {
    /// # Safety
    /// `r` must be a live request, and outlive the value.
    pub unsafe fn new(r: *mut ffi::ngx_http_request_t) -> NgxRequest {
        unsafe {
            let c = (*r).connection;
            ffi::ngx_connection_local_sockaddr(c, std::ptr::null_mut(), 0);
            // nginx formatted the client's address already (addr_text).
            let client = match addr_of((*c).sockaddr) {
                Some(a) if (*c).addr_text.len > 0 => {
                    (ffi::bytes(&(*c).addr_text).to_vec(), a.port())
                }
                other => split(other),
            };
            let local = split(addr_of((*c).local_sockaddr));
            let host = ffi::bytes(&(*r).headers_in.server);
            let server = if host.is_empty() {
                local.0.clone()
            } else {
                host.to_vec()
            };
            NgxRequest {
                r,
                client,
                local,
                server,
                vars: RefCell::new(Vec::new()),
            }
        }
    }

    fn req(&self) -> &ffi::ngx_http_request_t {
        // SAFETY: alive for as long as self (see new).
        unsafe { &*self.r }
    }

    /// The value of nginx variable `name` (without `$`), if it is set.
    pub fn variable(&self, name: &str) -> Option<&[u8]> {
        if ABSENT.with(|a| a.borrow().contains(name)) {
            return None;
        }
        let lower = name.to_ascii_lowercase();
        let mut key = ffi::ngx_str_t {
            len: lower.len(),
            data: lower.as_ptr() as *mut u8,
        };
        // SAFETY: the request is live; ngx_hash_key reads the name's bytes.
        let v = unsafe {
            let hash = ffi::ngx_hash_key(key.data, key.len);
            let v = ffi::ngx_http_get_variable(self.r, &mut key, hash);
            if v.is_null() || (*v).not_found() != 0 || (*v).valid() == 0 {
                if !defined(&lower) {
                    ABSENT.with(|a| a.borrow_mut().insert(name.to_owned()));
                }
                return None;
            }
            std::slice::from_raw_parts((*v).data, (*v).len() as usize).to_vec()
        };
        let boxed = v.into_boxed_slice();
        let p: *const [u8] = &*boxed;
        self.vars.borrow_mut().push(boxed);
        // SAFETY: the box is kept in self.vars until self is dropped and never mutated.
        Some(unsafe { &*p })
    }
}

/// What it hands out lives as long as the `NgxRequest` (its decoded addresses and looked-up
/// variables are kept there), so the facts are a borrow of it.
impl<'a> RequestFacts<'a> for &'a NgxRequest {
    fn method(&self) -> &'a [u8] {
        let r: &'a NgxRequest = self;
        unsafe { ffi::bytes(&r.req().method_name) }
    }
    fn original_uri(&self) -> &'a [u8] {
        let r: &'a NgxRequest = self;
        // SAFETY: the request, and the URI bytes in its pool, outlive self.
        unsafe {
            match crate::request::existing(r.r).and_then(|s| s.original_uri.as_ref()) {
                Some(before) => ffi::bytes(before),
                None => ffi::bytes(&r.req().uri),
            }
        }
    }
    fn unparsed_uri(&self) -> &'a [u8] {
        let r: &'a NgxRequest = self;
        unsafe { ffi::bytes(&r.req().unparsed_uri) }
    }
    fn protocol(&self) -> &'a [u8] {
        let r: &'a NgxRequest = self;
        let p = unsafe { ffi::bytes(&r.req().http_protocol) };
        if p.is_empty() {
            b"HTTP/1.0"
        } else {
            p
        }
    }
    fn query(&self) -> Option<&'a [u8]> {
        let r: &'a NgxRequest = self;
        let a = unsafe { ffi::bytes(&r.req().args) };
        (!a.is_empty()).then_some(a)
    }
    fn for_each_header(&self, f: &mut dyn FnMut(&'a [u8], &'a [u8])) {
        let r: &'a NgxRequest = self;
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
        }
    }
    fn env(&self, name: &str) -> Option<&'a [u8]> {
        let r: &'a NgxRequest = self;
        r.variable(name)
    }
    fn client(&self) -> (&'a [u8], u16) {
        let r: &'a NgxRequest = self;
        (&r.client.0, r.client.1)
    }
    fn physical_client(&self) -> (&'a [u8], u16) {
        let r: &'a NgxRequest = self;
        (&r.client.0, r.client.1)
    }
    fn local(&self) -> (&'a [u8], u16) {
        let r: &'a NgxRequest = self;
        (&r.local.0, r.local.1)
    }
    fn server(&self) -> (&'a [u8], u16) {
        let r: &'a NgxRequest = self;
        (&r.server, r.local.1)
    }
    fn remote_user(&self) -> Option<&'a [u8]> {
        let r: &'a NgxRequest = self;
        let u = unsafe { ffi::bytes(&r.req().headers_in.user) };
        (!u.is_empty()).then_some(u)
    }
    fn auth_type(&self) -> Option<&'a [u8]> {
        None
    }
}
