//! Which worker a request goes to, in the order mod_jk decides it, for every web server:
//!
//! - [`translate`], the URI phase (httpd's translate_name): `no-jk` in the environment wins,
//!   then the mount file is reloaded if it changed, the URI is normalised (a bad one is
//!   refused with its status), mapped, and unmapped requests may still be served by
//!   `JkAutoAlias`.
//! - [`find_worker`], the handler phase: the worker named by the mapping note, else by the
//!   `JK_WORKER_NAME` environment variable (`SetHandler jakarta-servlet`), else the URI mapped
//!   once more; `name;ext=...` extensions given with the name apply to this request; a name
//!   that is not a worker is a 500 with the reason, never a silent decline.
//!
//! The adapters only read their request structures and apply the answer.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{Kind, Workers};
use crate::uri::AutoAlias;

use super::{Extensions, MountTable, SharedTable};

/// The URI phase's answer.
#[derive(Debug)]
pub enum Translation {
    /// Not for a worker: the web server goes on as usual.
    Decline,
    /// The URI cannot be normalised safely: answer `status`, log `reason`.
    Refuse { status: u16, reason: String },
    /// For the worker of rule `rule` of `table` (kept for the handler: a reload may swap the
    /// shared table meanwhile). `normalised`: the URI to continue with, when it changed.
    Mapped {
        table: Arc<MountTable>,
        rule: usize,
        normalised: Option<Vec<u8>>,
    },
    /// `JkAutoAlias`: serve this file, or refuse (404/403).
    Alias(AutoAlias),
}

/// Decide the URI phase for `uri` (the web server's decoded path). `no_jk`: the `no-jk`
/// environment variable is set; `is_dir` tells whether a path is a directory (JkAutoAlias).
pub fn translate(
    no_jk: bool,
    mounts: &SharedTable,
    now: SystemTime,
    auto_alias: Option<&Path>,
    uri: &[u8],
    is_dir: impl Fn(&Path) -> bool,
) -> Translation {
    if no_jk {
        return Translation::Decline;
    }
    // A mount file that cannot be read keeps the rules in use (reported by the reload).
    let _ = mounts.reload_if_changed(now);
    let table = mounts.current();
    if table.rules().is_empty() && auto_alias.is_none() {
        return Translation::Decline;
    }
    let normalised = match crate::uri::normalise_cow(uri) {
        Ok(n) => n,
        Err(e) => {
            return Translation::Refuse {
                status: e.status(),
                reason: format!("refusing {:?}: {e}", String::from_utf8_lossy(uri)),
            }
        }
    };
    let found = table
        .map_bytes(&normalised)
        .and_then(|m| table.rules().iter().position(|x| std::ptr::eq(x, m.rule)));
    match found {
        Some(rule) => Translation::Mapped {
            rule,
            normalised: (*normalised != *uri).then(|| normalised.into_owned()),
            table,
        },
        None => match auto_alias.and_then(|dir| crate::uri::auto_alias(dir, &normalised, is_dir)) {
            Some(a) => Translation::Alias(a),
            None => Translation::Decline,
        },
    }
}

/// The handler phase's answer.
#[derive(Debug, PartialEq)]
pub enum Target<'a> {
    /// No worker for this request.
    Decline,
    /// Serve with `worker`; `given`: extensions that came with the name (they replace the
    /// matched rule's).
    Worker {
        worker: &'a str,
        given: Option<Extensions>,
    },
    /// Answer 500 and log `reason`.
    Fail { reason: String },
}

/// Find the worker for a request the handler was asked to serve: `note` (the URI phase's
/// mapping), else `env` (`JK_WORKER_NAME`), else `uri` mapped again in `table`.
pub fn find_worker<'a>(
    note: Option<&'a str>,
    env: Option<&'a str>,
    uri: &[u8],
    table: &'a MountTable,
    workers: &Workers,
) -> Target<'a> {
    let name = match note
        .filter(|n| !n.is_empty())
        .or(env.filter(|n| !n.is_empty()))
    {
        Some(n) => n,
        None => {
            let mapped = crate::uri::normalise_cow(uri)
                .ok()
                .and_then(|n| table.map_bytes(&n).map(|m| m.worker));
            match mapped {
                Some(n) => n,
                None => return Target::Decline,
            }
        }
    };
    // `JK_WORKER_NAME=lb;stopped=n1`: extensions given with the name apply to this request
    // (mod_jk parses them per request too; it drops an unknown one, rjk says so).
    let (worker, given) = if !name.contains(';') {
        (name, None)
    } else {
        match Extensions::parse(name) {
            Ok(p) => (p.worker, Some(p.extensions)),
            Err(e) => {
                return Target::Fail {
                    reason: format!(
                        "worker name `{name}` for {}: {e}",
                        String::from_utf8_lossy(uri)
                    ),
                }
            }
        }
    };
    if workers.get(worker).is_none() {
        return Target::Fail {
            reason: format!("no worker `{worker}` for {}", String::from_utf8_lossy(uri)),
        };
    }
    Target::Worker { worker, given }
}

