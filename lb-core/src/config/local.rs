//! The mod_jk 1.2.7-era `local_worker` (member) and `local_worker_only` (lb) settings. mod_jk
//! accepts and ignores them today, which silently changes how an old cluster fails over; rjk
//! maps them onto what replaced them and says so at startup:
//!
//! - in an lb where some member has `local_worker=true`, members without it get `distance=1`
//!   (used only when no local member is available), unless they set `distance` themselves;
//! - with `local_worker_only=true` on the lb, the non-local members also get
//!   `activation=Disabled` (they keep their sticky sessions but take no new ones), unless they
//!   set `activation` themselves.

use std::collections::BTreeMap;

use super::diag::Diagnostics;
use super::properties::PropertyMap;
use super::setting::{Origin, Setting};
use super::value::{self, Activation};
use super::workers::{Kind, Worker};

pub fn apply(map: &PropertyMap, workers: &mut BTreeMap<String, Worker>, diags: &mut Diagnostics) {
    let lbs: Vec<(String, Vec<String>, bool)> = workers
        .values()
        .filter_map(|w| match &w.kind {
            Kind::Lb(lb) => Some((
                w.name.clone(),
                lb.balance_workers.value.clone(),
                lb.local_worker_only.value,
            )),
            _ => None,
        })
        .collect();
    for (lb, members, only) in lbs {
        let local = |m: &str| {
            map.get(&format!("worker.{m}.local_worker"))
                .map(|p| (value::boolean(&p.value).unwrap_or(false), p.at.clone()))
        };
        let marked: Vec<(String, bool)> = members
            .iter()
            .filter_map(|m| local(m).map(|(on, _)| (m.clone(), on)))
            .collect();
        if let Some(p) = map.get(&format!("worker.{lb}.local_worker_only")) {
            if value::boolean(&p.value).is_err() {
                diags.error(
                    Some(&p.at),
                    Some(&lb),
                    format!("local_worker_only: `{}` is not a boolean", p.value),
                );
            }
        }
        if !marked.iter().any(|(_, on)| *on) {
            for m in members
                .iter()
                .filter_map(|m| local(m).map(|(_, at)| (m, at)))
            {
                diags.warn(Some(&m.1), Some(m.0), "`local_worker` is deprecated and no member of this lb is local: it has no effect".into());
            }
            continue;
        }
        let mut mapped = Vec::new();
        for m in &members {
            if local(m).is_some_and(|(on, _)| on) {
                continue;
            }
            let Some(Worker {
                kind: Kind::Ajp(a), ..
            }) = workers.get_mut(m)
            else {
                continue;
            };
            let why = format!("1.2.7 local_worker mapping in lb `{lb}`");
            if !a.distance.is_explicit() {
                a.distance = Setting {
                    value: 1,
                    origin: Origin::Derived(why.clone()),
                };
                mapped.push(format!("{m}: distance=1"));
            }
            if only && !a.activation.is_explicit() {
                a.activation = Setting {
                    value: Activation::Disabled,
                    origin: Origin::Derived(why),
                };
                mapped.push(format!("{m}: activation=Disabled"));
            }
        }
        let at = members.iter().find_map(|m| local(m).map(|(_, at)| at));
        diags.warn(
            at.as_ref(),
            Some(&lb),
            format!(
                "deprecated local_worker{} honoured as: {}",
                if only { "/local_worker_only" } else { "" },
                if mapped.is_empty() {
                    "nothing to change".to_owned()
                } else {
                    mapped.join(", ")
                }
            ),
        );
    }
}
