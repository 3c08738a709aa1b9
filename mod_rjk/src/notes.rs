//! The `JK_*` notes of a forwarded request (mod_jk's names, for `%{JK_LB_LAST_NAME}n` in a
//! LogFormat and for JkRequestLogFormat), put into `r->notes` the cheap way.
//!
//! A balanced request has 21 notes besides `JK_WORKER_NAME`, always the same names in the same
//! order (lb-core's [`notes::each_name`]). Adding them one by one cost ~5 k instructions per
//! request, ~80 of them per note in httpd's table code alone. Instead a table of those names
//! (the template, with empty values) is built once per configuration; a request copies it
//! with one `apr_table_copy` (entries and index as they are), points each entry's value at
//! its text in the request pool, adds its own notes and makes that its notes table. Names are
//! lb-core's static C strings, never copied; values share one pool block.
//!
//! Requests of another shape (no member tried, `JK_*` notes of another module already there)
//! take the general way: one `apr_table_addn` (or `apr_table_setn`) per note.

use std::ffi::CStr;
use std::os::raw::c_char;

use lb_core::forward::{notes, Forwarded, Worker};

use crate::ffi;
use crate::request::{HttpdRequest, JkNotes};

/// The tables of note names for the usual shapes of a request, in the configuration pool.
pub struct Templates {
    /// A balanced worker, first and last member known.
    lb: *const ffi::apr_table_t,
    /// A plain ajp13 worker, its member tried.
    ajp13: *const ffi::apr_table_t,
    /// lb-core's `JK_WORKER_NAME` (not in the tables: set on its own), known by its address.
    worker_name: *const c_char,
}

// SAFETY: built once in post_config, only read afterwards (apr_table_copy reads its source).
unsafe impl Send for Templates {}
unsafe impl Sync for Templates {}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

/// The name of the duration note (lb-core's static string).
fn duration_name() -> &'static CStr {
    notes::duration_note(std::time::Duration::ZERO, &mut [0; 32]).0
}

impl Templates {
    /// # Safety
    /// `pool` must be a live pool that outlives every request served with these templates
    /// (the configuration pool).
    pub unsafe fn new(pool: *mut ffi::apr_pool_t) -> Templates {
        let mut worker_name = std::ptr::null();
        notes::each_name(false, false, false, &mut |n| {
            if n == crate::translate::WORKER_NOTE {
                worker_name = n.as_ptr();
            }
        });
        let make = |is_lb: bool, first: bool| {
            // SAFETY: pool is live; names and the empty value are static.
            unsafe {
                // Room for the request's own notes in each copy (see `put`).
                let t = ffi::apr_table_make(pool, 32);
                notes::each_name(is_lb, first, true, &mut |n| {
                    if n.as_ptr() != worker_name {
                        ffi::apr_table_addn(t, n.as_ptr(), c"".as_ptr());
                    }
                });
                ffi::apr_table_addn(t, duration_name().as_ptr(), c"".as_ptr());
                t as *const ffi::apr_table_t
            }
        };
        Templates {
            lb: make(true, true),
            ajp13: make(false, false),
            worker_name,
        }
    }

    fn for_request(&self, worker: &Worker, done: &Forwarded) -> Option<*const ffi::apr_table_t> {
        done.last?;
        match (worker.is_lb(), done.first.is_some()) {
            (true, true) => Some(self.lb),
            (false, _) => Some(self.ajp13),
            (true, false) => None,
        }
    }
}

/// Room for note values in the request pool: one block, taken as the values come.
struct Values {
    pool: *mut ffi::apr_pool_t,
    at: *mut u8,
    left: usize,
}

impl Values {
    /// Enough for a balanced request's values (names and numbers are short).
    const BLOCK: usize = 256;

    #[cold]
    #[inline(never)]
    fn refill(&mut self, need: usize) {
        let size = need.max(Self::BLOCK);
        // SAFETY: the pool is the live request pool.
        self.at = unsafe { ffi::apr_palloc(self.pool, size) } as *mut u8;
        self.left = size;
    }

    /// A NUL-terminated copy of `v` (httpd reads it up to its first NUL).
    fn copy(&mut self, v: &[u8]) -> *const c_char {
        let need = v.len() + 1;
        // SAFETY: the pool is the live request pool; apr_palloc returns the bytes asked for,
        // and `at` has `left` of them.
        unsafe {
            if need > self.left {
                self.refill(need);
            }
            let p = self.at;
            notes::copy_short(v, p);
            *p.add(v.len()) = 0;
            self.at = p.add(need);
            self.left -= need;
            p as *const c_char
        }
    }
}