/// Whether `worker` is a status worker (served by the status pages, not forwarded).
pub fn is_status(workers: &Workers, worker: &str) -> bool {
    matches!(workers.get(worker).map(|w| &w.kind), Some(Kind::Status(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Location;
    use crate::mount::{Rule, Source};

    fn workers() -> Workers {
        let mut l = crate::config::Loader::new();
        l.directive_property("worker.list=lb,status", Location::new("t", 1));
        l.directive_property("worker.lb.type=lb", Location::new("t", 2));
        l.directive_property("worker.lb.balance_workers=n1", Location::new("t", 3));
        l.directive_property("worker.n1.port=8009", Location::new("t", 4));
        l.directive_property("worker.status.type=status", Location::new("t", 5));
        l.finish().workers.unwrap()
    }

    fn table() -> MountTable {
        let mut t = MountTable::new();
        let at = Location::new("httpd.conf", 1);
        t.extend(Rule::parse("/app/*", "lb", Source::JkMount(at)).unwrap());
        t
    }

    #[test]
    fn note_then_environment_then_the_uri_mapped_again() {
        let (w, t) = (workers(), table());
        let lb = |given| Target::Worker {
            worker: "lb",
            given,
        };
        assert_eq!(
            find_worker(Some("lb"), Some("status"), b"/x", &t, &w),
            lb(None)
        );
        assert_eq!(
            find_worker(None, Some("status"), b"/x", &t, &w),
            Target::Worker {
                worker: "status",
                given: None
            }
        );
        assert_eq!(find_worker(Some(""), None, b"/app/a", &t, &w), lb(None));
        assert_eq!(find_worker(None, None, b"/other", &t, &w), Target::Decline);
        match find_worker(None, Some("lb;stopped=n1"), b"/x", &t, &w) {
            Target::Worker { worker, given } => {
                assert_eq!(worker, "lb");
                assert!(given.is_some_and(|g| g.has_activation()));
            }
            other => panic!("{other:?}"),
        }
        for bad in ["nope", "lb;bogus=1"] {
            assert!(
                matches!(
                    find_worker(None, Some(bad), b"/x", &t, &w),
                    Target::Fail { .. }
                ),
                "{bad}"
            );
        }
        assert!(is_status(&w, "status") && !is_status(&w, "lb"));
    }

    #[test]
    fn translate_declines_refuses_maps_and_aliases_in_mod_jks_order() {
        let shared = SharedTable::fixed(table());
        let now = SystemTime::now();
        let never = |_: &Path| false;
        assert!(matches!(
            translate(true, &shared, now, None, b"/app/a", never),
            Translation::Decline
        ));
        match translate(false, &shared, now, None, b"/app/./a", never) {
            Translation::Mapped {
                table,
                rule,
                normalised,
            } => {
                assert_eq!(table.rules()[rule].worker, "lb");
                assert_eq!(normalised.as_deref(), Some(&b"/app/a"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            translate(false, &shared, now, None, b"/app/a", never),
            Translation::Mapped {
                normalised: None,
                ..
            }
        ));
        assert!(matches!(
            translate(false, &shared, now, None, b"/../etc/passwd", never),
            Translation::Refuse { .. } | Translation::Decline
        ));
        assert!(matches!(
            translate(false, &shared, now, None, b"/static/a", never),
            Translation::Decline
        ));
        let dir = Path::new("/srv/webapps");
        assert!(matches!(
            translate(
                false,
                &shared,
                now,
                Some(dir),
                b"/shop/WEB-INF/web.xml",
                never
            ),
            Translation::Alias(AutoAlias::Hidden)
        ));
    }
}
