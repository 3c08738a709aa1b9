//! The client side of a forwarded request in nginx: the request body read unbuffered (only as
//! the backend asks for it), the response head into `headers_out`, the body through nginx's
//! output filters with a free/busy buffer list so a slow client holds back the backend.

use lb_core::forward::parse_length;

use crate::ffi;

/// What a client-side step came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Done (for a read: this many bytes; 0 = end of body).
    Done(usize),
    /// Wait for the client's event.
    Again,
    /// The client is gone or sent something nginx refuses.
    Failed,
}

/// Copy of `v` in the request pool.
///
/// # Safety
/// `r` must be live.
pub unsafe fn pool_str(r: *mut ffi::ngx_http_request_t, v: &[u8]) -> ffi::ngx_str_t {
    let p = unsafe { ffi::ngx_pnalloc((*r).pool, v.len().max(1)) } as *mut u8;
    if p.is_null() {
        return ffi::ngx_str_t::empty();
    }
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), p, v.len()) };
    ffi::ngx_str_t {
        len: v.len(),
        data: p,
    }
}

/// Start reading the body without buffering it: nginx reads what has arrived and calls
/// `then` (at once, or when the first part is in). Returns nginx's code for the handler.
///
/// # Safety
/// `r` must be the live main request in its content handler.
pub unsafe fn start_body(
    r: *mut ffi::ngx_http_request_t,
    then: unsafe extern "C" fn(*mut ffi::ngx_http_request_t),
) -> ffi::ngx_int_t {
    unsafe {
        (*r).set_request_body_no_buffering(1);
        ffi::ngx_http_read_client_request_body(r, Some(then))
    }
}

/// Read up to `space.len()` body bytes that nginx has (reading more from the client when all
/// it had is consumed).
///
/// # Safety
/// `r` must be live, after [`start_body`] called back.
pub unsafe fn read_body(r: *mut ffi::ngx_http_request_t, space: &mut [u8]) -> Step {
    unsafe {
        let rb = (*r).request_body;
        if rb.is_null() {
            return Step::Done(0);
        }
        let mut n = 0;
        loop {
            while n < space.len() && !(*rb).bufs.is_null() {
                let b = (*(*rb).bufs).buf;
                if (*b).in_file() != 0 && (*b).temporary() == 0 && (*b).memory() == 0 {
                    // Only when nginx had to buffer to a file, which unbuffered reading never
                    // does; refuse rather than forward a wrong body.
                    return Step::Failed;
                }
                let have = (*b).last.offset_from((*b).pos) as usize;
                let take = have.min(space.len() - n);
                if take > 0 {
                    std::ptr::copy_nonoverlapping((*b).pos, space[n..].as_mut_ptr(), take);
                    (*b).pos = (*b).pos.add(take);
                    n += take;
                }
                if (*b).pos == (*b).last {
                    (*rb).bufs = (*(*rb).bufs).next;
                }
            }
            if n > 0 {
                return Step::Done(n);
            }
            if (*r).reading_body() == 0 {
                return Step::Done(0);
            }
            // All nginx had is consumed: its buffer is free for the next part.
            let rc = ffi::ngx_http_read_unbuffered_request_body(r);
            if rc >= ffi::NGX_HTTP_SPECIAL_RESPONSE as ffi::ngx_int_t || rc == ffi::ERROR {
                return Step::Failed;
            }
            if (*rb).bufs.is_null() {
                if (*r).reading_body() == 0 {
                    return Step::Done(0);
                }
                return Step::Again;
            }
        }
    }
}

/// The backend headers nginx treats apart from the rest.
enum Header {
    /// The connection's own, not forwarded.
    HopByHop,
    ContentType,
    ContentLength,
    Date,
    Server,
    Other,
}

/// What a backend header is to nginx, found by its length first (one comparison at most for
/// the usual header).
fn header(name: &[u8]) -> Header {
    let is = |h: &[u8]| name.eq_ignore_ascii_case(h);
    let hop = |yes: bool| if yes { Header::HopByHop } else { Header::Other };
    match name.len() {
        2 => hop(is(b"te")),
        4 if is(b"date") => Header::Date,
        6 if is(b"server") => Header::Server,
        7 => hop(is(b"upgrade") || is(b"trailer")),
        10 => hop(is(b"connection") || is(b"keep-alive")),
        12 if is(b"content-type") => Header::ContentType,
        14 if is(b"content-length") => Header::ContentLength,
        16 => hop(is(b"proxy-connection")),
        17 => hop(is(b"transfer-encoding")),
        _ => Header::Other,
    }
}

