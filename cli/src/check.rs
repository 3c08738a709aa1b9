//! `rjk check`: load workers.properties (and the Jk* lines of an httpd config) as mod_rjk would,
//! and show the result.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use lb_core::balancer::lb_mults;
use lb_core::config::{
    Diagnostic, Kind, LbWorker, Loaded, Location, Origin, Row, Severity, Workers,
};
use lb_core::directive::server::server_settings;
use lb_core::directive::{load_workers, JkLine};
use serde_json::{json, Map, Value};

use crate::jkconf::JkConf;
use crate::style::Style;

pub use rjk_cli::args::Sources;

pub struct Checked {
    pub loaded: Loaded,
    /// The main server's mapping table.
    pub table: lb_core::mount::MountTable,
    /// Problems reading the sources themselves (unreadable httpd config...).
    pub problems: Vec<String>,
}

pub fn load(src: &Sources) -> Checked {
    let mut problems = Vec::new();
    let mut lines: Vec<JkLine> = Vec::new();
    let mut server_root = std::env::current_dir().unwrap_or_default();
    if let Some(conf) = &src.jk_conf {
        let c = JkConf::read(conf);
        problems.extend(c.problems.iter().cloned());
        server_root = c.server_root();
        lines.extend(c.directives.iter().map(|d| JkLine {
            name: d.name.clone(),
            args: d.raw.clone(),
            at: d.at.clone(),
            location: d.location.clone(),
        }));
    }
    if let Some(f) = &src.workers {
        // An explicit --workers replaces the config's JkWorkersFile.
        lines.retain(|l| !l.name.eq_ignore_ascii_case("JkWorkersFile"));
        let path = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        lines.push(JkLine {
            name: "JkWorkersFile".into(),
            args: path.display().to_string(),
            at: Location::new("(command line --workers)", 0),
            location: None,
        });
    } else if src.jk_conf.is_none() {
        problems.push("nothing to check: give --workers FILE and/or --jk-conf FILE".into());
    }
    let mut loaded = load_workers(&lines, &server_root);
    let conf = src.jk_conf.as_deref().map(JkConf::read);
    if let Some(c) = &conf {
        if check_servers(c, &server_root, &mut loaded.diagnostics) {
            loaded.workers = None;
        }
    }
    let (table, mount_diags) = crate::mounts::main_table(
        conf.as_ref(),
        src.mounts.as_deref(),
        loaded.workers.as_ref(),
        &server_root,
    );
    if mount_diags.iter().any(|d| d.severity == Severity::Error) {
        loaded.workers = None;
    }
    loaded.diagnostics.extend(mount_diags);
    Checked {
        loaded,
        table,
        problems,
    }
}

/// The directives of the main server and of each virtual host (which inherits the main
/// server's), as the module checks them at startup. Returns whether any has an error.
fn check_servers(c: &JkConf, root: &std::path::Path, out: &mut Vec<Diagnostic>) -> bool {
    let line = |d: &crate::jkconf::Directive| JkLine {
        name: d.name.clone(),
        args: d.raw.clone(),
        at: d.at.clone(),
        location: d.location.clone(),
    };
    let main: Vec<JkLine> = c
        .directives
        .iter()
        .filter(|d| d.vhost.is_none())
        .map(line)
        .collect();
    let mut vhosts: Vec<&str> = c
        .directives
        .iter()
        .filter_map(|d| d.vhost.as_deref())
        .collect();
    vhosts.dedup();
    let mut seen = std::collections::HashSet::new();
    let mut bad = false;
    let mut report = |diags: Vec<Diagnostic>| {
        for d in diags {
            if seen.insert(d.to_string()) {
                bad |= d.severity == Severity::Error;
                out.push(d);
            }
        }
    };
    report(server_settings(main.iter().map(|l| (l, false)), false, root).1);
    for v in vhosts {
        let own: Vec<JkLine> = c
            .directives
            .iter()
            .filter(|d| d.vhost.as_deref() == Some(v))
            .map(line)
            .collect();
        let lines = main
            .iter()
            .map(|l| (l, true))
            .chain(own.iter().map(|l| (l, false)));
        report(server_settings(lines, true, root).1);
    }
    bad
}

