//! What the balancer needs to know about an lb worker and its members, with mod_jk's defaults
//! (mod_jk: its ajp13 worker defaults; its lb defaults). The configuration owner converts `workers.properties` into these;
//! tests build them directly.

use crate::config::{Activation, Lock, Method};

/// One lb worker. `Default` is mod_jk's defaults with no members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbSpec {
    pub name: String,
    pub sticky_session: bool,
    pub sticky_session_force: bool,
    pub method: Method,
    pub lock: Lock,
    /// Full rounds over the members (default 2, at least 1).
    pub retries: u32,
    /// Members tried per round (default 2, at least 1).
    pub lb_retries: u32,
    /// Pause between rounds, ms (default 100).
    pub retry_interval_ms: u32,
    /// Seconds in ERROR before RECOVER (default 60, at least 1).
    pub recover_time: u32,
    /// Seconds before a local error becomes global (default recover_time / 2).
    pub error_escalation_time: u32,
    /// Reply timeouts tolerated (decayed) before a timeout puts the member in ERROR.
    pub max_reply_timeouts: u32,
    /// `worker.maintain`: seconds between global maintenance runs (default 60; 0 = never).
    pub maintain_interval: u32,
    /// `session_cookie` (default `JSESSIONID`), named in `set_session_cookie`'s header.
    pub session_cookie: String,
    /// `session_cookie_path` (mod_jk's code default `/`; empty = no PATH).
    pub session_cookie_path: String,
    pub set_session_cookie: bool,
}

impl Default for LbSpec {
    fn default() -> Self {
        LbSpec {
            name: String::new(),
            sticky_session: true,
            sticky_session_force: false,
            method: Method::Request,
            lock: Lock::Optimistic,
            retries: 2,
            lb_retries: 2,
            retry_interval_ms: 100,
            recover_time: 60,
            error_escalation_time: 30,
            max_reply_timeouts: 0,
            maintain_interval: 60,
            session_cookie: "JSESSIONID".to_owned(),
            session_cookie_path: "/".to_owned(),
            set_session_cookie: false,
        }
    }
}

impl LbSpec {
    /// mod_jk's defaults for an lb named `name`.
    pub fn named(name: &str) -> LbSpec {
        LbSpec {
            name: name.to_owned(),
            ..LbSpec::default()
        }
    }

    /// The values mod_jk enforces whatever the configuration says (minimums).
    pub(crate) fn clamped(&self) -> LbSpec {
        LbSpec {
            retries: self.retries.max(1),
            lb_retries: self.lb_retries.max(1),
            recover_time: self.recover_time.max(1),
            ..self.clone()
        }
    }

    /// The `Set-Cookie` value `set_session_cookie` adds to a non-sticky response routed to a
    /// member with `route`: `<cookie>=.<route>[;PATH=<path>];HttpOnly[;Secure]`.
    pub fn session_cookie_value(&self, route: &str, secure: bool) -> String {
        let mut v = format!("{}=.{}", self.session_cookie, route);
        if !self.session_cookie_path.is_empty() {
            v.push_str(";PATH=");
            v.push_str(&self.session_cookie_path);
        }
        v.push_str(";HttpOnly");
        if secure {
            v.push_str(";Secure");
        }
        v
    }
}

/// One member's balancing settings. `Default` is mod_jk's defaults with an empty name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSpec {
    pub name: String,
    /// `route` (default: the name). Must match the backend's jvmRoute.
    pub route: String,
    /// `domain` (default: the route's part before its first `.`, if it has one).
    pub domain: String,
    /// `redirect`: route of the preferred failover member.
    pub redirect: String,
    /// `lbfactor` (default 1, at least 1).
    pub lbfactor: u32,
    pub distance: u32,
    pub activation: Activation,
    /// The ajp worker's `busy_limit` (0 = none): a BUSY member ends its busy state at request
    /// start only while fewer requests than this are under way on it.
    pub busy_limit: u32,
}

impl Default for MemberSpec {
    fn default() -> Self {
        MemberSpec {
            name: String::new(),
            route: String::new(),
            domain: String::new(),
            redirect: String::new(),
            lbfactor: 1,
            distance: 0,
            activation: Activation::Active,
            busy_limit: 0,
        }
    }
}

impl MemberSpec {
    /// mod_jk's defaults for a member named `name` (route = name, domain derived from it).
    pub fn named(name: &str) -> MemberSpec {
        MemberSpec {
            name: name.to_owned(),
            route: name.to_owned(),
            domain: default_domain(name).to_owned(),
            ..MemberSpec::default()
        }
    }

    /// Set the route, and the default domain derived from it.
    pub fn route(mut self, route: &str) -> MemberSpec {
        self.route = route.to_owned();
        self.domain = default_domain(route).to_owned();
        self
    }

    pub fn domain(mut self, domain: &str) -> MemberSpec {
        self.domain = domain.to_owned();
        self
    }

    pub fn redirect(mut self, redirect: &str) -> MemberSpec {
        self.redirect = redirect.to_owned();
        self
    }

    pub fn lbfactor(mut self, f: u32) -> MemberSpec {
        self.lbfactor = f;
        self
    }

    pub fn distance(mut self, d: u32) -> MemberSpec {
        self.distance = d;
        self
    }

    pub fn activation(mut self, a: Activation) -> MemberSpec {
        self.activation = a;
        self
    }
}

/// mod_jk: a route containing `.` has the part before it as its default domain.
pub fn default_domain(route: &str) -> &str {
    route.split_once('.').map_or("", |(d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_mod_jk_defaults() {
        let lb = LbSpec::named("lb");
        assert!(lb.sticky_session && !lb.sticky_session_force);
        assert_eq!(
            (lb.retries, lb.lb_retries, lb.retry_interval_ms),
            (2, 2, 100)
        );
        assert_eq!((lb.recover_time, lb.error_escalation_time), (60, 30));
        let m = MemberSpec::named("tc1.a");
        assert_eq!(
            (m.route.as_str(), m.domain.as_str(), m.lbfactor),
            ("tc1.a", "tc1", 1)
        );
        assert_eq!(MemberSpec::named("tc1").domain, "");
    }

    #[test]
    fn session_cookie_value_as_mod_jk() {
        let lb = LbSpec::named("lb");
        assert_eq!(
            lb.session_cookie_value("tc1", false),
            "JSESSIONID=.tc1;PATH=/;HttpOnly"
        );
        let lb = LbSpec {
            session_cookie_path: String::new(),
            ..lb
        };
        assert_eq!(
            lb.session_cookie_value("tc1", true),
            "JSESSIONID=.tc1;HttpOnly;Secure"
        );
    }

    #[test]
    fn minimums_are_enforced() {
        let lb = LbSpec {
            retries: 0,
            lb_retries: 0,
            recover_time: 0,
            ..LbSpec::default()
        };
        let c = lb.clamped();
        assert_eq!((c.retries, c.lb_retries, c.recover_time), (1, 1, 1));
    }
}
