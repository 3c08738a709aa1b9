//! What a request to the status worker asks for (mod_jk's `cmd`, `mime`, `w`, `sw`, `att`,
//! `val<n>`, `opt`, `re`, `from` and the `v…` update parameters), whether it may, and the typed
//! changes it carries. Stricter than mod_jk where mod_jk was unsafe: changes need POST with the
//! page's nonce (unless the worker allows old GET scripts), and refusals are real 4xx statuses.

use crate::config::{closest, Activation, Lock, Method};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    List,
    Show,
    Edit,
    Update,
    Reset,
    Recover,
    Version,
    Dump,
}

impl Cmd {
    const ALL: [(&'static str, Cmd); 8] = [
        ("list", Cmd::List),
        ("show", Cmd::Show),
        ("edit", Cmd::Edit),
        ("update", Cmd::Update),
        ("reset", Cmd::Reset),
        ("recover", Cmd::Recover),
        ("version", Cmd::Version),
        ("dump", Cmd::Dump),
    ];

    /// Whether the command changes state (refused on a read-only worker).
    pub fn changes_state(self) -> bool {
        matches!(self, Cmd::Edit | Cmd::Update | Cmd::Reset | Cmd::Recover)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mime {
    Html,
    Xml,
    Txt,
    Prop,
    Json,
    Prometheus,
}

impl Mime {
    const ALL: [(&'static str, Mime); 6] = [
        ("html", Mime::Html),
        ("xml", Mime::Xml),
        ("txt", Mime::Txt),
        ("prop", Mime::Prop),
        ("json", Mime::Json),
        ("prometheus", Mime::Prometheus),
    ];

    pub fn content_type(self) -> &'static str {
        match self {
            Mime::Html => "text/html; charset=utf-8",
            Mime::Xml => "text/xml; charset=utf-8",
            Mime::Txt | Mime::Prop => "text/plain; charset=utf-8",
            Mime::Json => "application/json",
            Mime::Prometheus => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A refused status request: the HTTP status to answer and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusRequest {
    pub cmd: Option<Cmd>,
    pub mime: Option<Mime>,
    pub worker: Option<String>,
    pub sub_worker: Option<String>,
    pub attribute: Option<String>,
    pub opt: u32,
    pub refresh: Option<u32>,
    pub nonce: Option<String>,
    /// Every other parameter (`vwa=D`, `val0=...`), in order.
    pub params: Vec<(String, String)>,
}

impl StatusRequest {
    pub fn cmd(&self) -> Cmd {
        self.cmd.unwrap_or(Cmd::List)
    }

    pub fn mime(&self) -> Mime {
        self.mime.unwrap_or(Mime::Html)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `%xx` encoding of one query component (everything but unreserved characters).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%xx` and `+` decoding of one query component.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse a query string (GET) or a form body (POST).
pub fn parse(query: &str) -> Result<StatusRequest, Refusal> {
    let mut r = StatusRequest::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        match k.as_str() {
            "cmd" => r.cmd = Some(lookup(&Cmd::ALL, &v, "cmd")?),
            "mime" => r.mime = Some(lookup(&Mime::ALL, &v, "mime")?),
            "w" => r.worker = Some(v),
            "sw" => r.sub_worker = Some(v),
            "att" => r.attribute = Some(v),
            "opt" => {
                r.opt = v
                    .parse()
                    .map_err(|_| refuse(400, format!("opt `{v}` is not a number")))?
            }
            "re" => {
                r.refresh = Some(
                    v.parse()
                        .map_err(|_| refuse(400, format!("re `{v}` is not a number of seconds")))?,
                )
            }
            "nonce" => r.nonce = Some(v),
            _ => r.params.push((k, v)),
        }
    }
    Ok(r)
}

fn lookup<T: Copy>(table: &[(&'static str, T)], v: &str, what: &str) -> Result<T, Refusal> {
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(v))
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let hint = closest(v, table.iter().map(|(n, _)| *n))
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            refuse(400, format!("unknown {what} `{v}`{hint}"))
        })
}

/// Who may do what on one status worker.
#[derive(Clone, Debug, Default)]
pub struct Access<'a> {
    pub read_only: bool,
    /// `user`: when not empty, only these remote users.
    pub users: &'a [String],
    pub user_case_insensitive: bool,
    /// `allow_get_updates`: accept state changes over GET without a nonce (old scripts).
    pub allow_get_updates: bool,
}

/// Decide whether `req` may run. `expected_nonce` is the nonce of the pages this worker hands
/// out; a state change needs POST with it.
pub fn authorize(
    req: &StatusRequest,
    method: &str,
    remote_user: Option<&str>,
    access: &Access<'_>,
    expected_nonce: &str,
) -> Result<(), Refusal> {
    if !access.users.is_empty() {
        let allowed = remote_user.is_some_and(|u| {
            access.users.iter().any(|x| {
                if access.user_case_insensitive {
                    x.eq_ignore_ascii_case(u)
                } else {
                    x == u
                }
            })
        });
        if !allowed {
            return Err(refuse(
                403,
                "access denied: this status worker only serves its configured users",
            ));
        }
    }
    let cmd = req.cmd();
    if !cmd.changes_state() || cmd == Cmd::Edit {
        if cmd == Cmd::Edit && access.read_only {
            return Err(refuse(403, "this status worker is read-only"));
        }
        return Ok(());
    }
    if access.read_only {
        return Err(refuse(403, "this status worker is read-only"));
    }
    if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        if access.allow_get_updates {
            return Ok(());
        }
        return Err(refuse(405, "state changes need POST from the status page (set allow_get_updates=true on the status worker for old scripts)"));
    }
    match &req.nonce {
        Some(n) if constant_time_eq(n.as_bytes(), expected_nonce.as_bytes()) => Ok(()),
        Some(_) => Err(refuse(
            403,
            "stale or foreign form: reload the status page and try again",
        )),
        None => Err(refuse(
            403,
            "missing form nonce: changes must come from the status page",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `sw` may use `*` and `?` for updates: the member names it selects, in order.
pub fn matching<'a>(pattern: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    names
        .into_iter()
        .filter(|n| crate::wildcard::matches(pattern, n))
        .collect()
}

/// A typed change from an `update`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Retries(i64),
    RetryInterval(i64),
    RecoverTime(i64),
    ErrorEscalationTime(i64),
    MaxReplyTimeouts(i64),
    StickySession(bool),
    StickySessionForce(bool),
    Method(Method),
    Lock(Lock),
    Activation(Activation),
    LbFactor(i64),
    Route(String),
    Redirect(String),
    Domain(String),
    Distance(i64),
    Host(String),
    Port(i64),
    ConnectionPoolTimeout(i64),
    PingTimeout(i64),
    ConnectTimeout(i64),
    PrepostTimeout(i64),
    ReplyTimeout(i64),
    MemberRetries(i64),
    MemberRetryInterval(i64),
    ConnectionPingInterval(i64),
    RecoveryOptions(i64),
    BusyLimit(i64),
    MaxPacketSize(i64),
}

/// The update parameters mod_jk knows, with the attribute names `att` uses.
pub const PARAMETERS: &[&str] = &[
    "vlr", "vlri", "vlt", "vlee", "vlx", "vls", "vlf", "vlm", "vll", "vwa", "vwf", "vwn", "vwr",
    "vwc", "vwd", "vahst", "vaprt", "vacpt", "vapng", "vact", "vapt", "vart", "var", "vari",
    "vacpi", "varo", "vabl", "vamps",
];

/// Parse one update parameter; values out of range are refused with what is allowed.
pub fn change(param: &str, value: &str) -> Result<Change, Refusal> {
    let int = |min: i64| -> Result<i64, Refusal> {
        match crate::config::value_int(value) {
            Ok(n) if n >= min => Ok(n),
            _ => Err(refuse(
                400,
                format!("{param}: `{value}` must be a whole number ≥ {min}"),
            )),
        }
    };
    let boolean =
        || crate::config::value_bool(value).map_err(|e| refuse(400, format!("{param}: {e}")));
    let text = |max: usize| {
        if value.len() > max {
            Err(refuse(
                400,
                format!("{param}: longer than {max} characters"),
            ))
        } else {
            Ok(value.to_owned())
        }
    };
    Ok(match param {
        "vlr" => Change::Retries(int(1)?),
        "vlri" => Change::RetryInterval(int(0)?),
        "vlt" => Change::RecoverTime(int(1)?),
        "vlee" => Change::ErrorEscalationTime(int(1)?),
        "vlx" => Change::MaxReplyTimeouts(int(0)?),
        "vls" => Change::StickySession(boolean()?),
        "vlf" => Change::StickySessionForce(boolean()?),
        "vlm" => {
            Change::Method(Method::parse(value).map_err(|e| refuse(400, format!("{param}: {e}")))?)
        }
        "vll" => {
            Change::Lock(Lock::parse(value).map_err(|e| refuse(400, format!("{param}: {e}")))?)
        }
        "vwa" => Change::Activation(
            Activation::parse(value).map_err(|e| refuse(400, format!("{param}: {e}")))?,
        ),
        "vwf" => Change::LbFactor(int(1)?),
        "vwn" => Change::Route(text(crate::config::MAX_SHM_STRING)?),
        "vwr" => Change::Redirect(text(crate::config::MAX_SHM_STRING)?),
        "vwc" => Change::Domain(text(crate::config::MAX_SHM_STRING)?),
        "vwd" => Change::Distance(int(0)?),
        "vahst" => Change::Host(text(crate::config::MAX_SHM_STRING)?),
        "vaprt" => Change::Port(int(0)?.min(65535)),
        "vacpt" => Change::ConnectionPoolTimeout(int(0)?),
        "vapng" => Change::PingTimeout(int(0)?),
        "vact" => Change::ConnectTimeout(int(0)?),
        "vapt" => Change::PrepostTimeout(int(0)?),
        "vart" => Change::ReplyTimeout(int(0)?),
        "var" => Change::MemberRetries(int(1)?),
        "vari" => Change::MemberRetryInterval(int(0)?),
        "vacpi" => Change::ConnectionPingInterval(int(0)?),
        "varo" => Change::RecoveryOptions(int(0)?),
        "vabl" => Change::BusyLimit(int(0)?),
        "vamps" => Change::MaxPacketSize(int(8192)?.min(65536)),
        other => {
            let hint = closest(other, PARAMETERS.iter().copied())
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            return Err(refuse(
                400,
                format!("unknown update parameter `{other}`{hint}"),
            ));
        }
    })
}

/// Every change an `update` request carries: the `v…` parameters, or with `att=<param>` the
/// values `val0`, `val1`… for the members in order.
pub fn changes(req: &StatusRequest) -> Result<Vec<(Option<usize>, Change)>, Refusal> {
    if let Some(att) = &req.attribute {
        let mut out = Vec::new();
        for (k, v) in &req.params {
            if let Some(n) = k.strip_prefix("val").and_then(|n| n.parse::<usize>().ok()) {
                out.push((Some(n), change(att, v)?));
            }
        }
        return Ok(out);
    }
    req.params
        .iter()
        .filter(|(k, _)| k.starts_with('v'))
        .map(|(k, v)| Ok((None, change(k, v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mod_jk_queries() {
        let r = parse("cmd=update&mime=txt&w=lb&sw=node%2A&vwa=D&vwf=3&opt=256").unwrap();
        assert_eq!((r.cmd(), r.mime()), (Cmd::Update, Mime::Txt));
        assert_eq!(r.sub_worker.as_deref(), Some("node*"));
        assert_eq!(r.opt, 256);
        assert_eq!(
            changes(&r).unwrap(),
            vec![
                (None, Change::Activation(Activation::Disabled)),
                (None, Change::LbFactor(3))
            ]
        );
        assert_eq!(parse("").unwrap().cmd(), Cmd::List);
        assert_eq!(
            parse("cmd=lst").unwrap_err(),
            Refusal {
                status: 400,
                message: "unknown cmd `lst` (did you mean `list`?)".into()
            }
        );
    }

    #[test]
    fn attribute_updates_take_values_per_member() {
        let r = parse("cmd=update&w=lb&att=vwf&val0=1&val1=4").unwrap();
        assert_eq!(
            changes(&r).unwrap(),
            vec![
                (Some(0), Change::LbFactor(1)),
                (Some(1), Change::LbFactor(4))
            ]
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_rule() {
        assert_eq!(
            change("vwf", "0").unwrap_err().message,
            "vwf: `0` must be a whole number ≥ 1"
        );
        assert!(change("vwa", "X")
            .unwrap_err()
            .message
            .contains("not an activation"));
        assert_eq!(
            change("vwq", "1").unwrap_err().message,
            "unknown update parameter `vwq` (did you mean `vwa`?)"
        );
    }

    #[test]
    fn changes_need_post_with_the_nonce() {
        let upd = parse("cmd=update&w=lb&sw=n1&vwa=S&nonce=abc").unwrap();
        let list = parse("cmd=list").unwrap();
        let rw = Access::default();
        assert_eq!(authorize(&list, "GET", None, &rw, "abc"), Ok(()));
        assert_eq!(authorize(&upd, "POST", None, &rw, "abc"), Ok(()));
        assert_eq!(
            authorize(&upd, "GET", None, &rw, "abc").unwrap_err().status,
            405
        );
        assert_eq!(
            authorize(&upd, "POST", None, &rw, "other")
                .unwrap_err()
                .status,
            403
        );
        let no_nonce = parse("cmd=update&w=lb&sw=n1&vwa=S").unwrap();
        assert_eq!(
            authorize(&no_nonce, "POST", None, &rw, "abc")
                .unwrap_err()
                .status,
            403
        );
        let old = Access {
            allow_get_updates: true,
            ..Access::default()
        };
        assert_eq!(authorize(&no_nonce, "GET", None, &old, "abc"), Ok(()));
        let ro = Access {
            read_only: true,
            ..Access::default()
        };
        assert_eq!(
            authorize(&upd, "POST", None, &ro, "abc")
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(authorize(&list, "GET", None, &ro, "abc"), Ok(()));
    }

    #[test]
    fn user_lists_are_enforced() {
        let users = vec!["Admin".to_owned()];
        let list = parse("").unwrap();
        let a = Access {
            users: &users,
            ..Access::default()
        };
        assert_eq!(authorize(&list, "GET", Some("Admin"), &a, "n"), Ok(()));
        assert_eq!(
            authorize(&list, "GET", Some("admin"), &a, "n")
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            authorize(&list, "GET", None, &a, "n").unwrap_err().status,
            403
        );
        let ci = Access {
            users: &users,
            user_case_insensitive: true,
            ..Access::default()
        };
        assert_eq!(authorize(&list, "GET", Some("admin"), &ci, "n"), Ok(()));
    }

    #[test]
    fn wildcards_select_members() {
        let names = ["node1", "node2", "other", "n"];
        assert_eq!(matching("node*", names), vec!["node1", "node2"]);
        assert_eq!(matching("?ode?", names), vec!["node1", "node2"]);
        assert_eq!(matching("*", names).len(), 4);
        assert_eq!(matching("n", names), vec!["n"]);
    }

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(percent_decode("%zz%"), "%zz%");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
    }
}
