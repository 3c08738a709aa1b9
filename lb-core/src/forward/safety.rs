//! When a request may be tried again, on the same member or another (mod_jk: its service loop,
//! ajp_get_reply and recovery_options): never once the client has seen a response byte, never once the backend has taken
//! body that nobody kept, never after the client's own error; then either nothing reached the
//! backend, or `recovery_options` allow resending. What went on the wire is the `ajp`
//! exchange's to say ([`ajp::ProxyExchange::replayable`]); this is the one place it is
//! combined with lb-core's rules.

use super::failure::Failure;
use super::spec::RecoveryOptions;

/// Whether the request may be tried again after `failure`. `wire`: the attempt's AJP exchange,
/// if the request got as far as one; `delivered`: some response byte reached the client.
pub fn may_retry(
    failure: &Failure,
    wire: Option<&ajp::ProxyExchange>,
    delivered: bool,
    recovery: RecoveryOptions,
    method: &[u8],
) -> bool {
    if failure.is_client_error() || delivered {
        return false;
    }
    if wire.is_some_and(|w| !w.replayable()) {
        return false;
    }
    failure.before_backend_had_request() || recovery.retry_after_send(method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn the_rule_table() {
        let refused = || Failure::Connect(io::Error::new(io::ErrorKind::ConnectionRefused, "x"));
        let none = RecoveryOptions::default();
        let strict = RecoveryOptions::NO_RETRY_AFTER_SEND;
        // Nothing reached the backend: always, even with bit 1.
        assert!(may_retry(&refused(), None, false, strict, b"POST"));
        // The backend had the request: only as recovery_options allow.
        assert!(may_retry(
            &Failure::ReplyTimeout,
            None,
            false,
            none,
            b"POST"
        ));
        assert!(!may_retry(
            &Failure::ReplyTimeout,
            None,
            false,
            strict,
            b"POST"
        ));
        // Bits 8 and 16 bring HEAD / GET back under bit 1; mod_jk looks at 16 only without 8.
        let bits = |b| RecoveryOptions::from_bits_retain(b);
        for (b, method, retried) in [
            (1 | 8, &b"HEAD"[..], true),
            (1 | 8, b"GET", false),
            (1 | 16, b"GET", true),
            (1 | 16, b"HEAD", false),
            (1 | 8 | 16, b"GET", false),
            (1 | 16, b"POST", false),
            (8 | 16, b"POST", true),
            // Bits mod_jk does not know change nothing.
            (32 | 64, b"POST", true),
            (1 | 32 | 64, b"GET", false),
        ] {
            assert_eq!(
                may_retry(&Failure::ReplyTimeout, None, false, bits(b), method),
                retried,
                "recovery_options {b} {}",
                String::from_utf8_lossy(method)
            );
        }
        // Bit 2 (not after headers) is always in force: a byte at the client ends retrying.
        assert!(!may_retry(
            &Failure::ReplyTimeout,
            None,
            true,
            none,
            b"HEAD"
        ));
        // Something reached the client, or it was the client's fault: never.
        assert!(!may_retry(&Failure::ReplyTimeout, None, true, none, b"GET"));
        assert!(!may_retry(
            &Failure::ClientRead(None),
            None,
            false,
            none,
            b"GET"
        ));
        // Body streamed from the client that nobody kept: never.
        let mut wire = ajp::ProxyExchange::new(ajp::PacketSize::default());
        wire.start_encoded(ajp::BodyMode::Chunked).unwrap();
        let mut ask = Vec::new();
        ajp::encode_get_body_chunk(100, &mut ask);
        wire.receive(&ask).unwrap();
        wire.send_body(b"part", &mut Vec::new()).unwrap();
        assert!(!may_retry(
            &Failure::ReplyTimeout,
            Some(&wire),
            false,
            none,
            b"POST"
        ));
    }
}