/// A note where the template has another (lb-core's `each` and `each_name` disagree): set it
/// on its own, and give up on the template's entries (they may have moved).
#[cold]
#[inline(never)]
fn out_of_order(
    notes: *mut ffi::apr_table_t,
    name: &CStr,
    v: &[u8],
    _next: *mut ffi::apr_table_entry_t,
    stop: *mut ffi::apr_table_entry_t,
) -> *mut ffi::apr_table_entry_t {
    debug_assert!(false, "note {name:?} out of the template's order");
    // SAFETY: the notes table is the live request's; the copy lives in its pool.
    unsafe {
        let pool = (*ffi::apr_table_elts(notes)).pool;
        let value = crate::request::pool_copy(pool, v);
        ffi::apr_table_setn(notes, name.as_ptr(), value);
    }
    stop
}

/// Put the notes of `done` (forwarded through `worker`, in `took`) into the request's notes;
/// `noted`: the `JK_WORKER_NAME` note the request had (empty: none).
pub fn put(
    req: &mut HttpdRequest<'_>,
    templates: &Templates,
    done: &Forwarded,
    worker: &Worker,
    took: std::time::Duration,
    noted: &[u8],
) {
    let held = req.jk_notes();
    let mut buf = [0u8; 32];
    let (duration, took) = notes::duration_note(took, &mut buf);
    let template = match held {
        JkNotes::Others => None,
        _ => templates.for_request(worker, done),
    };
    let Some(template) = template else {
        done.each_note(worker, &mut |k, v| {
            req.put_note(k.to_bytes(), v, held.may_hold(k.to_bytes()))
        });
        req.put_note(
            duration.to_bytes(),
            took,
            held.may_hold(duration.to_bytes()),
        );
        return;
    };
    // JK_WORKER_NAME first, as `each` gives it (before the table grows below). Set by
    // translate_name for a mapped request: left alone when it says the same (mod_jk sets it
    // in the handler only when it is missing).
    let name = worker.name().as_bytes();
    let note = crate::translate::WORKER_NOTE.to_bytes();
    if held != JkNotes::WorkerName || noted != name {
        req.put_note(note, name, held == JkNotes::WorkerName);
    }
    let mut values = Values {
        pool: req.pool(),
        at: std::ptr::null_mut(),
        left: 0,
    };
    // A copy of the template (apr_table_copy copies its entries and their index as they
    // are), its values filled below, then the request's own notes added after them: that
    // table becomes r->notes (httpd's internal_fast_redirect replaces r->notes too).
    // SAFETY: the template lives in the configuration pool, which outlives the request's;
    // its names are static and its values empty static strings until replaced below. Only
    // the copies' values are written, so the table's index stays right.
    let old = req.notes_table();
    let notes = unsafe { ffi::apr_table_copy(req.pool(), template) };
    let (mut next, stop) = unsafe {
        let arr = &*ffi::apr_table_elts(notes);
        let elts = arr.elts as *mut ffi::apr_table_entry_t;
        (elts, elts.add(arr.nelts as usize))
    };
    let worker_name = templates.worker_name;
    let mut fill = |name: &'static CStr, v: &[u8]| {
        if name.as_ptr() == worker_name {
            return;
        }
        // SAFETY: `next` stays within `..stop`, the new entries.
        unsafe {
            if next < stop && std::ptr::eq((*next).key, name.as_ptr()) {
                (*next).val = values.copy(v) as *mut _;
                next = next.add(1);
            } else {
                // Not the template's order (cannot happen: both come from lb-core's `each`).
                next = out_of_order(notes, name, v, next, stop);
            }
        }
    };
    done.each_note(worker, &mut fill);
    fill(duration, took);
    // SAFETY: both tables are the live request's; the entries' strings live in its pool
    // (or are static). The table may grow here: the pointers above are not used again.
    unsafe {
        let arr = &*ffi::apr_table_elts(old);
        if !arr.elts.is_null() && arr.nelts > 0 {
            let entries = std::slice::from_raw_parts(
                arr.elts as *const ffi::apr_table_entry_t,
                arr.nelts as usize,
            );
            for e in entries.iter().filter(|e| !e.key.is_null()) {
                ffi::apr_table_addn(notes, e.key, e.val);
            }
        }
    }
    req.set_notes_table(notes);
}
