//! The status page in a real browser: Debian's Chromium, headless, loads mod_rjk's manager page,
//! takes screenshots (kept under `<target>/artifacts/`), and a real mouse click on "Disable"
//! drains a member — visible on the reloaded page and in where new requests go.
//!
//! Chromium is driven over the DevTools protocol by tests/browser/cdp.py (Debian's
//! python3-websocket): one step per run, against the browser this test started.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rjk_tests::cluster::{front, lb_workers, nodes, Connector};
use rjk_tests::httpd::Mpm;
use rjk_tests::{http, wait_until, Child};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's interpreter: python3-websocket is installed for it, not for any other python3.
const PYTHON: &str = "/usr/bin/python3";

/// A headless Chromium on loopback with a throwaway profile, stopped by pid when dropped.
struct Browser {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Browser {
    fn start(dir: &Path) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: install Debian's chromium and python3-websocket (`make deps`)"
        );
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let log = std::fs::File::create(dir.join("chromium.log")).unwrap();
        let mut cmd = Command::new(CHROMIUM);
        // Port 0: Chromium picks a free port and writes it to DevToolsActivePort, so no other
        // process can take it in between. Root here, hence --no-sandbox. Background services
        // are off and no name resolves: the test talks to loopback only.
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "--window-size=1280,800",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(log);
        let mut child = Child::spawn("chromium", &mut cmd).unwrap();
        let port_file = dir.join("profile/DevToolsActivePort");
        let port = wait_until("chromium's DevTools port", Duration::from_secs(30), || {
            if !child.alive() {
                return Some(Err(()));
            }
            let text = std::fs::read_to_string(&port_file).ok()?;
            text.lines().next()?.parse::<u16>().ok().map(Ok)
        })
        .unwrap()
        .unwrap_or_else(|()| {
            panic!(
                "chromium exited at start:\n{}",
                std::fs::read_to_string(dir.join("chromium.log")).unwrap_or_default()
            )
        });
        Browser {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    /// One step of tests/browser/cdp.py; its output, or a failure with its reason.
    fn cdp(&self, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/cdp.py");
        let out = Command::new(PYTHON)
            .arg(script)
            .arg(self.port.to_string())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {PYTHON}: {e}"));
        assert!(
            out.status.success(),
            "cdp.py {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The text of `column` in the row of `member`, found by the table's header so that a
    /// reordered table is still read right.
    fn cell(&self, member: &str, column: &str) -> String {
        self.cdp(&["eval", &format!(
            "(() => {{ const row = [...document.querySelectorAll('tr')].find(r => r.dataset.member === '{member}'); \
             const heads = [...row.closest('table').rows[0].cells].map(c => c.textContent.trim()); \
             return row.cells[heads.indexOf('{column}')].textContent.trim(); }})()"
        )])
    }

    /// The labels of the buttons in the row of `member`.
    fn buttons(&self, member: &str) -> String {
        self.cdp(&[
            "eval",
            &format!(
            "[...[...document.querySelectorAll('tr')].find(r => r.dataset.member === '{member}')\
             .querySelectorAll('button')].map(b => b.textContent.trim()).join(',')"
        ),
        ])
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.child.stop(Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

/// A PNG file of a real page: signature, a header chunk with its size, an end chunk, and more
/// bytes than a blank image compresses to.
fn assert_png(path: &Path, min_width: u32) {
    let b = std::fs::read(path).unwrap();
    assert!(
        b.starts_with(b"\x89PNG\r\n\x1a\n") && &b[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let width = u32::from_be_bytes(b[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(b[20..24].try_into().unwrap());
    assert!(
        b.ends_with(b"IEND\xaeB`\x82"),
        "{} is cut short",
        path.display()
    );
    assert!(
        width >= min_width && height >= 200 && b.len() > 10_000,
        "{}: {width}x{height}, {} bytes: too small for the status page",
        path.display(),
        b.len()
    );
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
