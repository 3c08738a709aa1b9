//! A member's connection settings in the shared table (mod_jk: the status worker's AJP settings; its shared memory): what the status
//! worker may change at runtime (host, port, timeouts, retries, ...), in `workers.properties`
//! units. The first process to link a pool publishes its settings; a change bumps the record's
//! sequence and every process's pool adopts the new settings before its next request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use ajp::PacketSize;

use crate::forward::spec::{AjpWorkerSpec, RecoveryOptions};
use crate::shm::ConnSlot;

/// The shared connection settings as plain values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnSettings {
    pub host: String,
    pub port: u16,
    /// What `host`:`port` resolved to when written; `None` in a record nobody resolved.
    pub addr: Option<SocketAddr>,
    /// Seconds (0 = never).
    pub connection_pool_timeout: u32,
    /// Milliseconds, as the next four (0 = off).
    pub ping_timeout: u32,
    pub connect_timeout: u32,
    pub prepost_timeout: u32,
    pub reply_timeout: u32,
    pub retry_interval: u32,
    pub retries: u32,
    /// Seconds (0 = off).
    pub connection_ping_interval: u32,
    pub recovery_options: u32,
    pub busy_limit: u32,
    pub max_packet_size: u32,
}

fn ms(d: Option<Duration>) -> u32 {
    d.map_or(0, |d| d.as_millis().min(u32::MAX as u128) as u32)
}

fn secs(d: Option<Duration>) -> u32 {
    d.map_or(0, |d| d.as_secs().min(u64::from(u32::MAX)) as u32)
}

fn from_ms(v: u32) -> Option<Duration> {
    (v > 0).then(|| Duration::from_millis(u64::from(v)))
}

fn from_secs(v: u32) -> Option<Duration> {
    (v > 0).then(|| Duration::from_secs(u64::from(v)))
}

impl ConnSettings {
    /// What `spec` says.
    pub fn of(spec: &AjpWorkerSpec) -> ConnSettings {
        ConnSettings {
            host: spec.host.clone(),
            port: spec.addr.port(),
            addr: Some(spec.addr),
            connection_pool_timeout: secs(spec.connection_pool_timeout),
            ping_timeout: ms(Some(spec.ping_timeout)),
            connect_timeout: ms(spec.connect_timeout),
            prepost_timeout: ms(spec.prepost_timeout),
            reply_timeout: ms(spec.reply_timeout),
            retry_interval: ms(Some(spec.retry_interval)),
            retries: spec.retries,
            connection_ping_interval: secs(spec.connection_ping_interval),
            recovery_options: spec.recovery_options.bits(),
            busy_limit: spec.busy_limit,
            max_packet_size: spec.max_packet_size.get() as u32,
        }
    }

    /// Everything but the address onto `spec` (the caller resolves host and port).
    pub fn apply(&self, spec: &mut AjpWorkerSpec) {
        spec.connection_pool_timeout = from_secs(self.connection_pool_timeout);
        spec.ping_timeout = Duration::from_millis(u64::from(self.ping_timeout));
        spec.connect_timeout = from_ms(self.connect_timeout);
        spec.prepost_timeout = from_ms(self.prepost_timeout);
        spec.reply_timeout = from_ms(self.reply_timeout);
        spec.retry_interval = Duration::from_millis(u64::from(self.retry_interval));
        spec.retries = self.retries.max(1);
        spec.connection_ping_interval = from_secs(self.connection_ping_interval);
        spec.recovery_options = RecoveryOptions::from_bits_retain(self.recovery_options);
        spec.busy_limit = self.busy_limit;
        if let Ok(size) = PacketSize::new(self.max_packet_size as usize) {
            spec.max_packet_size = size;
        }
    }

    /// Write into `slot` (the caller holds the table lock and bumps the sequence).
    pub fn store(&self, slot: &ConnSlot) {
        slot.host.store(&self.host);
        store_ip(slot, self.addr.map(|a| a.ip()));
        for (field, v) in [
            (&slot.port, u32::from(self.port)),
            (&slot.connection_pool_timeout, self.connection_pool_timeout),
            (&slot.ping_timeout, self.ping_timeout),
            (&slot.connect_timeout, self.connect_timeout),
            (&slot.prepost_timeout, self.prepost_timeout),
            (&slot.reply_timeout, self.reply_timeout),
            (&slot.retry_interval, self.retry_interval),
            (&slot.retries, self.retries),
            (
                &slot.connection_ping_interval,
                self.connection_ping_interval,
            ),
            (&slot.recovery_options, self.recovery_options),
            (&slot.busy_limit, self.busy_limit),
            (&slot.max_packet_size, self.max_packet_size),
        ] {
            field.store(v, Relaxed);
        }
    }

