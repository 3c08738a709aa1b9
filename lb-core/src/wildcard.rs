//! mod_jk's wildcard match: `*` is any run of characters (including `/`), `?` exactly one;
//! everything else matches itself, case-sensitively. Linear-time backtracking on the last `*`.

pub fn matches(pattern: &str, text: &str) -> bool {
    // The usual mount, `/app/*`: one `*`, at the end, is a prefix test.
    if let Some(prefix) = pattern.strip_suffix('*') {
        if !prefix.contains(['*', '?']) {
            return text.starts_with(prefix);
        }
    }
    let (p, s) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_question_and_literals() {
        assert!(matches("/app/*", "/app/x/y"));
        assert!(!matches("/app/*", "/app"));
        assert!(matches("/*.jsp", "/a/b.jsp"));
        assert!(matches("/a?c", "/abc"));
        assert!(!matches("/a?c", "/ac"));
        assert!(matches("*", ""));
        assert!(!matches("/App/*", "/app/x"), "case-sensitive");
        assert!(matches("/a*b*c", "/aXbYbZc"));
        // The prefix form and the general one agree.
        for (p, t, m) in [
            ("/*", "/download", true),
            ("/*", "/", true),
            ("/*", "", false),
            ("/app/*", "/app/", true),
            ("/app/*", "/ap", false),
            ("/app/*", "/other/app/x", false),
            ("/a?p/*", "/axp/y", true),
            ("/a*/*", "/ab/c", true),
            ("*", "/x", true),
        ] {
            assert_eq!(matches(p, t), m, "{p} {t}");
        }
    }
}
