#![no_main]
//! uriworkermap text and JkMount rules with extensions (operator input), then URIs mapped
//! through the table built from them: no panic, and a mapped worker is one of the rules'.
use lb_core::config::Location;
use lb_core::mount::{Extensions, MountFile, MountTable, Rule, Source};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Before the first NUL: a mount file; after it: URIs to map, one per line.
    let (rules_text, uris) = text.split_once('\0').unwrap_or((&text, "/a/b.jsp\n/"));
    let file = MountFile::parse(rules_text, Path::new("uriworkermap.properties"));
    for e in &file.errors {
        let _ = e.to_string();
    }
    for line in rules_text.lines() {
        if let Some((pattern, worker)) = line.split_once(' ') {
            let _ = Rule::parse(
                pattern,
                worker,
                Source::JkMount(Location::new("httpd.conf", 1)),
            );
        }
        let _ = Extensions::parse(line);
    }
    let mut table = MountTable::new();
    table.extend(file.rules.iter().cloned());
    for uri in uris.lines() {
        if let Some(m) = table.map(uri) {
            assert!(file.rules.iter().any(|r| r.worker == m.worker));
        }
        let _ = table.map_bytes(uri.as_bytes());
    }
});
