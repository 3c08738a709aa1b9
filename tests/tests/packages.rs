//! The Debian packages as an operator meets them: built by `packaging/build-deb.sh`, installed
//! with dpkg on this machine (enabled at installation without mod_jk; next to Debian's mod_jk,
//! left disabled until switched with a2dismod/a2enmod), checked with `apache2ctl -t`, serving a
//! request in the system's apache2 layout, upgraded over an older build with an edited
//! rjk.conf; the nginx module enabled by its package, checked with `nginx -t` and serving a
//! request from the modules nginx has enabled; then purged without a trace.
//!
//! The debs are built from this test profile's binaries (the debug build `make test` already
//! has): what is under test is the packaging, and `make deb` ships the same packaging around
//! release binaries. Building takes about ten seconds instead of a release build's minutes.
//!
//! It changes the machine, so it runs as root, holds a machine-wide lock against another test
//! run doing the same, refuses to start over an existing rjk installation, and puts everything
//! back (packages purged, mod_jk re-enabled as it was) also when it fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rjk_tests::dpkg::{
    difference, installed_version, remove_new_marker_dirs, run, snapshot, try_run, MachineLock,
    ModuleState,
};
use rjk_tests::{free_port, http, wait_for_port, wait_until, Child};

const PACKAGES: [&str; 4] = [
    "libapache2-mod-rjk",
    "libnginx-mod-http-rjk",
    "rjk-node",
    "rjk-tools",
];

/// Where the maintainer scripts, dpkg's conffile handling and a2enmod write: compared before
/// and after. The files in the packages themselves are checked one by one (`shipped_paths`).
const WATCHED: &[&str] = &[
    "/etc/apache2",
    "/etc/default",
    "/etc/nginx",
    "/etc/rjk-node",
    "/etc/systemd/system",
    "/var/lib/apache2",
    "/var/lib/systemd/deb-systemd-helper-enabled",
    "/var/lib/systemd/deb-systemd-helper-masked",
];

const RJK_CONF: &str = "/etc/apache2/mods-available/rjk.conf";

/// Where the nginx package's postinst enables the module, as Debian's libnginx-mod-* do.
const NGX_ENABLED: &str = "/etc/nginx/modules-enabled/50-mod-http-rjk.conf";
const NGX_AVAILABLE: &str = "/usr/share/nginx/modules-available/mod-http-rjk.conf";

/// What the test changed, undone in this order: purge our packages, then mod_jk as it was,
/// then the empty marker directories a2enmod left. Runs on drop, so also after a failure.
struct Restore {
    jk: ModuleState,
    before: BTreeSet<String>,
    done: bool,
}

impl Restore {
    fn now(&mut self) -> Result<(), String> {
        self.done = true;
        let mut problems = Vec::new();
        let installed: Vec<_> = PACKAGES
            .iter()
            .filter(|p| installed_version(p).is_some())
            .collect();
        if !installed.is_empty() {
            let mut cmd = Command::new("dpkg");
            cmd.arg("--purge").args(installed);
            if let Err(e) = run(&mut cmd) {
                problems.push(e.to_string());
            }
        }
        if let Err(e) = self.jk.restore() {
            problems.push(format!("restoring mod_jk's state {:?}: {e}", self.jk));
        }
        remove_new_marker_dirs(&self.before);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.now() {
                eprintln!("could not put the machine back:\n{e}");
            }
        }
    }
}

fn assert_machine_is_ours_to_change() {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    assert_eq!(
        uid, 0,
        "installing packages needs root: run `make test` as root (as CI does)"
    );
    for p in PACKAGES {
        assert!(
            installed_version(p).is_none(),
            "{p} is installed on this machine; this test installs and purges it: purge it first"
        );
    }
    for f in [
        "/usr/lib/apache2/modules/mod_rjk.so",
        "/etc/apache2/mods-available/rjk.load",
        RJK_CONF,
        "/etc/rjk-node",
        "/etc/default/rjk-node",
        "/usr/lib/nginx/modules/ngx_http_rjk_module.so",
        NGX_AVAILABLE,
        NGX_ENABLED,
    ] {
        // symlink_metadata: a link left by `make install` instructions counts, dangling or not.
        assert!(
            std::fs::symlink_metadata(f).is_err(),
            "{f} exists (`make install`?): this test would replace and then purge it; remove it first"
        );
    }
}

