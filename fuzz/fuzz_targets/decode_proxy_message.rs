#![no_main]
//! Any payload a web server could send on an idle connection.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ajp::ProxyMessage::ForwardRequest(r)) = ajp::ProxyMessage::decode(data) {
        // Validated once: the lazy iterators must yield every header and attribute.
        assert_eq!(r.headers().count(), r.num_headers() as usize);
        let _ = r.attributes().count();
    }
});
