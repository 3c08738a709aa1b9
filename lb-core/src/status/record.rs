//! Every entity as an ordered list of `key=value` fields, in mod_jk's order and with mod_jk's
//! key names. The text, properties, XML and JSON renderers all print these lists, so the
//! formats cannot drift apart.

use super::model::{LbStatus, MapEntry, Member, Snapshot};
use super::rating;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Uint(u64),
    Str(String),
    /// A string mod_jk quotes in its text format (routes, domains, the server software).
    Quoted(String),
}

impl Value {
    /// The bare value (properties, XML, JSON strings).
    pub fn plain(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Uint(u) => u.to_string(),
            Value::Str(s) | Value::Quoted(s) => s.clone(),
        }
    }
}

pub type Fields = Vec<(&'static str, Value)>;

fn s(v: &str) -> Value {
    Value::Str(v.to_owned())
}

fn jk_bool(b: bool) -> Value {
    s(if b { "True" } else { "False" })
}

/// Server, time and software lines.
pub fn header(snap: &Snapshot) -> (Fields, Fields, Fields) {
    let (datetime, tz) = crate::status::time::datetime(snap.now);
    (
        vec![
            ("name", s(&snap.server_name)),
            ("port", Value::Int(snap.server_port.into())),
        ],
        vec![
            ("datetime", s(&datetime)),
            ("tz", s(&tz)),
            ("unix", Value::Int(snap.now)),
        ],
        vec![
            ("web_server", Value::Quoted(snap.web_server.clone())),
            ("jk_version", s(crate::status::VERSION)),
        ],
    )
}

pub fn balancer(
    b: &LbStatus,
    now: i64,
    good: &[String],
    bad: &[String],
    map_count: usize,
) -> Fields {
    let (g, d, x) = rating::counts(&b.members, good, bad);
    vec![
        ("name", s(&b.name)),
        ("type", s("lb")),
        ("sticky_session", jk_bool(b.sticky_session)),
        ("sticky_session_force", jk_bool(b.sticky_session_force)),
        ("retries", Value::Int(b.retries)),
        // Not in mod_jk's output (only its edit form): rjk shows what `vlri` changes.
        ("retry_interval", Value::Int(b.retry_interval)),
        ("recover_time", Value::Int(b.recover_time)),
        ("error_escalation_time", Value::Int(b.error_escalation_time)),
        ("max_reply_timeouts", Value::Int(b.max_reply_timeouts)),
        ("method", s(b.method)),
        ("lock", s(b.lock)),
        ("member_count", Value::Int(b.members.len() as i64)),
        ("good", Value::Int(g as i64)),
        ("degraded", Value::Int(d as i64)),
        ("bad", Value::Int(x as i64)),
        ("busy", Value::Int(b.busy)),
        ("max_busy", Value::Int(b.max_busy)),
        ("map_count", Value::Int(map_count as i64)),
        (
            "time_to_maintenance_min",
            Value::Int(b.time_to_maintenance.0),
        ),
        (
            "time_to_maintenance_max",
            Value::Int(b.time_to_maintenance.1),
        ),
        ("last_reset_at", Value::Int(b.last_reset_at)),
        ("last_reset_ago", Value::Int(now - b.last_reset_at)),
    ]
}

/// A member of an lb or a plain ajp13 worker (without the `name`, which formats place
/// differently).
pub fn member(m: &Member, now: i64) -> Fields {
    let mut f: Fields = vec![
        ("type", s("ajp13")),
        ("host", s(&m.host)),
        ("port", Value::Int(m.port.into())),
        ("address", s(&m.address)),
        (
            "source",
            s(if m.source.is_empty() {
                "undefined"
            } else {
                &m.source
            }),
        ),
        (
            "connection_pool_timeout",
            Value::Int(m.connection_pool_timeout),
        ),
        ("ping_timeout", Value::Int(m.ping_timeout)),
        ("connect_timeout", Value::Int(m.connect_timeout)),
        ("prepost_timeout", Value::Int(m.prepost_timeout)),
        ("reply_timeout", Value::Int(m.reply_timeout)),
        ("retries", Value::Int(m.retries)),
        (
            "connection_ping_interval",
            Value::Int(m.connection_ping_interval),
        ),
        ("recovery_options", Value::Int(m.recovery_options)),
        ("busy_limit", Value::Int(m.busy_limit)),
        ("max_packet_size", Value::Int(m.max_packet_size)),
    ];
    match &m.lb {
        Some(lb) => f.extend([
            ("activation", s(lb.activation.name())),
            ("lbfactor", Value::Int(lb.lbfactor)),
            ("route", Value::Quoted(lb.route.clone())),
            ("redirect", Value::Quoted(lb.redirect.clone())),
            ("domain", Value::Quoted(lb.domain.clone())),
            ("distance", Value::Int(lb.distance)),
            ("state", s(lb.state.text())),
            ("lbmult", Value::Uint(lb.lbmult)),
            ("lbvalue", Value::Uint(lb.lbvalue)),
            ("elected", Value::Uint(m.used)),
            ("sessions", Value::Uint(lb.sessions)),
            ("errors", Value::Uint(m.errors)),
        ]),
        None => f.extend([
            ("used", Value::Uint(m.used)),
            ("errors", Value::Uint(m.errors)),
        ]),
    }
    f.extend([
        ("client_errors", Value::Uint(m.client_errors)),
        ("reply_timeouts", Value::Uint(m.reply_timeouts)),
        ("transferred", Value::Uint(m.transferred)),
        ("read", Value::Uint(m.read)),
        ("busy", Value::Int(m.busy)),
        ("max_busy", Value::Int(m.max_busy)),
        ("connected", Value::Int(m.connected)),
        ("max_connected", Value::Int(m.max_connected)),
    ]);
    match &m.lb {
        Some(lb) => f.extend([
            ("time_to_recover_min", Value::Int(lb.time_to_recover.0)),
            ("time_to_recover_max", Value::Int(lb.time_to_recover.1)),
        ]),
        None => f.push(("map_count", Value::Int(m.map_count))),
    }
    f.extend([
        ("last_reset_at", Value::Int(m.last_reset_at)),
        ("last_reset_ago", Value::Int(now - m.last_reset_at)),
    ]);
    if let Some(t) = m.error_time {
        let (datetime, tz) = crate::status::time::datetime(t);
        f.extend([
            ("error_time_datetime", s(&datetime)),
            ("error_time_tz", s(&tz)),
            ("error_time_unix_seconds", Value::Int(t)),
            ("error_time_ago", Value::Int(now - t)),
        ]);
    }
    f
}

pub fn map(id: usize, e: &MapEntry) -> Fields {
    let q = |v: &str| Value::Quoted(v.to_owned());
    let mut f: Fields = vec![("id", Value::Int(id as i64))];
    if let Some(server) = &e.server {
        f.push(("server", q(server)));
    }
    f.extend([
        ("uri", q(&e.uri)),
        ("type", q(&e.kind)),
        ("source", q(&e.source)),
        ("reply_timeout", Value::Quoted(e.reply_timeout.to_string())),
        ("sticky_ignore", Value::Quoted(e.sticky_ignore.to_string())),
        ("stateless", Value::Quoted(e.stateless.to_string())),
        ("fail_on_status", q(&e.fail_on_status)),
        ("active", q(&e.active)),
        ("disabled", q(&e.disabled)),
        ("stopped", q(&e.stopped)),
        (
            "use_server_errors",
            Value::Quoted(e.use_server_errors.to_string()),
        ),
    ]);
    f
}
