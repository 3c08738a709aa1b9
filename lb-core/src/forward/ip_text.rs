//! An IP address as text without allocating: what a driver whose server hands it only the
//! socket address (nginx's local address) forwards as `AJP_LOCAL_ADDR` and the server name.

/// An IP address as text, inline (the longest IPv6 text is 45 bytes).
pub struct IpText {
    buf: [u8; 46],
    len: u8,
}

/// An octet's decimal digits followed by a dot, and how many bytes that is.
static OCTETS: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let (h, d, u) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = if i >= 100 {
            ([b'0' + h, b'0' + d, b'0' + u, b'.'], 4)
        } else if i >= 10 {
            ([b'0' + d, b'0' + u, b'.', 0], 3)
        } else {
            ([b'0' + u, b'.', 0, 0], 2)
        };
        i += 1;
    }
    t
};

impl IpText {
    pub fn of(ip: Option<std::net::IpAddr>) -> IpText {
        let mut t = IpText {
            buf: [0; 46],
            len: 0,
        };
        match ip {
            Some(std::net::IpAddr::V4(v4)) => {
                // Each octet's digits from a table, written four bytes at a time.
                for o in v4.octets() {
                    let (digits, n) = OCTETS[o as usize];
                    let at = t.len as usize;
                    t.buf[at..at + 4].copy_from_slice(&digits);
                    t.len += n;
                }
                t.len -= 1;
            }
            Some(ip) => {
                use std::io::Write;
                let mut w = &mut t.buf[..];
                let _ = write!(w, "{ip}");
                let left = w.len();
                t.len = (46 - left) as u8;
            }
            None => {}
        }
        t
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::IpText;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[test]
    fn addresses_as_text_match_the_standard_formatting() {
        for o in 0..=255u8 {
            for ip in [
                Ipv4Addr::new(o, 0, 255, o),
                Ipv4Addr::new(127, o, 10, 1),
                Ipv4Addr::new(9, 99, o, 100),
            ] {
                let t = IpText::of(Some(IpAddr::V4(ip)));
                assert_eq!(t.bytes(), ip.to_string().as_bytes());
            }
        }
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert_eq!(IpText::of(Some(v6)).bytes(), b"2001:db8::1");
        assert_eq!(IpText::of(None).bytes(), b"");
    }
}