pub fn run(src: &Sources, json: bool) -> ExitCode {
    let c = load(src);
    let ok = c.problems.is_empty() && c.loaded.workers.is_some();
    if json {
        print(&(serde_json::to_string_pretty(&to_json(&c)).unwrap_or_default() + "\n"));
    } else {
        print(&render_human(&c, Style::stdout()));
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn render_human(c: &Checked, st: Style) -> String {
    let mut out = String::new();
    for p in &c.problems {
        let _ = writeln!(out, "{} {p}", st.error("error:"));
    }
    for d in &c.loaded.diagnostics {
        let _ = writeln!(out, "{}", diag_line(d, st));
    }
    let Some(w) = &c.loaded.workers else {
        let n = c.loaded.errors().count() + c.problems.len();
        let _ = writeln!(
            out,
            "\n{}",
            st.error(&format!("{n} error(s): the configuration would not start"))
        );
        return out;
    };
    if !c.loaded.diagnostics.is_empty() {
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "{} {}", st.bold("worker.list"), w.list.value.join(","));
    let _ = writeln!(
        out,
        "{} {}s {}",
        st.bold("worker.maintain"),
        w.maintain.value,
        st.dim(&format!("({})", w.maintain.origin))
    );
    for worker in w.workers.values() {
        let role = role_of(w, &worker.name);
        let _ = writeln!(
            out,
            "\n{} {}",
            st.bold(&format!(
                "worker {} ({})",
                worker.name,
                worker.kind.type_name()
            )),
            st.dim(&role)
        );
        let rows = rows_of(&worker.kind);
        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        let vwidth = rows
            .iter()
            .map(|r| r.value.len())
            .max()
            .unwrap_or(0)
            .min(40);
        for r in rows {
            let origin = r.origin.to_string();
            let origin = if matches!(r.origin, Origin::Default) {
                st.dim(&origin)
            } else {
                origin
            };
            let _ = writeln!(out, "  {:width$}  {:vwidth$}  {}", r.name, r.value, origin);
        }
        for m in &worker.mounts {
            let _ = writeln!(out, "  {:width$}  {:vwidth$}  {}", "mount", m.pattern, m.at);
        }
        if let Kind::Lb(l) = &worker.kind {
            let members = effective_members(w, l);
            let _ = writeln!(out, "  {:width$}  {}", "member_count", members.len());
            for m in members {
                let _ = writeln!(
                    out,
                    "  {:width$}  {}  {}",
                    "member",
                    m.name,
                    st.dim(&format!("lbfactor={} lbmult={}", m.lbfactor, m.lbmult))
                );
            }
        }
    }
    if !c.table.rules().is_empty() {
        let _ = writeln!(out, "\n{}", st.bold("mounts (in matching order)"));
        let width = c
            .table
            .rules()
            .iter()
            .map(|r| r.text().len())
            .max()
            .unwrap_or(0);
        for r in c.table.rules() {
            let _ = writeln!(
                out,
                "  {:width$}  {}",
                r.text(),
                st.dim(&r.source.to_string())
            );
        }
    }
    let warnings = c
        .loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let _ = writeln!(
        out,
        "\nOK: {} worker(s), {warnings} warning(s)",
        w.workers.len()
    );
    out
}

/// Write everything at once; a closed pipe (`rjk check | head`) is not an error worth a panic.
pub fn print(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn diag_line(d: &Diagnostic, st: Style) -> String {
    let text = d.to_string();
    match d.severity {
        Severity::Error => text.replacen("error:", &st.error("error:"), 1),
        Severity::Warning => text.replacen("warning:", &st.warn("warning:"), 1),
    }
}

fn rows_of(k: &Kind) -> Vec<Row<'_>> {
    match k {
        Kind::Ajp(a) => a.rows(),
        Kind::Lb(l) => l.rows(),
        Kind::Status(s) => s.rows(),
    }
}

/// "listed", "member of cluster", or both.
fn role_of(w: &Workers, name: &str) -> String {
    let mut roles = Vec::new();
    if w.get(name).is_some_and(|x| x.listed) {
        roles.push("listed".to_owned());
    }
    for (lb, worker) in &w.workers {
        if let Kind::Lb(l) = &worker.kind {
            if l.balance_workers.value.iter().any(|m| m == name) {
                roles.push(format!("member of {lb}"));
            }
        }
    }
    roles.join(", ")
}

/// A balancer member as mod_jk's status worker shows it: its factor and the multiplier
/// derived from all members' factors (`lbmult = LCM(factors) / lbfactor`).
#[derive(Debug, PartialEq, Eq)]
pub struct EffectiveMember<'a> {
    pub name: &'a str,
    pub lbfactor: i64,
    pub lbmult: u64,
}

pub fn effective_members<'a>(w: &Workers, l: &'a LbWorker) -> Vec<EffectiveMember<'a>> {
    let names = &l.balance_workers.value;
    let factors: Vec<i64> = names
        .iter()
        .map(|m| w.ajp(m).map_or(1, |a| a.lbfactor.value))
        .collect();
    let clamped: Vec<u32> = factors
        .iter()
        .map(|&f| u32::try_from(f).unwrap_or(u32::MAX))
        .collect();
    names
        .iter()
        .zip(factors)
        .zip(lb_mults(&clamped))
        .map(|((name, lbfactor), lbmult)| EffectiveMember {
            name,
            lbfactor,
            lbmult,
        })
        .collect()
}

fn location_json(at: Option<&Location>) -> (Value, Value) {
    match at {
        Some(a) => (json!(a.file.display().to_string()), json!(a.line)),
        None => (Value::Null, Value::Null),
    }
}

