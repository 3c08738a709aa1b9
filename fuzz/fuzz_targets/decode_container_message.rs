#![no_main]
//! Any payload a container could send.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ajp::ContainerMessage::SendHeaders(h)) = ajp::ContainerMessage::decode(data) {
        assert_eq!(h.headers().count(), h.num_headers() as usize);
    }
});
