//! The normalisation of one path told step by step, for `rjk map` and debug logs: which of
//! mod_jk's four passes changed what (`/app/..;/jkstatus` → `/app/../jkstatus` → `/jkstatus`).
//! [`super::normalise`] is what requests use; a test keeps the two in agreement.

use super::UriError;

/// One of mod_jk's passes that changed the path, and the path after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub pass: Pass,
    pub after: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// `;...` removed from every segment.
    PathParameters,
    /// Runs of `/` collapsed.
    Slashes,
    /// `.` segments removed.
    Dots,
    /// `..` segments resolved against the segment before them.
    DotDots,
}

impl Pass {
    pub fn describe(self) -> &'static str {
        match self {
            Pass::PathParameters => "path parameters (`;...`) removed from every segment",
            Pass::Slashes => "runs of `/` collapsed",
            Pass::Dots => "`.` segments removed",
            Pass::DotDots => "`..` segments resolved",
        }
    }
}

/// One pass over the whole path.
type PassFn = fn(&str) -> Result<String, UriError>;

/// The passes that changed `path`, in order, and the outcome (the same as [`super::normalise`]).
pub fn normalise_steps(path: &str) -> (Vec<Step>, Result<String, UriError>) {
    let mut steps = Vec::new();
    if path == "*" {
        return (steps, Ok(path.to_owned()));
    }
    if !path.starts_with('/') {
        return (steps, Err(UriError::NotAbsolute));
    }
    let mut current = path.to_owned();
    let passes: [(Pass, PassFn); 4] = [
        (Pass::PathParameters, |p| Ok(without_parameters(p))),
        (Pass::Slashes, |p| Ok(collapse_slashes(p))),
        (Pass::Dots, |p| Ok(without_dots(p))),
        (Pass::DotDots, resolve_dot_dots),
    ];
    for (pass, run) in passes {
        match run(&current) {
            Ok(after) if after != current => {
                steps.push(Step {
                    pass,
                    after: after.clone(),
                });
                current = after;
            }
            Ok(_) => {}
            Err(e) => return (steps, Err(e)),
        }
    }
    (steps, Ok(current))
}

fn without_parameters(p: &str) -> String {
    p.split('/')
        .map(|seg| seg.split(';').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("/")
}

fn collapse_slashes(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// After collapsing: segments are separated by single `/`, the first piece is empty.
fn without_dots(p: &str) -> String {
    let segs: Vec<&str> = p.split('/').collect();
    let last = segs.len() - 1;
    let mut out: Vec<&str> = Vec::with_capacity(segs.len());
    for (i, seg) in segs.into_iter().enumerate() {
        match seg {
            // A trailing `.` leaves its `/`.
            "." if i == last => out.push(""),
            "." if i > 0 => {}
            s => out.push(s),
        }
    }
    out.join("/")
}

fn resolve_dot_dots(p: &str) -> Result<String, UriError> {
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    let last = segs.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segs.len());
    for (i, seg) in segs.into_iter().enumerate() {
        if seg == ".." {
            out.pop().ok_or(UriError::AboveRoot)?;
            // A trailing `..` leaves a `/`.
            if i == last {
                out.push("");
            }
        } else {
            out.push(seg);
        }
    }
    Ok(format!("/{}", out.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pass_that_changed_something_is_told() {
        let (steps, out) = normalise_steps("/app/..;/jkstatus");
        assert_eq!(out.as_deref(), Ok("/jkstatus"));
        assert_eq!(
            steps,
            [
                Step {
                    pass: Pass::PathParameters,
                    after: "/app/../jkstatus".into()
                },
                Step {
                    pass: Pass::DotDots,
                    after: "/jkstatus".into()
                },
            ]
        );
        let (steps, out) = normalise_steps("//a/./b/");
        assert_eq!(out.as_deref(), Ok("/a/b/"));
        assert_eq!(
            steps.iter().map(|s| s.pass).collect::<Vec<_>>(),
            [Pass::Slashes, Pass::Dots]
        );
        let (steps, out) = normalise_steps("/a;x/../..");
        assert_eq!(out, Err(UriError::AboveRoot));
        assert_eq!(
            steps.len(),
            1,
            "the passes before the failing one are still told"
        );
        assert_eq!(normalise_steps("/plain"), (vec![], Ok("/plain".into())));
        assert_eq!(normalise_steps("x").1, Err(UriError::NotAbsolute));
        assert_eq!(normalise_steps("*").1.as_deref(), Ok("*"));
    }
}
