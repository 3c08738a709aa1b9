//! Rule extensions (`lb;reply_timeout=5000;active=n1`), read as mod_jk's
//! `parse_rule_extensions` reads them: the text after the worker name is cut at every `;` (empty
//! pieces skipped), each piece is recognised by its exact `name=` prefix, numbers are read like
//! C's `atoi` (`5s` is 5 — rjk warns), and a repeated text or list extension keeps the first.
//!
//! Stricter than mod_jk: an unknown extension (mod_jk logs a warning and drops it) rejects the
//! rule, naming the closest valid extension — a typo in `stateless` should not go unnoticed.

/// What a rule overrides for the requests it maps. `None`/empty means "the worker's setting".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `reply_timeout=` in ms; a negative value is mod_jk's "not set".
    pub reply_timeout: Option<i64>,
    pub sticky_ignore: bool,
    pub stateless: bool,
    /// `active=`/`disabled=`/`stopped=`: lb member names (comma or space separated).
    pub active: Vec<String>,
    pub disabled: Vec<String>,
    pub stopped: Vec<String>,
    /// `fail_on_status=`: statuses, a negative one meaning "fail but keep the member usable".
    pub fail_on_status: Vec<i64>,
    /// `use_server_errors=`: httpd renders its own page for backend statuses ≥ this (0 = off).
    pub use_server_errors: i64,
    pub session_cookie: Option<String>,
    /// `session_path=`. Written `session_path=;jsessionid`, the `;` splits the text and the
    /// value arrives as `jsessionid`, which still finds `jsessionid=` in the URI (as in mod_jk).
    pub session_path: Option<String>,
    pub set_session_cookie: bool,
    /// Read but unused, as in mod_jk.
    pub session_cookie_path: Option<String>,
}

/// Every extension name mod_jk knows.
pub const NAMES: &[&str] = &[
    "reply_timeout",
    "sticky_ignore",
    "stateless",
    "active",
    "disabled",
    "stopped",
    "fail_on_status",
    "use_server_errors",
    "session_cookie",
    "session_path",
    "set_session_cookie",
    "session_cookie_path",
];

/// A worker text split into its name and extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub worker: &'a str,
    pub extensions: Extensions,
    /// Accepted as mod_jk would, but worth a look (`reply_timeout=5s`, a repeated extension).
    pub warnings: Vec<String>,
}

/// A rule with no extensions (what `SetHandler jakarta-servlet` requests are mapped by).
pub static NO_EXTENSIONS: Extensions = Extensions {
    reply_timeout: None,
    sticky_ignore: false,
    stateless: false,
    active: Vec::new(),
    disabled: Vec::new(),
    stopped: Vec::new(),
    fail_on_status: Vec::new(),
    use_server_errors: 0,
    session_cookie: None,
    session_path: None,
    set_session_cookie: false,
    session_cookie_path: None,
};

