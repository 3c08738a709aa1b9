//! `JkOptions`: words with an optional `+`/`-`, combined as mod_jk does — a virtual host starts
//! from the main server's result and applies its own `+` then `-`; the four `ForwardURI*`
//! choices replace each other.

use crate::config::closest;

/// How the URI is forwarded to the backend (mod_jk's ForwardURI* options).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ForwardUri {
    /// The decoded URI as httpd had it before normalisation, re-encoded (mod_jk's default).
    #[default]
    Proxy,
    /// The client's raw request URI, query cut off.
    CompatUnparsed,
    /// The decoded URI as is (unsafe; mod_jk ≤ 1.2.22's default).
    Compat,
    /// The decoded URI escaped by httpd's `ap_escape_uri`.
    Escaped,
}

bitflags::bitflags! {
    /// `JkOptions` on/off flags, with mod_jk's bit values (ForwardURI* is kept apart in
    /// [`Options::forward_uri`]).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Flag: u32 {
        const FORWARD_DIRECTORIES = 0x8;
        const FORWARD_LOCAL_ADDRESS = 0x10;
        const FLUSH_PACKETS = 0x20;
        const FLUSH_HEADER = 0x40;
        const DISABLE_REUSE = 0x80;
        const FORWARD_SSL_CERT_CHAIN = 0x100;
        const FORWARD_KEY_SIZE = 0x200;
        const REJECT_UNSAFE_URI = 0x400;
        const FORWARD_PHYSICAL_ADDRESS = 0x800;
    }
}

const FLAGS: &[(&str, Flag)] = &[
    ("ForwardDirectories", Flag::FORWARD_DIRECTORIES),
    ("ForwardLocalAddress", Flag::FORWARD_LOCAL_ADDRESS),
    ("FlushPackets", Flag::FLUSH_PACKETS),
    ("FlushHeader", Flag::FLUSH_HEADER),
    ("DisableReuse", Flag::DISABLE_REUSE),
    ("ForwardSSLCertChain", Flag::FORWARD_SSL_CERT_CHAIN),
    ("ForwardKeySize", Flag::FORWARD_KEY_SIZE),
    ("RejectUnsafeURI", Flag::REJECT_UNSAFE_URI),
    ("ForwardPhysicalAddress", Flag::FORWARD_PHYSICAL_ADDRESS),
];

const URIS: &[(&str, ForwardUri)] = &[
    ("ForwardURIProxy", ForwardUri::Proxy),
    ("ForwardURICompatUnparsed", ForwardUri::CompatUnparsed),
    ("ForwardURICompat", ForwardUri::Compat),
    ("ForwardURIEscaped", ForwardUri::Escaped),
];

const DEPRECATED: &[&str] = &[
    "CollapseSlashesAll",
    "CollapseSlashesNone",
    "CollapseSlashesUnmount",
];

/// What one server's `JkOptions` lines say, before inheritance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionLines {
    plus: Flag,
    minus: Flag,
    forward_uri: Option<ForwardUri>,
}

/// The effective options of a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    flags: Flag,
    pub forward_uri: ForwardUri,
}

impl Default for Options {
    /// mod_jk's default: ForwardURIProxy and ForwardKeySize.
    fn default() -> Self {
        Options {
            flags: Flag::FORWARD_KEY_SIZE,
            forward_uri: ForwardUri::Proxy,
        }
    }
}

impl Options {
    pub fn has(&self, f: Flag) -> bool {
        self.flags.contains(f)
    }

    /// Apply one server's lines on top of `self` (the main server's result, or the default).
    pub fn with(mut self, lines: &OptionLines) -> Options {
        self.flags = (self.flags | lines.plus) - lines.minus;
        if let Some(u) = lines.forward_uri {
            self.forward_uri = u;
        }
        // Local and physical address share one setting: the one enabled last wins in mod_jk's
        // mask; keep whichever this server enabled.
        if lines.plus.contains(Flag::FORWARD_PHYSICAL_ADDRESS) {
            self.flags.remove(Flag::FORWARD_LOCAL_ADDRESS);
        } else if lines.plus.contains(Flag::FORWARD_LOCAL_ADDRESS) {
            self.flags.remove(Flag::FORWARD_PHYSICAL_ADDRESS);
        }
        self
    }
}