fn origin_json(o: &Origin) -> Value {
    let (file, line) = location_json(o.location());
    let mut m = json!({ "kind": o.kind(), "file": file, "line": line, "text": o.to_string() });
    match o {
        Origin::Template { from, .. } | Origin::Inherited { from } => m["from"] = json!(from),
        Origin::Deprecated { name, .. } => m["name"] = json!(name),
        _ => {}
    }
    m
}

pub fn to_json(c: &Checked) -> Value {
    let diagnostics: Vec<Value> = c
        .loaded
        .diagnostics
        .iter()
        .map(|d| {
            let (file, line) = location_json(d.at.as_ref());
            json!({
                "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "file": file, "line": line, "worker": d.worker, "message": d.message, "text": d.to_string(),
            })
        })
        .collect();
    let workers = c.loaded.workers.as_ref().map(|w| {
        let mut all = Map::new();
        for worker in w.workers.values() {
            let mut props = Map::new();
            for r in rows_of(&worker.kind) {
                props.insert(r.name.to_owned(), json!({ "value": r.value, "origin": origin_json(r.origin) }));
            }
            let mounts: Vec<Value> = worker.mounts.iter().map(|m| json!({"pattern": m.pattern, "file": m.at.file.display().to_string(), "line": m.at.line})).collect();
            let mut entry = json!({
                "type": worker.kind.type_name(),
                "listed": worker.listed,
                "properties": props,
                "mounts": mounts,
            });
            if let Kind::Lb(l) = &worker.kind {
                let members: Vec<Value> = effective_members(w, l)
                    .iter()
                    .map(|m| json!({ "name": m.name, "lbfactor": m.lbfactor, "lbmult": m.lbmult }))
                    .collect();
                entry["member_count"] = json!(members.len());
                entry["members"] = Value::Array(members);
            }
            all.insert(worker.name.clone(), entry);
        }
        json!({ "list": w.list.value, "maintain": w.maintain.value, "workers": all })
    });
    let mounts: Vec<Value> = c
        .table
        .rules()
        .iter()
        .map(|r| json!({ "rule": r.text(), "worker": r.worker, "source": r.source.kind(),
            "file": r.source.location().file.display().to_string(), "line": r.source.location().line }))
        .collect();
    json!({
        "mounts": mounts,
        "ok": c.problems.is_empty() && c.loaded.workers.is_some(),
        "problems": c.problems,
        "diagnostics": diagnostics,
        "workers": workers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lb_core::config::Loader;
    use std::path::Path;

    fn workers(text: &str) -> Workers {
        let mut l = Loader::new();
        l.workers_text(text, Path::new("w.properties"));
        l.finish().workers.expect("loads")
    }

    fn lb<'a>(w: &'a Workers, name: &str) -> &'a LbWorker {
        match &w.get(name).expect("worker").kind {
            Kind::Lb(l) => l,
            k => panic!("{name} is {}", k.type_name()),
        }
    }

    #[test]
    fn members_show_factor_and_multiplier_as_mod_jk() {
        let w = workers(
            "worker.list=l,k\nworker.l.type=lb\nworker.l.balance_workers=a,b,c\n\
             worker.k.type=lb\nworker.k.balance_workers=a\n\
             worker.a.lbfactor=1\nworker.b.lbfactor=2\nworker.c.lbfactor=3\n",
        );
        let got: Vec<(&str, i64, u64)> = effective_members(&w, lb(&w, "l"))
            .iter()
            .map(|m| (m.name, m.lbfactor, m.lbmult))
            .collect();
        assert_eq!(got, vec![("a", 1, 6), ("b", 2, 3), ("c", 3, 2)]);
        // The same member in another balancer gets that balancer's multiplier.
        let k = effective_members(&w, lb(&w, "k"));
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].lbmult, 1);
    }

    #[test]
    fn human_and_json_output_carry_member_count_and_lbmult() {
        let w = workers(
            "worker.list=l\nworker.l.type=lb\nworker.l.balance_workers=a,b\n\
             worker.a.lbfactor=2\nworker.b.lbfactor=3\n",
        );
        let c = Checked {
            loaded: Loaded {
                workers: Some(w),
                diagnostics: Vec::new(),
                properties: Default::default(),
            },
            table: lb_core::mount::MountTable::default(),
            problems: Vec::new(),
        };
        let text = render_human(&c, Style::plain());
        let has = |words: &[&str]| {
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == words)
        };
        assert!(has(&["member_count", "2"]), "{text}");
        assert!(has(&["member", "a", "lbfactor=2", "lbmult=3"]), "{text}");
        assert!(has(&["member", "b", "lbfactor=3", "lbmult=2"]), "{text}");
        let j = to_json(&c);
        let l = &j["workers"]["workers"]["l"];
        assert_eq!(l["member_count"], 2);
        assert_eq!(
            l["members"][0],
            json!({"name": "a", "lbfactor": 2, "lbmult": 3})
        );
        assert_eq!(l["members"][1]["lbmult"], 2);
    }
}