impl Extensions {
    /// Split `worker;ext=value...`. An unknown extension is an error saying what was meant.
    pub fn parse(text: &str) -> Result<Parsed<'_>, String> {
        let mut pieces = text.split(';').filter(|p| !p.is_empty());
        let worker = pieces.next().unwrap_or("");
        let mut ext = Extensions::default();
        let mut warnings = Vec::new();
        while let Some(piece) = pieces.next() {
            let Some((key, value)) = piece.split_once('=') else {
                return Err(unknown(piece, piece));
            };
            let mut number = |v: &str| {
                let (n, whole) = atoi(v);
                if !whole {
                    warnings.push(format!("rule extension `{piece}`: `{v}` is not a whole number; read as {n}, as mod_jk does"));
                }
                n
            };
            match key {
                "reply_timeout" => ext.reply_timeout = Some(number(value)).filter(|t| *t >= 0),
                "sticky_ignore" => ext.sticky_ignore = number(value) != 0,
                "stateless" => ext.stateless = number(value) != 0,
                "use_server_errors" => ext.use_server_errors = number(value),
                "set_session_cookie" => ext.set_session_cookie = number(value) != 0,
                "active" => first_list(&mut ext.active, names(value), key, &mut warnings),
                "disabled" => first_list(&mut ext.disabled, names(value), key, &mut warnings),
                "stopped" => first_list(&mut ext.stopped, names(value), key, &mut warnings),
                "fail_on_status" => {
                    let statuses: Vec<i64> = members(value).map(|s| atoi(s).0).collect();
                    first_list(&mut ext.fail_on_status, statuses, key, &mut warnings)
                }
                "session_cookie" => first(
                    &mut ext.session_cookie,
                    value.to_owned(),
                    key,
                    &mut warnings,
                ),
                "session_cookie_path" => first(
                    &mut ext.session_cookie_path,
                    value.to_owned(),
                    key,
                    &mut warnings,
                ),
                "session_path" => {
                    // `session_path=;jsessionid`: the value is the next piece; none leaves it unset.
                    let value = if value.is_empty() {
                        pieces.next()
                    } else {
                        Some(value)
                    };
                    if let Some(v) = value {
                        first(&mut ext.session_path, v.to_owned(), key, &mut warnings)
                    }
                }
                _ => return Err(unknown(piece, key)),
            }
        }
        Ok(Parsed {
            worker,
            extensions: ext,
            warnings,
        })
    }

    /// Whether the rule sets any member activation (meaningful for lb workers only).
    pub fn has_activation(&self) -> bool {
        !(self.active.is_empty() && self.disabled.is_empty() && self.stopped.is_empty())
    }

    /// Whether the forwarding engine needs this rule: member activations, `fail_on_status`,
    /// `use_server_errors` (the rest is applied before forwarding).
    pub fn steers_engine(&self) -> bool {
        self.has_activation() || !self.fail_on_status.is_empty() || self.use_server_errors > 0
    }

    /// The rule's activation for each member, in the order of `members` (`None`: the member's
    /// own). mod_jk applies `active=` first, then `disabled=`, then `stopped=`, so the last list
    /// naming a member wins.
    pub fn activations<'m>(
        &self,
        members: impl Iterator<Item = &'m str>,
    ) -> Vec<Option<crate::config::Activation>> {
        use crate::config::Activation;
        let lists = [
            (&self.active, Activation::Active),
            (&self.disabled, Activation::Disabled),
            (&self.stopped, Activation::Stopped),
        ];
        members
            .map(|m| {
                lists
                    .iter()
                    .rev()
                    .find(|(names, _)| names.iter().any(|n| n == m))
                    .map(|(_, a)| *a)
            })
            .collect()
    }

    /// Whether the rule sets any session extension (meaningful for lb workers only).
    pub fn has_session(&self) -> bool {
        !self.session_names().is_empty()
    }

    /// The session extensions that are set (meaningful for lb workers only).
    pub fn session_names(&self) -> Vec<&'static str> {
        let set = [
            ("session_cookie", self.session_cookie.is_some()),
            ("session_path", self.session_path.is_some()),
            ("set_session_cookie", self.set_session_cookie),
            ("session_cookie_path", self.session_cookie_path.is_some()),
        ];
        set.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect()
    }
}

fn unknown(piece: &str, key: &str) -> String {
    let hint = match crate::config::closest(key, NAMES.iter().copied()) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => format!("; known extensions: {}", NAMES.join(", ")),
    };
    format!("unknown rule extension `{piece}`{hint}")
}

/// Member and status lists are split on commas and spaces.
fn members(v: &str) -> impl Iterator<Item = &str> {
    v.split([',', ' ']).filter(|s| !s.is_empty())
}

fn names(v: &str) -> Vec<String> {
    members(v).map(str::to_owned).collect()
}

fn first_list<T>(slot: &mut Vec<T>, value: Vec<T>, key: &str, warnings: &mut Vec<String>) {
    if slot.is_empty() {
        *slot = value;
    } else {
        warnings.push(format!(
            "rule extension `{key}` given twice: the second is ignored, as in mod_jk"
        ));
    }
}

fn first<T>(slot: &mut Option<T>, value: T, key: &str, warnings: &mut Vec<String>) {
    if slot.is_none() {
        *slot = Some(value);
    } else {
        warnings.push(format!(
            "rule extension `{key}` given twice: the second is ignored, as in mod_jk"
        ));
    }
}

