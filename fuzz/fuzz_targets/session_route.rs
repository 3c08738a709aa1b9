#![no_main]
//! Session ids from a path parameter and Cookie headers (client input) and the routes they
//! name: no panic, and every route is a piece of the id after a `.`.
use lb_core::route;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The URI, then one Cookie header per further line.
    let mut lines = text.split('\n');
    let uri = lines.next().unwrap_or("");
    let cookies: Vec<&str> = lines.collect();
    for (path, cookie) in [("jsessionid", "JSESSIONID"), ("", ""), ("s", "s")] {
        if let Some(id) = route::session_id(uri, &cookies, path, cookie) {
            assert!(!id.is_empty());
            for r in route::routes(&id) {
                assert!(id.contains(&format!(".{r}")));
            }
        }
    }
});
