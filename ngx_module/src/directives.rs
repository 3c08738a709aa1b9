//! The `rjk_*` directives. Each is recorded as the `Jk*` line it stands for (mod_jk's meaning,
//! lb-core's reading); nothing is interpreted here, so `nginx -t` reports problems with
//! lb-core's messages (see `setup`).

use std::ffi::c_void;
use std::os::raw::c_char;

use lb_core::directive::JkLine;

use crate::conf::{args, here, LocConf, MainConf, Pass, ServerConf};
use crate::ffi;

/// The `Jk*` directive an `rjk_*` one stands for.
pub fn jk_name(rjk: &str) -> Option<&'static str> {
    Some(match rjk {
        "rjk_workers_file" => "JkWorkersFile",
        "rjk_worker_property" => "JkWorkerProperty",
        "rjk_mount" => "JkMount",
        "rjk_unmount" => "JkUnMount",
        "rjk_mount_file" => "JkMountFile",
        "rjk_mount_file_reload" => "JkMountFileReload",
        "rjk_options" => "JkOptions",
        "rjk_env_var" => "JkEnvVar",
        "rjk_shm_size" => "JkShmSize",
        "rjk_log_level" => "JkLogLevel",
        "rjk_strip_session" => "JkStripSession",
        _ => return None,
    })
}

/// Quote an argument for lb-core's line reader when it holds blanks.
fn quoted(a: &str) -> String {
    if a.is_empty() || a.contains(char::is_whitespace) {
        format!("\"{a}\"")
    } else {
        a.to_owned()
    }
}

/// An `http`-only `rjk_*` directive: kept as its `Jk*` line.
pub unsafe extern "C" fn jk_line(
    cf: *mut ffi::ngx_conf_t,
    cmd: *mut ffi::ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    crate::log::guard(ffi::conf_error(), || unsafe {
        let main = &mut *(conf as *mut MainConf);
        match line(cf, cmd) {
            Some(l) => {
                main.lines.push(l);
                std::ptr::null_mut()
            }
            None => ffi::conf_error(),
        }
    })
}

/// An `http`/`server` `rjk_*` directive: kept as its `Jk*` line in the server's list.
pub unsafe extern "C" fn srv_line(
    cf: *mut ffi::ngx_conf_t,
    cmd: *mut ffi::ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    crate::log::guard(ffi::conf_error(), || unsafe {
        let srv = &mut *(conf as *mut ServerConf);
        match line(cf, cmd) {
            Some(l) => {
                srv.lines.push(l);
                std::ptr::null_mut()
            }
            None => ffi::conf_error(),
        }
    })
}

/// The `Jk*` line the directive being read stands for.
///
/// # Safety
/// `cf` and `cmd` must be nginx's, for the directive being read.
unsafe fn line(cf: *mut ffi::ngx_conf_t, cmd: *mut ffi::ngx_command_t) -> Option<JkLine> {
    unsafe {
        let name = String::from_utf8_lossy(ffi::bytes(&(*cmd).name)).into_owned();
        let jk = jk_name(&name)?;
        let a = args(cf);
        // Properties and paths are one argument; the rest are lists of words.
        let text = if jk == "JkWorkerProperty" || jk == "JkWorkersFile" {
            a.join(" ")
        } else {
            a.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(" ")
        };
        Some(JkLine {
            name: jk.to_owned(),
            args: text,
            at: here(cf),
            location: None,
        })
    }
}

/// `rjk_pass WORKER;` — the location's requests go to the worker (mod_jk's `JkMount` inside
/// `<Location>`).
pub unsafe extern "C" fn pass(
    cf: *mut ffi::ngx_conf_t,
    _cmd: *mut ffi::ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    crate::log::guard(ffi::conf_error(), || unsafe {
        let loc = &mut *(conf as *mut LocConf);
        let a = args(cf);
        let worker = a.first().cloned().unwrap_or_default();
        if loc.worker.is_some() {
            return c"is duplicate".as_ptr() as *mut c_char;
        }
        let ctx = (*cf).ctx as *mut ffi::ngx_http_conf_ctx_t;
        let mi = (*std::ptr::addr_of!(crate::module::ngx_http_rjk_module)).ctx_index;
        let main = &mut *(*(*ctx).main_conf.add(mi) as *mut MainConf);
        main.passes.push((worker.clone(), here(cf)));
        loc.worker = Some(if worker.contains('$') {
            match compile(cf) {
                Some(value) => Pass::Variable {
                    value,
                    written: worker,
                    at: here(cf),
                },
                None => return ffi::conf_error(),
            }
        } else {
            Pass::Named(worker)
        });
        let ci = (*std::ptr::addr_of!(ffi::ngx_http_core_module)).ctx_index;
        let clcf = *(*ctx).loc_conf.add(ci) as *mut ffi::ngx_http_core_loc_conf_t;
        (*clcf).handler = Some(crate::handler::handler);
        std::ptr::null_mut()
    })
}

/// The directive's first argument as an nginx complex value (nginx reports what is wrong).
///
/// # Safety
/// `cf` must be the live configuration being parsed, with at least one argument.
unsafe fn compile(cf: *mut ffi::ngx_conf_t) -> Option<*mut ffi::ngx_http_complex_value_t> {
    unsafe {
        let cv = ffi::ngx_pcalloc(
            (*cf).pool,
            std::mem::size_of::<ffi::ngx_http_complex_value_t>(),
        ) as *mut ffi::ngx_http_complex_value_t;
        if cv.is_null() {
            return None;
        }
        let mut ccv: ffi::ngx_http_compile_complex_value_t = std::mem::zeroed();
        ccv.cf = cf;
        // The arguments live in the configuration's pool, as the compiled value does.
        ccv.value = ((*(*cf).args).elts as *mut ffi::ngx_str_t).add(1);
        ccv.complex_value = cv;
        (ffi::ngx_http_compile_complex_value(&mut ccv) == ffi::OK).then_some(cv)
    }
}
