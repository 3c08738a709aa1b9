#![no_main]
//! The status worker's query string / form body (client input): parsing, the changes it asks
//! for, and %-coding; encode then decode gives the text back.
use lb_core::status::action;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(req) = action::parse(&text) {
        let _ = req.cmd();
        let _ = req.mime();
        let _ = action::changes(&req);
        let _ = action::matching(req.param("sw").unwrap_or("*"), ["n1", "n2", "node-3"]);
    }
    assert_eq!(action::percent_decode(&action::percent_encode(&text)), text);
});