/// C's `atoi`: optional blanks and sign, then digits up to the first non-digit (saturating
/// instead of overflowing); returns the number and whether the whole text was that number.
pub(crate) fn atoi(v: &str) -> (i64, bool) {
    let t = v.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits[..end].bytes().fold(0i64, |n, d| {
        n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    (if neg { -n } else { n }, end > 0 && end == digits.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(text: &str) -> Extensions {
        Extensions::parse(text).unwrap().extensions
    }

    #[test]
    fn worker_name_is_the_first_non_empty_piece() {
        assert_eq!(Extensions::parse("lb").unwrap().worker, "lb");
        assert_eq!(Extensions::parse("lb;;stateless=1").unwrap().worker, "lb");
        assert_eq!(
            Extensions::parse(";lb").unwrap().worker,
            "lb",
            "strtok skips leading `;`"
        );
        assert_eq!(Extensions::parse("").unwrap().worker, "");
    }

    #[test]
    fn reply_timeout() {
        assert_eq!(ext("w;reply_timeout=5000").reply_timeout, Some(5000));
        assert_eq!(ext("w;reply_timeout=0").reply_timeout, Some(0));
        assert_eq!(
            ext("w;reply_timeout=-1").reply_timeout,
            None,
            "negative is mod_jk's unset"
        );
        assert_eq!(ext("w").reply_timeout, None);
        let p = Extensions::parse("w;reply_timeout=5s").unwrap();
        assert_eq!(
            p.extensions.reply_timeout,
            Some(5),
            "atoi reads the leading digits"
        );
        assert!(
            p.warnings[0].contains("not a whole number"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn flags_are_non_zero_numbers() {
        assert!(ext("w;sticky_ignore=1").sticky_ignore);
        assert!(!ext("w;sticky_ignore=0").sticky_ignore);
        assert!(ext("w;stateless=2").stateless);
        assert!(!ext("w;stateless=true").stateless, "atoi(\"true\") is 0");
        assert!(ext("w;set_session_cookie=1").set_session_cookie);
        assert_eq!(ext("w;use_server_errors=400").use_server_errors, 400);
        assert!(ext("w;use_server_errors=400").steers_engine());
        assert!(!ext("w;sticky_ignore=1;reply_timeout=5").steers_engine());
    }

    #[test]
    fn activation_lists_split_on_comma_and_space_and_keep_the_first() {
        let e = ext("lb;active=n1,n2;disabled=n3 n4;stopped=n5");
        assert_eq!(e.active, ["n1", "n2"]);
        assert_eq!(e.disabled, ["n3", "n4"]);
        assert_eq!(e.stopped, ["n5"]);
        assert!(e.has_activation());
        let p = Extensions::parse("lb;active=n1;active=n2").unwrap();
        assert_eq!(p.extensions.active, ["n1"]);
        assert!(p.warnings[0].contains("given twice"));
    }

    #[test]
    fn activations_by_member_the_last_list_wins() {
        use crate::config::Activation::*;
        let e = ext("lb;active=n2;disabled=n1,n2;stopped=n3");
        assert_eq!(
            e.activations(["n1", "n2", "n3", "n4"].into_iter()),
            [Some(Disabled), Some(Disabled), Some(Stopped), None]
        );
        assert!(e.steers_engine());
    }

    #[test]
    fn fail_on_status_list() {
        assert_eq!(
            ext("w;fail_on_status=500,-503 404").fail_on_status,
            [500, -503, 404]
        );
        let p = Extensions::parse("w;fail_on_status=500;fail_on_status=404").unwrap();
        assert_eq!(p.extensions.fail_on_status, [500]);
        assert!(p.warnings[0].contains("given twice"));
    }

    #[test]
    fn session_extensions() {
        let e = ext("lb;session_cookie=SID;session_path=;sid;session_cookie_path=/x");
        assert_eq!(e.session_cookie.as_deref(), Some("SID"));
        assert_eq!(
            e.session_path.as_deref(),
            Some("sid"),
            "`;` before the name is lost to the split"
        );
        assert_eq!(e.session_cookie_path.as_deref(), Some("/x"));
        assert_eq!(
            ext("lb;session_path=jsid").session_path.as_deref(),
            Some("jsid")
        );
        assert_eq!(
            ext("lb;session_path=").session_path,
            None,
            "nothing follows: unset"
        );
        assert_eq!(
            e.session_names(),
            ["session_cookie", "session_path", "session_cookie_path"]
        );
        assert!(e.has_session() && !ext("lb;stateless=1").has_session());
    }

    #[test]
    fn unknown_extensions_are_errors_with_a_suggestion() {
        let e = Extensions::parse("lb;stateles=1").unwrap_err();
        assert_eq!(
            e,
            "unknown rule extension `stateles=1`; did you mean `stateless`?"
        );
        let e = Extensions::parse("lb;reply_timout=10").unwrap_err();
        assert!(e.ends_with("did you mean `reply_timeout`?"), "{e}");
        let e = Extensions::parse("lb;stateless").unwrap_err();
        assert!(
            e.contains("`stateless`"),
            "a name without `=` is not an extension: {e}"
        );
        let e = Extensions::parse("lb;colour=red").unwrap_err();
        assert!(e.contains("known extensions: reply_timeout"), "{e}");
        assert!(
            Extensions::parse("lb;reply_timeout =5").is_err(),
            "the name must be exact"
        );
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi("42"), (42, true));
        assert_eq!(atoi(" -7"), (-7, true));
        assert_eq!(atoi("12abc"), (12, false));
        assert_eq!(atoi("abc"), (0, false));
        assert_eq!(atoi(""), (0, false));
        assert_eq!(atoi("99999999999999999999999").0, i64::MAX);
    }
}
