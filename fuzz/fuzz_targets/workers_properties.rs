#![no_main]
//! workers.properties text (operator input): reading, template resolution and validation
//! never panic, and a load either yields workers or says why not.
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut loader = lb_core::config::Loader::new();
    loader.server_root(Path::new("/srv"));
    loader.workers_text(&text, Path::new("workers.properties"));
    let loaded = loader.finish();
    let failed = loaded.errors().next().is_some();
    assert_eq!(loaded.workers.is_none(), failed);
    for d in &loaded.diagnostics {
        let _ = d.to_string();
    }
});
