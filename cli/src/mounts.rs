//! The main server's mapping table, built by lb-core exactly as mod_rjk builds it.

use std::path::Path;

use lb_core::config::{Diagnostic, Workers};
use lb_core::directive::mounts::mount_table;
use lb_core::directive::server::server_settings;
use lb_core::directive::JkLine;
use lb_core::mount::MountTable;

use crate::jkconf::JkConf;

pub fn main_table(
    conf: Option<&JkConf>,
    mounts_file: Option<&Path>,
    workers: Option<&Workers>,
    root: &Path,
) -> (MountTable, Vec<Diagnostic>) {
    let main: Vec<JkLine> = conf
        .map(|c| {
            c.directives
                .iter()
                .filter(|d| d.vhost.is_none())
                .map(|d| JkLine {
                    name: d.name.clone(),
                    args: d.raw.clone(),
                    at: d.at.clone(),
                    location: d.location.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let (settings, _) = server_settings(main.iter().map(|l| (l, false)), false, root);
    let (table, _, diags) = mount_table(&settings, workers, mounts_file);
    (table, diags)
}
