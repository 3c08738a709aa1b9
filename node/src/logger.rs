//! A minimal `log` backend: one line per record on stderr, with the time since start, level
//! and module. Rejections and errors are logged with the peer address, never the secret.
//! Under systemd, when stderr is the journal, each line starts with its syslog priority
//! (`<3>` error ... `<7>` debug) instead, so `journalctl -p warning` filters, and the journal's
//! own timestamps replace ours.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

struct Stderr {
    start: Instant,
    journal: bool,
}

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = if self.journal {
            writeln!(err, "<{}>{}: {}", priority(r.level()), r.target(), r.args())
        } else {
            let t = self.start.elapsed();
            writeln!(
                err,
                "{:>6}.{:03} {:<5} {}: {}",
                t.as_secs(),
                t.subsec_millis(),
                r.level(),
                r.target(),
                r.args()
            )
        };
    }

    fn flush(&self) {}
}

static LOGGER: OnceLock<Stderr> = OnceLock::new();

/// Install the logger (once; later calls only change the level).
pub fn init(level: log::LevelFilter) {
    let l = LOGGER.get_or_init(|| Stderr {
        start: Instant::now(),
        journal: stderr_is_journal(std::env::var("JOURNAL_STREAM").ok().as_deref()),
    });
    let _ = log::set_logger(l);
    log::set_max_level(level);
}

/// sd-daemon(3)'s syslog priorities.
fn priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// systemd sets JOURNAL_STREAM=DEV:INODE to the stream it connected; a child whose stderr was
/// redirected inherits the variable, so it counts only when it names our stderr.
fn stderr_is_journal(journal_stream: Option<&str>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) = journal_stream.and_then(|v| v.split_once(':')) else {
        return false;
    };
    let Ok(m) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn journal_only_when_the_variable_names_our_stderr() {
        assert!(!stderr_is_journal(None));
        assert!(!stderr_is_journal(Some("garbage")));
        assert!(!stderr_is_journal(Some("0:0")));
        let m = std::fs::metadata("/proc/self/fd/2").unwrap();
        assert!(stderr_is_journal(Some(&format!("{}:{}", m.dev(), m.ino()))));
    }

    #[test]
    fn priorities_follow_syslog() {
        assert_eq!(priority(log::Level::Error), 3);
        assert_eq!(priority(log::Level::Warn), 4);
        assert_eq!(priority(log::Level::Info), 6);
        assert_eq!(priority(log::Level::Trace), 7);
    }
}
