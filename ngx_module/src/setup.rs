//! From the configuration nginx read to the cycle's runtime: check everything at
//! postconfiguration (so `nginx -t` reports lb-core's file:line messages), add the shared zone
//! for the state table, build the workers in init_module, start maintenance per process.

use std::ffi::c_void;
use std::path::PathBuf;
use std::ptr::NonNull;

use lb_core::config::{closest, Severity};
use lb_core::directive::load_workers;
use lb_core::directive::server::server_settings;

use std::time::{Duration, SystemTime};

use lb_core::directive::mounts::mount_table;
use lb_core::mount::SharedTable;

use crate::conf::{MainConf, ServerConf};
use crate::ffi;
use crate::log::{self, Level};
use crate::runtime::{Loaded, Runtime};

/// The shared zone of one configuration and the table size it holds.
pub struct Zone {
    pub shm: *mut ffi::ngx_shm_zone_t,
    pub lbs: usize,
    pub members: usize,
    /// The table's bytes (the zone is larger: nginx's slab allocator lives in it too).
    pub len: Box<usize>,
}

/// nginx's configuration prefix: relative `rjk_*` paths are resolved against it, as nginx's own
/// `include`.
///
/// # Safety
/// `cycle` must be live.
unsafe fn conf_prefix(cycle: *mut ffi::ngx_cycle_t) -> PathBuf {
    PathBuf::from(
        String::from_utf8_lossy(unsafe { ffi::bytes(&(*cycle).conf_prefix) }).into_owned(),
    )
}

