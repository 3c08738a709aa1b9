//! An `ajp13` worker: where the backend is, how connections to it behave, and (when it is an lb
//! member) its balancing settings. Defaults and clamping follow mod_jk (`ajp_validate`,
//! `ajp_init`, `jk_lb_worker.c` `validate`).

use super::read::Props;
use super::setting::{row, Origin, Row, Setting};
use super::value::{self, Activation, PingMode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AjpWorker {
    pub host: Setting<String>,
    pub port: Setting<i64>,
    pub source: Setting<String>,
    pub prefer_ipv6: Setting<bool>,
    /// Seconds.
    pub socket_timeout: Setting<i64>,
    /// Milliseconds (a real TCP connect timeout).
    pub socket_connect_timeout: Setting<i64>,
    pub socket_keepalive: Setting<bool>,
    pub socket_buffer: Setting<i64>,
    pub ping_mode: Setting<PingMode>,
    /// Milliseconds.
    pub ping_timeout: Setting<i64>,
    /// Milliseconds: CPong wait after a new connection.
    pub connect_timeout: Setting<i64>,
    /// Milliseconds: CPong wait before each request.
    pub prepost_timeout: Setting<i64>,
    /// Seconds.
    pub connection_ping_interval: Setting<i64>,
    /// `None`: the web server's threads per process (ThreadsPerChild), known only at runtime.
    pub connection_pool_size: Setting<Option<i64>>,
    pub connection_pool_minsize: Setting<Option<i64>>,
    /// Seconds.
    pub connection_pool_timeout: Setting<i64>,
    /// Milliseconds.
    pub connection_acquire_timeout: Setting<i64>,
    /// Milliseconds.
    pub reply_timeout: Setting<i64>,
    pub retries: Setting<i64>,
    /// Milliseconds.
    pub retry_interval: Setting<i64>,
    pub recovery_options: Setting<i64>,
    pub fail_on_status: Setting<Vec<i64>>,
    pub busy_limit: Setting<i64>,
    pub max_packet_size: Setting<i64>,
    pub secret: Setting<Option<String>>,
    pub lbfactor: Setting<i64>,
    pub route: Setting<String>,
    pub domain: Setting<String>,
    pub redirect: Setting<String>,
    pub distance: Setting<i64>,
    pub activation: Setting<Activation>,
}

impl AjpWorker {
    pub fn read(p: &mut Props<'_>, name: &str) -> AjpWorker {
        let host = p.string("host", "localhost");
        p.short_string("host", &host);
        let mut port = p.int("port", 8009);
        if !(0..=65535).contains(&port.value) {
            let at = port.origin.location().cloned();
            p.error(
                at.as_ref(),
                format!("port {} is not a TCP port (0..65535)", port.value),
            );
            port = Setting::default(8009);
        }
        let socket_timeout = p.int("socket_timeout", 0);
        let socket_connect_timeout = p.int_or(
            "socket_connect_timeout",
            Setting::derived(socket_timeout.value * 1000, "socket_timeout × 1000"),
        );
        let ping_mode = p.parsed(
            "ping_mode",
            Setting::default(PingMode::default()),
            PingMode::parse,
        );
        let ping_timeout = p.int("ping_timeout", 10000);
        let pm = ping_mode.value;
        let by_mode = |on: bool, v: i64, why: &str| {
            if on {
                Setting::derived(v, why.to_owned())
            } else {
                Setting::default(0)
            }
        };
        let connect_timeout = p.int_or(
            "connect_timeout",
            by_mode(pm.connect, ping_timeout.value, "ping_mode C: ping_timeout"),
        );
        let prepost_timeout = p.int_or(
            "prepost_timeout",
            by_mode(pm.prepost, ping_timeout.value, "ping_mode P: ping_timeout"),
        );
        let connection_ping_interval = p.int_or(
            "connection_ping_interval",
            by_mode(
                pm.interval,
                ping_timeout.value / 100,
                "ping_mode I: ping_timeout / 100",
            ),
        );

        let size = p.parsed(
            "connection_pool_size",
            Setting::derived(None, "threads per web server process"),
            |s| value::int(s).map(Some),
        );
        let min_default = match size.value {
            Some(n) => Setting::derived(Some((n + 1) / 2), "(connection_pool_size + 1) / 2"),
            None => Setting::derived(None, "(connection_pool_size + 1) / 2"),
        };
        let connection_pool_minsize = p.parsed("connection_pool_minsize", min_default, |s| {
            value::int(s).map(Some)
        });

        let mut retries = p.int("retries", 2);
        p.at_least("retries", &mut retries, 1);
        let retry_interval = p.int("retry_interval", 100);
        let connection_acquire_timeout = p.int_or(
            "connection_acquire_timeout",
            Setting::derived(
                retries.value * retry_interval.value,
                "retries × retry_interval",
            ),
        );
        if connection_acquire_timeout.value <= 0 {
            let at = connection_acquire_timeout.origin.location().cloned();
            p.error(at.as_ref(), "connection_acquire_timeout is 0: no request could ever get a connection (set retry_interval > 0)".into());
        }

        let fail_on_status = p.parsed(
            "fail_on_status",
            Setting::default(Vec::new()),
            parse_statuses,
        );
        let mut max_packet_size = p.int("max_packet_size", 8192);
        clamp_packet_size(p, &mut max_packet_size);
        let mut socket_buffer = p.int("socket_buffer", 0);
        if socket_buffer.value > 0 && socket_buffer.value < max_packet_size.value {
            socket_buffer.value = max_packet_size.value;
            socket_buffer.origin = Origin::Derived("raised to max_packet_size".into());
        }

        let mut lbfactor = p.int("lbfactor", 1);
        p.at_least("lbfactor", &mut lbfactor, 1);
        let route = p.string("route", name);
        p.short_string("route", &route);
        let domain = match (p.is_set("domain"), route.value.split_once('.')) {
            (false, Some((d, _))) => {
                Setting::derived(d.to_owned(), format!("from route `{}`", route.value))
            }
            _ => p.string("domain", ""),
        };
        p.short_string("domain", &domain);
        let redirect = p.string("redirect", "");
        p.short_string("redirect", &redirect);
        let activation = read_activation(p);

        AjpWorker {
            host,
            port,
            source: p.string("source", ""),
            prefer_ipv6: p.boolean("prefer_ipv6", false),
            socket_timeout,
            socket_connect_timeout,
            socket_keepalive: p.boolean("socket_keepalive", false),
            socket_buffer,
            ping_mode,
            ping_timeout,
            connect_timeout,
            prepost_timeout,
            connection_ping_interval,
            connection_pool_size: size,
            connection_pool_minsize,
            connection_pool_timeout: p.int("connection_pool_timeout", 0),
            connection_acquire_timeout,
            reply_timeout: p.int("reply_timeout", 0),
            retries,
            retry_interval,
            recovery_options: recovery_options(p),
            fail_on_status,
            busy_limit: p.int("busy_limit", 0),
            max_packet_size,
            secret: p.opt_string("secret"),
            lbfactor,
            route,
            domain,
            redirect,
            distance: p.int("distance", 0),
            activation,
        }
    }

    /// Every property with its effective value, in mod_jk's status-page order.
    pub fn rows(&self) -> Vec<Row<'_>> {
        let opt = |v: &Option<i64>| v.map_or("threads per process".to_owned(), |n| n.to_string());
        vec![
            row("host", &self.host),
            row("port", &self.port),
            row("source", &self.source),
            row("prefer_ipv6", &self.prefer_ipv6),
            row("socket_timeout", &self.socket_timeout),
            row("socket_connect_timeout", &self.socket_connect_timeout),
            row("socket_keepalive", &self.socket_keepalive),
            row("socket_buffer", &self.socket_buffer),
            Row {
                name: "ping_mode",
                value: self.ping_mode.value.letters(),
                origin: &self.ping_mode.origin,
            },
            row("ping_timeout", &self.ping_timeout),
            row("connect_timeout", &self.connect_timeout),
            row("prepost_timeout", &self.prepost_timeout),
            row("connection_ping_interval", &self.connection_ping_interval),
            Row {
                name: "connection_pool_size",
                value: opt(&self.connection_pool_size.value),
                origin: &self.connection_pool_size.origin,
            },
            Row {
                name: "connection_pool_minsize",
                value: opt(&self.connection_pool_minsize.value),
                origin: &self.connection_pool_minsize.origin,
            },
            row("connection_pool_timeout", &self.connection_pool_timeout),
            row(
                "connection_acquire_timeout",
                &self.connection_acquire_timeout,
            ),
            row("reply_timeout", &self.reply_timeout),
            row("retries", &self.retries),
            row("retry_interval", &self.retry_interval),
            row("recovery_options", &self.recovery_options),
            Row {
                name: "fail_on_status",
                value: self
                    .fail_on_status
                    .value
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                origin: &self.fail_on_status.origin,
            },
            row("busy_limit", &self.busy_limit),
            row("max_packet_size", &self.max_packet_size),
            Row {
                name: "secret",
                value: if self.secret.value.is_some() {
                    "(set)".into()
                } else {
                    String::new()
                },
                origin: &self.secret.origin,
            },
            row("lbfactor", &self.lbfactor),
            row("route", &self.route),
            row("domain", &self.domain),
            row("redirect", &self.redirect),
            row("distance", &self.distance),
            Row {
                name: "activation",
                value: self.activation.value.name().into(),
                origin: &self.activation.origin,
            },
        ]
    }
}