/// Add a response header to `headers_out`; returns the element (for Date/Server).
///
/// # Safety
/// `r` must be live.
pub unsafe fn add_header(
    r: *mut ffi::ngx_http_request_t,
    name: &[u8],
    value: &[u8],
) -> *mut ffi::ngx_table_elt_t {
    unsafe {
        let h = ffi::ngx_list_push(&mut (*r).headers_out.headers) as *mut ffi::ngx_table_elt_t;
        if h.is_null() {
            return h;
        }
        (*h).hash = 1;
        (*h).key = pool_str(r, name);
        (*h).value = pool_str(r, value);
        (*h).lowcase_key = std::ptr::null_mut();
        h
    }
}

/// Status and headers as the backend sent them, then nginx's header filters.
///
/// # Safety
/// `r` must be live.
pub unsafe fn write_head(r: *mut ffi::ngx_http_request_t, h: &ajp::SendHeaders<'_>) -> Step {
    unsafe {
        let out = &mut (*r).headers_out;
        out.status = h.status() as ffi::ngx_uint_t;
        if let Some(reason) = h
            .reason()
            .filter(|x| !x.is_empty() && !x.iter().all(u8::is_ascii_digit))
            .filter(|_| (100..1000).contains(&h.status()))
        {
            // "NNN reason", written straight into the request's pool.
            let len = 4 + reason.len();
            let p = ffi::ngx_pnalloc((*r).pool, len) as *mut u8;
            if !p.is_null() {
                let line = std::slice::from_raw_parts_mut(p, len);
                let status = h.status();
                line[0] = b'0' + (status / 100 % 10) as u8;
                line[1] = b'0' + (status / 10 % 10) as u8;
                line[2] = b'0' + (status % 10) as u8;
                line[3] = b' ';
                line[4..].copy_from_slice(reason);
                (*r).headers_out.status_line = ffi::ngx_str_t { len, data: p };
            }
        }
        for (name, value) in h.headers() {
            match header(name) {
                Header::HopByHop => {}
                Header::ContentType => {
                    let v = pool_str(r, value);
                    (*r).headers_out.content_type = v;
                    (*r).headers_out.content_type_len = v.len;
                    (*r).headers_out.content_type_lowcase = std::ptr::null_mut();
                }
                Header::ContentLength => {
                    if let Some(n) = parse_length(value).and_then(|n| i64::try_from(n).ok()) {
                        (*r).headers_out.content_length_n = n;
                    }
                }
                Header::Date => (*r).headers_out.date = add_header(r, name, value),
                Header::Server => (*r).headers_out.server = add_header(r, name, value),
                Header::Other => {
                    add_header(r, name, value);
                }
            }
        }
        let rc = ffi::ngx_http_send_header(r);
        if rc == ffi::ERROR || rc > ffi::OK {
            return Step::Failed;
        }
        Step::Done(0)
    }
}

/// Response body buffers of one request: the ones nginx still holds (busy), the ones free
/// for the next chunk, tagged as ours, and the body gathered since the last pass (nginx has
/// not seen it yet): the packets of one backend read go through nginx's filters together.
///
/// Where nothing between us and the socket keeps pointers into the data (HTTP/1 without TLS,
/// a main request, no filter that wants the body in memory or in temporary buffers), the
/// packets' bytes are lent: the buffers point into the machine's receive buffer, which keeps
/// them in place until the driver reads again (`Exchange::recv_space`). What nginx has not
/// sent when a pass returns is copied into buffers of ours then (only a slow client costs a
/// copy), so nginx never holds a lent byte once the driver goes on.
pub struct Output {
    /// Free buffers with memory of ours (`temporary`).
    free: *mut ffi::ngx_chain_t,
    /// Free buffers without memory (for lending).
    spare: *mut ffi::ngx_chain_t,
    busy: *mut ffi::ngx_chain_t,
    pending: *mut ffi::ngx_chain_t,
    /// The last link of `pending`.
    tail: *mut ffi::ngx_chain_t,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            free: std::ptr::null_mut(),
            spare: std::ptr::null_mut(),
            busy: std::ptr::null_mut(),
            pending: std::ptr::null_mut(),
            tail: std::ptr::null_mut(),
        }
    }
}

