//! What loading a configuration has to say: errors (startup must stop) and warnings, each tied
//! to the file and line it is about, so an operator can go straight to it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A line of a file, or of an httpd directive (`JkWorkerProperty` at httpd.conf:12).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: Arc<Path>,
    pub line: u32,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: u32) -> Self {
        Location {
            file: Arc::from(file.into().as_path()),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub at: Option<Location>,
    /// The worker the message is about, when there is one.
    pub worker: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        f.write_str(match self.severity {
            Severity::Warning => "warning: ",
            Severity::Error => "error: ",
        })?;
        if let Some(w) = &self.worker {
            write!(f, "worker `{w}`: ")?;
        }
        write_shortened(f, &self.message)
    }
}

/// A message longer than this is shown with its middle left out.
const LONGEST: usize = 1024;

/// `message`, or, past [`LONGEST`] bytes, its start and its end: a value quoted whole could be
/// what `$(...)` substitution made of it (up to 64 KiB), and the end says what is wrong.
fn write_shortened(f: &mut fmt::Formatter<'_>, message: &str) -> fmt::Result {
    if message.len() <= LONGEST {
        return f.write_str(message);
    }
    let mut head = LONGEST * 5 / 8;
    while !message.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = message.len() - LONGEST / 4;
    while !message.is_char_boundary(tail) {
        tail += 1;
    }
    write!(
        f,
        "{} … ({} bytes left out) … {}",
        &message[..head],
        tail - head,
        &message[tail..]
    )
}

/// Collects every diagnostic of one load, so all problems are reported together.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, at: Option<&Location>, worker: Option<&str>, message: String) {
        self.push(Severity::Error, at, worker, message);
    }

    pub fn warn(&mut self, at: Option<&Location>, worker: Option<&str>, message: String) {
        self.push(Severity::Warning, at, worker, message);
    }

    fn push(
        &mut self,
        severity: Severity,
        at: Option<&Location>,
        worker: Option<&str>,
        message: String,
    ) {
        self.list.push(Diagnostic {
            severity,
            at: at.cloned(),
            worker: worker.map(str::to_owned),
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }
}