pub unsafe extern "C" fn postconfiguration(cf: *mut ffi::ngx_conf_t) -> ffi::ngx_int_t {
    log::guard(ffi::ERROR, || unsafe {
        let ctx = (*cf).ctx as *mut ffi::ngx_http_conf_ctx_t;
        let mi = (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index;
        let main = &mut *(*(*ctx).main_conf.add(mi) as *mut MainConf);
        let http = &*(*(*ctx).srv_conf.add(mi) as *const ServerConf);
        let servers = servers(cf);
        if main.lines.is_empty()
            && main.passes.is_empty()
            && http.lines.is_empty()
            && servers.iter().all(|s| (**s).lines.is_empty())
        {
            // Loaded but unused.
            return ffi::OK;
        }
        let Some(loaded) = check(cf, main, http, &servers) else {
            return ffi::ERROR;
        };
        // Without mounts in any server, no request is mapped: nginx runs no phase of ours.
        let mapping = servers.iter().any(|s| (**s).mounts.is_some());
        if add_zone(cf, main, &loaded).is_err() || (mapping && add_mapper(cf).is_err()) {
            return ffi::ERROR;
        }
        main.loaded = Some(loaded);
        ffi::OK
    })
}

/// Every `server{}`'s configuration of this module (merged with the `http` block's).
///
/// # Safety
/// `cf` must be the live `http` configuration, after the merge.
unsafe fn servers(cf: *mut ffi::ngx_conf_t) -> Vec<*mut ServerConf> {
    unsafe {
        let ctx = (*cf).ctx as *mut ffi::ngx_http_conf_ctx_t;
        let ci = (*std::ptr::addr_of!(ffi::ngx_http_core_module)).ctx_index;
        let mi = (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index;
        let cmcf = *(*ctx).main_conf.add(ci) as *mut ffi::ngx_http_core_main_conf_t;
        let list: &[*mut ffi::ngx_http_core_srv_conf_t] = std::slice::from_raw_parts(
            (*cmcf).servers.elts as *const *mut ffi::ngx_http_core_srv_conf_t,
            (*cmcf).servers.nelts,
        );
        list.iter()
            .map(|&cscf| *(*(*cscf).ctx).srv_conf.add(mi) as *mut ServerConf)
            .collect()
    }
}

/// The handlers that map requests by the servers' mounts: the post-read normaliser, the
/// precontent mapper.
///
/// # Safety
/// As [`servers`].
unsafe fn add_mapper(cf: *mut ffi::ngx_conf_t) -> Result<(), ()> {
    unsafe {
        let ctx = (*cf).ctx as *mut ffi::ngx_http_conf_ctx_t;
        let ci = (*std::ptr::addr_of!(ffi::ngx_http_core_module)).ctx_index;
        let cmcf = *(*ctx).main_conf.add(ci) as *mut ffi::ngx_http_core_main_conf_t;
        let handlers: [(ffi::ngx_http_phases, ffi::ngx_http_handler_pt); 2] = [
            (
                ffi::ngx_http_phases_NGX_HTTP_POST_READ_PHASE,
                Some(crate::request::normaliser),
            ),
            (
                ffi::ngx_http_phases_NGX_HTTP_PRECONTENT_PHASE,
                Some(crate::request::mapper),
            ),
        ];
        for (phase, handler) in handlers {
            let h = ffi::ngx_array_push(&mut (*cmcf).phases[phase as usize].handlers)
                as *mut ffi::ngx_http_handler_pt;
            if h.is_null() {
                return Err(());
            }
            *h = handler;
        }
        Ok(())
    }
}

/// Load and check the configuration, logging every diagnostic; `None` when it cannot run.
/// Each server gets its settings and mount table.
///
/// # Safety
/// `cf` must be the live configuration; `servers` its servers' configurations.
unsafe fn check(
    cf: *mut ffi::ngx_conf_t,
    main: &MainConf,
    http: &ServerConf,
    servers: &[*mut ServerConf],
) -> Option<Loaded> {
    let root = unsafe { conf_prefix((*cf).cycle) };
    let say = |level: Level, msg: &str| unsafe { log::to((*cf).log, level, msg) };
    let report = |d: &lb_core::config::Diagnostic, seen: &mut std::collections::HashSet<String>| {
        // A server repeats the http block's lines: report each problem once.
        if seen.insert(d.to_string()) {
            let level = if d.severity == Severity::Error {
                Level::Emerg
            } else {
                Level::Warn
            };
            say(level, &format!("rjk: {d}"));
        }
        d.severity != Severity::Error
    };
    let mut seen = std::collections::HashSet::new();
    let loaded = load_workers(&main.lines, &root);
    for d in &loaded.diagnostics {
        report(d, &mut seen);
    }
    let with = |srv: &ServerConf| -> Vec<lb_core::directive::JkLine> {
        main.lines.iter().chain(srv.lines.iter()).cloned().collect()
    };
    let mut ok = true;
    let (settings, diags) = server_settings(with(http).iter().map(|l| (l, false)), false, &root);
    for d in &diags {
        ok &= report(d, &mut seen);
    }
    crate::log::set_threshold(settings.log_level);
    // The status dump without secrets (lb-core decides which keys are secret).
    let dump = loaded.dump();
    let Some(workers) = loaded.workers else {
        let n = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        say(Level::Emerg, &format!("rjk: {n} error(s) in the workers configuration; `rjk check <workers.properties>` shows the effective settings"));
        return None;
    };
    for &srv in servers {
        // SAFETY: each server's configuration lives as long as the cycle.
        let srv = unsafe { &mut *srv };
        let lines = with(srv);
        let (s, diags) = server_settings(lines.iter().map(|l| (l, false)), false, &root);
        for d in &diags {
            ok &= report(d, &mut seen);
        }
        let (table, file, diags) = mount_table(&s, Some(&workers), None);
        for d in &diags {
            ok &= report(d, &mut seen);
        }
        // A server without mounts has nothing to map: its requests skip the mapping phases.
        srv.mounts = match &file {
            Some(f) => Some(SharedTable::watching(
                table,
                f,
                Duration::from_secs(s.mount_file_reload),
                SystemTime::now(),
            )),
            None if table.rules().is_empty() => None,
            None => Some(SharedTable::fixed(table)),
        };
        srv.settings = Some(s);
    }
    // A name with variables is checked per request (a 500 and a log line when it names none).
    for (name, at) in main.passes.iter().filter(|(n, _)| !n.contains('$')) {
        if workers.get(name).is_none() || !workers.list.value.iter().any(|w| w == name) {
            let names = workers.list.value.iter().map(String::as_str);
            let hint = closest(name, names)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            say(
                Level::Emerg,
                &format!("rjk: {at}: error: rjk_pass: no worker `{name}` in worker.list{hint}"),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    // What identifies a configuration whose table a reload keeps (lb-core's rule, shared with
    // mod_rjk).
    let fingerprint = lb_core::shm::keep::fingerprint(&dump, None);
    Some(Loaded {
        workers,
        settings,
        dump,
        fingerprint,
    })
}

/// The shared zone for the state table. Its name carries the workers' fingerprint, so a reload
/// with the same workers keeps the table (nginx hands the zone over) and a changed
/// configuration starts a fresh one, as mod_rjk does.
///
/// # Safety
/// `cf` must be the live configuration.
unsafe fn add_zone(cf: *mut ffi::ngx_conf_t, main: &mut MainConf, l: &Loaded) -> Result<(), ()> {
    let (lbs, members) = lb_core::assemble::shm_size(&l.workers);
    let len = lb_core::shm::ShmTable::size_for(lbs, members);
    // The slab allocator's header and page table, then the table on whole pages.
    let page = 4096;
    let mut size = len.div_ceil(page) * page + 8 * page;
    if let Some(want) = l.settings.shm_size {
        size = size.max(want as usize);
    }
    let name = format!("rjk_{:016x}", l.fingerprint);
    let zone = unsafe {
        let mut s = ffi::ngx_str_t::from_str((*cf).pool, &name);
        ffi::ngx_shared_memory_add(cf, &mut s, size, crate::module::tag())
    };
    if zone.is_null() {
        unsafe {
            log::to(
                (*cf).log,
                Level::Emerg,
                "rjk: cannot add the shared zone for the state table",
            )
        };
        return Err(());
    }
    let len = Box::new(len);
    unsafe {
        (*zone).init = Some(init_zone);
        (*zone).data = &*len as *const usize as *mut c_void;
    }
    main.zone = Some(Zone {
        shm: zone,
        lbs,
        members,
        len,
    });
    Ok(())
}

/// The zone's init: a zone handed over from the previous cycle keeps its table; a new one gets
/// zeroed memory for it from the zone's slab allocator.
unsafe extern "C" fn init_zone(
    zone: *mut ffi::ngx_shm_zone_t,
    data: *mut c_void,
) -> ffi::ngx_int_t {
    log::guard(ffi::ERROR, || unsafe {
        if !data.is_null() {
            (*zone).data = data;
            return ffi::OK;
        }
        let len = *((*zone).data as *const usize);
        let shpool = (*zone).shm.addr as *mut ffi::ngx_slab_pool_t;
        let p = ffi::ngx_slab_calloc(shpool, len);
        if p.is_null() {
            log::cycle(
                Level::Emerg,
                "rjk: the shared zone is too small for the state table; raise rjk_shm_size",
            );
            return ffi::ERROR;
        }
        (*shpool).data = p;
        (*zone).data = p;
        ffi::OK
    })
}

/// In the master (and for `nginx -t`), after the zones exist: the table and the workers.
pub unsafe extern "C" fn init_module(cycle: *mut ffi::ngx_cycle_t) -> ffi::ngx_int_t {
    log::guard(ffi::ERROR, || unsafe {
        let main = ffi::main_conf_of_cycle(cycle);
        let Some(main) = main.as_mut() else {
            return ffi::OK;
        };
        let (Some(loaded), Some(zone)) = (main.loaded.take(), main.zone.as_ref()) else {
            return ffi::OK;
        };
        let table = match table(zone) {
            Ok(t) => t,
            Err(e) => {
                log::cycle(
                    Level::Emerg,
                    &format!("rjk: cannot set up the shared state table: {e}"),
                );
                return ffi::ERROR;
            }
        };
        // A pool slot per request a worker process may forward at once: every connection
        // nginx allows it, halved (each forwarded request holds two).
        let per_process = ((*cycle).connection_n / 2).max(1);
        match Runtime::new(loaded, &table, per_process) {
            Ok(rt) => {
                main.runtime = Some(Box::new(rt));
                ffi::OK
            }
            Err(e) => {
                log::cycle(Level::Emerg, &format!("rjk: {e}"));
                ffi::ERROR
            }
        }
    })
}

/// The table in the zone: the one a previous cycle left there, else a new one.
unsafe fn table(zone: &Zone) -> Result<std::sync::Arc<lb_core::shm::ShmTable>, String> {
    use lb_core::shm::{Region, ShmTable};
    let p = unsafe { (*zone.shm).data } as *mut u8;
    let p = NonNull::new(p).ok_or("the zone was not initialised")?;
    let region = || unsafe { Region::from_raw(p, *zone.len) }.map_err(|e| e.to_string());
    let t = match ShmTable::attach(region()?) {
        Ok(t) if t.lb_capacity() >= zone.lbs && t.member_capacity() >= zone.members => t,
        _ => ShmTable::create(region()?, zone.lbs, zone.members).map_err(|e| e.to_string())?,
    };
    Ok(std::sync::Arc::new(t))
}

/// In each worker process: maintenance on a timer (pools, balancer recovery).
pub unsafe extern "C" fn init_process(cycle: *mut ffi::ngx_cycle_t) -> ffi::ngx_int_t {
    log::guard(ffi::ERROR, || unsafe {
        if let Some(rt) = ffi::main_conf_of_cycle(cycle)
            .as_mut()
            .and_then(|m| m.runtime.as_mut())
        {
            rt.start_maintenance((*cycle).log);
        }
        ffi::OK
    })
}

/// Leaving a worker process: close the pooled backend connections (nginx reports sockets
/// left open).
pub unsafe extern "C" fn exit_process(cycle: *mut ffi::ngx_cycle_t) {
    log::guard((), || unsafe {
        if let Some(rt) = ffi::main_conf_of_cycle(cycle)
            .as_mut()
            .and_then(|m| m.runtime.as_mut())
        {
            rt.close_idle();
        }
    })
}
