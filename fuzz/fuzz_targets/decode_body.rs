#![no_main]
//! Framing and request-body packets.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for dir in [ajp::Direction::ToContainer, ajp::Direction::FromContainer] {
        if let Ok(Some((payload, used))) = ajp::split_packet(data, dir, ajp::PacketSize::default()) {
            assert!(used <= data.len() && payload.len() + 4 == used);
            let _ = ajp::decode_body(payload);
        }
    }
});
