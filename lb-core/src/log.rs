//! The connector's own log (`JkLogFile`, `JkLogLevel`, `JkLogStampFormat`), in mod_jk's line
//! shape so existing log readers keep working:
//! `[Mon Nov 23 08:20:29.265 2026] [pid:tid] [level] [request-id] message`.

use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Emerg,
}

impl Level {
    pub const NAMES: [&'static str; 6] = ["trace", "debug", "info", "warn", "error", "emerg"];

    /// `JkLogLevel` words (mod_jk falls back to info on anything else; rjk says what it got).
    pub fn parse(s: &str) -> Result<Level, String> {
        let all = [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
            Level::Emerg,
        ];
        Self::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s.trim()))
            .map(|i| all[i])
            .ok_or_else(|| {
                let hint = crate::config::closest(s.trim(), Self::NAMES)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                format!(
                    "JkLogLevel: unknown level `{s}`{hint}; use one of {}",
                    Self::NAMES.join(", ")
                )
            })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// mod_jk's default stamp: `[%a %b %d %H:%M:%S.%Q %Y] ` (`%Q` milliseconds, `%q` microseconds).
pub const DEFAULT_STAMP: &str = "[%a %b %d %H:%M:%S.%Q %Y] ";

/// Render a strftime-style stamp in local time, with mod_jk's `%Q`/`%q` sub-second extension.
pub fn stamp(format: &str, now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let format = format
        .replacen("%Q", &format!("{:03}", since.subsec_millis()), 1)
        .replacen("%q", &format!("{:06}", since.subsec_micros()), 1);
    let local: DateTime<Local> = now.into();
    let mut out = String::new();
    // An invalid format item makes chrono's formatter fail: print the format as written then.
    if write!(out, "{}", local.format(&format)).is_err() {
        return format;
    }
    out
}

/// A stable number for the current thread (mod_jk prints the pthread id here).
fn thread_number() -> String {
    let id = format!("{:?}", std::thread::current().id());
    id.trim_start_matches("ThreadId(")
        .trim_end_matches(')')
        .to_owned()
}

/// One log destination shared by every thread of a process. A line is written with one
/// `write` so lines from several processes on an O_APPEND file or a pipe never interleave.
pub struct Logger {
    level: Level,
    stamp: String,
    sink: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level)
            .field("stamp", &self.stamp)
            .finish()
    }
}

impl Logger {
    /// Open a JkLogFile target: a file appended to, or `|command` fed through a pipe
    /// (rotatelogs...). Opened before the server forks, so every child shares the descriptor.
    pub fn open(target: &str, level: Level, stamp: Option<&str>) -> std::io::Result<Logger> {
        let sink: Box<dyn Write + Send> = match target.strip_prefix('|') {
            Some(cmd) => {
                let child = std::process::Command::new("/bin/sh")
                    .args(["-c", cmd.trim()])
                    .stdin(std::process::Stdio::piped())
                    .spawn()?;
                Box::new(
                    child
                        .stdin
                        .ok_or_else(|| std::io::Error::other("piped log without stdin"))?,
                )
            }
            None => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(target)?,
            ),
        };
        Ok(Logger::new(level, stamp, sink))
    }

    pub fn new(level: Level, stamp: Option<&str>, sink: Box<dyn Write + Send>) -> Logger {
        Logger {
            level,
            stamp: stamp.unwrap_or(DEFAULT_STAMP).to_owned(),
            sink: Mutex::new(sink),
        }
    }

    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    /// A `JkRequestLogFormat` line: written at every log level, with only the time stamp in
    /// front (mod_jk's request level).
    pub fn request(&self, line: &str) {
        self.write(&format!(
            "{}{line}\n",
            stamp(&self.stamp, SystemTime::now())
        ));
    }

    fn write(&self, line: &str) {
        if let Ok(mut sink) = self.sink.lock() {
            let _ = sink.write_all(line.as_bytes());
            let _ = sink.flush();
        }
    }

    /// Write one line; `request_id` is the JkRequestIdIndicator value (`NO-ID` when absent).
    pub fn log(&self, level: Level, request_id: Option<&str>, msg: fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let line = format!(
            "{}[{}:{}] [{}] [{}] {}\n",
            stamp(&self.stamp, SystemTime::now()),
            std::process::id(),
            thread_number(),
            level.name(),
            request_id.unwrap_or("NO-ID"),
            msg
        );
        self.write(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn levels_parse_and_filter() {
        assert_eq!(Level::parse("WARN"), Ok(Level::Warn));
        assert_eq!(Level::parse("warning").unwrap_err(), "JkLogLevel: unknown level `warning` (did you mean `warn`?); use one of trace, debug, info, warn, error, emerg");
        let buf = Buf::default();
        let l = Logger::new(Level::Info, Some("[stamp] "), Box::new(buf.clone()));
        l.log(Level::Debug, None, format_args!("hidden"));
        l.log(
            Level::Error,
            Some("abc"),
            format_args!("member {} in error", "n1"),
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("hidden"));
        assert!(
            text.starts_with(&format!("[stamp] [{}:", std::process::id())),
            "{text}"
        );
        assert!(
            text.ends_with("] [error] [abc] member n1 in error\n"),
            "{text}"
        );
        let quiet = Logger::new(Level::Emerg, Some("[stamp] "), Box::new(buf.clone()));
        quiet.request("lb GET /x 200");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("\n[stamp] lb GET /x 200\n"), "{text}");
    }

    #[test]
    fn stamps_have_subsecond_extensions() {
        let t = UNIX_EPOCH + std::time::Duration::from_micros(1_795_422_032_123_456);
        let s = stamp("%Y %Q %q", t);
        assert!(
            s.starts_with("2026 123 123456") || s.starts_with("2026 123 123456"),
            "{s}"
        );
        let d = stamp(DEFAULT_STAMP, t);
        assert!(d.starts_with('[') && d.contains(".123 2026] "), "{d}");
    }
}
