//! httpd's hooks, each a thin call into lb-core.

use std::os::raw::c_int;

use crate::ffi;
use crate::setup;

pub unsafe extern "C" fn register(_p: *mut ffi::apr_pool_t) {
    crate::guard::guard("register_hooks", (), || unsafe {
        ffi::ap_hook_check_config(
            Some(check_config),
            std::ptr::null(),
            std::ptr::null(),
            ffi::APR_HOOK_MIDDLE,
        );
        ffi::ap_hook_post_config(
            Some(post_config),
            std::ptr::null(),
            std::ptr::null(),
            ffi::APR_HOOK_MIDDLE,
        );
        // Before mod_alias/core map the URI to a file, as mod_jk.
        ffi::ap_hook_translate_name(
            Some(crate::translate::translate_name),
            std::ptr::null(),
            std::ptr::null(),
            ffi::APR_HOOK_MIDDLE,
        );
        ffi::ap_hook_map_to_storage(
            Some(crate::translate::map_to_storage),
            std::ptr::null(),
            std::ptr::null(),
            ffi::APR_HOOK_MIDDLE,
        );
        ffi::ap_hook_handler(
            Some(crate::handler::handler),
            std::ptr::null(),
            std::ptr::null(),
            ffi::APR_HOOK_MIDDLE,
        );
        ffi::ap_hook_log_transaction(
            Some(crate::request_log::log_transaction),
            std::ptr::null(),
            std::ptr::null(),
            ffi::APR_HOOK_MIDDLE,
        );
        ffi::ap_hook_child_init(
            Some(child_init),
            std::ptr::null(),
            std::ptr::null(),
            ffi::APR_HOOK_MIDDLE,
        );
    })
}

/// Runs for `apache2 -t` as well as for a start: the whole Jk configuration is validated here,
/// so a config test catches what mod_jk would only find at startup.
unsafe extern "C" fn check_config(
    pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    ptemp: *mut ffi::apr_pool_t,
    s: *mut ffi::server_rec,
) -> c_int {
    crate::guard::guard("check_config", ffi::HTTP_INTERNAL_SERVER_ERROR, || {
        // SAFETY: httpd passes the live main server, its configuration and temporary pools.
        unsafe { crate::conf::unshare_virtual_hosts(pconf, s) };
        // SAFETY: as above.
        let (lines, root) = unsafe { (setup::server_lines(s), setup::server_root(ptemp)) };
        let lines: Vec<_> = lines.into_iter().map(|(l, _)| l).collect();
        let workers_ok = setup::load_and_report(s, &lines, &root).is_some();
        // SAFETY: s is the main server; its vhost chain is complete at check_config time.
        let servers_ok = unsafe { setup::check_servers(s, &root) };
        if workers_ok && servers_ok {
            ffi::OK
        } else {
            ffi::HTTP_INTERNAL_SERVER_ERROR
        }
    })
}

/// Announce ourselves (`mod_rjk/<version>` in the Server banner and the error log).
unsafe extern "C" fn post_config(
    pconf: *mut ffi::apr_pool_t,
    _plog: *mut ffi::apr_pool_t,
    ptemp: *mut ffi::apr_pool_t,
    s: *mut ffi::server_rec,
) -> c_int {
    crate::guard::guard("post_config", ffi::HTTP_INTERNAL_SERVER_ERROR, || {
        const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
            concat!("mod_rjk/", env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
        ) {
            Ok(v) => v,
            Err(_) => c"mod_rjk",
        };
        // SAFETY: pconf is the live configuration pool; the string is 'static.
        unsafe { ffi::ap_add_version_component(pconf, VERSION.as_ptr()) };
        // SAFETY: s is the main server, its vhost chain complete; single-threaded here.
        match unsafe { build_runtime(s, pconf, ptemp) } {
            true => ffi::OK,
            false => ffi::HTTP_INTERNAL_SERVER_ERROR,
        }
    })
}

