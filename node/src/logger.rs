//! A minimal `log` backend: one line per record on stderr, with the time since start, level
//! and module. Rejections and errors are logged with the peer address, never the secret.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

struct Stderr {
    start: Instant,
}

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let t = self.start.elapsed();
        let _ = writeln!(
            std::io::stderr().lock(),
            "{:>6}.{:03} {:<5} {}: {}",
            t.as_secs(),
            t.subsec_millis(),
            r.level(),
            r.target(),
            r.args()
        );
    }

    fn flush(&self) {}
}

static LOGGER: OnceLock<Stderr> = OnceLock::new();

/// Install the logger (once; later calls only change the level).
pub fn init(level: log::LevelFilter) {
    let l = LOGGER.get_or_init(|| Stderr {
        start: Instant::now(),
    });
    let _ = log::set_logger(l);
    log::set_max_level(level);
}
