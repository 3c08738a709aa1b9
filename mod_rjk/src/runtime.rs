//! What the module holds after post_config: the workers (one configuration generation, shared
//! by every server) and per server its settings and mapping table. Built in the parent before
//! httpd forks, so children inherit it; rebuilt on every (graceful) restart.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lb_core::config::Workers;
use lb_core::directive::mounts::mount_table;
use lb_core::directive::server::{server_settings, ServerSettings};
use lb_core::directive::JkLine;
use lb_core::mount::SharedTable;

/// Shared by every server of one configuration.
#[derive(Debug)]
pub struct Global {
    pub workers: Workers,
    /// The forwarding engine's workers (ajp13 and lb), by name; their pools are per process.
    pub engines: std::collections::HashMap<String, lb_core::forward::Worker>,
    /// The workers.properties map as loaded (templates resolved), secrets removed: `cmd=dump`.
    pub dump: Vec<(String, String)>,
    /// The status pages' form nonce: random per (re)start, the same in every child.
    pub nonce: String,
    /// Unix seconds of this process's last maintenance pass.
    pub last_maintain: std::sync::atomic::AtomicI64,
}

impl Global {
    /// mod_jk's request-driven maintenance: at most once a second per process, pools drop idle
    /// connections and the balancers run their (globally throttled) decay and recovery.
    pub fn maintain_if_due(&self) {
        use std::sync::atomic::Ordering;
        let now = unix_now();
        let last = self.last_maintain.load(Ordering::Relaxed);
        if now <= last || self.last_maintain.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return;
        }
        let instant = std::time::Instant::now();
        for w in self.engines.values() {
            w.maintain(instant);
            if let Some(b) = w.balancer() {
                b.maintain(now);
            }
        }
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[derive(Debug)]
pub struct ServerRuntime {
    pub settings: ServerSettings,
    pub mounts: SharedTable,
    pub global: Arc<Global>,
    /// JkLogFile (absent: no connector log for this server).
    pub log: Option<Arc<lb_core::log::Logger>>,
}

/// Open JkLogFile: a file appended to, or `|command` fed through a pipe (rotatelogs...).
/// Opened in the parent before the fork, so every child writes to the same descriptor.
pub fn open_log(settings: &ServerSettings) -> std::io::Result<Option<Arc<lb_core::log::Logger>>> {
    let Some(target) = &settings.log_file else { return Ok(None) };
    let sink: Box<dyn std::io::Write + Send> = match target.strip_prefix('|') {
        Some(cmd) => {
            let child = std::process::Command::new("/bin/sh")
                .args(["-c", cmd.trim()])
                .stdin(std::process::Stdio::piped())
                .spawn()?;
            Box::new(child.stdin.ok_or_else(|| std::io::Error::other("piped log without stdin"))?)
        }
        None => Box::new(std::fs::OpenOptions::new().create(true).append(true).open(target)?),
    };
    Ok(Some(Arc::new(lb_core::log::Logger::new(settings.log_level, settings.log_stamp.as_deref(), sink))))
}

/// 128 random bits as hex, from the kernel.
pub fn nonce() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One server's runtime from its lines (inherited main-server lines first).
pub fn server(lines: &[(JkLine, bool)], is_vhost: bool, root: &Path, global: &Arc<Global>) -> ServerRuntime {
    let (settings, _) = server_settings(lines.iter().map(|(l, i)| (l, *i)), is_vhost, root);
    let (table, file, _) = mount_table(&settings, Some(&global.workers), None);
    let mounts = match &file {
        Some(f) => SharedTable::watching(table, f, Duration::from_secs(settings.mount_file_reload), SystemTime::now()),
        None => SharedTable::fixed(table),
    };
    let log = open_log(&settings).unwrap_or_else(|e| {
        eprintln!("mod_rjk: cannot open JkLogFile {:?}: {e}", settings.log_file);
        None
    });
    ServerRuntime { settings, mounts, global: Arc::clone(global), log }
}
