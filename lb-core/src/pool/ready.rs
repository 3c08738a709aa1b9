//! Making a leased slot ready to carry a request (mod_jk.md §4.3, §4.4 steps 1–3): a pooled
//! connection is checked (peek) and optionally CPinged; a dead one is replaced by another
//! pooled one or a new connection, without counting as a member failure; so is one to an
//! address the member's settings no longer name.

use std::io;

use super::Lease;

/// How the slot became ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// A pooled connection, alive (and answered the prepost CPing if that is on).
    Reused,
    /// A new connection (that answered the connect CPing if that is on).
    Connected,
}

impl Lease<'_> {
    /// Get an open, checked connection into this slot.
    pub fn ready(&mut self) -> io::Result<Ready> {
        let pool = self.pool;
        let spec = pool.spec();
        self.fit(spec.max_packet_size.get());
        // Bounded: each round either succeeds or closes one pooled connection.
        for _ in 0..=spec.connection_pool_size {
            if !self.is_open() {
                break;
            }
            // A connection to an address the settings no longer name counts as dead.
            if self.peer() != Some(spec.addr) || !self.is_alive() {
                if self.replace_dead() {
                    continue;
                }
                break;
            }
            let Some(wait) = spec.prepost_ping() else {
                return Ok(Ready::Reused);
            };
            match self.cping(wait, spec.max_packet_size) {
                Ok(()) => return Ok(Ready::Reused),
                Err(_) => {
                    if !self.replace_dead() {
                        break;
                    }
                }
            }
        }
        self.connect(spec)?;
        // mod_jk pings a new connection with connect_timeout, or else with prepost_timeout.
        if let Some(wait) = spec.connect_ping().or(spec.prepost_ping()) {
            if let Err(e) = self.cping(wait, spec.max_packet_size) {
                self.close();
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!("the new connection failed its CPing: {e}"),
                ));
            }
        }
        Ok(Ready::Connected)
    }
}
