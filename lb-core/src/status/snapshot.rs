//! A snapshot from the configuration alone: every setting as configured, every counter zero,
//! every member idle. The adapter overlays the shared table's runtime values on it.

use super::model::{LbMember, LbStatus, MapEntry, Member, Snapshot, State};
use crate::config::{AjpWorker, Kind, Workers};
use crate::mount::MountTable;

fn member(name: &str, a: &AjpWorker, lb: bool) -> Member {
    Member {
        name: name.to_owned(),
        host: a.host.value.clone(),
        port: a.port.value as u16,
        address: format!("{}:{}", a.host.value, a.port.value),
        source: a.source.value.clone(),
        connection_pool_timeout: a.connection_pool_timeout.value,
        ping_timeout: a.ping_timeout.value,
        connect_timeout: a.connect_timeout.value,
        prepost_timeout: a.prepost_timeout.value,
        reply_timeout: a.reply_timeout.value,
        retries: a.retries.value,
        connection_ping_interval: a.connection_ping_interval.value,
        recovery_options: a.recovery_options.value,
        busy_limit: a.busy_limit.value,
        max_packet_size: a.max_packet_size.value,
        lb: lb.then(|| LbMember {
            activation: a.activation.value,
            lbfactor: a.lbfactor.value,
            route: a.route.value.clone(),
            redirect: a.redirect.value.clone(),
            domain: a.domain.value.clone(),
            distance: a.distance.value,
            state: State::Idle,
            lbmult: 1,
            lbvalue: 0,
            sessions: 0,
            time_to_recover: (0, 0),
        }),
        ..Member::default()
    }
}

/// The listed lb and ajp13 workers with their configured values; `maps` lists the rules of the
/// server the page is served for.
pub fn from_config(workers: &Workers, table: &MountTable, now: i64) -> Snapshot {
    let mut snap = Snapshot {
        now,
        ..Snapshot::default()
    };
    for name in &workers.list.value {
        let Some(w) = workers.get(name) else { continue };
        match &w.kind {
            Kind::Lb(l) => snap.balancers.push(LbStatus {
                name: name.clone(),
                sticky_session: l.sticky_session.value,
                sticky_session_force: l.sticky_session_force.value,
                retries: l.retries.value,
                retry_interval: l.retry_interval.value,
                recover_time: l.recover_time.value,
                error_escalation_time: l.error_escalation_time.value,
                max_reply_timeouts: l.max_reply_timeouts.value,
                method: l.method.value.name(),
                lock: l.lock.value.name(),
                time_to_maintenance: (workers.maintain.value, 2 * workers.maintain.value),
                last_reset_at: now,
                members: l
                    .balance_workers
                    .value
                    .iter()
                    .filter_map(|m| workers.ajp(m).map(|a| member(m, a, true)))
                    .map(|mut m| {
                        m.last_reset_at = now;
                        m
                    })
                    .collect(),
                ..LbStatus::default()
            }),
            Kind::Ajp(a) => {
                let mut m = member(name, a, false);
                m.last_reset_at = now;
                snap.ajp_workers.push(m);
            }
            Kind::Status(_) => {}
        }
    }
    snap.maps = table
        .rules()
        .iter()
        .map(|r| MapEntry {
            worker: r.worker.clone(),
            server: table.server.clone(),
            // mod_jk strips the `-`/`!` prefix from the URI; `type` says Disabled/Unmount.
            uri: r.pattern.clone(),
            kind: format!(
                "{}{}{}",
                if r.disabled { "Disabled " } else { "" },
                if r.exclusion { "Unmount " } else { "" },
                if r.is_wildcard() { "Wildchar" } else { "Exact" }
            ),
            source: r.source.kind().to_owned(),
            reply_timeout: r.extensions.reply_timeout.unwrap_or(-1),
            sticky_ignore: r.extensions.sticky_ignore as i64,
            stateless: r.extensions.stateless as i64,
            fail_on_status: r
                .extensions
                .fail_on_status
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            active: r.extensions.active.join(","),
            disabled: r.extensions.disabled.join(","),
            stopped: r.extensions.stopped.join(","),
            use_server_errors: r.extensions.use_server_errors,
        })
        .collect();
    for m in snap.ajp_workers.iter_mut() {
        m.map_count = snap.maps.iter().filter(|e| e.worker == m.name).count() as i64;
    }
    snap
}
