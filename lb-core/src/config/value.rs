//! mod_jk's value syntaxes: integers with `k`/`m` suffixes, its boolean words, lists split on
//! space/tab/comma, and the one-letter enums (activation, method, lock). Where mod_jk silently
//! falls back to a default on nonsense, these return an error that says what was expected.

/// `8009`, `-1`, `64k` (×1024), `2M` (×1048576).
pub fn int(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let (digits, mult) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1024),
        Some(b'm' | b'M') => (&t[..t.len() - 1], 1024 * 1024),
        _ => (t, 1),
    };
    digits
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a whole number (suffixes k and m are allowed)"))
}

/// mod_jk's boolean words: `1`/`on`/`t…`/`y…` are true, `0`/`off`/`f…`/`n…` false.
pub fn boolean(s: &str) -> Result<bool, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "1" | "on" => return Ok(true),
        "0" | "off" => return Ok(false),
        _ => {}
    }
    match lower.as_bytes().first() {
        Some(b't' | b'y') => Ok(true),
        Some(b'f' | b'n') => Ok(false),
        _ => Err(format!(
            "`{s}` is not a boolean (use true/false, on/off, yes/no, 1/0)"
        )),
    }
}

/// Space, tab and comma separate list items; empty items vanish.
pub fn list(s: &str) -> Vec<&str> {
    s.split([' ', '\t', ','])
        .filter(|x| !x.is_empty())
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    Active,
    Disabled,
    Stopped,
}

impl Activation {
    /// First character decides, as in mod_jk: `A`/`0`, `D`/`1`, `S`/`2`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().as_bytes().first().map(u8::to_ascii_uppercase) {
            Some(b'A' | b'0') => Ok(Activation::Active),
            Some(b'D' | b'1') => Ok(Activation::Disabled),
            Some(b'S' | b'2') => Ok(Activation::Stopped),
            _ => Err(format!(
                "`{s}` is not an activation (Active, Disabled or Stopped)"
            )),
        }
    }

    /// The word mod_jk's status worker prints.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Active => "ACT",
            Activation::Disabled => "DIS",
            Activation::Stopped => "STP",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Request,
    Traffic,
    Busyness,
    Sessions,
    Next,
}

impl Method {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().as_bytes().first().map(u8::to_ascii_uppercase) {
            Some(b'R' | b'0') => Ok(Method::Request),
            Some(b'T' | b'1') => Ok(Method::Traffic),
            Some(b'B' | b'2') => Ok(Method::Busyness),
            Some(b'S' | b'3') => Ok(Method::Sessions),
            Some(b'N' | b'4') => Ok(Method::Next),
            _ => Err(format!(
                "`{s}` is not a method (Request, Session, Next, Traffic or Busyness)"
            )),
        }
    }

    /// The word mod_jk's status worker prints.
    pub fn name(self) -> &'static str {
        match self {
            Method::Request => "Request",
            Method::Traffic => "Traffic",
            Method::Busyness => "Busyness",
            Method::Sessions => "Sessions",
            Method::Next => "Next",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lock {
    Optimistic,
    Pessimistic,
}

impl Lock {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().as_bytes().first().map(u8::to_ascii_uppercase) {
            Some(b'O' | b'0') => Ok(Lock::Optimistic),
            Some(b'P' | b'1') => Ok(Lock::Pessimistic),
            _ => Err(format!("`{s}` is not a lock (Optimistic or Pessimistic)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lock::Optimistic => "Optimistic",
            Lock::Pessimistic => "Pessimistic",
        }
    }
}

/// `ping_mode` letters: C (after connect), P (before each request), I (idle interval), A (all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PingMode {
    pub connect: bool,
    pub prepost: bool,
    pub interval: bool,
}

impl PingMode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut m = PingMode::default();
        for c in s.chars() {
            match c.to_ascii_uppercase() {
                'C' => m.connect = true,
                'P' => m.prepost = true,
                'I' => m.interval = true,
                'A' => {
                    m = PingMode {
                        connect: true,
                        prepost: true,
                        interval: true,
                    }
                }
                ' ' | ',' => {}
                other => {
                    return Err(format!(
                        "`{other}` in ping_mode `{s}` is not one of C, P, I, A"
                    ))
                }
            }
        }
        Ok(m)
    }

    pub fn letters(self) -> String {
        [
            (self.connect, 'C'),
            (self.prepost, 'P'),
            (self.interval, 'I'),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_with_suffixes() {
        assert_eq!(int("8009"), Ok(8009));
        assert_eq!(int(" -1 "), Ok(-1));
        assert_eq!(int("64k"), Ok(65536));
        assert_eq!(int("2M"), Ok(2 * 1024 * 1024));
        assert!(int("12x")
            .unwrap_err()
            .contains("`12x` is not a whole number"));
        assert!(int("k").is_err());
    }

    #[test]
    fn mod_jk_boolean_words() {
        for t in ["1", "on", "ON", "true", "True", "yes", "y", "t"] {
            assert_eq!(boolean(t), Ok(true), "{t}");
        }
        for f in ["0", "off", "false", "no", "n", "F"] {
            assert_eq!(boolean(f), Ok(false), "{f}");
        }
        assert!(boolean("maybe").is_err());
    }

    #[test]
    fn lists_split_on_space_tab_comma() {
        assert_eq!(list("a, b\tc,,d "), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn one_letter_enums() {
        assert_eq!(Activation::parse("disabled"), Ok(Activation::Disabled));
        assert_eq!(Activation::parse("s"), Ok(Activation::Stopped));
        assert_eq!(Activation::parse("0"), Ok(Activation::Active));
        assert!(Activation::parse("x").is_err());
        assert_eq!(Method::parse("Session"), Ok(Method::Sessions));
        assert_eq!(Method::parse("B"), Ok(Method::Busyness));
        assert_eq!(Lock::parse("pessimistic"), Ok(Lock::Pessimistic));
        assert_eq!(PingMode::parse("A").unwrap().letters(), "CPI");
        assert!(PingMode::parse("CX").is_err());
    }
}
