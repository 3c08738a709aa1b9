//! Where a session's copies live: its primary (the route in its id, when that member is live)
//! and the `n` live members that rank highest for its id by rendezvous (highest-random-weight)
//! hashing. Every node computes the same answer from the same live set, so no location
//! messages are needed, and a member that comes or goes changes only the placement of the
//! sessions it ranks high for.
//!
//! The hash takes the random part of the id only (before the `.`), so re-binding a session
//! to another route does not move its copies.

/// The random part of a session id (what placement hashes).
pub fn base(id: &str) -> &str {
    id.split_once('.').map_or(id, |(b, _)| b)
}

/// The route in a session id: the member that serves it (its primary).
pub fn primary(id: &str) -> &str {
    id.split_once('.').map_or("", |(_, r)| r)
}

/// FNV-1a over `base`, a separator and `member`, finished with a 64-bit mixer: the same on
/// every node and every build (std's hasher is seeded per process).
fn weight(base: &str, member: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in base.bytes().chain([0xFF]).chain(member.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    // splitmix64's finaliser: FNV alone leaves the low bits of similar inputs correlated.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `live` ordered by weight for `id`, highest first (ties, which need a 64-bit collision,
/// by name).
pub fn rank<'a>(id: &str, live: &[&'a str]) -> Vec<&'a str> {
    let b = base(id);
    let mut v: Vec<(u64, &'a str)> = live.iter().map(|m| (weight(b, m), *m)).collect();
    v.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1)));
    v.into_iter().map(|(_, m)| m).collect()
}

/// The member that answers for the session: its primary when live, else the live member that
/// ranks first (which held a copy: it was the primary's first backup).
pub fn authority<'a>(id: &str, live: &[&'a str]) -> Option<&'a str> {
    let p = primary(id);
    live.iter()
        .find(|m| **m == p)
        .copied()
        .or_else(|| rank(id, live).first().copied())
}

/// Every member that should hold a copy: the authority first, then `backups` more in rank
/// order.
pub fn holders<'a>(id: &str, live: &[&'a str], backups: usize) -> Vec<&'a str> {
    let Some(a) = authority(id, live) else {
        return Vec::new();
    };
    let mut v = vec![a];
    v.extend(rank(id, live).into_iter().filter(|m| *m != a).take(backups));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "{:032X}.n{}",
                    (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    i % 4 + 1
                )
            })
            .collect()
    }

    #[test]
    fn a_session_lives_on_its_primary_and_distinct_backups() {
        let live = ["n1", "n2", "n3", "n4"];
        for id in ids(200) {
            let h = holders(&id, &live, 1);
            assert_eq!(h.len(), 2);
            assert_eq!(h[0], primary(&id));
            assert_ne!(h[0], h[1]);
            let h = holders(&id, &live, 2);
            assert_eq!(h.len(), 3);
            assert!(h[1] != h[2] && h[2] != h[0]);
        }
        assert_eq!(holders("ABC.n1", &["n1"], 1), vec!["n1"]);
        assert!(holders("ABC.n1", &[], 1).is_empty());
    }

    #[test]
    fn backups_spread_evenly() {
        let live = ["n1", "n2", "n3", "n4"];
        let mut count = std::collections::HashMap::new();
        for id in ids(4000) {
            *count.entry(holders(&id, &live, 1)[1]).or_insert(0) += 1;
        }
        for m in live {
            let c = count[m];
            assert!((800..1200).contains(&c), "{m}: {c} of 4000");
        }
    }

    #[test]
    fn a_member_leaving_moves_only_what_it_held() {
        let all = ["n1", "n2", "n3", "n4"];
        let left = ["n1", "n2", "n4"];
        for id in ids(500) {
            let before = holders(&id, &all, 1);
            let after = holders(&id, &left, 1);
            if before.contains(&"n3") {
                // The survivor keeps its copy (and answers for it if n3 was the primary).
                let survivor = before.iter().find(|m| **m != "n3").unwrap();
                assert!(after.contains(survivor), "{id}: {before:?} -> {after:?}");
                if primary(&id) == "n3" {
                    assert_eq!(after[0], *survivor, "the backup answers for it");
                }
            } else {
                assert_eq!(before, after, "{id} did not involve n3");
            }
        }
    }

    #[test]
    fn rebinding_keeps_the_ranking() {
        let live = ["n1", "n2", "n3"];
        let id = ids(1).remove(0);
        let moved = format!("{}.n3", base(&id));
        assert_eq!(rank(&id, &live), rank(&moved, &live));
        assert_eq!(authority(&moved, &live), Some("n3"));
    }
}
