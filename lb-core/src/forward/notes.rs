//! Notes for the request log (mod_jk: its service loop and outcome rules): which worker and member served, and the first
//! and last member attempted (`JK_LB_FIRST_*`, `JK_LB_LAST_*`).

use std::ffi::CStr;

use super::{Activation, Outcome};

/// One member's part in the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempted<'w> {
    pub member: usize,
    pub name: &'w str,
    pub route: &'w str,
    pub activation: Option<Activation>,
    pub outcome: Outcome,
}

impl Attempted<'_> {
    /// mod_jk's state word for the log: "OK" when the member served or the client failed,
    /// "ERR" otherwise, "OK/BUSY" when it was busy.
    pub fn state(&self) -> &'static str {
        match self.outcome {
            Outcome::Success | Outcome::ClientError | Outcome::StatusSoft => "OK",
            Outcome::Busy => "OK/BUSY",
            _ => "ERR",
        }
    }
}

/// A member's shared counters at the time the notes are rendered (balanced workers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberValues {
    pub value: u64,
    pub accessed: u64,
    pub read: u64,
    pub transferred: u64,
    pub errors: u64,
    pub busy: u64,
    /// mod_jk's state word from the shared table ("OK", "ERR/REC"...).
    pub state: &'static str,
}

/// `JK_REQUEST_DURATION`: seconds and microseconds, as mod_jk writes it.
pub fn duration(d: std::time::Duration) -> String {
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

/// The `JK_REQUEST_DURATION` note for a request that took `d`, written into `buf`.
pub fn duration_note(d: std::time::Duration, buf: &mut [u8; 32]) -> (&'static CStr, &[u8]) {
    let mut secs = [0u8; 20];
    let secs = decimal(d.as_secs(), &mut secs);
    buf[..secs.len()].copy_from_slice(secs);
    let mut at = secs.len();
    buf[at] = b'.';
    at += 1;
    let mut micros = d.subsec_micros() as usize;
    for i in [4, 2, 0] {
        let r = micros % 100 * 2;
        micros /= 100;
        buf[at + i..at + i + 2].copy_from_slice(&PAIRS[r..r + 2]);
    }
    (c"JK_REQUEST_DURATION", &buf[..at + 6])
}

/// The notes of one forwarded request, handed to `note` one by one (names are mod_jk's, as C
/// strings a web server's table can keep without copying; numbers are written on the stack,
/// so rendering allocates nothing). Which names come, and in which order, depends only on
/// `is_lb` and which of `first` and `last` are given ([`each_name`]). `values` gives the shared
/// counters of a member when the worker has them (a balanced worker); the FIRST/LAST values
/// are then read at render time, not at the moment of each attempt as mod_jk does.
pub fn each<F: FnMut(&'static CStr, &[u8]) + ?Sized>(
    worker: &str,
    is_lb: bool,
    first: Option<&Attempted<'_>>,
    last: Option<&Attempted<'_>>,
    values: &dyn Fn(usize) -> Option<MemberValues>,
    note: &mut F,
) {
    note(c"JK_WORKER_NAME", worker.as_bytes());
    note(
        c"JK_WORKER_TYPE",
        if is_lb { &b"lb"[..] } else { &b"ajp13"[..] },
    );
    if let Some(l) = last {
        note(c"JK_WORKER_ROUTE", l.route.as_bytes());
    }
    if !is_lb {
        return;
    }
    type Names = [&'static CStr; 9];
    static FIRST: Names = [
        c"JK_LB_FIRST_NAME",
        c"JK_LB_FIRST_ACTIVATION",
        c"JK_LB_FIRST_STATE",
        c"JK_LB_FIRST_VALUE",
        c"JK_LB_FIRST_ACCESSED",
        c"JK_LB_FIRST_READ",
        c"JK_LB_FIRST_TRANSFERRED",
        c"JK_LB_FIRST_ERRORS",
        c"JK_LB_FIRST_BUSY",
    ];
    static LAST: Names = [
        c"JK_LB_LAST_NAME",
        c"JK_LB_LAST_ACTIVATION",
        c"JK_LB_LAST_STATE",
        c"JK_LB_LAST_VALUE",
        c"JK_LB_LAST_ACCESSED",
        c"JK_LB_LAST_READ",
        c"JK_LB_LAST_TRANSFERRED",
        c"JK_LB_LAST_ERRORS",
        c"JK_LB_LAST_BUSY",
    ];
    // The member's counters, rendered on the stack; when FIRST and LAST are the same member
    // (a request its first member served) they are read and rendered once.
    let mut nums = [[0u8; 20]; 6];
    let mut starts = [0usize; 6];
    let mut state = None;
    let mut rendered = None;
    // The name tables by reference: copying them cost a memcpy each.
    for (names, a) in [(&FIRST, first), (&LAST, last)] {
        let Some(a) = a else { continue };
        if rendered != Some(a.member) {
            state = values(a.member).map(|v| {
                let all = [v.value, v.accessed, v.read, v.transferred, v.errors, v.busy];
                for (i, n) in all.into_iter().enumerate() {
                    starts[i] = 20 - decimal(n, &mut nums[i]).len();
                }
                v.state
            });
            rendered = Some(a.member);
        }
        // The member's values side by side, handed over from one place (one call site:
        // the caller's closure inlines).
        let mut given: [&[u8]; 9] = [b""; 9];
        given[0] = a.name.as_bytes();
        given[1] = a.activation.map_or("", Activation::name).as_bytes();
        let count = match state {
            Some(st) => {
                given[2] = st.as_bytes();
                for i in 0..6 {
                    given[3 + i] = &nums[i][starts[i]..];
                }
                9
            }
            None => {
                given[2] = a.state().as_bytes();
                3
            }
        };
        for (name, v) in names.iter().zip(&given[..count]) {
            note(name, v);
        }
    }
}

/// The names [`each`] gives, in its order, for a request of that shape (a web server can
/// prepare a table of them once).
pub fn each_name(is_lb: bool, first: bool, last: bool, name: &mut dyn FnMut(&'static CStr)) {
    let a = Attempted {
        member: 0,
        name: "",
        route: "",
        activation: None,
        outcome: Outcome::Success,
    };
    let (first, last) = (first.then_some(&a), last.then_some(&a));
    // A balanced worker has its members' counters (`Forwarded::each_note`).
    let values = |_| is_lb.then(MemberValues::default);
    each("", is_lb, first, last, &values, &mut |n, _| name(n));
}

/// As [`each`], collected (for tests and callers that keep them).
pub fn render(
    worker: &str,
    is_lb: bool,
    first: Option<&Attempted<'_>>,
    last: Option<&Attempted<'_>>,
    values: &dyn Fn(usize) -> Option<MemberValues>,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    each(worker, is_lb, first, last, values, &mut |n, v| {
        out.push((
            n.to_str().unwrap_or_default(),
            String::from_utf8_lossy(v).into_owned(),
        ))
    });
    out
}

/// Copy a note's value `v` to `to` (a web server's own memory) with two overlapping loads and
/// stores: values are short ("lb", "OK", "0", "1024"), and a memcpy call costs more than the
/// copy.
///
/// # Safety
/// `to` must have room for `v.len()` bytes.
#[inline]
pub unsafe fn copy_short(v: &[u8], to: *mut u8) {
    let (n, s) = (v.len(), v.as_ptr());
    // SAFETY: every read is inside `v` and every write inside `to[..n]`.
    unsafe {
        match n {
            0 => {}
            1 => *to = *s,
            2..=3 => {
                let (a, b) = (
                    s.cast::<u16>().read_unaligned(),
                    s.add(n - 2).cast::<u16>().read_unaligned(),
                );
                to.cast::<u16>().write_unaligned(a);
                to.add(n - 2).cast::<u16>().write_unaligned(b);
            }
            4..=7 => {
                let (a, b) = (
                    s.cast::<u32>().read_unaligned(),
                    s.add(n - 4).cast::<u32>().read_unaligned(),
                );
                to.cast::<u32>().write_unaligned(a);
                to.add(n - 4).cast::<u32>().write_unaligned(b);
            }
            8..=16 => {
                let (a, b) = (
                    s.cast::<u64>().read_unaligned(),
                    s.add(n - 8).cast::<u64>().read_unaligned(),
                );
                to.cast::<u64>().write_unaligned(a);
                to.add(n - 8).cast::<u64>().write_unaligned(b);
            }
            _ => std::ptr::copy_nonoverlapping(s, to, n),
        }
    }
}

/// "00" to "99": two digits per division.
pub(super) const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `n` in decimal, in `buf`, two digits at a time.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    while n >= 100 {
        let r = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[r..r + 2]);
    }
    if n >= 10 {
        let r = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[r..r + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_every_width() {
        for n in [
            0u64,
            7,
            10,
            99,
            100,
            101,
            999,
            1000,
            12345,
            1 << 40,
            u64::MAX,
        ] {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
        let mut buf = [0u8; 32];
        let d = std::time::Duration::from_micros(3_000_007);
        assert_eq!(duration_note(d, &mut buf).1, b"3.000007");
        let d = std::time::Duration::from_micros(999_999);
        assert_eq!(duration_note(d, &mut buf).1, b"0.999999");
    }

    #[test]
    fn short_copies_copy_every_length() {
        let src: Vec<u8> = (1..=40).collect();
        for n in 0..=40 {
            let mut to = [0u8; 41];
            // SAFETY: `to` has room for 40 bytes.
            unsafe { copy_short(&src[..n], to.as_mut_ptr()) };
            assert_eq!(&to[..n], &src[..n], "{n}");
            assert!(to[n..].iter().all(|&b| b == 0), "{n}");
        }
    }

    #[test]
    fn each_name_gives_each_s_names_in_its_order() {
        let a = Attempted {
            member: 0,
            name: "tc1",
            route: "r1",
            activation: Some(Activation::Active),
            outcome: Outcome::Success,
        };
        let counted = |_| Some(MemberValues::default());
        for (is_lb, first, last) in [
            (true, true, true),
            (false, false, true),
            (true, false, true),
        ] {
            let mut named = Vec::new();
            each_name(is_lb, first, last, &mut |n| named.push(n));
            let mut given = Vec::new();
            let values: &dyn Fn(usize) -> Option<MemberValues> =
                if is_lb { &counted } else { &|_| None };
            each(
                "lb",
                is_lb,
                first.then_some(&a),
                last.then_some(&a),
                values,
                &mut |n, _| given.push(n),
            );
            assert_eq!(named, given, "shape {:?}", (is_lb, first, last));
            // The same static strings: a web server may know them by address.
            assert!(named
                .iter()
                .zip(&given)
                .all(|(x, y)| std::ptr::eq(x.as_ptr(), y.as_ptr())));
        }
        let mut lb = 0;
        each_name(true, true, true, &mut |_| lb += 1);
        assert_eq!(lb, 21);
    }

    #[test]
    fn lb_notes_name_first_and_last() {
        let a = |name, outcome| Attempted {
            member: 0,
            name,
            route: name,
            activation: Some(Activation::Active),
            outcome,
        };
        let first = a("tc1", Outcome::Failed);
        let last = a("tc2", Outcome::Success);
        let notes = render("lb", true, Some(&first), Some(&last), &|_| None);
        let get = |k| notes.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("JK_WORKER_NAME"), Some("lb"));
        assert_eq!(get("JK_WORKER_ROUTE"), Some("tc2"));
        assert_eq!(get("JK_LB_FIRST_NAME"), Some("tc1"));
        assert_eq!(get("JK_LB_FIRST_STATE"), Some("ERR"));
        assert_eq!(get("JK_LB_LAST_STATE"), Some("OK"));
        assert_eq!(get("JK_LB_LAST_ACTIVATION"), Some("ACT"));
        assert_eq!(get("JK_WORKER_TYPE"), Some("lb"));
        let plain = render("w", false, None, Some(&last), &|_| None);
        assert_eq!(plain.len(), 3);
        assert_eq!(plain[1], ("JK_WORKER_TYPE", "ajp13".to_owned()));
        assert_eq!(
            duration(std::time::Duration::from_micros(2_000_042)),
            "2.000042"
        );
        let mut buf = [0u8; 32];
        let (name, v) = duration_note(std::time::Duration::from_micros(12_000_042), &mut buf);
        assert_eq!((name, v), (c"JK_REQUEST_DURATION", &b"12.000042"[..]));
        let counted = |_| {
            Some(MemberValues {
                value: 7,
                busy: 1,
                state: "OK",
                ..MemberValues::default()
            })
        };
        // FIRST and LAST of different members: each its own counters.
        let other = Attempted { member: 1, ..first };
        let by_member = |m| {
            Some(MemberValues {
                value: 10 + m as u64,
                state: "OK",
                ..MemberValues::default()
            })
        };
        let notes = render("lb", true, Some(&other), Some(&last), &by_member);
        let get = |k| notes.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            (get("JK_LB_FIRST_VALUE"), get("JK_LB_LAST_VALUE")),
            (Some("11"), Some("10"))
        );
        let notes = render("lb", true, Some(&first), Some(&last), &by_member);
        let get = |k| notes.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            (get("JK_LB_FIRST_VALUE"), get("JK_LB_LAST_VALUE")),
            (Some("10"), Some("10"))
        );
        let notes = render("lb", true, None, Some(&last), &counted);
        let get = |k| notes.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("JK_LB_LAST_VALUE"), Some("7"));
        assert_eq!(get("JK_LB_LAST_BUSY"), Some("1"));
        assert_eq!(get("JK_LB_FIRST_NAME"), None);
    }
}