/// Load the configuration (check_config already reported its problems) and give every server
/// its runtime.
///
/// # Safety
/// `s` must be the live main server; called from post_config only.
unsafe fn build_runtime(
    s: *mut ffi::server_rec,
    pconf: *mut ffi::apr_pool_t,
    ptemp: *mut ffi::apr_pool_t,
) -> bool {
    let root = unsafe { setup::server_root(ptemp) };
    let lines: Vec<_> = unsafe { setup::server_lines(s) }
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    let loaded = lb_core::directive::load_workers(&lines, &root);
    let dump = loaded.dump();
    let Some(workers) = loaded.workers else {
        return false;
    };
    let threads = unsafe { threads_per_child() };
    // The main server's settings decide the shared table's file and DisableReuse.
    let main_lines = unsafe { setup::server_lines(s) };
    let (main, _) = lb_core::directive::server::server_settings(
        main_lines.iter().map(|(l, i)| (l, *i)),
        false,
        &root,
    );
    let (lbs, members) = lb_core::assemble::shm_size(&workers);
    let fingerprint = lb_core::shm::keep::fingerprint(&dump, main.shm_file.as_deref());
    // SAFETY: s is the main server of a live process.
    let kept = unsafe { kept_table(s) };
    let table = match lb_core::shm::keep::reuse(kept, fingerprint, lbs, members) {
        Some(t) => t,
        None => match new_table(&main, lbs, members) {
            Ok(t) => {
                // SAFETY: as above.
                unsafe { keep_table(s, fingerprint, &t) };
                t
            }
            Err(e) => {
                crate::log::server(
                    s,
                    crate::log::Level::Error,
                    true,
                    &format!("mod_rjk: cannot create the shared state table: {e}"),
                );
                return false;
            }
        },
    };
    let disable_reuse = main
        .options
        .has(lb_core::directive::options::Flag::DISABLE_REUSE);
    let now = crate::runtime::unix_now();
    let engines = match lb_core::assemble::engines(&workers, &table, threads, disable_reuse, now) {
        Ok(e) => e,
        Err(e) => {
            crate::log::server(s, crate::log::Level::Error, true, &format!("mod_rjk: {e}"));
            return false;
        }
    };
    // Status workers with persist_file: re-apply the runtime changes saved before the restart.
    for p in lb_core::status::persist::restore(
        &workers,
        |n| engines.get(n).and_then(|e| e.worker().balancer()),
        |n| engines.get(n).map(|e| &**e.worker()),
    ) {
        crate::log::server(
            s,
            crate::log::Level::Warning,
            true,
            &format!("mod_rjk: {p}"),
        );
    }
    let nonce = match lb_core::status::form::nonce() {
        Ok(n) => n,
        Err(e) => {
            crate::log::server(s, crate::log::Level::Error, true, &format!("mod_rjk: {e}"));
            return false;
        }
    };
    let global = std::sync::Arc::new(crate::runtime::Global {
        workers,
        engines,
        dump,
        nonce,
        // SAFETY: pconf outlives every request of this configuration.
        notes: unsafe { crate::notes::Templates::new(pconf) },
    });
    let mut server = s;
    while !server.is_null() {
        // SAFETY: walking httpd's server list during post_config.
        unsafe {
            let lines = setup::server_lines(server);
            let label = server_label(server);
            let rt =
                crate::runtime::server(&lines, (*server).is_virtual != 0, label, &root, &global);
            crate::conf::of_server(server).runtime = Some(std::sync::Arc::new(rt));
            server = (*server).next;
        }
    }
    true
}

/// The server's name as mod_jk's status worker prints it for its maps.
///
/// # Safety
/// `s` is a live server_rec of httpd's list (post_config).
unsafe fn server_label(s: *const ffi::server_rec) -> String {
    // SAFETY: the caller's server_rec; its strings and address list live as long as the config.
    unsafe {
        let host = crate::conf::cstr((*s).server_hostname);
        if (*s).is_virtual == 0 {
            return lb_core::mount::server_label(host, None, (*s).port);
        }
        match (*s).addrs.as_ref() {
            Some(a) => lb_core::mount::server_label(
                host,
                Some((crate::conf::cstr(a.virthost), a.host_port)),
                0,
            ),
            None => host.to_owned(),
        }
    }
}

/// httpd's Server banner (`Apache/2.4.71 (Debian) mod_rjk/0.1.0`), for the status pages.
pub fn server_banner() -> String {
    // SAFETY: ap_get_server_banner returns a static string valid after post_config.
    unsafe { crate::conf::cstr(ffi::ap_get_server_banner()) }.to_owned()
}

