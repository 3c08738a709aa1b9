//! The status page in a real browser: Debian's Chromium, headless, loads mod_rjk's manager page,
//! takes screenshots (kept under `<target>/artifacts/`), and a real mouse click on "Disable"
//! drains a member — visible on the reloaded page and in where new requests go.
//!
//! Chromium is driven over the DevTools protocol by tests/browser/cdp.py (Debian's
//! python3-websocket): one step per run, against the browser this test started.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use rjk_tests::browser::{assert_png, Browser};
use rjk_tests::cluster::{front, lb_workers, nodes, Connector};
use rjk_tests::http;
use rjk_tests::httpd::Mpm;

/// Which node served each of `n` plain requests (no session cookie).
fn counts(addr: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let r = http::get(addr, "/1k", &[]).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        *seen
            .entry(r.header("X-Rjk-Node").unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    seen
}

#[test]
fn disable_a_member_with_a_click_in_chromium() {
    let dir = std::env::temp_dir().join(format!("rjk-status-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // First, so that a missing browser fails the test before anything else starts.
    let browser = Browser::start(&dir.join("chromium"));
    let nodes = nodes(&["n1", "n2"]);
    let workers = lb_workers(&nodes, &["jk-manager"], "worker.jk-manager.type=status\n");
    let jk = "JkMount /1k lb\n<Location /jk-manager>\n  JkMount jk-manager\n</Location>\n";
    let httpd = front(&dir, Connector::ModRjk, Mpm::Event, &workers, jk).unwrap();
    let a = httpd.addr();
    let artifacts = rjk_tests::target_dir().join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();

    // Traffic first, so the page shows numbers.
    assert_eq!(counts(a, 20).len(), 2, "both members serve at first");
    let url = format!("http://127.0.0.1:{}/jk-manager", httpd.port);
    browser.cdp(&["open", &url, "table button"]);
    assert_eq!(browser.cell("n1", "Activation"), "ACT");
    let before = artifacts.join("status-page.png");
    println!(
        "screenshot: {}",
        browser.cdp(&["shot", before.to_str().unwrap()])
    );
    assert_png(&before, 1280);

    // A real mouse click on n1's Disable: the form posts, the answer (303) leads back to the
    // page, and that new page shows the change.
    let landed = browser.cdp(&["click", "n1", "Disable"]);
    assert_eq!(landed, url, "the form leads back to the page");
    assert_eq!(browser.cell("n1", "Activation"), "DIS");
    let offered = browser.buttons("n1");
    assert!(
        offered.split(',').any(|b| b == "Activate") && !offered.split(',').any(|b| b == "Disable"),
        "n1 is offered {offered}"
    );
    assert_eq!(browser.cell("n2", "Activation"), "ACT");

    // In effect for traffic, asked over HTTP rather than through the browser: new requests
    // without a session all go to n2.
    assert_eq!(counts(a, 20), BTreeMap::from([("n2".to_owned(), 20)]));

    // Loaded again from scratch, the page still shows n1 drained and n2's new requests.
    browser.cdp(&["open", &url, "table button"]);
    assert_eq!(browser.cell("n1", "Activation"), "DIS");
    let n2_requests: u64 = browser.cell("n2", "Requests").parse().unwrap();
    assert!(n2_requests >= 20, "n2 served {n2_requests}");
    let after = artifacts.join("status-page-disabled.png");
    println!(
        "screenshot: {}",
        browser.cdp(&["shot", after.to_str().unwrap()])
    );
    assert_png(&after, 1280);

    drop(browser);
    httpd.stop();
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
