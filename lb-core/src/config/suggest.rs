//! "Did you mean …?": the closest known name to a misspelt one.

/// The candidate closest to `name` by edit distance, if it is close enough to be a typo
/// (at most a third of the name's length, and at least 1 and at most 3 edits), or a
/// longer/shorter spelling of it.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let chars = name.chars().count();
    let limit = (chars / 3).clamp(1, 3);
    let n = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let l = c.to_ascii_lowercase();
            // A longer or shorter spelling of the same word (`warning` for `warn`) is a typo too.
            let prefix = n.len().min(l.len()) >= 4 && (n.starts_with(&l) || l.starts_with(&n));
            // Lengths further apart than the limit cannot be within it: no table to fill (a
            // pathological key of kilobytes costs nothing per candidate).
            let d = if prefix {
                1
            } else if chars.abs_diff(l.chars().count()) > limit {
                limit + 1
            } else {
                distance(&n, &l)
            };
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

/// Damerau–Levenshtein (optimal string alignment): a swapped pair of letters counts as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
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
    }
}