    /// Read `slot` (under the table lock for a consistent host).
    pub fn load(slot: &ConnSlot) -> ConnSettings {
        let get = |f: &std::sync::atomic::AtomicU32| f.load(Relaxed);
        let port = get(&slot.port).min(u32::from(u16::MAX)) as u16;
        ConnSettings {
            host: slot.host.load(),
            port,
            addr: load_ip(slot).map(|ip| SocketAddr::new(ip, port)),
            connection_pool_timeout: get(&slot.connection_pool_timeout),
            ping_timeout: get(&slot.ping_timeout),
            connect_timeout: get(&slot.connect_timeout),
            prepost_timeout: get(&slot.prepost_timeout),
            reply_timeout: get(&slot.reply_timeout),
            retry_interval: get(&slot.retry_interval),
            retries: get(&slot.retries),
            connection_ping_interval: get(&slot.connection_ping_interval),
            recovery_options: get(&slot.recovery_options),
            busy_limit: get(&slot.busy_limit),
            max_packet_size: get(&slot.max_packet_size),
        }
    }
}

/// Write the resolved address of a record (under the table lock).
pub(crate) fn store_ip(slot: &ConnSlot, ip: Option<IpAddr>) {
    let (family, words) = match ip {
        None => (0, [0; 4]),
        Some(IpAddr::V4(a)) => (4, [u32::from(a), 0, 0, 0]),
        Some(IpAddr::V6(a)) => {
            let b = a.octets();
            let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            (6, [w(0), w(4), w(8), w(12)])
        }
    };
    for (f, w) in slot.ip.iter().zip(words) {
        f.store(w, Relaxed);
    }
    slot.ip_family.store(family, Relaxed);
}

fn load_ip(slot: &ConnSlot) -> Option<IpAddr> {
    let w: Vec<u32> = slot.ip.iter().map(|f| f.load(Relaxed)).collect();
    match slot.ip_family.load(Relaxed) {
        4 => Some(IpAddr::V4(Ipv4Addr::from(w[0]))),
        6 => {
            let mut b = [0u8; 16];
            for (i, x) in w.iter().enumerate() {
                b[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// Resolve `host`:`port` (the first IPv4 address unless `prefer_ipv6`), as at startup.
pub fn resolve(host: &str, port: u16, prefer_ipv6: bool) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("host `{host}` does not resolve: {e}"))?
        .collect();
    let pick = if prefer_ipv6 {
        addrs.iter().find(|x| x.is_ipv6())
    } else {
        addrs.iter().find(|x| x.is_ipv4())
    };
    pick.or(addrs.first())
        .copied()
        .ok_or_else(|| format!("host `{host}` has no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_the_slot_and_onto_a_spec() {
        let mut spec = AjpWorkerSpec::new("w", "127.0.0.1:8009".parse().unwrap(), 4);
        spec.reply_timeout = Some(Duration::from_millis(1500));
        spec.connection_pool_timeout = Some(Duration::from_secs(60));
        let s = ConnSettings::of(&spec);
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 8009));
        assert_eq!((s.reply_timeout, s.connect_timeout), (1500, 0));
        let slot = ConnSlot::default();
        s.store(&slot);
        let back = ConnSettings::load(&slot);
        assert_eq!(back, s);

        let changed = ConnSettings {
            reply_timeout: 0,
            prepost_timeout: 250,
            retries: 3,
            recovery_options: 1,
            max_packet_size: 16384,
            ..back
        };
        changed.apply(&mut spec);
        assert_eq!(spec.reply_timeout, None, "0 turns the timeout off");
        assert_eq!(spec.prepost_ping(), Some(Duration::from_millis(250)));
        assert_eq!((spec.retries, spec.recovery_options.bits()), (3, 1));
        assert_eq!(spec.max_packet_size.get(), 16384);
        assert_eq!(ConnSettings::of(&spec), changed);
    }

    #[test]
    fn resolving_names_and_refusing_unknown_hosts() {
        assert_eq!(
            resolve("127.0.0.1", 9, false).unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert!(resolve("no-such-host.invalid", 9, false)
            .unwrap_err()
            .contains("does not resolve"));
    }
}
