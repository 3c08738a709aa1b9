//! Redis Cluster slots: a session's key carries its id's random part as a hash tag
//! (`rjk:s:{<32 hex>}`), so the whole session sits in one slot and the route suffix, which
//! re-binding changes, does not move it. A session-fixation id change draws a new id in the
//! same slot, so the rename is one atomic command even in a cluster.

/// Slots in a Redis Cluster.
const SLOTS: u16 = 16384;

/// CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with.
fn crc16(mut crc: u16, bytes: &[u8]) -> u16 {
    for &b in bytes {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of a hash tag's content.
pub(crate) fn slot(tag: &str) -> u16 {
    crc16(0, tag.as_bytes()) % SLOTS
}

/// An id's random part (what the key is named after).
pub(crate) fn base(id: &str) -> &str {
    id.split_once('.').map_or(id, |(b, _)| b)
}

/// The key of the session `id`.
pub(crate) fn key(id: &str) -> String {
    format!("rjk:s:{{{}}}", base(id))
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A fresh id for `route` whose key is in the same slot as `old`'s: 112 random bits, and the
/// last four hex digits searched (65536 candidates cover every slot about four times over).
pub(crate) fn id_in_slot_of(old: &str, route: &str) -> String {
    let want = slot(base(old));
    loop {
        let fresh = crate::session::id::new_id("");
        let prefix = &fresh.as_bytes()[..28];
        let crc = crc16(0, prefix);
        let start = u16::from_str_radix(&fresh[28..32], 16).unwrap_or(0);
        for i in 0..=u16::MAX {
            let x = start.wrapping_add(i);
            let tail = [
                HEX[(x >> 12) as usize],
                HEX[((x >> 8) & 15) as usize],
                HEX[((x >> 4) & 15) as usize],
                HEX[(x & 15) as usize],
            ];
            if crc16(crc, &tail) % SLOTS == want {
                let mut id = String::with_capacity(33 + route.len());
                id.push_str(&fresh[..28]);
                id.push_str(std::str::from_utf8(&tail).unwrap_or("0000"));
                if !route.is_empty() {
                    id.push('.');
                    id.push_str(route);
                }
                return id;
            }
        }
        // Not every 16-bit tail reaches every slot for every prefix: draw another prefix.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(0, b"123456789"), 0x31C3);
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("bar"), 5061);
    }

    #[test]
    fn keys_ignore_the_route_and_new_ids_keep_the_slot() {
        let id = crate::session::id::new_id("n1");
        assert_eq!(key(&id), key(&format!("{}.n2", base(&id))));
        assert!(key(&id).starts_with("rjk:s:{") && key(&id).ends_with('}'));
        for _ in 0..20 {
            let new = id_in_slot_of(&id, "n3");
            assert!(crate::session::id::is_plausible(&new) && new.ends_with(".n3"));
            assert_ne!(base(&new), base(&id));
            assert_eq!(slot(base(&new)), slot(base(&id)));
        }
    }
}
