//! Query strings: `k=v&k2` pairs, percent- and plus-decoded.

/// Every pair in order; a bare key has an empty value.
pub(crate) fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The first value of `key`.
pub(crate) fn get(q: Option<&str>, key: &str) -> Option<String> {
    pairs(q?)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(
            pairs("a=1&b=x%20y+z&c&=e&%zz=%4"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "".into()),
                ("".into(), "e".into()),
                ("%zz".into(), "%4".into()),
            ]
        );
        assert_eq!(get(Some("x=1&y=2"), "y").as_deref(), Some("2"));
        assert_eq!(get(None, "y"), None);
    }
}