/// The MPM's threads per child process (1 for prefork): the default connection pool size.
///
/// # Safety
/// Call after the MPM is configured (post_config).
unsafe fn threads_per_child() -> usize {
    let mut n: std::os::raw::c_int = 0;
    let rc = unsafe { ffi::ap_mpm_query(ffi::AP_MPMQ_MAX_THREADS as _, &mut n) };
    if rc == 0 && n > 0 {
        n as usize
    } else {
        1
    }
}

/// A maintenance thread per child (threads only after the fork): idle pools age out and are
/// CPinged, failed members recover, with no request paying for it. Its tick is
/// JkWatchdogInterval, or a second when that is unset (mod_jk then maintains on requests; the
/// work itself is throttled to `worker.maintain` by the balancer).
unsafe extern "C" fn child_init(_p: *mut ffi::apr_pool_t, s: *mut ffi::server_rec) {
    crate::guard::guard("child_init", (), || {
        // SAFETY: s is the main server; its runtime was set in post_config before the fork.
        let Some(rt) = (unsafe { crate::conf::of_server(s) }).runtime.clone() else {
            return;
        };
        let every = match rt.settings.watchdog_interval {
            0 => 1,
            n => n,
        };
        let global = std::sync::Arc::clone(&rt.global);
        let _ = std::thread::Builder::new()
            .name("rjk-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_secs(every));
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    global.engines.maintain_if_due(crate::runtime::unix_now())
                }));
            });
    })
}

/// The process-pool key under which the shared table outlives a (graceful) restart: httpd
/// unloads and reloads the module, but the process pool and the mapping stay.
const KEPT_TABLE: &std::ffi::CStr = c"rjk.shared-state-table";

fn new_table(
    main: &lb_core::directive::server::ServerSettings,
    lbs: usize,
    members: usize,
) -> Result<std::sync::Arc<lb_core::shm::ShmTable>, String> {
    let len = lb_core::shm::ShmTable::size_for(lbs, members);
    let region = match &main.shm_file {
        // A file-backed mapping (JkShmFile) lets external tools read it; mod_jk appends the pid
        // to the name, rjk uses the name given so tools find it. `create` makes a new file, so
        // children of an older generation keep mapping theirs.
        Some(path) => lb_core::shm::JkShmFile::create(path, len),
        None => lb_core::shm::Region::anonymous(len),
    };
    let region = region.map_err(|e| e.to_string())?;
    lb_core::shm::ShmTable::create(region, lbs, members)
        .map(std::sync::Arc::new)
        .map_err(|e| e.to_string())
}

/// The table kept by an earlier generation of this process, if any.
///
/// # Safety
/// `s` must be the main server; the userdata under `KEPT_TABLE` is only ever set by
/// `keep_table` (a leaked `Box<(u64, Arc<ShmTable>)>` of this same module binary).
unsafe fn kept_table(
    s: *mut ffi::server_rec,
) -> Option<(u64, std::sync::Arc<lb_core::shm::ShmTable>)> {
    let mut data: *mut std::ffi::c_void = std::ptr::null_mut();
    unsafe { ffi::apr_pool_userdata_get(&mut data, KEPT_TABLE.as_ptr(), (*(*s).process).pool) };
    if data.is_null() {
        return None;
    }
    let (kept, table) = unsafe { &*(data as *const (u64, std::sync::Arc<lb_core::shm::ShmTable>)) };
    Some((*kept, table.clone()))
}

/// Keep `t` for the next generation. The box is leaked on purpose: it lives as long as the
/// httpd process, like the mapping it holds.
///
/// # Safety
/// `s` must be the main server.
unsafe fn keep_table(
    s: *mut ffi::server_rec,
    fingerprint: u64,
    t: &std::sync::Arc<lb_core::shm::ShmTable>,
) {
    let boxed =
        Box::into_raw(Box::new((fingerprint, std::sync::Arc::clone(t)))) as *const std::ffi::c_void;
    // apr_pool_userdata_set copies the key, so it does not point into this (unloadable) module.
    unsafe { ffi::apr_pool_userdata_set(boxed, KEPT_TABLE.as_ptr(), None, (*(*s).process).pool) };
}
