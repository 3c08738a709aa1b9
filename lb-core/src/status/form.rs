//! What a status request brings: the form nonce, made once per (re)start from the OS's random
//! source, and a POSTed form body read within a limit. Both fail closed: no random source, no
//! status pages that change anything (the module refuses to start); a form over the limit is
//! refused whole (413), never truncated and parsed; a read error is an error, not the end of
//! the form.

use std::io;

use super::respond::Reply;

/// Largest form body a status POST may carry.
pub const MAX_FORM: usize = 64 * 1024;

/// 128 random bits as hex from the operating system's CSPRNG. An error means the status
/// worker's changes cannot be protected: refuse to start.
pub fn nonce() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| {
        format!(
            "the operating system's random source failed ({e}); the status worker's form \
             nonce cannot be made, so the module refuses to start"
        )
    })?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A POSTed form body as it arrives.
#[derive(Debug, Default)]
pub struct Form {
    body: Vec<u8>,
}

impl Form {
    pub fn new() -> Self {
        Form::default()
    }

    /// The next part of the body. `Err`: the answer to send instead (413).
    pub fn push(&mut self, part: &[u8]) -> Result<(), Reply> {
        if self.body.len() + part.len() > MAX_FORM {
            return Err(Reply::text(
                413,
                format!("the form is larger than {MAX_FORM} bytes; nothing was changed\n"),
            ));
        }
        self.body.extend_from_slice(part);
        Ok(())
    }

    /// Reading the body failed: the answer to send (nothing is changed on half a form).
    pub fn failed(e: &io::Error) -> Reply {
        Reply::text(
            400,
            format!("reading the form failed ({e}); nothing was changed\n"),
        )
    }

    /// The parameters: the query string, then the form's.
    pub fn params(&self, query: &[u8]) -> String {
        let mut p = String::from_utf8_lossy(query).into_owned();
        if !p.is_empty() && !self.body.is_empty() {
            p.push('&');
        }
        p.push_str(&String::from_utf8_lossy(&self.body));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonce_is_random_hex() {
        let (a, b) = (nonce().unwrap(), nonce().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_form_over_the_limit_is_413_and_a_read_error_400() {
        let mut f = Form::new();
        f.push(b"cmd=update&w=lb").unwrap();
        assert_eq!(f.params(b"mime=txt"), "mime=txt&cmd=update&w=lb");
        assert_eq!(f.params(b""), "cmd=update&w=lb");
        let big = vec![b'a'; MAX_FORM];
        let refused = f.push(&big).unwrap_err();
        assert_eq!(refused.status, 413);
        let e = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(Form::failed(&e).status, 400);
    }
}
