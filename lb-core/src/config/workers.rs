//! Building the typed workers from the resolved property map, and the checks that span
//! workers: members exist and are ajp13 workers, routes are unique in an lb, redirects point at
//! a member's route, the lb's secret reaches members without one.

use std::collections::{BTreeMap, BTreeSet};

use super::ajp::AjpWorker;
use super::attribute::{self, Deprecated};
use super::diag::{Diagnostics, Location};
use super::lb::LbWorker;
use super::properties::{split_worker_key, PropertyMap};
use super::read::Props;
use super::setting::{Origin, Setting};
use super::status_worker::StatusWorker;
use super::{local, suggest, value, MAX_NAME};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workers {
    /// `worker.list`: the workers requests can be mapped to.
    pub list: Setting<Vec<String>>,
    /// `worker.maintain`, seconds (0 turns maintenance off).
    pub maintain: Setting<i64>,
    /// Every worker that exists at runtime: listed ones and lb members, by name.
    pub workers: BTreeMap<String, Worker>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worker {
    pub name: String,
    pub kind: Kind,
    /// In `worker.list` (mappable), as opposed to only an lb member.
    pub listed: bool,
    /// URI patterns from the worker's `mount` property.
    pub mounts: Vec<WorkerMount>,
}

// Built once per configuration and never moved on a hot path: boxing the large variant
// would only add indirection to every access.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Ajp(AjpWorker),
    Lb(LbWorker),
    Status(StatusWorker),
}

impl Kind {
    /// mod_jk's type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Ajp(_) => "ajp13",
            Kind::Lb(_) => "lb",
            Kind::Status(_) => "status",
        }
    }
}

/// One pattern of a worker's `mount` property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerMount {
    pub worker: String,
    pub pattern: String,
    pub at: Location,
}

impl Workers {
    pub fn get(&self, name: &str) -> Option<&Worker> {
        self.workers.get(name)
    }

    pub fn ajp(&self, name: &str) -> Option<&AjpWorker> {
        match &self.workers.get(name)?.kind {
            Kind::Ajp(a) => Some(a),
            _ => None,
        }
    }

    /// Every `mount` pattern of the listed workers, in worker order.
    pub fn mounts(&self) -> impl Iterator<Item = &WorkerMount> {
        self.workers
            .values()
            .filter(|w| w.listed)
            .flat_map(|w| w.mounts.iter())
    }
}

pub fn build(map: &PropertyMap, diags: &mut Diagnostics) -> Workers {
    let list = read_list(map, diags);
    let maintain = read_maintain(map, diags);
    let defined: BTreeSet<&str> = map
        .iter()
        .filter_map(|p| split_worker_key(&p.key).map(|(w, _)| w))
        .collect();

    let mut workers = BTreeMap::new();
    for name in &list.value {
        if !defined.contains(name.as_str()) && name != "ajp13" {
            let hint = suggest::hint(name, defined.iter().copied());
            diags.warn(list.origin.location(), Some(name), format!(
                "listed in worker.list but has no properties: an ajp13 worker on localhost:8009{hint}"));
        }
        if let Some(w) = build_worker(map, name, true, diags) {
            workers.insert(name.clone(), w);
        }
    }
    add_members(map, &defined, &mut workers, diags);
    check_lbs(&mut workers, diags);
    local::apply(map, &mut workers, diags);
    warn_unused(map, &defined, &workers, diags);
    warn_inapplicable(map, &workers, diags);
    Workers {
        list,
        maintain,
        workers,
    }
}

fn read_list(map: &PropertyMap, diags: &mut Diagnostics) -> Setting<Vec<String>> {
    let Some(p) = map.get("worker.list") else {
        return Setting::default(vec!["ajp13".to_owned()]);
    };
    let mut names: Vec<String> = Vec::new();
    for n in value::list(&p.value) {
        if names.iter().any(|x| x == n) {
            diags.warn(Some(&p.at), Some(n), "listed twice in worker.list".into());
        } else {
            names.push(n.to_owned());
        }
    }
    Setting {
        value: names,
        origin: Origin::Line(p.at.clone()),
    }
}

