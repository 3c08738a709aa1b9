//! The status page served by the nginx module in a real browser: headless Chromium loads the
//! manager page through nginx, a real mouse click on "Disable" drains a member, and the change
//! is what both nginx worker processes balance with (checked over HTTP).

use std::collections::BTreeMap;

use rjk_tests::browser::{assert_png, Browser};
use rjk_tests::cluster::{lb_workers, nodes};
use rjk_tests::http;
use rjk_tests::nginx::Nginx;

#[test]
fn disable_a_member_with_a_click_in_chromium_through_nginx() {
    let dir = std::env::temp_dir().join(format!("rjk-ngx-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // First, so that a missing browser fails the test before anything else starts.
    let browser = Browser::start(&dir.join("chromium"));
    let nodes = nodes(&["n1", "n2"]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("workers.properties"),
        lb_workers(&nodes, &["jk-manager"], "worker.jk-manager.type=status\n"),
    )
    .unwrap();
    let nginx = Nginx::start(
        &dir,
        2,
        &format!("  rjk_workers_file {}/workers.properties;", dir.display()),
        "    location / { rjk_pass lb; }\n    location /jk-manager { rjk_pass jk-manager; }",
    )
    .unwrap();
    let a = nginx.addr();
    let counts = |n: usize| {
        let mut seen = BTreeMap::new();
        for _ in 0..n {
            let r = http::get(a, "/1k", &[]).unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            *seen
                .entry(r.header("X-Rjk-Node").unwrap_or("?").to_owned())
                .or_insert(0) += 1;
        }
        seen
    };
    assert_eq!(counts(20).len(), 2, "both members serve at first");

    let url = format!("http://127.0.0.1:{}/jk-manager", nginx.port);
    browser.cdp(&["open", &url, "table button"]);
    assert_eq!(browser.cell("n1", "Activation"), "ACT");
    let artifacts = rjk_tests::target_dir().join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("status-page-nginx.png");
    browser.cdp(&["shot", shot.to_str().unwrap()]);
    assert_png(&shot, 1280);

    // A real click: the form posts (with its nonce) and the 303 leads back to the page.
    let landed = browser.cdp(&["click", "n1", "Disable"]);
    assert_eq!(landed, url, "the form leads back to the page");
    assert_eq!(browser.cell("n1", "Activation"), "DIS");
    // Over HTTP, on whichever worker process takes each connection: all new requests to n2.
    assert_eq!(counts(20), BTreeMap::from([("n2".to_owned(), 20)]));

    drop(browser);
    nginx.stop();
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
