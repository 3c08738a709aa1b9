//! Session ids in Tomcat's format: 16 bytes from the operating system's CSPRNG as 32 uppercase
//! hex digits, then `.` and the node's route (Tomcat's `jvmRoute`). The route suffix is what
//! lets a balancer (mod_jk, mod_rjk) keep a session on the node that owns it.

/// A fresh session id for `route`.
pub fn new_id(route: &str) -> String {
    let mut raw = [0u8; 16];
    // getrandom only fails when the OS has no entropy source at all: nothing sensible can run.
    getrandom::fill(&mut raw).expect("the operating system's random source is unavailable");
    let mut id = String::with_capacity(33 + route.len());
    for b in raw {
        id.push(HEX[(b >> 4) as usize] as char);
        id.push(HEX[(b & 0x0F) as usize] as char);
    }
    if !route.is_empty() {
        id.push('.');
        id.push_str(route);
    }
    id
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The route part of a session id (after the first `.`), as balancers read it.
pub fn route_of(id: &str) -> Option<&str> {
    id.split_once('.').map(|(_, r)| r)
}

/// Whether `id` looks like an id this node could have issued (32 hex digits, optional route):
/// anything else is never looked up, so odd cookies cost nothing.
pub fn is_plausible(id: &str) -> bool {
    let base = id.split_once('.').map_or(id, |(b, _)| b);
    base.len() == 32 && base.bytes().all(|b| b.is_ascii_hexdigit()) && id.len() <= 160
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_tomcats() {
        let id = new_id("tc1");
        assert_eq!(id.len(), 36);
        assert!(id[..32]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        assert_eq!(&id[32..], ".tc1");
        assert_eq!(route_of(&id), Some("tc1"));
        assert!(is_plausible(&id));
    }

    #[test]
    fn ids_differ() {
        let a = new_id("r");
        let b = new_id("r");
        assert_ne!(a, b);
    }

    #[test]
    fn plausibility() {
        assert!(!is_plausible("abc"));
        assert!(!is_plausible("ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ.tc1"));
        assert!(is_plausible("0123456789ABCDEF0123456789ABCDEF"));
    }
}