/// Build the packages into `out` from this profile's binaries; returns their paths by name.
fn build_debs(out: &Path) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    // The generator must exist; workspace_bin says how to build it when it does not.
    rjk_tests::workspace_bin("rjk-package-docs");
    let listing = run(Command::new(root.join("packaging/build-deb.sh"))
        .env("CARGO_TARGET_DIR", rjk_tests::target_dir())
        .args(["--profile", profile, "--out"])
        .arg(out))
    .unwrap_or_else(|e| panic!("building the packages: {e}"));
    let debs: Vec<PathBuf> = listing
        .lines()
        // Release builds add -dbgsym packages; the test is about the ones operators install.
        .filter(|l| l.ends_with(".deb") && l.starts_with('/') && !l.contains("-dbgsym_"))
        .map(PathBuf::from)
        .collect();
    assert_eq!(debs.len(), PACKAGES.len(), "{listing}");
    debs
}

fn deb<'a>(debs: &'a [PathBuf], package: &str) -> &'a Path {
    debs.iter()
        .find(|d| {
            d.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{package}_")))
        })
        .unwrap_or_else(|| panic!("no {package} in {debs:?}"))
}

/// The same package with one control field changed (`dir/NAME.deb`): a lower version is the
/// "older build" an upgrade starts from.
fn rebuilt(new: &Path, dir: &Path, name: &str, field: &str, value: &str) -> PathBuf {
    let tree = dir.join(format!("{name}-tree"));
    run(Command::new("dpkg-deb").arg("-R").arg(new).arg(&tree)).unwrap();
    let control = tree.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{field}: ")) {
                format!("{field}: {value}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&control, text).unwrap();
    let old = dir.join(format!("{name}.deb"));
    run(Command::new("dpkg-deb")
        .args(["-Zgzip", "-z1", "--root-owner-group", "-b"])
        .arg(&tree)
        .arg(&old))
    .unwrap();
    old
}

/// lintian on the built packages, in the background while the test installs them.
struct Lintian(Option<std::process::Child>);

impl Lintian {
    fn start(debs: &[PathBuf]) -> Lintian {
        let child = Command::new("lintian")
            .args(["--fail-on", "error,warning"])
            .args(debs)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("lintian (make deps installs it)");
        Lintian(Some(child))
    }

    fn finish(mut self) -> (bool, String) {
        let out = self.0.take().unwrap().wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

impl Drop for Lintian {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn dpkg_install(debs: &[&Path]) -> String {
    run(Command::new("dpkg").arg("-i").args(debs)).unwrap_or_else(|e| panic!("dpkg -i: {e}"))
}

#[test]
fn packages_install_switch_from_mod_jk_serve_upgrade_and_purge() {
    let _lock = MachineLock::acquire("rjk-packages-test", Duration::from_secs(600)).unwrap();
    assert_machine_is_ours_to_change();
    let dir = std::env::temp_dir().join(format!("rjk-packages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let debs = build_debs(&dir.join("debs"));
    let lintian = Lintian::start(&debs);
    let version = deb_version(deb(&debs, "libapache2-mod-rjk"));
    let older = rebuilt(
        deb(&debs, "libapache2-mod-rjk"),
        &dir,
        "older",
        "Version",
        &format!("{version}~older"),
    );

    let before = snapshot(WATCHED);
    let shipped_new: Vec<String> = shipped_paths(&debs)
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_err())
        .collect();
    let mut restore = Restore {
        jk: ModuleState::read("jk"),
        before: before.clone(),
        done: false,
    };
    // Without mod_jk, the module is enabled at installation (by the maintainer script, as
    // Debian's other modules are) and purging takes it away again.
    if restore.jk.enabled {
        run(Command::new("a2dismod").args(["-q", "jk"])).unwrap();
    }
    dpkg_install(&[deb(&debs, "libapache2-mod-rjk")]);
    let rjk = ModuleState::read("rjk");
    assert!(
        rjk.enabled,
        "not enabled at installation without jk: {rjk:?}"
    );
    assert!(
        rjk.marker
            .as_ref()
            .is_some_and(|m| m.ends_with("enabled_by_maint/rjk")),
        "{rjk:?}"
    );
    run(Command::new("dpkg").args(["--purge", "libapache2-mod-rjk"])).unwrap();
    let rjk = ModuleState::read("rjk");
    assert!(!rjk.enabled && rjk.marker.is_none(), "purge left {rjk:?}");

    // The situation the packages are for: a machine running Debian's mod_jk.
    run(Command::new("a2enmod").args(["-q", "jk"])).unwrap();

    // Installed next to mod_jk, mod_rjk stays disabled and says how to switch.
    let out = dpkg_install(&[&older, deb(&debs, "rjk-node"), deb(&debs, "rjk-tools")]);
    assert!(out.contains("a2dismod jk && a2enmod rjk"), "{out}");
    assert!(
        !ModuleState::read("rjk").enabled,
        "rjk enabled next to jk:\n{out}"
    );
    let (ok, out) = try_run(Command::new("a2enmod").arg("rjk"));
    assert!(
        !ok && out.contains("Module jk is enabled"),
        "a2enmod rjk next to jk:\n{out}"
    );
    run(Command::new("a2dismod").args(["-q", "jk"])).unwrap();
    run(Command::new("a2enmod").args(["-q", "rjk"])).unwrap();

    // The operator edits rjk.conf; the upgrade keeps the edit and the enabled module.
    let edited = std::fs::read_to_string(RJK_CONF)
        .unwrap()
        .replace("JkLogLevel info", "JkLogLevel debug")
        + "# edited by the operator\n";
    std::fs::write(RJK_CONF, &edited).unwrap();
    dpkg_install(&[deb(&debs, "libapache2-mod-rjk")]);
    assert_eq!(
        installed_version("libapache2-mod-rjk").as_deref(),
        Some(&*version)
    );
    assert_eq!(
        std::fs::read_to_string(RJK_CONF).unwrap(),
        edited,
        "the upgrade replaced the operator's rjk.conf"
    );
    for leftover in [".dpkg-dist", ".dpkg-new", ".dpkg-old"] {
        assert!(
            !Path::new(&format!("{RJK_CONF}{leftover}")).exists(),
            "{RJK_CONF}{leftover}"
        );
    }
    assert!(ModuleState::read("rjk").enabled, "the upgrade disabled rjk");
    assert!(
        !ModuleState::read("jk").enabled,
        "the upgrade re-enabled jk"
    );

    installed_files_are_where_operators_look(&debs);

    // The whole system configuration, with mod_rjk loaded from its package.
    let out = run(Command::new("apache2ctl").arg("-t")).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("Syntax OK"), "{out}");

    nginx_module_is_enabled(deb(&debs, "libnginx-mod-http-rjk"), &dir);
    unit_verifies();
    let node = PackagedNode::start(&dir);
    request_through_the_system_layout(&dir, &node);
    request_through_nginx(&dir, &node);
    node.stop();

    restore_now(&mut restore);
    let after = snapshot(WATCHED);
    let diff = difference(&before, &after);
    let left: Vec<_> = shipped_new
        .iter()
        .filter(|p| Path::new(p).exists())
        .collect();
    assert!(
        left.is_empty(),
        "purge left files from the packages: {left:?}"
    );
    for so in ["/mod_rjk.so", "/ngx_http_rjk_module.so"] {
        assert!(
            shipped_new.iter().any(|p| p.ends_with(so)),
            "{shipped_new:?}"
        );
    }
    assert!(
        diff.is_empty(),
        "purge left the machine changed:\n{}",
        diff.join("\n")
    );
    for p in PACKAGES {
        assert_eq!(
            installed_version(p),
            None,
            "{p} still known to dpkg after purge"
        );
    }

    let (clean, report) = lintian.finish();
    assert!(clean, "lintian found errors or warnings:\n{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every path in the packages (`dpkg-deb -c`), directories included.
fn shipped_paths(debs: &[PathBuf]) -> Vec<String> {
    let mut paths = Vec::new();
    for deb in debs {
        let listing = run(Command::new("dpkg-deb").arg("-c").arg(deb)).unwrap();
        for line in listing.lines() {
            // drwxr-xr-x root/root 0 2026-01-01 00:00 ./usr/bin/
            if let Some(p) = line.split_whitespace().nth(5) {
                let p = p.trim_start_matches('.').trim_end_matches('/');
                if !p.is_empty() {
                    paths.push(p.to_string());
                }
            }
        }
    }
    paths
}

fn restore_now(restore: &mut Restore) {
    restore
        .now()
        .unwrap_or_else(|e| panic!("putting the machine back: {e}"));
}

fn deb_version(deb: &Path) -> String {
    run(Command::new("dpkg-deb").arg("-f").arg(deb).arg("Version"))
        .unwrap()
        .trim()
        .to_string()
}

fn installed_files_are_where_operators_look(debs: &[PathBuf]) {
    assert!(Path::new("/usr/lib/apache2/modules/mod_rjk.so").exists());
    let conffiles = run(Command::new("dpkg-query").args([
        "-W",
        "-f",
        "${Conffiles}\n",
        "libapache2-mod-rjk",
        "rjk-node",
    ]))
    .unwrap();
    for f in [
        "/etc/apache2/mods-available/rjk.load",
        RJK_CONF,
        "/etc/default/rjk-node",
    ] {
        assert!(
            conffiles.contains(&format!(" {f} ")),
            "{f} is not a conffile:\n{conffiles}"
        );
    }
    let example = "/usr/share/doc/libapache2-mod-rjk/examples/workers.properties";
    assert!(Path::new(example).exists(), "{example}");
    for secret in ["/etc/rjk-node/ajp-secret", "/etc/rjk-node/cluster-secret"] {
        let meta = std::fs::metadata(secret).unwrap_or_else(|e| panic!("{secret}: {e}"));
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            0o600,
            "{secret} must be readable by root only"
        );
        let s = std::fs::read_to_string(secret).unwrap();
        assert!(
            s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()),
            "{secret}: {s:?}"
        );
    }
    // The Redis password file: there for the unit's credential, empty until the operator
    // fills it, and as private as the secrets.
    let password = "/etc/rjk-node/session-store-password";
    let meta = std::fs::metadata(password).unwrap_or_else(|e| panic!("{password}: {e}"));
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600,
        "{password} must be readable by root only"
    );
    assert_eq!(meta.len(), 0, "{password} is the operator's to fill");
    let unit = std::fs::read_to_string("/lib/systemd/system/rjk-node.service").unwrap();
    assert!(
        unit.contains("LoadCredential=session-store-password:/etc/rjk-node/session-store-password"),
        "{unit}"
    );
    let defaults = std::fs::read_to_string("/etc/default/rjk-node").unwrap();
    let help = run(Command::new("/usr/bin/rjk-node").arg("--help")).unwrap();
    for flag in help.split_whitespace().filter(|w| w.starts_with("--")) {
        let flag = flag.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        if flag != "--help" && flag != "--version" {
            assert!(
                defaults.contains(&format!("# {flag}")),
                "{flag} undocumented in /etc/default/rjk-node"
            );
        }
    }
    let tools = run(Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb(debs, "rjk-tools")))
    .unwrap();
    for page in ["man1/rjk.1.gz", "man1/rjk-check.1.gz", "man1/rjk-map.1.gz"] {
        assert!(tools.contains(page), "rjk-tools lacks {page}:\n{tools}");
    }
    let node = run(Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb(debs, "rjk-node")))
    .unwrap();
    assert!(node.contains("man8/rjk-node.8.gz"), "{node}");
}

/// The unit as systemd reads it. Nothing here runs systemd as PID 1, so the unit cannot be
/// started; `verify` loads it with its dependencies, checks the binary and the man page it
/// names, and `security --offline` rates the sandbox.
fn unit_verifies() {
    let unit = "/lib/systemd/system/rjk-node.service";
    let out = run(Command::new("systemd-analyze").args(["verify", unit]))
        .unwrap_or_else(|e| panic!("systemd-analyze verify: {e}"));
    assert!(
        out.trim().is_empty(),
        "systemd-analyze verify complained:\n{out}"
    );
    let out = run(Command::new("systemd-analyze").args(["security", "--offline=true", unit]))
        .unwrap_or_else(|e| panic!("systemd-analyze security: {e}"));
    let exposure: f64 = out
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for rjk-node.service: ")
                .nth(1)
        })
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{out}"));
    assert!(
        exposure <= 2.0,
        "rjk-node.service exposure {exposure} (of 10):\n{out}"
    );
}

