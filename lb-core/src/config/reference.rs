//! `worker.X.reference=worker.T`: X takes every `worker.T.*` property it does not set itself.
//! Templates of templates are resolved first; loops and missing targets are errors.

use std::collections::HashSet;

use super::diag::Diagnostics;
use super::properties::{split_worker_key, Property, PropertyMap};
use super::suggest;

/// mod_jk's recursion limit for reference chains.
const MAX_DEPTH: usize = 20;

pub fn resolve(map: &mut PropertyMap, diags: &mut Diagnostics) {
    let referring: Vec<String> = map
        .iter()
        .filter_map(|p| match split_worker_key(&p.key) {
            Some((w, "reference")) => Some(w.to_owned()),
            _ => None,
        })
        .collect();
    let mut done = HashSet::new();
    for w in referring {
        resolve_one(map, &w, &mut Vec::new(), &mut done, diags);
    }
}

fn resolve_one(
    map: &mut PropertyMap,
    worker: &str,
    chain: &mut Vec<String>,
    done: &mut HashSet<String>,
    diags: &mut Diagnostics,
) -> bool {
    if done.contains(worker) {
        return true;
    }
    let Some(r) = map.get(&format!("worker.{worker}.reference")).cloned() else {
        done.insert(worker.to_owned());
        return true;
    };
    let ok = (|| {
        let Some(target) = r
            .value
            .strip_prefix("worker.")
            .map(|t| t.trim_end_matches('.'))
        else {
            diags.error(
                Some(&r.at),
                Some(worker),
                format!(
                    "reference `{}` must name a worker as `worker.<name>`",
                    r.value
                ),
            );
            return false;
        };
        if chain.iter().any(|c| c == target) || target == worker {
            let mut path = chain.clone();
            path.push(worker.to_owned());
            path.push(target.to_owned());
            diags.error(
                Some(&r.at),
                Some(worker),
                format!("references form a loop: {}", path.join(" → ")),
            );
            return false;
        }
        if chain.len() >= MAX_DEPTH {
            diags.error(
                Some(&r.at),
                Some(worker),
                format!("reference chain deeper than {MAX_DEPTH} workers"),
            );
            return false;
        }
        chain.push(worker.to_owned());
        let parent_ok = resolve_one(map, target, chain, done, diags);
        chain.pop();
        if !parent_ok {
            return false;
        }
        let prefix = format!("worker.{target}.");
        let copies: Vec<Property> = map
            .iter()
            .filter(|p| p.key.starts_with(&prefix) && !p.key.ends_with(".reference"))
            .cloned()
            .collect();
        if copies.is_empty() {
            let names: Vec<String> = map
                .iter()
                .filter_map(|p| split_worker_key(&p.key).map(|(w, _)| w.to_owned()))
                .collect();
            let hint = suggest::hint(target, names.iter().map(String::as_str));
            diags.error(
                Some(&r.at),
                Some(worker),
                format!("reference target `worker.{target}` has no properties{hint}"),
            );
            return false;
        }
        for p in copies {
            let key = format!("worker.{worker}.{}", &p.key[prefix.len()..]);
            // mod_jk copies every key the worker lacks by its exact name and reads the current
            // name before the deprecated one: a template's `connection_pool_timeout` beats the
            // worker's own `cache_timeout`.
            let own = map.get(&key).cloned();
            if let Some(own) = own.as_ref().filter(|o| o.via.is_some() && p.via.is_none()) {
                diags.warn(
                    Some(&own.at),
                    Some(worker),
                    format!(
                        "`{}` ignored: template `{target}` sets `{}` at {} (mod_jk reads the current name first)",
                        own.via.unwrap_or_default(),
                        &p.key[prefix.len()..],
                        p.at
                    ),
                );
            }
            if own.is_none_or(|o| o.via.is_some() && p.via.is_none()) {
                let from = p.template.clone().unwrap_or_else(|| target.to_owned());
                map.insert(Property {
                    key,
                    template: Some(from),
                    ..p
                });
            }
        }
        true
    })();
    done.insert(worker.to_owned());
    ok
}
