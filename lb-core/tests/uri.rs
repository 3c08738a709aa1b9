//! URI normalisation (CVE-2018-11759), decoding and the ForwardURI* forms.

use lb_core::directive::options::ForwardUri;
use lb_core::uri::{decode, forward_uri, is_unsafe, normalise, UriError};

#[test]
fn normalise_table() {
    let cases: &[(&str, Result<&str, UriError>)] = &[
        ("/", Ok("/")),
        ("/app/x", Ok("/app/x")),
        ("/app/", Ok("/app/")),
        ("//app", Ok("/app")),
        ("/app//x///y", Ok("/app/x/y")),
        ("/app/./x", Ok("/app/x")),
        ("/app/.", Ok("/app/")),
        ("/./.", Ok("/")),
        ("/app/../x", Ok("/x")),
        ("/app/x/..", Ok("/app/")),
        ("/app/..", Ok("/")),
        ("/app/..;/jkstatus", Ok("/jkstatus")),
        ("/app;x=y/y", Ok("/app/y")),
        ("/app;jsessionid=A.n1", Ok("/app")),
        ("/a;x/b;y/c;z", Ok("/a/b/c")),
        ("/;x/a", Ok("/a")),
        ("/app/...", Ok("/app/...")),
        ("/app/.x/..y", Ok("/app/.x/..y")),
        ("/a//../b", Ok("/b")),
        ("*", Ok("*")),
        ("/..", Err(UriError::AboveRoot)),
        ("/../x", Err(UriError::AboveRoot)),
        ("/a/../../x", Err(UriError::AboveRoot)),
        ("/..;x/", Err(UriError::AboveRoot)),
        ("app/x", Err(UriError::NotAbsolute)),
        ("", Err(UriError::NotAbsolute)),
    ];
    for (input, want) in cases {
        assert_eq!(
            normalise(input).as_deref().map_err(Clone::clone),
            want.clone(),
            "{input}"
        );
    }
}

#[test]
fn decode_is_what_httpd_gives_the_connector() {
    assert_eq!(decode("/%2e%2e/x?q=1").unwrap(), "/../x");
    assert_eq!(decode("/a%20b#frag").unwrap(), "/a b");
    assert_eq!(decode("/plain?x=%zz").unwrap(), "/plain");
    assert_eq!(decode("/a%zz"), Err(UriError::BadEscape(2)));
    assert_eq!(decode("/a%2"), Err(UriError::BadEscape(2)));
    assert_eq!(decode("/a%2fb"), Err(UriError::EncodedSlash));
    assert_eq!(decode("/a%00"), Err(UriError::EncodedNul));
    assert_eq!(decode("/a%ff"), Err(UriError::NotUtf8));
    assert_eq!(UriError::EncodedSlash.status(), 404);
    assert_eq!(UriError::AboveRoot.status(), 400);
    // Decoded first, then normalised: the encoded traversal is caught.
    assert_eq!(
        normalise(&decode("/%2e%2e/").unwrap()),
        Err(UriError::AboveRoot)
    );
}

#[test]
fn reject_unsafe_looks_for_percent_and_backslash() {
    assert!(is_unsafe("/app/%41"));
    assert!(is_unsafe("/app\\x"));
    assert!(!is_unsafe("/app/x;y"));
}

#[test]
fn forward_uri_forms() {
    let original = "/app/a b;jsessionid=X.n1/ü%?#";
    let raw = "/app/a%20b;jsessionid=X.n1/%C3%BC%25%3F%23?q=1";
    assert_eq!(
        forward_uri(original, raw, ForwardUri::Proxy),
        "/app/a%20b;jsessionid=X.n1/%C3%BC%25%3F%23"
    );
    // httpd ≥ 2.4.24 keeps `;` in ap_escape_uri; only the hex case differs from Proxy.
    assert_eq!(
        forward_uri(original, raw, ForwardUri::Escaped),
        "/app/a%20b;jsessionid=X.n1/%c3%bc%25%3f%23"
    );
    assert_eq!(forward_uri(original, raw, ForwardUri::Compat), original);
    assert_eq!(
        forward_uri(original, raw, ForwardUri::CompatUnparsed),
        "/app/a%20b;jsessionid=X.n1/%C3%BC%25%3F%23"
    );
    // Nothing to escape: borrowed, unchanged.
    assert!(matches!(
        forward_uri("/x/y~$-_.+!*'(),;:@&=", "", ForwardUri::Proxy),
        std::borrow::Cow::Borrowed(_)
    ));
}

/// httpd decodes `%E9` to the byte 0xE9; mod_jk maps and forwards such paths unchanged.
#[test]
fn paths_that_are_not_utf8() {
    use lb_core::uri::{decode_bytes, forward_uri_bytes, normalise_bytes};
    let raw = "/app/caf%E9/../x/%E9t%E9;jsessionid=A.n1";
    let decoded = decode_bytes(raw).unwrap();
    assert_eq!(&*decoded, b"/app/caf\xe9/../x/\xe9t\xe9;jsessionid=A.n1");
    assert_eq!(
        decode(raw),
        Err(UriError::NotUtf8),
        "the str form says why it cannot go on"
    );
    assert_eq!(normalise_bytes(&decoded).unwrap(), b"/app/x/\xe9t\xe9");
    assert_eq!(normalise_bytes(b"/\xff/../.."), Err(UriError::AboveRoot));
    // Forwarded as the client sent it, not as U+FFFD.
    assert_eq!(
        &*forward_uri_bytes(&decoded, raw.as_bytes(), ForwardUri::Proxy),
        b"/app/caf%E9/../x/%E9t%E9;jsessionid=A.n1"
    );
    assert_eq!(
        &*forward_uri_bytes(&decoded, raw.as_bytes(), ForwardUri::Escaped),
        b"/app/caf%e9/../x/%e9t%e9;jsessionid=A.n1"
    );
    assert_eq!(
        &*forward_uri_bytes(&decoded, raw.as_bytes(), ForwardUri::Compat),
        &*decoded
    );
    assert_eq!(
        &*forward_uri_bytes(b"/x", b"/x?q=%E9", ForwardUri::CompatUnparsed),
        b"/x"
    );
}

#[test]
fn non_utf8_paths_map_like_mod_jk() {
    use lb_core::config::Location;
    use lb_core::mount::{MountTable, Rule, Source};
    let mut t = MountTable::new();
    for (p, w) in [
        ("/app/*", "app"),
        ("/app/caf?", "one"),
        ("/app/x/*.jsp", "jsp"),
        ("!/app/*.gif", "app"),
    ] {
        t.extend(Rule::parse(p, w, Source::JkMount(Location::new("h.conf", 1))).unwrap());
    }
    let worker = |uri: &[u8]| t.map_bytes(uri).map(|m| m.worker);
    assert_eq!(
        worker(b"/app/caf\xe9"),
        Some("one"),
        "`?` is one byte, as in mod_jk"
    );
    assert_eq!(
        worker("/app/café".as_bytes()),
        Some("app"),
        "é is two bytes in UTF-8: `?` does not cover it"
    );
    assert_eq!(worker(b"/app/x/\xe9.jsp"), Some("jsp"));
    assert_eq!(
        worker(b"/app/\xe9.gif"),
        None,
        "the exclusion still applies"
    );
    assert_eq!(worker(b"/other/\xe9"), None);
}