/// A response chunk this size or smaller is copied into a buffer of this size.
const SMALL: usize = 2048;

/// The least buffer a larger response is gathered in.
const LARGE: usize = 16 * 1024;

fn tag() -> ffi::ngx_buf_tag_t {
    crate::module::tag() as ffi::ngx_buf_tag_t
}

/// Whether nginx may be lent the body's bytes: nothing on the way keeps pointers into them
/// past the pass that a later copy could not move (HTTP/2 frames and TLS writes do; body
/// filters that want the data in memory may; subrequests' output waits elsewhere).
///
/// # Safety
/// `r` must be live.
unsafe fn lendable(r: *mut ffi::ngx_http_request_t) -> bool {
    unsafe {
        let q = &*r;
        q.stream.is_null()
            && (*q.connection).ssl.is_null()
            && r == q.main
            && q.main_filter_need_in_memory() == 0
            && q.filter_need_in_memory() == 0
            && q.filter_need_temporary() == 0
    }
}

/// Bytes `b` holds.
///
/// # Safety
/// `b` must be one of our (memory) buffers.
unsafe fn size(b: *const ffi::ngx_buf_t) -> usize {
    unsafe { (*b).last.offset_from((*b).pos) as usize }
}

/// Room in `b`'s memory.
///
/// # Safety
/// As [`size`].
unsafe fn capacity(b: *const ffi::ngx_buf_t) -> usize {
    unsafe {
        if (*b).start.is_null() {
            0
        } else {
            (*b).end.offset_from((*b).start) as usize
        }
    }
}

impl Output {
    /// Gather `data` for nginx's output filters, lent (see [`Output`]) or copied; it goes to
    /// them with the next [`send`](Self::send), [`flush`](Self::flush) or
    /// [`finish`](Self::finish).
    ///
    /// # Safety
    /// `r` must be live; `data` must stay in place until that pass returns.
    pub unsafe fn write(&mut self, r: *mut ffi::ngx_http_request_t, data: &[u8]) -> Step {
        unsafe {
            if (*r).header_only() != 0 || data.is_empty() {
                return Step::Done(0);
            }
            if lendable(r) {
                let cl = ffi::ngx_chain_get_free_buf((*r).pool, &mut self.spare);
                if cl.is_null() {
                    return Step::Failed;
                }
                let b = (*cl).buf;
                let p = data.as_ptr() as *mut u8;
                (*b).start = p;
                (*b).pos = p;
                (*b).last = p.add(data.len());
                (*b).end = (*b).last;
                (*b).set_temporary(0);
                (*b).set_memory(1);
                self.append(cl);
                return Step::Done(0);
            }
            if !self.tail.is_null() {
                let b = (*self.tail).buf;
                if (*b).temporary() != 0 && (*b).end.offset_from((*b).last) as usize >= data.len() {
                    std::ptr::copy_nonoverlapping(data.as_ptr(), (*b).last, data.len());
                    (*b).last = (*b).last.add(data.len());
                    return Step::Done(0);
                }
            }
            // A small response's buffer comes from the request's pool itself (nginx mallocs
            // what exceeds a pool page); a streamed one gets room for packets.
            let least = if data.len() <= SMALL && self.pending.is_null() {
                SMALL
            } else {
                LARGE
            };
            let cl = self.own(r, data.len(), least);
            if cl.is_null() {
                return Step::Failed;
            }
            let b = (*cl).buf;
            std::ptr::copy_nonoverlapping(data.as_ptr(), (*b).start, data.len());
            (*b).last = (*b).start.add(data.len());
            self.append(cl);
            Step::Done(0)
        }
    }

    /// A free buffer with memory of ours for at least `n` bytes (`least` when new), empty.
    unsafe fn own(
        &mut self,
        r: *mut ffi::ngx_http_request_t,
        n: usize,
        least: usize,
    ) -> *mut ffi::ngx_chain_t {
        unsafe {
            let cl = ffi::ngx_chain_get_free_buf((*r).pool, &mut self.free);
            if cl.is_null() {
                return cl;
            }
            let b = (*cl).buf;
            if capacity(b) < n {
                let size = n.max(least);
                let p = ffi::ngx_palloc((*r).pool, size) as *mut u8;
                if p.is_null() {
                    return std::ptr::null_mut();
                }
                (*b).start = p;
                (*b).end = p.add(size);
            }
            (*b).pos = (*b).start;
            (*b).last = (*b).start;
            (*b).set_temporary(1);
            (*b).set_memory(0);
            cl
        }
    }

