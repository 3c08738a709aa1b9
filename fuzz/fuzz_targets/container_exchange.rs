#![no_main]
//! A byte stream from a web server into the container side, with the application's calls
//! chosen by the first byte.
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ops, stream)) = data.split_first() else { return };
    let cfg = ajp::ContainerConfig { secret: Some(b"k".to_vec()), ..Default::default() };
    let mut c = ajp::ContainerExchange::new(Arc::new(cfg));
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0u32;
    while let Ok(Some((_, n))) = c.receive(&stream[pos..]) {
        assert!(n > 0);
        pos += n;
        i += 1;
        match (ops >> (i % 4 * 2)) & 3 {
            0 => { let _ = c.want_body(&mut out); }
            1 => { let _ = c.send_headers(200, b"200", [], &mut out); }
            2 => { let _ = c.send_body(b"x", &mut out); }
            _ => { let _ = c.end(true, &mut out); }
        }
    }
});