/// The packaged rjk-node with the shipped /etc/default/rjk-node and generated secret (as the
/// unit runs it, the credential read from its file), and the workers.properties pointing at it
/// that both web servers read.
struct PackagedNode {
    child: Child,
    workers: PathBuf,
}

impl PackagedNode {
    fn start(dir: &Path) -> PackagedNode {
        let ajp = free_port();
        let secret = std::fs::read_to_string("/etc/rjk-node/ajp-secret").unwrap();
        // systemd names the journal stream it gives a service in JOURNAL_STREAM=DEV:INODE; a file
        // stands in for the journal here, to see the node write journal lines (priority first).
        let journal = std::fs::File::create(dir.join("journal")).unwrap();
        let stream = {
            use std::os::unix::fs::MetadataExt;
            let m = journal.metadata().unwrap();
            format!("{}:{}", m.dev(), m.ino())
        };
        let child = Child::spawn(
            "rjk-node",
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    ". /etc/default/rjk-node && exec /usr/bin/rjk-node --secret-file \
                     /etc/rjk-node/ajp-secret $RJK_NODE_ARGS --ajp 127.0.0.1:{ajp}"
                ))
                .env("JOURNAL_STREAM", stream)
                .stderr(journal),
        )
        .unwrap();
        wait_for_port(([127, 0, 0, 1], ajp).into(), Duration::from_secs(10)).unwrap();
        let journal = wait_until("the node's first line", Duration::from_secs(5), || {
            let text = std::fs::read_to_string(dir.join("journal")).ok()?;
            text.contains('\n').then_some(text)
        })
        .unwrap();
        assert!(
            journal.starts_with("<6>rjk_node::node: route node1: AJP on"),
            "{journal}"
        );

        let workers = dir.join("workers.properties");
        std::fs::write(
            &workers,
            format!(
                "worker.list=node1\nworker.node1.type=ajp13\nworker.node1.host=127.0.0.1\n\
                 worker.node1.port={ajp}\nworker.node1.secret={secret}\n"
            ),
        )
        .unwrap();
        let check = run(Command::new("/usr/bin/rjk")
            .arg("check")
            .arg("--workers")
            .arg(&workers));
        assert!(check.is_ok(), "rjk check: {check:?}");
        PackagedNode { child, workers }
    }

    fn stop(mut self) {
        self.child.stop(Duration::from_secs(10));
    }
}

