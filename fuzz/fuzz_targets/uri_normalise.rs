#![no_main]
//! Request paths (client input): %-decoding, mod_jk's normalisation, session-id stripping and
//! the forwarded URI. A normalised path starts with `/`, has no `.`/`..`/empty segment and no
//! path parameter, and normalising it again changes nothing.
use lb_core::directive::options::ForwardUri;
use lb_core::uri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let _ = uri::decode(&raw);
    let decoded = match uri::decode_bytes(&raw) {
        Ok(d) => d.into_owned(),
        Err(_) => data.to_vec(),
    };
    if let Ok(n) = uri::normalise_bytes(&decoded) {
        if n != b"*" {
            assert!(n.starts_with(b"/"), "{n:?}");
            assert!(!n.contains(&b';'), "{n:?}");
            let segments: Vec<&[u8]> = n[1..].split(|&b| b == b'/').collect();
            let last = segments.len() - 1;
            for (i, s) in segments.iter().enumerate() {
                assert!(*s != b"." && *s != b"..", "{n:?}");
                assert!(!s.is_empty() || i == last, "{n:?}");
            }
            assert_eq!(uri::normalise_bytes(&n).as_deref(), Ok(&n[..]));
        }
    }
    let _ = uri::normalise_steps(&raw);
    let _ = uri::strip_session_id_bytes(&decoded, b"jsessionid");
    for mode in [
        ForwardUri::Proxy,
        ForwardUri::Escaped,
        ForwardUri::Compat,
        ForwardUri::CompatUnparsed,
    ] {
        let f = uri::forward_uri_bytes(&decoded, data, mode);
        if matches!(mode, ForwardUri::Proxy | ForwardUri::Escaped) {
            assert!(
                f.iter()
                    .all(|b| b.is_ascii_graphic() && *b != b'?' && *b != b'#'),
                "{f:?}"
            );
        }
    }
});
