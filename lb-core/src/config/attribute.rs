//! Every `worker.<name>.<attribute>` mod_jk knows, how duplicates of it combine, which worker
//! types it means something for, and what the deprecated ones became.

/// How a second line for the same key combines with the first (mod_jk's `jk_map_handle_duplicates`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Values are joined with `,` (member lists, mounts, users, fail_on_status...).
    List,
    /// The later value replaces the earlier one, with a warning.
    Unique,
    /// mod_jk joins with `*` (a legacy rule that makes numbers unparsable); rjk keeps the later
    /// value and warns, except for free variables where `*`-joining is kept.
    Star,
}

/// Which worker types an attribute has an effect on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applies {
    pub ajp: bool,
    pub lb: bool,
    pub status: bool,
}

const AJP: Applies = Applies {
    ajp: true,
    lb: false,
    status: false,
};
const LB: Applies = Applies {
    ajp: false,
    lb: true,
    status: false,
};
const STATUS: Applies = Applies {
    ajp: false,
    lb: false,
    status: true,
};
const AJP_LB: Applies = Applies {
    ajp: true,
    lb: true,
    status: false,
};
const ALL: Applies = Applies {
    ajp: true,
    lb: true,
    status: true,
};
const NONE: Applies = Applies {
    ajp: false,
    lb: false,
    status: false,
};

/// What an old name means today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deprecated {
    /// Renamed: read as the successor.
    RenamedTo(&'static str),
    /// Boolean that sets `activation` (`disabled=true` → `D`, `stopped=true` → `S`).
    Activation(char),
    /// 1.2.7-era `local_worker` / `local_worker_only`: mapped onto distance / activation.
    Local,
    /// The in-process JNI worker's settings: accepted, no effect.
    NoEffect,
}

#[derive(Clone, Copy, Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub repeat: Repeat,
    pub applies: Applies,
    pub deprecated: Option<Deprecated>,
}

const fn a(name: &'static str, repeat: Repeat, applies: Applies) -> Attribute {
    Attribute {
        name,
        repeat,
        applies,
        deprecated: None,
    }
}

const fn old(name: &'static str, repeat: Repeat, applies: Applies, d: Deprecated) -> Attribute {
    Attribute {
        name,
        repeat,
        applies,
        deprecated: Some(d),
    }
}

use Deprecated::*;
use Repeat::*;

pub const ATTRIBUTES: &[Attribute] = &[
    a("type", Unique, ALL),
    a("reference", Unique, ALL),
    a("mount", List, ALL),
    a("secret", Unique, AJP_LB),
    a("host", Unique, AJP),
    a("port", Unique, AJP),
    a("source", Unique, AJP),
    a("prefer_ipv6", Unique, AJP),
    a("socket_timeout", Unique, AJP),
    a("socket_connect_timeout", Unique, AJP),
    a("socket_keepalive", Unique, AJP),
    a("socket_buffer", Unique, AJP),
    a("ping_mode", Unique, AJP),
    a("ping_timeout", Unique, AJP),
    a("connect_timeout", Unique, AJP),
    a("prepost_timeout", Unique, AJP),
    a("connection_ping_interval", Unique, AJP),
    a("connection_pool_size", Unique, AJP),
    a("connection_pool_minsize", Unique, AJP),
    a("connection_pool_timeout", Unique, AJP),
    a("connection_acquire_timeout", Unique, AJP),
    a("reply_timeout", Unique, AJP),
    a("retries", Unique, AJP_LB),
    a("retry_interval", Unique, AJP_LB),
    a("recovery_options", Unique, AJP),
    a("fail_on_status", List, AJP),
    a("busy_limit", Unique, AJP),
    a("max_packet_size", Unique, AJP),
    a("secretkey", Unique, NONE),
    a("lbfactor", Unique, AJP),
    a("route", Unique, AJP),
    a("domain", Unique, AJP),
    a("redirect", Unique, AJP),
    a("distance", Star, AJP),
    a("activation", Unique, AJP),
    a("balance_workers", List, LB),
    a("sticky_session", Unique, LB),
    a("sticky_session_force", Unique, LB),
    a("method", Unique, LB),
    a("lock", Unique, LB),
    a("lb_retries", Unique, LB),
    a("recover_time", Unique, LB),
    a("error_escalation_time", Unique, LB),
    a("max_reply_timeouts", Unique, LB),
    a("session_cookie", Unique, LB),
    a("session_path", Unique, LB),
    a("set_session_cookie", Unique, LB),
    a("session_cookie_path", Unique, LB),
    a("css", Unique, STATUS),
    a("read_only", Unique, STATUS),
    a("user", List, STATUS),
    a("user_case_insensitive", Unique, STATUS),
    a("good", List, STATUS),
    a("bad", List, STATUS),
    a("prefix", Unique, STATUS),
    a("ns", Unique, STATUS),
    a("xmlns", Unique, STATUS),
    a("doctype", Unique, STATUS),
    // rjk's own: let old scripts change state with GET (no nonce), as mod_jk allowed.
    a("allow_get_updates", Unique, STATUS),
    // rjk's own: keep runtime changes (activation, factor, ...) across restarts in this file.
    a("persist_file", Unique, STATUS),
    old("cachesize", Unique, AJP, RenamedTo("connection_pool_size")),
    old(
        "cache_timeout",
        Unique,
        AJP,
        RenamedTo("connection_pool_timeout"),
    ),
    old(
        "recycle_timeout",
        Unique,
        AJP,
        RenamedTo("connection_pool_timeout"),
    ),
    old("balanced_workers", List, LB, RenamedTo("balance_workers")),
    old("jvm_route", Unique, AJP, RenamedTo("route")),
    old("lb_factor", Unique, AJP, RenamedTo("lbfactor")),
    old("disabled", Unique, AJP, Activation('D')),
    old("stopped", Unique, AJP, Activation('S')),
    old("local_worker", Unique, AJP, Local),
    old("local_worker_only", Unique, LB, Local),
    old("sysprops", Star, NONE, NoEffect),
    old("stdout", Star, NONE, NoEffect),
    old("stderr", Star, NONE, NoEffect),
    old("mx", Star, NONE, NoEffect),
    old("ms", Star, NONE, NoEffect),
    old("class_path", Star, NONE, NoEffect),
    old("bridge", Star, NONE, NoEffect),
    old("jvm_lib", Star, NONE, NoEffect),
    old("ld_path", Star, NONE, NoEffect),
    old("cmd_line", Star, NONE, NoEffect),
    old("native_lib", Star, NONE, NoEffect),
];

pub fn find(name: &str) -> Option<&'static Attribute> {
    ATTRIBUTES.iter().find(|a| a.name == name)
}

/// Names an operator should be pointed to in "did you mean" hints (current names only).
pub fn current_names() -> impl Iterator<Item = &'static str> {
    ATTRIBUTES
        .iter()
        .filter(|a| a.deprecated.is_none())
        .map(|a| a.name)
}
