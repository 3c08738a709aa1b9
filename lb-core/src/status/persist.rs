//! Runtime changes that survive a restart (a status worker's `persist_file`): after every
//! change the members' runtime settings are written as `lb.member.setting=value` lines; at
//! startup they are applied again over workers.properties. mod_jk loses them.

use std::fmt::Write as _;
use std::path::Path;

use crate::balancer::{Balancer, MemberChange};
use crate::config::Activation;

/// The lines for every member of `lbs` (name, balancer) at `now`.
pub fn render<'a>(lbs: impl IntoIterator<Item = (&'a str, &'a Balancer)>, now: i64) -> String {
    let mut out = String::from(
        "# rjk: runtime changes made through the status worker; applied at startup.\n",
    );
    for (name, lb) in lbs {
        for m in lb.stats(now).members {
            let act = match m.activation {
                Activation::Active => "A",
                Activation::Disabled => "D",
                Activation::Stopped => "S",
            };
            let _ = writeln!(out, "{name}.{}.activation={act}", m.name);
            let _ = writeln!(out, "{name}.{}.lbfactor={}", m.name, m.lbfactor);
            let _ = writeln!(out, "{name}.{}.distance={}", m.name, m.distance);
            let _ = writeln!(out, "{name}.{}.route={}", m.name, m.route);
            let _ = writeln!(out, "{name}.{}.domain={}", m.name, m.domain);
            let _ = writeln!(out, "{name}.{}.redirect={}", m.name, m.redirect);
        }
    }
    out
}

/// At startup: for every status worker with `persist_file`, apply the saved changes to the
/// running balancers. Returns "file: problem" lines for the log.
pub fn restore<'a>(
    workers: &crate::config::Workers,
    lookup: impl Fn(&str) -> Option<&'a Balancer>,
) -> Vec<String> {
    let mut out = Vec::new();
    for w in workers.workers.values() {
        let crate::config::Kind::Status(st) = &w.kind else {
            continue;
        };
        let Some(path) = &st.persist_file.value else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        out.extend(
            apply(&text, &lookup)
                .into_iter()
                .map(|p| format!("{path}: {p}")),
        );
    }
    out
}

/// Write atomically (a temporary file renamed over the old one).
pub fn save(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Apply saved lines to the balancers found by `lookup`; returns what could not be applied.
pub fn apply<'a>(text: &str, lookup: impl Fn(&str) -> Option<&'a Balancer>) -> Vec<String> {
    let mut problems = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((key, value)) = line.split_once('=') else {
            problems.push(format!("`{line}` is not key=value"));
            continue;
        };
        let parts: Vec<&str> = key.rsplitn(3, '.').collect();
        let [setting, member, lb] = parts[..] else {
            problems.push(format!("`{key}` is not lb.member.setting"));
            continue;
        };
        let Some(b) = lookup(lb) else {
            problems.push(format!("no balancer `{lb}` any more"));
            continue;
        };
        let Some(i) = b.member_index(member) else {
            problems.push(format!("no member `{member}` in `{lb}` any more"));
            continue;
        };
        let num = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("{key}: `{v}` is not a number"))
        };
        let change = match setting {
            "activation" => Activation::parse(value).map(MemberChange::Activation),
            "lbfactor" => num(value).map(MemberChange::LbFactor),
            "distance" => num(value).map(MemberChange::Distance),
            "route" => Ok(MemberChange::Route(value.to_owned())),
            "domain" => Ok(MemberChange::Domain(value.to_owned())),
            "redirect" => Ok(MemberChange::Redirect(value.to_owned())),
            other => Err(format!("unknown setting `{other}`")),
        };
        match change.map(|c| b.change(i, c).map_err(|e| e.to_string())) {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => problems.push(e),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::{LbSpec, MemberSpec};
    use crate::shm::ShmTable;
    use std::sync::Arc;

    #[test]
    fn saved_changes_are_applied_to_a_fresh_balancer() {
        let members = [MemberSpec::named("n1"), MemberSpec::named("n2")];
        let old = Balancer::new(
            &LbSpec::named("lb"),
            &members,
            Arc::new(ShmTable::heap(1, 2)),
            0,
        )
        .unwrap();
        old.change(0, MemberChange::Activation(Activation::Disabled))
            .unwrap();
        old.change(1, MemberChange::LbFactor(4)).unwrap();
        let text = render([("lb", &old)], 0);
        let fresh = Balancer::new(
            &LbSpec::named("lb"),
            &members,
            Arc::new(ShmTable::heap(1, 2)),
            0,
        )
        .unwrap();
        let problems = apply(&text, |n| (n == "lb").then_some(&fresh));
        assert!(problems.is_empty(), "{problems:?}");
        let s = fresh.stats(0);
        assert_eq!(s.members[0].activation, Activation::Disabled);
        assert_eq!(s.members[1].lbfactor, 4);
        let problems = apply(
            "lb.n9.activation=S\nlb.n1.colour=red\nother.n1.lbfactor=1\n",
            |n| (n == "lb").then_some(&fresh),
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
