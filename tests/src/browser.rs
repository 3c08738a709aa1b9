//! A headless Debian Chromium driven over the DevTools protocol by tests/browser/cdp.py
//! (Debian's python3-websocket): one step per run, against the browser the test started.
//! Shared by the status-page tests of each front end.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{wait_until, Child};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's interpreter: python3-websocket is installed for it, not for any other python3.
const PYTHON: &str = "/usr/bin/python3";

/// A headless Chromium on loopback with a throwaway profile, stopped by pid when dropped.
pub struct Browser {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Browser {
    pub fn start(dir: &Path) -> Browser {
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
    pub fn cdp(&self, args: &[&str]) -> String {
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
    pub fn cell(&self, member: &str, column: &str) -> String {
        self.cdp(&["eval", &format!(
            "(() => {{ const row = [...document.querySelectorAll('tr')].find(r => r.dataset.member === '{member}'); \
             const heads = [...row.closest('table').rows[0].cells].map(c => c.textContent.trim()); \
             return row.cells[heads.indexOf('{column}')].textContent.trim(); }})()"
        )])
    }

    /// The labels of the buttons in the row of `member`.
    pub fn buttons(&self, member: &str) -> String {
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

/// A PNG file of a real page: signature, a header chunk with its size, an end chunk, and more
/// bytes than a blank image compresses to.
pub fn assert_png(path: &Path, min_width: u32) {
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