fn read_maintain(map: &PropertyMap, diags: &mut Diagnostics) -> Setting<i64> {
    let Some(p) = map.get("worker.maintain") else {
        return Setting::default(60);
    };
    match value::int(&p.value) {
        Ok(n) if n < 0 => {
            diags.warn(
                Some(&p.at),
                None,
                format!("worker.maintain={n} is negative; using 0 (maintenance off)"),
            );
            Setting {
                value: 0,
                origin: Origin::Line(p.at.clone()),
            }
        }
        Ok(n) => {
            if n == 0 {
                diags.warn(Some(&p.at), None, "worker.maintain=0 turns maintenance off: members in error are never recovered except by forced recovery".into());
            }
            Setting {
                value: n,
                origin: Origin::Line(p.at.clone()),
            }
        }
        Err(e) => {
            diags.error(Some(&p.at), None, format!("worker.maintain: {e}"));
            Setting::default(60)
        }
    }
}

fn build_worker(
    map: &PropertyMap,
    name: &str,
    listed: bool,
    diags: &mut Diagnostics,
) -> Option<Worker> {
    let type_at = map
        .get(&format!("worker.{name}.type"))
        .map(|p| p.at.clone());
    if name.len() > MAX_NAME {
        diags.error(
            type_at.as_ref(),
            Some(name),
            format!(
                "the name is {} characters long; mod_jk's limit is {MAX_NAME}",
                name.len()
            ),
        );
    }
    let ty = map.value(&format!("worker.{name}.type")).unwrap_or("ajp13");
    let mut p = Props {
        map,
        worker: name,
        diags,
    };
    let kind = match ty {
        "ajp13" => Kind::Ajp(AjpWorker::read(&mut p, name)),
        "lb" => Kind::Lb(LbWorker::read(&mut p)),
        "status" => Kind::Status(StatusWorker::read(&mut p)),
        "ajp14" | "ajp12" => {
            p.error(type_at.as_ref(), format!(
                "worker type `{ty}` is not supported: use `ajp13` (Tomcat's AJP connector speaks AJP/1.3)"));
            return None;
        }
        other => {
            let hint = suggest::hint(other, ["ajp13", "lb", "status"]);
            p.error(
                type_at.as_ref(),
                format!(
                    "unknown worker type `{other}`{hint}; valid types are ajp13, lb and status"
                ),
            );
            return None;
        }
    };
    let mounts = match map.get(&format!("worker.{name}.mount")) {
        Some(m) => value::list(&m.value)
            .into_iter()
            .map(|pattern| WorkerMount {
                worker: name.to_owned(),
                pattern: pattern.to_owned(),
                at: m.at.clone(),
            })
            .collect(),
        None => Vec::new(),
    };
    Some(Worker {
        name: name.to_owned(),
        kind,
        listed,
        mounts,
    })
}

/// Create every lb member (members need not be listed), checking they exist and are ajp13.
fn add_members(
    map: &PropertyMap,
    defined: &BTreeSet<&str>,
    workers: &mut BTreeMap<String, Worker>,
    diags: &mut Diagnostics,
) {
    let lbs: Vec<(String, Vec<String>, Option<Location>)> = workers
        .values()
        .filter_map(|w| match &w.kind {
            Kind::Lb(lb) => Some((
                w.name.clone(),
                lb.balance_workers.value.clone(),
                lb.balance_workers.origin.location().cloned(),
            )),
            _ => None,
        })
        .collect();
    for (lb, members, at) in lbs {
        for m in members {
            if !defined.contains(m.as_str()) {
                let hint = suggest::hint(&m, defined.iter().copied());
                diags.error(
                    at.as_ref(),
                    Some(&lb),
                    format!("member `{m}` is not defined (no worker.{m}.* properties){hint}"),
                );
                continue;
            }
            if m == lb {
                diags.error(
                    at.as_ref(),
                    Some(&lb),
                    "an lb cannot be its own member".into(),
                );
                continue;
            }
            if !workers.contains_key(&m) {
                if let Some(w) = build_worker(map, &m, false, diags) {
                    workers.insert(m.clone(), w);
                }
            }
            if let Some(w) = workers.get(&m) {
                if !matches!(w.kind, Kind::Ajp(_)) {
                    diags.error(
                        at.as_ref(),
                        Some(&lb),
                        format!(
                            "member `{m}` is a worker of type {}: lb members must be ajp13 workers",
                            w.kind.type_name()
                        ),
                    );
                }
            }
        }
    }
}

