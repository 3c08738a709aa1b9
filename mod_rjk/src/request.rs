//! One httpd request as the forwarding engine sees it: its head, its body, and where the
//! response goes. Every `unsafe` here dereferences httpd's `request_rec` (and what hangs off
//! it), which httpd keeps alive and owned by this thread for the whole handler call.

use std::ffi::CStr;
use std::io;
use std::os::raw::c_char;

use crate::ffi;

/// The `JK_` notes a request holds before forwarding sets its own (translate_name's worker
/// name, or another module's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JkNotes {
    None,
    WorkerName,
    Others,
}

impl JkNotes {
    /// Whether a note `name` may be in the table already.
    #[inline]
    pub fn may_hold(self, name: &[u8]) -> bool {
        match self {
            JkNotes::None => false,
            JkNotes::WorkerName => {
                name.eq_ignore_ascii_case(crate::translate::WORKER_NOTE.to_bytes())
            }
            JkNotes::Others => true,
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "client went away")
}

/// A borrowed `request_rec`, valid for the handler call that created it.
pub struct HttpdRequest<'r> {
    r: &'r mut ffi::request_rec,
    body_started: bool,
    /// The response body not yet passed down httpd's output filters (NULL until the first
    /// write).
    out: *mut ffi::apr_bucket_brigade,
}

/// Bytes of a C string from httpd; empty for NULL.
pub(crate) fn bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        return b"";
    }
    // SAFETY: httpd's strings are NUL-terminated and live in the request's pools.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

pub(crate) fn opt_bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    (!p.is_null()).then(|| bytes(p))
}

/// Entries of an APR table (headers_in, subprocess_env...).
fn table<'a>(t: *const ffi::apr_table_t) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    let entries: &[ffi::apr_table_entry_t] = if t.is_null() {
        &[]
    } else {
        // SAFETY: an apr table's elts is an array of nelts apr_table_entry_t.
        unsafe {
            let arr = &*ffi::apr_table_elts(t);
            if arr.elts.is_null() || arr.nelts <= 0 {
                &[]
            } else {
                std::slice::from_raw_parts(
                    arr.elts as *const ffi::apr_table_entry_t,
                    arr.nelts as usize,
                )
            }
        }
    };
    entries
        .iter()
        .filter(|e| !e.key.is_null())
        .map(|e| (bytes(e.key), bytes(e.val)))
}

/// A NUL-terminated copy of `v` in `pool`, for httpd to keep (no Rust allocation).
///
/// # Safety
/// `pool` must be a live pool.
pub(crate) unsafe fn pool_copy(pool: *mut ffi::apr_pool_t, v: &[u8]) -> *mut c_char {
    // SAFETY: apr_pstrndup copies at most len bytes and terminates the copy.
    unsafe { ffi::apr_pstrndup(pool, v.as_ptr() as *const c_char, v.len()) }
}

/// `apr_table_get` with a key given as bytes: NUL-terminated on the stack when it is short
/// (every indicator name is), so a lookup allocates nothing.
pub(crate) fn table_get<'a>(t: *const ffi::apr_table_t, name: &[u8]) -> Option<&'a [u8]> {
    // Most requests' environment is empty: a dozen lookups of indicator names end here.
    // SAFETY: a live table's elts header is readable.
    if t.is_null() || unsafe { (*ffi::apr_table_elts(t)).nelts } <= 0 || name.contains(&0) {
        return None;
    }
    let mut short = [0u8; 64];
    let long;
    let key: *const c_char = if name.len() < short.len() {
        short[..name.len()].copy_from_slice(name);
        short.as_ptr() as *const c_char
    } else {
        long = std::ffi::CString::new(name).ok()?;
        long.as_ptr()
    };
    // SAFETY: the table belongs to a live request; `key` is NUL-terminated and outlives the
    // call; apr_table_get returns NULL or a string in the request pool.
    opt_bytes(unsafe { ffi::apr_table_get(t, key) })
}

impl Drop for HttpdRequest<'_> {
    fn drop(&mut self) {
        self.pass_pending();
    }
}