/// `activation`, else the deprecated `stopped=true` / `disabled=true` booleans.
fn read_activation(p: &mut Props<'_>) -> Setting<Activation> {
    if p.is_set("activation") {
        return p.parsed(
            "activation",
            Setting::default(Activation::Active),
            Activation::parse,
        );
    }
    for (attr, act) in [
        ("stopped", Activation::Stopped),
        ("disabled", Activation::Disabled),
    ] {
        if let Some(prop) = p.raw(attr).cloned() {
            match value::boolean(&prop.value) {
                Ok(true) => {
                    p.warn(
                        Some(&prop.at),
                        format!("`{attr}` is deprecated: write `activation={}`", act.name()),
                    );
                    return Setting {
                        value: act,
                        origin: Origin::Deprecated {
                            name: if attr == "stopped" {
                                "stopped"
                            } else {
                                "disabled"
                            },
                            at: prop.at,
                        },
                    };
                }
                Ok(false) => {}
                Err(e) => p.error(Some(&prop.at), format!("{attr}: {e}")),
            }
        }
    }
    Setting::default(Activation::Active)
}

/// `recovery_options`, with what mod_jk's bits do not say: bits above 16 mean nothing to it,
/// and with 8 (HEAD) set, 16 (GET) is never looked at (both decide the same way).
fn recovery_options(p: &mut Props<'_>) -> Setting<i64> {
    let s = p.int("recovery_options", 0);
    let at = s.origin.location().cloned();
    let unknown = s.value & !31;
    if unknown != 0 {
        p.warn(
            at.as_ref(),
            format!(
                "recovery_options {}: bits {unknown} mean nothing (mod_jk knows 1, 2, 4, 8, 16)",
                s.value
            ),
        );
    }
    if s.value & 1 != 0 && s.value & 24 == 24 {
        p.warn(
            at.as_ref(),
            format!(
                "recovery_options {}: with 8 set, 16 is ignored (as in mod_jk): a GET the backend received is not resent",
                s.value
            ),
        );
    }
    s
}

/// Rounded up to a multiple of 1024 and clamped to 8192..=65536, as mod_jk does; a changed
/// value is reported since it must match Tomcat's `packetSize`.
fn clamp_packet_size(p: &mut Props<'_>, s: &mut Setting<i64>) {
    let asked = s.value;
    let v = ((asked.max(0) + 1023) / 1024 * 1024).clamp(8192, 65536);
    if v != asked {
        let at = s.origin.location().cloned();
        p.warn(at.as_ref(), format!("max_packet_size {asked} adjusted to {v} (a multiple of 1024 in 8192..65536); set Tomcat's packetSize to match"));
        s.value = v;
    }
}

/// `fail_on_status=500,503,-404`: HTTP statuses, negative ones fail over without marking the
/// member in error.
fn parse_statuses(s: &str) -> Result<Vec<i64>, String> {
    value::list(s)
        .into_iter()
        .map(|item| match value::int(item) {
            Ok(n) if (100..=599).contains(&n.abs()) => Ok(n),
            _ => Err(format!(
                "`{item}` is not an HTTP status (100..599, negative to keep the member usable)"
            )),
        })
        .collect()
}
