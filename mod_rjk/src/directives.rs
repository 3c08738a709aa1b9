//! The `Jk*` directive table: every directive of mod_jk, with mod_jk's scope. Each one is
//! recorded as written (with file and line); lb-core gives it meaning.

use std::ffi::CStr;
use std::os::raw::{c_char, c_void};

use crate::conf::{cstr, of_server, DirectiveLine};
use crate::ffi;

/// Where a directive may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Main server only.
    Global,
    /// Main server or virtual host.
    Server,
    /// Also inside `<Location>`.
    Location,
}

/// Name, scope, and the one-line help httpd shows on syntax errors.
pub const DIRECTIVES: &[(&CStr, Scope, &CStr)] = &[
    (
        c"JkWorkersFile",
        Scope::Global,
        c"the workers.properties file",
    ),
    (
        c"JkWorkerProperty",
        Scope::Global,
        c"a workers.properties line",
    ),
    (c"JkShmFile", Scope::Global, c"the shared memory file"),
    (c"JkShmSize", Scope::Global, c"the shared memory size in KB"),
    (
        c"JkWatchdogInterval",
        Scope::Global,
        c"seconds between maintenance runs of the watchdog thread",
    ),
    (
        c"JkMountFile",
        Scope::Server,
        c"a uriworkermap.properties file",
    ),
    (
        c"JkMountFileReload",
        Scope::Server,
        c"seconds between checks of the mount file",
    ),
    (
        c"JkMountCopy",
        Scope::Server,
        c"On/Off (virtual host) or All (main server)",
    ),
    (
        c"JkStripSession",
        Scope::Server,
        c"On/Off [session path parameter name]",
    ),
    (
        c"JkAutoAlias",
        Scope::Server,
        c"a directory whose contexts are served by httpd",
    ),
    (
        c"JkWorkerIndicator",
        Scope::Server,
        c"env variable naming the worker for SetHandler jakarta-servlet",
    ),
    (
        c"JkLogFile",
        Scope::Server,
        c"the JK log file or |piped command",
    ),
    (
        c"JkLogLevel",
        Scope::Server,
        c"trace, debug, info, warn, error or emerg",
    ),
    (
        c"JkLogStampFormat",
        Scope::Server,
        c"strftime format of JK log lines",
    ),
    (
        c"JkRequestLogFormat",
        Scope::Server,
        c"format of request lines in the JK log",
    ),
    (c"JkExtractSSL", Scope::Server, c"On/Off: forward SSL data"),
    (
        c"JkHTTPSIndicator",
        Scope::Server,
        c"env variable marking HTTPS",
    ),
    (
        c"JkSSLPROTOCOLIndicator",
        Scope::Server,
        c"env variable with the SSL protocol",
    ),
    (
        c"JkCERTSIndicator",
        Scope::Server,
        c"env variable with the client certificate",
    ),
    (
        c"JkCIPHERIndicator",
        Scope::Server,
        c"env variable with the cipher",
    ),
    (
        c"JkSESSIONIndicator",
        Scope::Server,
        c"env variable with the SSL session id",
    ),
    (
        c"JkKEYSIZEIndicator",
        Scope::Server,
        c"env variable with the key size",
    ),
    (
        c"JkCERTCHAINPrefix",
        Scope::Server,
        c"prefix of env variables with the certificate chain",
    ),
    (
        c"JkRequestIdIndicator",
        Scope::Server,
        c"env variable with the request id",
    ),
    (
        c"JkRemoteAddrIndicator",
        Scope::Server,
        c"env variable overriding the remote address",
    ),
    (
        c"JkRemotePortIndicator",
        Scope::Server,
        c"env variable overriding the remote port",
    ),
    (
        c"JkRemoteHostIndicator",
        Scope::Server,
        c"env variable overriding the remote host",
    ),
    (
        c"JkRemoteUserIndicator",
        Scope::Server,
        c"env variable overriding the remote user",
    ),
    (
        c"JkAuthTypeIndicator",
        Scope::Server,
        c"env variable overriding the auth type",
    ),
    (
        c"JkLocalNameIndicator",
        Scope::Server,
        c"env variable overriding the local name",
    ),
    (
        c"JkLocalAddrIndicator",
        Scope::Server,
        c"env variable overriding the local address",
    ),
    (
        c"JkLocalPortIndicator",
        Scope::Server,
        c"env variable overriding the local port",
    ),
    (
        c"JkIgnoreCLIndicator",
        Scope::Server,
        c"env variable: ignore Content-Length",
    ),
    (
        c"JkOptions",
        Scope::Server,
        c"[+|-]ForwardURIProxy, FlushPackets, ...",
    ),
    (
        c"JkEnvVar",
        Scope::Server,
        c"an env variable to forward as request attribute [default]",
    ),
    (
        c"JkMount",
        Scope::Location,
        c"URI worker[;extensions], or worker inside <Location>",
    ),
    (
        c"JkUnMount",
        Scope::Location,
        c"URI worker, or worker inside <Location>",
    ),
];

/// Record one directive. `cmd_data` carries the index into `DIRECTIVES`.
pub unsafe extern "C" fn record(
    cmd: *mut ffi::cmd_parms,
    _dir: *mut c_void,
    args: *const c_char,
) -> *const c_char {
    crate::guard::guard(
        "directive",
        c"mod_rjk: internal error reading a directive".as_ptr(),
        || {
            // SAFETY: httpd calls us with a live cmd_parms whose `info` is our table index.
            unsafe {
                let idx = (*cmd).info as usize;
                let Some(&(name, scope, _)) = DIRECTIVES.get(idx) else {
                    return c"mod_rjk: unknown directive slot".as_ptr();
                };
                if scope == Scope::Global {
                    let err = ffi::ap_check_cmd_context(cmd, ffi::GLOBAL_ONLY as u32);
                    if !err.is_null() {
                        return err;
                    }
                }
                let d = (*cmd).directive;
                let (file, line) = if d.is_null() {
                    (String::new(), 0)
                } else {
                    (cstr((*d).filename).to_string(), (*d).line_num.max(0) as u32)
                };
                let location = if (*cmd).path.is_null() {
                    None
                } else {
                    Some(cstr((*cmd).path).to_string())
                };
                of_server((*cmd).server).lines.push(DirectiveLine {
                    name: name.to_str().unwrap_or(""),
                    args: cstr(args).to_string(),
                    file,
                    line,
                    location,
                    inherited: false,
                });
                std::ptr::null()
            }
        },
    )
}
