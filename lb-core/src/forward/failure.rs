//! Why an attempt failed, whether another attempt may follow, and what the client is told
//! (mod_jk: its service loop and outcome rules; ajp_get_reply and its timeouts; recovery_options).

use std::fmt;
use std::io;

use super::Outcome;

/// Why reading from the backend stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The backend closed the connection.
    Closed,
    /// No byte arrived within `socket_timeout`.
    Timeout,
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the backend closed the connection"),
            ReadError::Timeout => f.write_str("no data from the backend in time"),
            ReadError::Io(e) => write!(f, "reading from the backend failed: {e}"),
        }
    }
}

/// What went wrong in one attempt.
#[derive(Debug)]
pub enum Failure {
    /// The request head does not fit in one packet: 413, the client's fault.
    TooLarge(ajp::Error),
    /// Reading the request body from the client failed or it ended early: 400.
    ClientRead(Option<io::Error>),
    /// The client went away or writing to it failed: the status already sent stands.
    ClientGone,
    /// No free pool slot within `connection_acquire_timeout`, or `busy_limit` reached: 503.
    Busy,
    /// No TCP connection (or the connect CPing failed): 503.
    Connect(io::Error),
    /// Sending the request failed: 503.
    Send(io::Error),
    /// `reply_timeout` expired waiting for the next packet: 504.
    ReplyTimeout,
    /// The backend closed the connection or reading failed: 502.
    Broken(ReadError),
    /// The backend sent something that is not valid AJP here: 502.
    Protocol(ajp::Error),
    /// `fail_on_status` matched; `fatal` for a positive entry: 503.
    Status { status: u16, fatal: bool },
}

impl Failure {
    /// The HTTP status the client gets when this is the last failure.
    pub fn http_status(&self) -> u16 {
        match self {
            Failure::TooLarge(_) => 413,
            Failure::ClientRead(_) => 400,
            // Logged only: the response was under way.
            Failure::ClientGone => 200,
            Failure::Busy | Failure::Connect(_) | Failure::Send(_) | Failure::Status { .. } => 503,
            // A silent socket is a timeout too (mod_jk answers 504 for both).
            Failure::ReplyTimeout | Failure::Broken(ReadError::Timeout) => 504,
            Failure::Broken(_) | Failure::Protocol(_) => 502,
        }
    }

    /// How the member's accounting sees it.
    pub fn outcome(&self) -> Outcome {
        match self {
            Failure::TooLarge(_) | Failure::ClientRead(_) | Failure::ClientGone => {
                Outcome::ClientError
            }
            Failure::Busy => Outcome::Busy,
            Failure::Connect(_) | Failure::Send(_) | Failure::Broken(_) => Outcome::Failed,
            Failure::ReplyTimeout => Outcome::ReplyTimeout,
            Failure::Protocol(_) => Outcome::ProtocolError,
            Failure::Status { fatal: true, .. } => Outcome::StatusFatal,
            Failure::Status { fatal: false, .. } => Outcome::StatusSoft,
        }
    }

    /// The client's own doing: never retried, never another member.
    pub fn is_client_error(&self) -> bool {
        self.outcome() == Outcome::ClientError
    }

    /// The failure happened before the backend had the whole request, so even
    /// `recovery_options` bit 1 allows another attempt.
    pub fn before_backend_had_request(&self) -> bool {
        matches!(self, Failure::Busy | Failure::Connect(_) | Failure::Send(_))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::TooLarge(e) => write!(f, "the request does not fit in one AJP packet: {e}"),
            Failure::ClientRead(Some(e)) => write!(f, "reading the request body failed: {e}"),
            Failure::ClientRead(None) => f.write_str("the client sent less body than announced"),
            Failure::ClientGone => f.write_str("the client went away during the response"),
            Failure::Busy => f.write_str("the backend is busy (no free connection or busy_limit)"),
            Failure::Connect(e) => write!(f, "connecting to the backend failed: {e}"),
            Failure::Send(e) => write!(f, "sending the request to the backend failed: {e}"),
            Failure::ReplyTimeout => f.write_str("the backend did not reply within reply_timeout"),
            Failure::Broken(e) => write!(f, "the reply broke off: {e}"),
            Failure::Protocol(e) => write!(f, "the backend broke the AJP protocol: {e}"),
            Failure::Status { status, fatal } => write!(
                f,
                "the backend answered {status}, listed in fail_on_status ({})",
                if *fatal {
                    "member to error"
                } else {
                    "fail over only"
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_outcome_table() {
        let io = || io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let table: Vec<(Failure, u16, Outcome)> = vec![
            (
                Failure::TooLarge(ajp::Error::EmptyPacket),
                413,
                Outcome::ClientError,
            ),
            (Failure::ClientRead(None), 400, Outcome::ClientError),
            (Failure::ClientGone, 200, Outcome::ClientError),
            (Failure::Busy, 503, Outcome::Busy),
            (Failure::Connect(io()), 503, Outcome::Failed),
            (Failure::Send(io()), 503, Outcome::Failed),
            (Failure::ReplyTimeout, 504, Outcome::ReplyTimeout),
            (Failure::Broken(ReadError::Closed), 502, Outcome::Failed),
            (Failure::Broken(ReadError::Timeout), 504, Outcome::Failed),
            (
                Failure::Protocol(ajp::Error::EmptyPacket),
                502,
                Outcome::ProtocolError,
            ),
            (
                Failure::Status {
                    status: 500,
                    fatal: true,
                },
                503,
                Outcome::StatusFatal,
            ),
            (
                Failure::Status {
                    status: 404,
                    fatal: false,
                },
                503,
                Outcome::StatusSoft,
            ),
        ];
        for (f, status, outcome) in table {
            assert_eq!(f.http_status(), status, "{f}");
            assert_eq!(f.outcome(), outcome, "{f}");
        }
    }
}
