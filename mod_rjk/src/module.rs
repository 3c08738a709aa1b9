//! The module record httpd loads (`jk_module`) and its command table.

use std::ptr::{null, null_mut};

use crate::directives::{record, Scope, DIRECTIVES};
use crate::{conf, ffi, hooks};

/// httpd writes `module_index`, `next` and `dynamic_load_handle` into it, hence `static mut`.
#[no_mangle]
#[used]
pub static mut jk_module: ffi::module = ffi::module {
    version: ffi::MODULE_MAGIC_NUMBER_MAJOR,
    minor_version: ffi::MODULE_MAGIC_NUMBER_MINOR,
    module_index: -1,
    name: c"mod_jk.c".as_ptr(),
    dynamic_load_handle: null_mut(),
    next: null_mut(),
    magic: ffi::MODULE_MAGIC_COOKIE as std::os::raw::c_ulong,
    rewrite_args: None,
    create_dir_config: None,
    merge_dir_config: None,
    create_server_config: Some(conf::create_server),
    merge_server_config: Some(conf::merge_server),
    cmds: &raw const COMMANDS.0 as *const ffi::command_rec,
    register_hooks: Some(hooks::register),
    flags: 0,
};

/// The command table holds raw pointers, which are not `Sync`; it is written once at compile
/// time and only read by httpd.
#[repr(transparent)]
struct Commands([ffi::command_rec; DIRECTIVES.len() + 1]);
// SAFETY: immutable after construction; every pointer in it points to 'static data.
unsafe impl Sync for Commands {}

const fn command(i: usize) -> ffi::command_rec {
    let (name, scope, help) = DIRECTIVES[i];
    ffi::command_rec {
        name: name.as_ptr(),
        func: ffi::cmd_func {
            raw_args: Some(record),
        },
        cmd_data: i as *mut std::os::raw::c_void,
        req_override: match scope {
            Scope::Location => ffi::RSRC_CONF | ffi::ACCESS_CONF,
            Scope::Global | Scope::Server => ffi::RSRC_CONF,
        },
        args_how: ffi::cmd_how_RAW_ARGS,
        errmsg: help.as_ptr(),
    }
}

const fn table() -> [ffi::command_rec; DIRECTIVES.len() + 1] {
    let mut t = [ffi::command_rec {
        name: null(),
        func: ffi::cmd_func { raw_args: None },
        cmd_data: null_mut(),
        req_override: 0,
        args_how: ffi::cmd_how_RAW_ARGS,
        errmsg: null(),
    }; DIRECTIVES.len() + 1];
    let mut i = 0;
    while i < DIRECTIVES.len() {
        t[i] = command(i);
        i += 1;
    }
    t
}

static COMMANDS: Commands = Commands(table());
