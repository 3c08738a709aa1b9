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
    pub engines: lb_core::assemble::Engines,
    /// The workers.properties map as loaded (templates resolved), secrets removed: `cmd=dump`.
    pub dump: Vec<(String, String)>,
    /// The status pages' form nonce: random per (re)start, the same in every child.
    pub nonce: String,
    /// The notes' name tables for a forwarded request (in the configuration pool).
    pub notes: crate::notes::Templates,
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Debug)]
pub struct ServerRuntime {
    pub settings: ServerSettings,
    pub mounts: SharedTable,
    pub global: Arc<Global>,
    /// JkLogFile (absent: no connector log for this server).
    pub log: Option<Arc<lb_core::log::Logger>>,
}

/// One server's runtime from its lines (inherited main-server lines first); `label` names the
/// server in the status worker's map listing.
pub fn server(
    lines: &[(JkLine, bool)],
    is_vhost: bool,
    label: String,
    root: &Path,
    global: &Arc<Global>,
) -> ServerRuntime {
    let (settings, _) = server_settings(lines.iter().map(|(l, i)| (l, *i)), is_vhost, root);
    let (mut table, file, _) = mount_table(&settings, Some(&global.workers), None);
    table.server = Some(label);
    let mounts = match &file {
        Some(f) => SharedTable::watching(
            table,
            f,
            Duration::from_secs(settings.mount_file_reload),
            SystemTime::now(),
        ),
        None => SharedTable::fixed(table),
    };
    let log = settings.log_file.as_ref().and_then(|target| {
        match lb_core::log::Logger::open(target, settings.log_level, settings.log_stamp.as_deref())
        {
            Ok(l) => Some(Arc::new(l)),
            Err(e) => {
                eprintln!("mod_rjk: cannot open JkLogFile {target}: {e}");
                None
            }
        }
    });
    ServerRuntime {
        settings,
        mounts,
        global: Arc::clone(global),
        log,
    }
}
