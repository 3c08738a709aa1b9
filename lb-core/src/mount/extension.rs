//! Rule extensions (`worker;reply_timeout=5000;active=n1`), as mod_jk's
//! `parse_rule_extensions` reads them: the text after the worker name is cut at every `;` (empty
//! pieces skipped), each piece is recognised by its `name=` prefix, numbers are read like C's
//! `atoi` (so `abc` is 0 — rjk warns), a repeated list extension keeps the first value.

/// What a rule overrides for the requests it maps. `None`/empty means "the worker's setting".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `reply_timeout=` in ms; negative = not set (mod_jk's -1).
    pub reply_timeout: Option<i64>,
    pub sticky_ignore: bool,
    pub stateless: bool,
    /// `active=`/`disabled=`/`stopped=`: lb member names (comma or space separated).
    pub active: Vec<String>,
    pub disabled: Vec<String>,
    pub stopped: Vec<String>,
    /// `fail_on_status=`: statuses, negative ones meaning "fail but do not put into error".
    pub fail_on_status: Vec<i64>,
    /// `use_server_errors=`: httpd renders its own page for backend statuses ≥ this (0 = off).
    pub use_server_errors: i64,
    pub session_cookie: Option<String>,
    /// `session_path=`; given as `session_path=;jsessionid` it arrives without the `;` (the
    /// `;` splits the text), which still finds `jsessionid=` in the URI.
    pub session_path: Option<String>,
    pub set_session_cookie: bool,
    /// Parsed but unused, as in mod_jk.
    pub session_cookie_path: Option<String>,
}

impl Extensions {
    /// Split `worker;ext=value...` into the worker name, its extensions and warnings.
    pub fn parse(text: &str) -> (&str, Extensions, Vec<String>) {
        let mut pieces = text.split(';').filter(|p| !p.is_empty());
        let name = pieces.next().unwrap_or("");
        let mut ext = Extensions::default();
        let mut warnings = Vec::new();
        while let Some(piece) = pieces.next() {
            let (key, value) = match piece.split_once('=') {
                Some((k, v)) => (k, v),
                None => (piece, ""),
            };
            let mut warn = |m: String| warnings.push(m);
            let mut number = |v: &str| {
                let (n, clean) = atoi(v);
                if !clean {
                    warn(format!("rule extension `{piece}`: `{v}` is not a whole number; read as {n} (as mod_jk does)"));
                }
                n
            };
            match (key, piece.contains('=')) {
                ("reply_timeout", true) => ext.reply_timeout = Some(number(value)).filter(|t| *t >= 0),
                ("sticky_ignore", true) => ext.sticky_ignore = number(value) != 0,
                ("stateless", true) => ext.stateless = number(value) != 0,
                ("use_server_errors", true) => ext.use_server_errors = number(value),
                ("active", true) => once(&mut ext.active, value, piece, &mut warnings),
                ("disabled", true) => once(&mut ext.disabled, value, piece, &mut warnings),
                ("stopped", true) => once(&mut ext.stopped, value, piece, &mut warnings),
                ("fail_on_status", true) if !ext.fail_on_status.is_empty() => {
                    warnings.push(format!("rule extension `{piece}` ignored: `fail_on_status` is only allowed once"))
                }
                ("fail_on_status", true) => {
                    ext.fail_on_status = members(value).map(|s| atoi(s).0).collect();
                }
                ("session_cookie", true) => text_once(&mut ext.session_cookie, value, piece, &mut warnings),
                ("session_path", true) => {
                    // `session_path=;jsessionid`: the value is the next piece.
                    let value = if value.is_empty() { pieces.next().unwrap_or("") } else { value };
                    text_once(&mut ext.session_path, value, piece, &mut warnings)
                }
                ("set_session_cookie", true) => ext.set_session_cookie = number(value) != 0,
                ("session_cookie_path", true) => text_once(&mut ext.session_cookie_path, value, piece, &mut warnings),
                _ => {
                    let known = KNOWN.iter().copied();
                    let hint = crate::config::closest(key, known).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
                    warnings.push(format!("unknown rule extension `{piece}` ignored{hint}"));
                }
            }
        }
        (name, ext, warnings)
    }

    /// Whether the rule sets any member activation (lb workers only).
    pub fn has_activation(&self) -> bool {
        !(self.active.is_empty() && self.disabled.is_empty() && self.stopped.is_empty())
    }

    /// Whether the rule sets any session extension (lb workers only).
    pub fn has_session(&self) -> bool {
        self.session_cookie.is_some() || self.session_path.is_some() || self.set_session_cookie || self.session_cookie_path.is_some()
    }
}

const KNOWN: &[&str] = &[
    "reply_timeout", "sticky_ignore", "stateless", "active", "disabled", "stopped", "fail_on_status",
    "use_server_errors", "session_cookie", "session_path", "set_session_cookie", "session_cookie_path",
];

/// Member or status lists are split on commas and spaces.
fn members(v: &str) -> impl Iterator<Item = &str> {
    v.split([',', ' ']).filter(|s| !s.is_empty())
}

fn once(slot: &mut Vec<String>, value: &str, piece: &str, warnings: &mut Vec<String>) {
    if slot.is_empty() {
        *slot = members(value).map(str::to_owned).collect();
    } else {
        warnings.push(format!("rule extension `{piece}` ignored: it is only allowed once"));
    }
}

fn text_once(slot: &mut Option<String>, value: &str, piece: &str, warnings: &mut Vec<String>) {
    if slot.is_none() {
        *slot = Some(value.to_owned());
    } else {
        warnings.push(format!("rule extension `{piece}` ignored: it is only allowed once"));
    }
}

/// C's `atoi`: optional blanks and sign, then digits up to the first non-digit; returns the
/// number and whether the whole text was that number.
fn atoi(v: &str) -> (i64, bool) {
    let t = v.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits[..end].bytes().fold(0i64, |n, d| n.saturating_mul(10).saturating_add((d - b'0') as i64));
    (if neg { -n } else { n }, end > 0 && end == digits.len())
}
