//! How long to wait for the backend's next packet (mod_jk: ajp_get_reply and its timeouts): `reply_timeout` (per
//! request override first), else the socket's `socket_timeout`, else forever. Which one expired
//! decides the accounting: a reply timeout counts against `max_reply_timeouts`, a socket
//! timeout is a failed member; both answer 504. `reply_timeout` bounds each whole packet.

use std::time::Duration;

use super::server::ForwardOptions;
use super::spec::AjpWorkerSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyWait {
    /// `reply_timeout`: expiry is [`super::Failure::ReplyTimeout`].
    Reply(Duration),
    /// `socket_timeout`: expiry is a broken connection.
    Socket(Duration),
    Forever,
}

impl ReplyWait {
    pub fn for_request(spec: &AjpWorkerSpec, opts: &ForwardOptions) -> Self {
        let reply = match opts.reply_timeout {
            Some(d) => Some(d),
            None => spec.reply_timeout,
        };
        if let Some(d) = reply.filter(|d| !d.is_zero()) {
            return ReplyWait::Reply(d);
        }
        match spec.socket_timeout.filter(|d| !d.is_zero()) {
            Some(d) => ReplyWait::Socket(d),
            None => ReplyWait::Forever,
        }
    }

    pub fn duration(self) -> Option<Duration> {
        match self {
            ReplyWait::Reply(d) | ReplyWait::Socket(d) => Some(d),
            ReplyWait::Forever => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_then_reply_then_socket() {
        let mut spec = AjpWorkerSpec::new("w", "127.0.0.1:9".parse().unwrap(), 1);
        let ms = Duration::from_millis;
        let none = ForwardOptions::default();
        assert_eq!(ReplyWait::for_request(&spec, &none), ReplyWait::Forever);
        spec.socket_timeout = Some(ms(3000));
        assert_eq!(
            ReplyWait::for_request(&spec, &none),
            ReplyWait::Socket(ms(3000))
        );
        spec.reply_timeout = Some(ms(500));
        assert_eq!(
            ReplyWait::for_request(&spec, &none),
            ReplyWait::Reply(ms(500))
        );
        let over = ForwardOptions {
            reply_timeout: Some(ms(50)),
            ..none
        };
        assert_eq!(
            ReplyWait::for_request(&spec, &over),
            ReplyWait::Reply(ms(50))
        );
        // JK_REPLY_TIMEOUT=0 turns the reply timeout off.
        let off = ForwardOptions {
            reply_timeout: Some(ms(0)),
            ..none
        };
        assert_eq!(
            ReplyWait::for_request(&spec, &off),
            ReplyWait::Socket(ms(3000))
        );
    }
}
