//! Attacker-shaped input, generated: normalisation must agree with a plain model of mod_jk's
//! four steps (mod_jk: its uri normalisation), keep its invariants, and nothing on the request path may panic.

use lb_core::config::Location;
use lb_core::directive::options::ForwardUri;
use lb_core::mount::{MountTable, Rule, Source};
use lb_core::route::{routes, session_id};
use lb_core::uri::{decode, forward_uri, normalise, normalise_steps, UriError};

/// A small deterministic generator (xorshift64), so a failure always reproduces.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self, alphabet: &[&str], max_len: u64) -> String {
        let len = self.next() % (max_len + 1);
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}

/// mod_jk's steps, written as string rewrites one after the other.
fn model(path: &str) -> Result<String, UriError> {
    if path == "*" {
        return Ok(path.to_owned());
    }
    if !path.starts_with('/') {
        return Err(UriError::NotAbsolute);
    }
    // 1. Path parameters: from `;` up to the next `/`.
    let mut s = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            ';' => in_param = true,
            '/' => {
                in_param = false;
                s.push(c)
            }
            _ if !in_param => s.push(c),
            _ => {}
        }
    }
    // 2. Runs of `/`.
    while s.contains("//") {
        s = s.replace("//", "/");
    }
    // 3. `.` segments.
    while let Some(i) = s.find("/./") {
        s.replace_range(i..i + 2, "");
    }
    if s.ends_with("/.") {
        s.pop();
    }
    // 4. `..` segments, each taking the segment before it; none left at the root.
    loop {
        let at = s
            .match_indices("/..")
            .map(|(i, _)| i)
            .find(|&i| matches!(s.as_bytes().get(i + 3), None | Some(b'/')));
        let Some(i) = at else { break };
        if i == 0 {
            return Err(UriError::AboveRoot);
        }
        let previous = s[..i].rfind('/').unwrap_or(0);
        let rest = s[i + 3..].to_owned();
        s.truncate(previous);
        s.push_str(if rest.is_empty() { "/" } else { &rest });
    }
    Ok(s)
}

const PATH_BITS: &[&str] = &[
    "/", "/", "/", ".", ".", "..", ";", "=", "a", "b", "ü", "%", "%2e", "%2f", "%zz", "?", "\\",
    "*",
];

#[test]
fn normalise_agrees_with_the_model_and_keeps_its_invariants() {
    let mut g = Gen(0x5eed_1234_abcd_0001);
    let mut checked = 0;
    for _ in 0..30_000 {
        let mut path = g.string(PATH_BITS, 14);
        if !g.next().is_multiple_of(8) {
            path.insert(0, '/');
        }
        let got = normalise(&path);
        assert_eq!(got, model(&path), "{path:?}");
        assert_eq!(
            normalise_steps(&path).1,
            got,
            "the step-by-step story ends where normalise does: {path:?}"
        );
        if let Ok(n) = got {
            if n == "*" {
                continue;
            }
            checked += 1;
            assert!(n.starts_with('/'), "{path:?} → {n:?}");
            assert!(!n.contains("//") && !n.contains(';'), "{path:?} → {n:?}");
            assert!(
                !n.split('/').any(|seg| seg == "." || seg == ".."),
                "{path:?} → {n:?}"
            );
            assert_eq!(
                normalise(&n).as_deref(),
                Ok(n.as_str()),
                "normalising twice changes nothing: {path:?}"
            );
        }
    }
    assert!(
        checked > 10_000,
        "the generator must mostly produce usable paths ({checked})"
    );
}

#[test]
fn the_request_path_never_panics() {
    let mut table = MountTable::new();
    let at = || Source::JkMount(Location::new("gen.conf", 1));
    let mut g = Gen(0x0dd_b17e5_u64);
    for _ in 0..300 {
        let pattern = format!(
            "/{}",
            g.string(&["a", "*", "?", "/", ".", "ü", "|", "!"], 8)
        );
        let prefix = ["", "!", "-", "-!"][(g.next() % 4) as usize];
        let worker = ["w1", "w2", "*"][(g.next() % 3) as usize];
        if let Ok(rules) = Rule::parse(&format!("{prefix}{pattern}"), worker, at()) {
            table.extend(rules);
        }
    }
    table.reject_unsafe = true;
    for _ in 0..20_000 {
        let raw = g.string(PATH_BITS, 24);
        let cookie = g.string(
            &["JSESSIONID", "=", ";", ",", " ", "\"", "a.n1", ".", "ü"],
            10,
        );
        for mode in [
            ForwardUri::Proxy,
            ForwardUri::CompatUnparsed,
            ForwardUri::Compat,
            ForwardUri::Escaped,
        ] {
            let fwd = forward_uri(&raw, &raw, mode);
            if let Some(id) = session_id(&fwd, &[&cookie], ";jsessionid", "JSESSIONID") {
                routes(&id).for_each(drop);
            }
        }
        let Ok(decoded) = decode(&raw) else { continue };
        let Ok(n) = normalise(&decoded) else { continue };
        let ex = table.explain(&n);
        assert_eq!(
            ex.result.map(|m| m.worker),
            table.map(&n).map(|m| m.worker),
            "{raw:?}"
        );
        for v in &ex.verdicts {
            let _ = v.outcome.describe(table.rules());
        }
    }
}