    /// Put `cl` at the end of what is gathered.
    unsafe fn append(&mut self, cl: *mut ffi::ngx_chain_t) {
        unsafe {
            let b = (*cl).buf;
            (*b).set_flush(0);
            (*b).set_last_buf(0);
            (*b).set_last_in_chain(0);
            (*b).set_sync(0);
            (*b).tag = tag();
            (*cl).next = std::ptr::null_mut();
            if self.tail.is_null() {
                self.pending = cl;
            } else {
                (*self.tail).next = cl;
            }
            self.tail = cl;
        }
    }

    fn take_pending(&mut self) -> *mut ffi::ngx_chain_t {
        self.tail = std::ptr::null_mut();
        std::mem::replace(&mut self.pending, std::ptr::null_mut())
    }

    /// Pass what was gathered to nginx's output filters.
    ///
    /// # Safety
    /// `r` must be live.
    pub unsafe fn send(&mut self, r: *mut ffi::ngx_http_request_t) -> Step {
        if self.pending.is_null() {
            return Step::Done(0);
        }
        let cl = self.take_pending();
        unsafe { self.pass(r, cl) }
    }

    /// Forget what was gathered (the response broke off).
    pub fn drop_pending(&mut self) {
        self.take_pending();
    }

    /// The end of a response that went out, with what was gathered: nginx finishes sending
    /// on its own. Returns nginx's code for `ngx_http_finalize_request`.
    ///
    /// # Safety
    /// `r` must be live.
    pub unsafe fn finish(&mut self, r: *mut ffi::ngx_http_request_t) -> ffi::ngx_int_t {
        unsafe {
            if self.pending.is_null() {
                return ffi::ngx_http_send_special(r, ffi::NGX_HTTP_LAST as ffi::ngx_uint_t);
            }
            // As ngx_http_send_special marks its last buffer.
            let b = (*self.tail).buf;
            if r == (*r).main && (*r).post_action() == 0 {
                (*b).set_last_buf(1);
            } else {
                (*b).set_sync(1);
                (*b).set_last_in_chain(1);
            }
            let out = self.take_pending();
            let rc = ffi::ngx_http_output_filter(r, out);
            self.update(r, out);
            rc
        }
    }

    /// After a pass of `out`: what nginx sent is free again; what it still holds of lent
    /// bytes is copied into memory of ours.
    unsafe fn update(&mut self, r: *mut ffi::ngx_http_request_t, out: *mut ffi::ngx_chain_t) {
        unsafe {
            // ngx_chain_update_chains, keeping lent and own buffers apart.
            if !out.is_null() {
                if self.busy.is_null() {
                    self.busy = out;
                } else {
                    let mut cl = self.busy;
                    while !(*cl).next.is_null() {
                        cl = (*cl).next;
                    }
                    (*cl).next = out;
                }
            }
            while !self.busy.is_null() && size((*self.busy).buf) == 0 {
                let cl = self.busy;
                self.busy = (*cl).next;
                let b = (*cl).buf;
                if (*b).temporary() != 0 {
                    (*b).pos = (*b).start;
                    (*b).last = (*b).start;
                    (*cl).next = self.free;
                    self.free = cl;
                } else {
                    (*cl).next = self.spare;
                    self.spare = cl;
                }
            }
            let mut cl = self.busy;
            while !cl.is_null() {
                let b = (*cl).buf;
                let n = size(b);
                if (*b).temporary() == 0 && n > 0 {
                    self.keep(r, b, n);
                }
                cl = (*cl).next;
            }
        }
    }

