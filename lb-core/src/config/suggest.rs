//! "Did you mean …?": the closest known name to a misspelt one.

/// The candidate closest to `name` by edit distance, if it is close enough to be a typo
/// (at most a third of the name's length, and at least 1 and at most 3 edits), or a
/// longer/shorter spelling of it. Case is ignored; names are compared as bytes (every
/// known name is ASCII).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let n = name.as_bytes();
    let limit = (n.len() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| {
            let l = c.as_bytes();
            // A longer or shorter spelling of the same word (`warning` for `warn`) is a typo too.
            let short = n.len().min(l.len());
            let prefix = short >= 4 && n[..short].eq_ignore_ascii_case(&l[..short]);
            let d = if prefix { 1 } else { distance(n, l, limit) };
            (d, c)
        })
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, c)| (d, c.len()))
        .map(|(_, c)| c)
}

/// ", did you mean `x`?" or nothing.
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(name, candidates) {
        Some(c) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

/// Damerau–Levenshtein (optimal string alignment: a swapped pair of letters counts as one
/// edit), ignoring ASCII case, or `limit + 1` as soon as it is known to exceed `limit` — so
/// a pathological key of kilobytes costs nothing per candidate.
fn distance(a: &[u8], b: &[u8], limit: usize) -> usize {
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    if a.is_empty() {
        return b.len();
    }
    let eq = |x: u8, y: u8| x.eq_ignore_ascii_case(&y);
    let w = b.len() + 1;
    // Rows i-2, i-1 and i of the table.
    let mut rows = vec![0usize; 3 * w];
    for (j, cell) in rows[w..2 * w].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        rows.copy_within(w.., 0);
        let (done, cur) = rows.split_at_mut(2 * w);
        let (two_up, up) = done.split_at(w);
        cur[0] = i;
        let mut best = i;
        for j in 1..w {
            let cost = usize::from(!eq(a[i - 1], b[j - 1]));
            let mut v = (up[j] + 1).min(cur[j - 1] + 1).min(up[j - 1] + cost);
            if i > 1 && j > 1 && eq(a[i - 1], b[j - 2]) && eq(a[i - 2], b[j - 1]) {
                v = v.min(two_up[j - 2] + 1);
            }
            cur[j] = v;
            best = best.min(v);
        }
        if best > limit {
            return limit + 1;
        }
    }
    rows[2 * w + b.len()].min(limit + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name() {
        let names = ["lbfactor", "route", "redirect", "retries", "reply_timeout"];
        assert_eq!(closest("lbfactr", names), Some("lbfactor"));
        assert_eq!(closest("lb_factor", names), Some("lbfactor"));
        assert_eq!(closest("rotue", names), Some("route"));
        assert_eq!(closest("retires", names), Some("retries"));
        assert_eq!(closest("color", names), None);
        assert_eq!(closest("LBFACTOR", names), Some("lbfactor"));
    }

    #[test]
    fn distance_is_exact_within_the_limit_and_gives_up_beyond() {
        assert_eq!(distance(b"rotue", b"route", 3), 1);
        assert_eq!(distance(b"kitten", b"sitting", 3), 3);
        assert_eq!(distance(b"kitten", b"sitting", 2), 3);
        assert_eq!(distance(b"", b"abc", 3), 3);
        assert_eq!(distance(&[b'x'; 4000], b"route", 3), 4);
    }
}