impl<'r> HttpdRequest<'r> {
    /// # Safety
    /// `r` must be the live request of the current handler call.
    pub unsafe fn new(r: *mut ffi::request_rec) -> Self {
        HttpdRequest {
            r: unsafe { &mut *r },
            body_started: false,
            out: std::ptr::null_mut(),
        }
    }

    pub fn method(&self) -> &'r [u8] {
        bytes(self.r.method)
    }
    /// The decoded path httpd matched on.
    pub fn uri(&self) -> &'r [u8] {
        bytes(self.r.uri)
    }
    /// The request target as the client sent it.
    pub fn unparsed_uri(&self) -> &'r [u8] {
        bytes(self.r.unparsed_uri)
    }
    pub fn protocol(&self) -> &'r [u8] {
        bytes(self.r.protocol)
    }
    pub fn query(&self) -> Option<&'r [u8]> {
        opt_bytes(self.r.args)
    }
    pub fn headers(&self) -> impl Iterator<Item = (&'r [u8], &'r [u8])> {
        table(self.r.headers_in)
    }
    /// An environment variable (set by SetEnv, mod_rewrite, mod_ssl...), looked up as httpd
    /// does (its tables keep a checksum per key, so this is cheap).
    pub fn env(&self, name: &[u8]) -> Option<&'r [u8]> {
        table_get(self.r.subprocess_env, name)
    }
    /// The request's environment is empty (the usual case without SetEnv, mod_ssl's
    /// variables...).
    pub fn no_env(&self) -> bool {
        // SAFETY: a live table's elts header is readable.
        self.r.subprocess_env.is_null()
            || unsafe { (*ffi::apr_table_elts(self.r.subprocess_env)).nelts } <= 0
    }
    /// The client as httpd sees it (mod_remoteip may have replaced the TCP peer).
    pub fn remote_addr(&self) -> &'r [u8] {
        bytes(self.r.useragent_ip)
    }
    pub fn remote_port(&self) -> u16 {
        // SAFETY: useragent_addr is set for every request httpd reads from a connection.
        unsafe { self.r.useragent_addr.as_ref() }.map_or(0, |a| a.port)
    }
    /// The TCP peer, whatever mod_remoteip says (JkOptions +ForwardPhysicalAddress).
    pub fn physical_addr(&self) -> (&'r [u8], u16) {
        // SAFETY: the connection outlives its requests.
        match unsafe { self.r.connection.as_ref() } {
            Some(c) => (
                bytes(c.client_ip),
                unsafe { c.client_addr.as_ref() }.map_or(0, |a| a.port),
            ),
            None => (b"", 0),
        }
    }
    pub fn local_addr(&self) -> (&'r [u8], u16) {
        match unsafe { self.r.connection.as_ref() } {
            Some(c) => (
                bytes(c.local_ip),
                unsafe { c.local_addr.as_ref() }.map_or(0, |a| a.port),
            ),
            None => (b"", 0),
        }
    }
    pub fn server_name(&self) -> &'r [u8] {
        // SAFETY: r is live; the returned string lives in its pools.
        bytes(unsafe { ffi::ap_get_server_name(&*self.r as *const _ as *mut _) })
    }
    pub fn server_port(&self) -> u16 {
        unsafe { ffi::ap_get_server_port(self.r) }
    }
    pub fn remote_user(&self) -> Option<&'r [u8]> {
        opt_bytes(self.r.user)
    }
    pub fn auth_type(&self) -> Option<&'r [u8]> {
        opt_bytes(self.r.ap_auth_type)
    }
    /// A header httpd keeps on its own error page (`err_headers_out`).
    pub fn add_error_header(&mut self, name: &[u8], value: &[u8]) {
        // SAFETY: r is live; the copies live in its pool.
        unsafe {
            ffi::apr_table_add(
                self.r.err_headers_out,
                self.pool_str(name),
                self.pool_str(value),
            )
        };
    }
    pub fn header_only(&self) -> bool {
        self.r.header_only != 0
    }
    /// Make a response that broke after it started look broken: the connection is closed
    /// with nothing more written (no final chunk, fewer bytes than a Content-Length, no
    /// keep-alive), so the client cannot take it for a complete shorter response.
    pub fn abort_connection(&mut self) {
        // SAFETY: the connection outlives its requests; these two fields are httpd's own
        // switches for "write nothing more" and "close after this request".
        if let Some(c) = unsafe { self.r.connection.as_mut() } {
            c.keepalive = ffi::ap_conn_keepalive_e_AP_CONN_CLOSE;
            c.aborted = 1;
        }
    }
    pub fn client_gone(&self) -> bool {
        unsafe { self.r.connection.as_ref() }.is_none_or(|c| c.aborted != 0)
    }

    /// Read request body into `buf`: `Ok(0)` at its end. httpd removes chunked framing.
    pub fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: r is live; buf is a valid writable slice of the given length.
        unsafe {
            if !self.body_started {
                self.body_started = true;
                if ffi::ap_setup_client_block(self.r, ffi::REQUEST_CHUNKED_DECHUNK) != ffi::OK {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "unreadable request body",
                    ));
                }
                if ffi::ap_should_client_block(self.r) == 0 {
                    return Ok(0);
                }
            }
            let n = ffi::ap_get_client_block(self.r, buf.as_mut_ptr() as *mut c_char, buf.len());
            if n < 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "client body read failed",
                ));
            }
            Ok(n as usize)
        }
    }

    /// A copy of `v` in the request pool, NUL-terminated, for httpd to keep.
    fn pool_str(&self, v: &[u8]) -> *const c_char {
        // SAFETY: apr_pstrndup copies at most len bytes and terminates the copy.
        unsafe { ffi::apr_pstrndup(self.r.pool, v.as_ptr() as *const c_char, v.len()) }
    }

    /// Set status and headers. Content-Type and Content-Length go through httpd's own setters
    /// so that output filters (deflate, includes) see them.
    pub fn set_head<'h>(
        &mut self,
        status: u16,
        reason: Option<&[u8]>,
        headers: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    ) {
        self.r.status = status as i32;
        if let Some(reason) = reason.filter(|r| !r.is_empty() && !r.iter().all(u8::is_ascii_digit))
        {
            // "NNN reason" straight into the pool.
            let len = 4 + reason.len();
            // SAFETY: r's pool is live; apr_palloc returns len + 1 writable bytes.
            unsafe {
                let p = ffi::apr_palloc(self.r.pool, len + 1) as *mut u8;
                let line = std::slice::from_raw_parts_mut(p, len + 1);
                let code = status.min(999);
                line[0] = b'0' + (code / 100) as u8;
                line[1] = b'0' + (code / 10 % 10) as u8;
                line[2] = b'0' + (code % 10) as u8;
                line[3] = b' ';
                line[4..len].copy_from_slice(reason);
                line[len] = 0;
                self.r.status_line = p as *const c_char;
            }
        }
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(b"content-type") {
                // Lower-cased in its pool copy (httpd compares types case-sensitively).
                let copy = self.pool_str(value) as *mut u8;
                // apr_pstrndup stops at an embedded NUL: the copy is that long.
                let n = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                // SAFETY: the copy holds n bytes and a NUL, in r's pool.
                unsafe {
                    std::slice::from_raw_parts_mut(copy, n).make_ascii_lowercase();
                    ffi::ap_set_content_type(self.r, copy as *const c_char)
                };
            } else if name.eq_ignore_ascii_case(b"content-length") {
                if let Some(n) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse::<i64>().ok())
                {
                    unsafe { ffi::ap_set_content_length(self.r, n) };
                }
            } else {
                let (k, v) = self.pool_pair(name, value);
                // SAFETY: headers_out and both copies live in r's pool.
                unsafe { ffi::apr_table_addn(self.r.headers_out, k, v) };
            }
        }
    }

    /// Response body: buffered in the request's own brigade as httpd's ap_rwrite buffers it
    /// (ap_fwrite: small writes copied into 8 KB buckets, larger ones passed down at once),
    /// without ap_rwrite's OLD_WRITE filter, which httpd adds to the chain on the first write
    /// and runs again when the response ends (~700 instructions a request). What is left is
    /// passed down when the handler is done with the request (drop).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        // SAFETY: r and its connection are live; the brigade lives in r's pool and its
        // buckets in the connection's allocator; data is a valid slice.
        let rv = unsafe {
            let c = &*self.r.connection;
            if c.aborted != 0 {
                return Err(gone());
            }
            if self.out.is_null() {
                self.out = ffi::apr_brigade_create(self.r.pool, c.bucket_alloc);
            }
            ffi::apr_brigade_write(
                self.out,
                Some(ffi::ap_filter_flush),
                self.r.output_filters as *mut std::ffi::c_void,
                data.as_ptr() as *const c_char,
                data.len(),
            )
        };
        match rv {
            0 => Ok(()),
            _ => Err(gone()),
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        // SAFETY: r is live; `out` is NULL or its brigade.
        let ok = unsafe {
            if self.out.is_null() {
                ffi::ap_rflush(self.r) >= 0
            } else {
                // What is buffered, then a FLUSH bucket, down the chain together.
                let rv = ffi::ap_fflush(self.r.output_filters, self.out);
                ffi::apr_brigade_cleanup(self.out as *mut std::ffi::c_void);
                rv == 0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(gone())
        }
    }

    /// Pass the buffered body down the output filters (before the handler returns and httpd
    /// ends the response).
    fn pass_pending(&mut self) {
        if self.out.is_null() {
            return;
        }
        // SAFETY: r is live and `out` is its brigade.
        unsafe {
            let _ = ffi::ap_pass_brigade(self.r.output_filters, self.out);
            ffi::apr_brigade_cleanup(self.out as *mut std::ffi::c_void);
        }
    }

    /// The request's per-module slots (`request_config`).
    pub fn request_config(&self) -> *mut ffi::ap_conf_vector_t {
        self.r.request_config
    }

    pub fn server_rec(&self) -> *const ffi::server_rec {
        self.r.server
    }

    /// The request's notes table (`r->notes`).
    pub fn notes_table(&self) -> *mut ffi::apr_table_t {
        self.r.notes
    }

    /// Replace the request's notes table (by one holding the same notes and more).
    pub fn set_notes_table(&mut self, t: *mut ffi::apr_table_t) {
        self.r.notes = t;
    }

    /// The request pool.
    pub fn pool(&self) -> *mut ffi::apr_pool_t {
        self.r.pool
    }

    /// Which `JK_` notes the request holds before the handler sets its own.
    pub fn jk_notes(&self) -> JkNotes {
        let mut found = JkNotes::None;
        for (name, _) in table(self.r.notes) {
            if name.len() >= 3 && name[..3].eq_ignore_ascii_case(b"JK_") {
                if !name.eq_ignore_ascii_case(crate::translate::WORKER_NOTE.to_bytes()) {
                    return JkNotes::Others;
                }
                found = JkNotes::WorkerName;
            }
        }
        found
    }

    /// Set note `name`: replaced when it may be there already (`replace`), else appended
    /// without apr_table_set's scan, which compares every key sharing the first four letters
    /// ("JK_L"...) and made the 22 notes of a forwarded request cost ~20 k instructions. Name
    /// and value share one pool block.
    pub fn put_note(&mut self, name: &[u8], value: &[u8], replace: bool) {
        let (k, v) = self.pool_pair(name, value);
        // SAFETY: the notes table and both copies live in r's pool.
        unsafe {
            if replace {
                ffi::apr_table_setn(self.r.notes, k, v)
            } else {
                ffi::apr_table_addn(self.r.notes, k, v)
            }
        }
    }

    /// NUL-terminated copies of `name` and `value` in one block of the request pool, for a
    /// table's `*n` functions (apr_table_add would copy both once more).
    fn pool_pair(&self, name: &[u8], value: &[u8]) -> (*const c_char, *const c_char) {
        let len = name.len() + value.len() + 2;
        // SAFETY: r's pool is live; apr_palloc returns len writable bytes, which hold both
        // copies NUL-terminated for as long as the request.
        unsafe {
            let p = ffi::apr_palloc(self.r.pool, len) as *mut u8;
            let block = std::slice::from_raw_parts_mut(p, len);
            block[..name.len()].copy_from_slice(name);
            block[name.len()] = 0;
            block[name.len() + 1..len - 1].copy_from_slice(value);
            block[len - 1] = 0;
            (p as *const c_char, p.add(name.len() + 1) as *const c_char)
        }
    }
}