/// Per lb: unique routes, redirects that name a member's route, the secret inherited.
fn check_lbs(workers: &mut BTreeMap<String, Worker>, diags: &mut Diagnostics) {
    let lbs: Vec<(String, LbWorker)> = workers
        .values()
        .filter_map(|w| match &w.kind {
            Kind::Lb(lb) => Some((w.name.clone(), lb.clone())),
            _ => None,
        })
        .collect();
    for (name, lb) in lbs {
        let members: Vec<String> = lb
            .balance_workers
            .value
            .iter()
            .filter(|m| workers.contains_key(*m))
            .cloned()
            .collect();
        let mut routes: BTreeMap<String, String> = BTreeMap::new();
        for m in &members {
            let Some(Kind::Ajp(a)) = workers.get(m).map(|w| &w.kind) else {
                continue;
            };
            if let Some(other) = routes.insert(a.route.value.clone(), m.clone()) {
                diags.error(a.route.origin.location(), Some(&name), format!(
                    "members `{other}` and `{m}` have the same route `{}`: sessions could not tell them apart", a.route.value));
            }
        }
        for m in &members {
            let Some(Kind::Ajp(a)) = workers.get(m).map(|w| &w.kind) else {
                continue;
            };
            let r = &a.redirect.value;
            if !r.is_empty() && !routes.contains_key(r) {
                let hint = suggest::hint(r, routes.keys().map(String::as_str));
                diags.error(
                    a.redirect.origin.location(),
                    Some(m),
                    format!("redirect `{r}` is not the route of a member of lb `{name}`{hint}"),
                );
            }
        }
        if let Some(secret) = &lb.secret.value {
            for m in &members {
                if let Some(Worker {
                    kind: Kind::Ajp(a), ..
                }) = workers.get_mut(m)
                {
                    if a.secret.value.is_none() {
                        a.secret = Setting {
                            value: Some(secret.clone()),
                            origin: Origin::Inherited { from: name.clone() },
                        };
                    }
                }
            }
        }
    }
}

/// Properties of workers nobody uses are probably a typo in worker.list or balance_workers.
fn warn_unused(
    map: &PropertyMap,
    defined: &BTreeSet<&str>,
    workers: &BTreeMap<String, Worker>,
    diags: &mut Diagnostics,
) {
    let templates: BTreeSet<String> = map
        .iter()
        .filter(|p| p.key.ends_with(".reference"))
        .filter_map(|p| {
            p.value
                .strip_prefix("worker.")
                .map(|t| t.trim_end_matches('.').to_owned())
        })
        .collect();
    for name in defined {
        if workers.contains_key(*name) || templates.contains(*name) {
            continue;
        }
        let at = map
            .iter()
            .find(|p| split_worker_key(&p.key).is_some_and(|(w, _)| w == *name))
            .map(|p| p.at.clone());
        diags.warn(
            at.as_ref(),
            Some(name),
            "defined but unused: not in worker.list, not an lb member, not a template".into(),
        );
    }
}

/// An attribute written for a worker type it has no effect on (e.g. `sticky_session` on an
/// ajp13 worker) is accepted, as by mod_jk, but reported.
fn warn_inapplicable(
    map: &PropertyMap,
    workers: &BTreeMap<String, Worker>,
    diags: &mut Diagnostics,
) {
    for p in map.iter().filter(|p| p.template.is_none()) {
        let Some((name, attr)) = split_worker_key(&p.key) else {
            continue;
        };
        let Some(w) = workers.get(name) else { continue };
        let Some(a) = attribute::find(p.via.unwrap_or(attr)) else {
            continue;
        };
        if a.deprecated == Some(Deprecated::NoEffect) || a.name == "secretkey" {
            diags.warn(
                Some(&p.at),
                Some(name),
                format!(
                    "`{}` has no effect (a setting of long-gone worker types)",
                    a.name
                ),
            );
            continue;
        }
        if a.deprecated == Some(Deprecated::Local) {
            continue; // reported with its mapping by `local`
        }
        let applies = match w.kind {
            Kind::Ajp(_) => a.applies.ajp,
            Kind::Lb(_) => a.applies.lb,
            Kind::Status(_) => a.applies.status,
        } || matches!(a.name, "type" | "reference" | "mount");
        if !applies {
            diags.warn(
                Some(&p.at),
                Some(name),
                format!(
                    "`{}` has no effect on a worker of type {}",
                    a.name,
                    w.kind.type_name()
                ),
            );
        }
    }
}