/// apache2 in the system layout: the modules /etc/apache2 has enabled, the packaged rjk.conf,
/// this test's port and run directory.
fn request_through_the_system_layout(dir: &Path, node: &PackagedNode) {
    let port = free_port();
    for sub in ["run", "lock", "log"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let d = dir.display();
    std::fs::write(
        dir.join("apache2.conf"),
        format!(
            "ServerRoot /etc/apache2\nDefaultRuntimeDir {d}/run\nPidFile {d}/run/apache2.pid\n\
             Mutex file:{d}/lock default\nErrorLog {d}/log/error.log\nLogLevel warn\n\
             User www-data\nGroup www-data\nServerName localhost\nListen 127.0.0.1:{port}\n\
             IncludeOptional mods-enabled/*.load\nIncludeOptional mods-enabled/*.conf\n\
             JkWorkersFile {}\nJkMount /* node1\n",
            node.workers.display()
        ),
    )
    .unwrap();
    let pid_file = dir.join("run/apache2.pid");
    run(Command::new("/usr/sbin/apache2")
        .args(["-d", "/etc/apache2", "-f"])
        .arg(dir.join("apache2.conf"))
        .args(["-k", "start"])
        .env("APACHE_RUN_DIR", dir.join("run"))
        .env("APACHE_LOCK_DIR", dir.join("lock"))
        .env("APACHE_LOG_DIR", dir.join("log"))
        .env("APACHE_PID_FILE", &pid_file)
        .env("APACHE_RUN_USER", "www-data")
        .env("APACHE_RUN_GROUP", "www-data"))
    .unwrap_or_else(|e| panic!("{e}\n{}", log(dir)));
    let mut apache = Child::from_pid_file("apache2", &pid_file, Duration::from_secs(10)).unwrap();
    let addr = ([127, 0, 0, 1], port).into();
    wait_for_port(addr, Duration::from_secs(10)).unwrap();

    let r = http::get(addr, "/", &[]).unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.text(), log(dir));
    served_by_the_node(&r);
    // The packaged rjk.conf logs to APACHE_LOG_DIR, at the level the operator's edit set.
    wait_until("the request in mod_rjk.log", Duration::from_secs(5), || {
        let text = std::fs::read_to_string(dir.join("log/mod_rjk.log")).ok()?;
        text.contains("[debug]").then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", log(dir)));

    apache.stop(Duration::from_secs(10));
}

/// The nginx package installed as Debian's libnginx-mod-* are: depending on the ABI the
/// installed nginx provides (refused against another), enabled by its postinst's link, loaded
/// by `nginx -t` on the system configuration.
fn nginx_module_is_enabled(deb: &Path, dir: &Path) {
    let depends = run(Command::new("dpkg-deb").arg("-f").arg(deb).arg("Depends")).unwrap();
    let abi = depends
        .split(',')
        .map(str::trim)
        .find(|d| d.starts_with("nginx-abi-"))
        .unwrap_or_else(|| panic!("no nginx-abi-* dependency: {depends}"));
    let provides =
        run(Command::new("dpkg-query").args(["-W", "-f", "${Provides}", "nginx"])).unwrap();
    assert!(
        provides.split(',').any(|p| p.trim() == abi),
        "the package needs {abi}, this nginx provides {provides}"
    );
    let other = "nginx-abi-0.0.0-0";
    let foreign = rebuilt(
        deb,
        dir,
        "other-abi",
        "Depends",
        &depends.trim().replace(abi, other),
    );
    let (ok, out) = try_run(Command::new("dpkg").arg("-i").arg(&foreign));
    assert!(
        !ok && out.contains(&format!("depends on {other}")),
        "installed against another nginx ABI:\n{out}"
    );
    // dpkg unpacked it and left it unconfigured: take it away before the real one.
    run(Command::new("dpkg").args(["--purge", "libnginx-mod-http-rjk"])).unwrap();
    assert_eq!(installed_version("libnginx-mod-http-rjk"), None);

    dpkg_install(&[deb]);
    let link = std::fs::read_link(NGX_ENABLED).unwrap_or_else(|e| panic!("{NGX_ENABLED}: {e}"));
    assert_eq!(link, Path::new(NGX_AVAILABLE));
    assert!(Path::new("/usr/lib/nginx/modules/ngx_http_rjk_module.so").exists());
    // -T: the test (-t) and the configuration it read, to see the link's load_module in it.
    let out = run(Command::new("/usr/sbin/nginx").arg("-T")).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("test is successful"), "{out}");
    assert!(
        out.contains("load_module modules/ngx_http_rjk_module.so;"),
        "the system configuration does not load the module:\n{out}"
    );
}

/// nginx in the system layout: its prefix, the modules /etc/nginx has enabled (the package's
/// link among them) and mime.types, workers as www-data; this test's port, pid and logs.
fn request_through_nginx(dir: &Path, node: &PackagedNode) {
    let ngx = dir.join("nginx");
    std::fs::create_dir_all(&ngx).unwrap();
    let port = free_port();
    let d = ngx.display();
    let conf = ngx.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "user www-data;\ninclude /etc/nginx/modules-enabled/*.conf;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n\
             include /etc/nginx/mime.types;\naccess_log {d}/access.log;\n\
             client_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
             rjk_workers_file {};\n\
             server {{\n listen 127.0.0.1:{port};\n location / {{ rjk_pass node1; }}\n}}\n}}\n",
            node.workers.display()
        ),
    )
    .unwrap();
    let error_log = ngx.join("error.log");
    let ngx_log = || std::fs::read_to_string(&error_log).unwrap_or_default();
    run(Command::new("/usr/sbin/nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(&error_log))
    .unwrap_or_else(|e| panic!("{e}\n{}", ngx_log()));
    let mut nginx =
        Child::from_pid_file("nginx", &ngx.join("nginx.pid"), Duration::from_secs(10)).unwrap();
    let addr = ([127, 0, 0, 1], port).into();
    wait_for_port(addr, Duration::from_secs(10)).unwrap();

    let r = http::get(addr, "/", &[]).unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.text(), ngx_log());
    served_by_the_node(&r);
    nginx.stop(Duration::from_secs(10));
}

fn served_by_the_node(r: &http::Response) {
    assert!(r.text().contains("<h1>rjk-node node1</h1>"), "{}", r.text());
    let cookie = r.header("set-cookie").unwrap_or_default();
    assert!(
        cookie.contains("JSESSIONID=") && cookie.contains(".node1"),
        "{cookie}"
    );
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("log/error.log")).unwrap_or_default()
}