/// A word of a JkOptions line that cannot be used, or a deprecated one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    Error(String),
    Warning(String),
}

impl OptionLines {
    /// Read one `JkOptions` argument list into this server's lines.
    pub fn read(&mut self, args: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        for word in args.split_whitespace() {
            let (sign, name) = match word.as_bytes()[0] {
                b'+' => ('+', &word[1..]),
                b'-' => ('-', &word[1..]),
                _ => ('+', word),
            };
            if let Some(&(_, f)) = FLAGS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                if sign == '+' {
                    self.plus |= f;
                    self.minus.remove(f);
                } else {
                    self.minus |= f;
                    self.plus.remove(f);
                }
            } else if let Some(&(n, u)) = URIS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                if sign == '-' {
                    problems.push(Problem::Error(format!(
                        "JkOptions: `-{n}` cannot be used: the ForwardURI options replace each other, so enable the one you want")));
                } else {
                    self.forward_uri = Some(u);
                }
            } else if DEPRECATED.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                problems.push(Problem::Warning(format!(
                    "JkOptions: `{name}` is deprecated and ignored: slashes are always collapsed before matching")));
            } else {
                let names = FLAGS
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(URIS.iter().map(|(n, _)| *n));
                let hint = closest(name, names)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                problems.push(Problem::Error(format!(
                    "JkOptions: unknown option `{name}`{hint}"
                )));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_forward_uri_proxy_and_key_size() {
        let o = Options::default();
        assert_eq!(o.forward_uri, ForwardUri::Proxy);
        assert!(o.has(Flag::FORWARD_KEY_SIZE));
        assert!(!o.has(Flag::REJECT_UNSAFE_URI));
    }

    #[test]
    fn vhost_inherits_then_applies_its_own_plus_and_minus() {
        let mut global = OptionLines::default();
        assert!(global
            .read("+FlushPackets RejectUnsafeURI -ForwardKeySize ForwardURICompatUnparsed")
            .is_empty());
        let mut vhost = OptionLines::default();
        assert!(vhost.read("-FlushPackets +ForwardKeySize").is_empty());
        let g = Options::default().with(&global);
        assert!(
            g.has(Flag::FLUSH_PACKETS)
                && g.has(Flag::REJECT_UNSAFE_URI)
                && !g.has(Flag::FORWARD_KEY_SIZE)
        );
        assert_eq!(g.forward_uri, ForwardUri::CompatUnparsed);
        let v = g.with(&vhost);
        assert!(
            !v.has(Flag::FLUSH_PACKETS)
                && v.has(Flag::REJECT_UNSAFE_URI)
                && v.has(Flag::FORWARD_KEY_SIZE)
        );
        assert_eq!(v.forward_uri, ForwardUri::CompatUnparsed);
    }

    #[test]
    fn local_and_physical_address_exclude_each_other() {
        let mut a = OptionLines::default();
        a.read("ForwardLocalAddress");
        let mut b = OptionLines::default();
        b.read("ForwardPhysicalAddress");
        let o = Options::default().with(&a).with(&b);
        assert!(o.has(Flag::FORWARD_PHYSICAL_ADDRESS) && !o.has(Flag::FORWARD_LOCAL_ADDRESS));
    }

    #[test]
    fn errors_and_deprecations_are_explained() {
        let mut l = OptionLines::default();
        let p = l.read("-ForwardURIProxy FlushPakets CollapseSlashesAll");
        assert_eq!(p[0], Problem::Error("JkOptions: `-ForwardURIProxy` cannot be used: the ForwardURI options replace each other, so enable the one you want".into()));
        assert_eq!(
            p[1],
            Problem::Error(
                "JkOptions: unknown option `FlushPakets` (did you mean `FlushPackets`?)".into()
            )
        );
        assert!(matches!(&p[2], Problem::Warning(w) if w.contains("deprecated and ignored")));
    }
}