    /// Move the `n` unsent lent bytes of `b` (which nginx holds) into memory of ours; `b`
    /// becomes a buffer with memory of ours. Without memory, nginx's connection is marked
    /// failed (it must not send bytes that are about to change).
    unsafe fn keep(&mut self, r: *mut ffi::ngx_http_request_t, b: *mut ffi::ngx_buf_t, n: usize) {
        unsafe {
            let donor = self.own(r, n, LARGE);
            if donor.is_null() {
                (*(*r).connection).set_error(1);
                (*b).pos = (*b).last;
                return;
            }
            let d = (*donor).buf;
            std::ptr::copy_nonoverlapping((*b).pos, (*d).start, n);
            (*b).start = (*d).start;
            (*b).end = (*d).end;
            (*b).pos = (*b).start;
            (*b).last = (*b).start.add(n);
            (*b).set_temporary(1);
            (*b).set_memory(0);
            // The donor's link and buffer, without memory now, lend next time.
            (*d).start = std::ptr::null_mut();
            (*d).end = std::ptr::null_mut();
            (*d).pos = std::ptr::null_mut();
            (*d).last = std::ptr::null_mut();
            (*d).set_temporary(0);
            (*donor).next = self.spare;
            self.spare = donor;
        }
    }

    /// Flush what nginx holds.
    ///
    /// # Safety
    /// `r` must be live.
    pub unsafe fn flush(&mut self, r: *mut ffi::ngx_http_request_t) -> Step {
        unsafe {
            if (*r).header_only() != 0 {
                return Step::Done(0);
            }
            if !self.pending.is_null() {
                (*(*self.tail).buf).set_flush(1);
                let cl = self.take_pending();
                return self.pass(r, cl);
            }
            let rc = ffi::ngx_http_send_special(r, ffi::NGX_HTTP_FLUSH as ffi::ngx_uint_t);
            if rc == ffi::ERROR {
                return Step::Failed;
            }
            self.settle(r)
        }
    }

    /// The client became writable: push what nginx holds.
    ///
    /// # Safety
    /// `r` must be live.
    pub unsafe fn resume(&mut self, r: *mut ffi::ngx_http_request_t) -> Step {
        unsafe {
            let c = (*r).connection;
            if (*(*c).write).timedout() != 0 {
                (*c).set_timedout(1);
                return Step::Failed;
            }
            self.pass(r, std::ptr::null_mut())
        }
    }

    unsafe fn pass(&mut self, r: *mut ffi::ngx_http_request_t, cl: *mut ffi::ngx_chain_t) -> Step {
        unsafe {
            let rc = ffi::ngx_http_output_filter(r, cl);
            self.update(r, cl);
            if rc == ffi::ERROR {
                return Step::Failed;
            }
            self.settle(r)
        }
    }

    /// Done unless the client's socket is full (then wait for its write event, within
    /// `send_timeout`): a slow client holds back the backend, nginx never buffers without
    /// bound.
    unsafe fn settle(&mut self, r: *mut ffi::ngx_http_request_t) -> Step {
        unsafe {
            let c = (*r).connection;
            let wev = (*c).write;
            if (*c).error() != 0 {
                return Step::Failed;
            }
            if self.busy.is_null() || (*wev).ready() != 0 {
                if (*wev).timer_set() != 0 {
                    ffi::ngx_del_timer(wev);
                }
                return Step::Done(0);
            }
            let clcf = ffi::core_loc_conf_of(r);
            if (*wev).timer_set() == 0 {
                ffi::ngx_add_timer(wev, (*clcf).send_timeout);
            }
            if ffi::ngx_handle_write_event(wev, (*clcf).send_lowat) != ffi::OK {
                return Step::Failed;
            }
            Step::Again
        }
    }
}

/// The client connection is known to be closed: nginx marked it, or (HTTP/1) a non-blocking
/// peek sees its end (httpd's `connection->aborted`, checked where the blocking driver does).
///
/// # Safety
/// `r` must be live.
pub unsafe fn gone(r: *mut ffi::ngx_http_request_t) -> bool {
    unsafe {
        let c = (*r).connection;
        if (*c).error() != 0 || (*c).close() != 0 {
            return true;
        }
        if !(*r).stream.is_null() {
            return false;
        }
        let mut b = 0u8;
        let n = libc::recv(
            (*c).fd,
            &mut b as *mut u8 as *mut libc::c_void,
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        );
        if n == 0 {
            return true;
        }
        n < 0 && {
            let e = std::io::Error::last_os_error().raw_os_error();
            e != Some(libc::EAGAIN) && e != Some(libc::EWOULDBLOCK) && e != Some(libc::EINTR)
        }
    }
}
