//! One request to a status worker, answered: parse it, check it may run, apply a change or
//! render the page. Adapters read the request (query string, form body, remote user), call
//! [`respond`], log [`Reply::change`] and write the reply; they decide nothing.

use super::action::{self, Access, Change, Cmd, Mime, Refusal, StatusRequest};
use super::{
    edit, from_config, html, json, persist, prometheus, prop, txt, xml, Page, Show, View, Xml,
};
use crate::balancer::{Balancer, ConnChange, LbChange, MemberChange};
use crate::config::{StatusWorker, Workers};
use crate::mount::MountTable;

/// What the page shows and acts on.
pub struct Context<'a> {
    pub workers: &'a Workers,
    /// The mapping rules of the server the page is served for.
    pub table: &'a MountTable,
    /// The running balancers, by lb worker name.
    pub balancers: &'a [(&'a str, &'a Balancer)],
    /// The stand-alone ajp13 workers, by name (their connection settings may change too).
    pub ajp13: &'a [(&'a str, &'a crate::forward::Worker)],
    /// The form nonce of this configuration's pages.
    pub nonce: &'a str,
    pub server_name: &'a str,
    pub server_port: u16,
    pub web_server: &'a str,
    /// The status worker's own URI (forms post back to it).
    pub uri: &'a str,
    /// The loaded properties, secrets removed (`cmd=dump`).
    pub dump: &'a [(String, String)],
    /// Unix seconds.
    pub now: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// For a 303 back to the page after an HTML form's change.
    pub location: Option<String>,
    /// The change made, for the error log / JkLogFile ("who from where: what").
    pub change: Option<String>,
    /// A change was made but `persist_file` could not be written.
    pub persist_error: Option<String>,
}

impl Reply {
    /// A plain-text answer.
    pub fn text(status: u16, body: String) -> Reply {
        text(status, body)
    }
}

fn text(status: u16, body: String) -> Reply {
    Reply {
        status,
        content_type: "text/plain; charset=utf-8",
        body,
        location: None,
        change: None,
        persist_error: None,
    }
}

/// Answer `method` with `params` (query string, plus the form body of a POST) from `user`.
pub fn respond(
    ctx: &Context<'_>,
    s: &StatusWorker,
    method: &str,
    params: &str,
    user: Option<&str>,
) -> Reply {
    let parsed = match action::parse(params) {
        Ok(p) => p,
        Err(e) => return text(e.status, format!("{}\n", e.message)),
    };
    let access = Access {
        read_only: s.read_only.value,
        users: &s.user.value,
        user_case_insensitive: s.user_case_insensitive.value,
        allow_get_updates: s.allow_get_updates.value,
    };
    if let Err(e) = action::authorize(&parsed, method, user, &access, ctx.nonce) {
        return text(e.status, format!("{}\n", e.message));
    }
    match parsed.cmd() {
        Cmd::List | Cmd::Show | Cmd::Edit => render(ctx, s, &parsed),
        Cmd::Version => text(
            200,
            format!(
                "Server: {}\nJK Version: {}\n",
                ctx.web_server,
                super::VERSION
            ),
        ),
        Cmd::Dump => text(
            200,
            ctx.dump.iter().map(|(k, v)| format!("{k}={v}\n")).collect(),
        ),
        Cmd::Update | Cmd::Reset | Cmd::Recover => match apply(ctx, &parsed) {
            Err(e) => text(e.status, format!("{}\n", e.message)),
            Ok(done) => {
                let persist_error = s.persist_file.value.as_ref().and_then(|path| {
                    let lbs = ctx.balancers.iter().map(|(n, b)| (*n, *b));
                    persist::save(
                        std::path::Path::new(path),
                        &persist::render(lbs, ctx.ajp13, ctx.now),
                    )
                    .err()
                    .map(|e| format!("{path}: {e}"))
                });
                let mut reply = if parsed.mime() == Mime::Html {
                    // Back to the page the form was on (POST-redirect-GET).
                    Reply {
                        location: Some(ctx.uri.to_owned()),
                        ..text(303, String::new())
                    }
                } else {
                    text(200, format!("OK: {done}\n"))
                };
                reply.change = Some(done);
                reply.persist_error = persist_error;
                reply
            }
        },
    }
}

fn render(ctx: &Context<'_>, s: &StatusWorker, p: &StatusRequest) -> Reply {
    let mut snap = from_config(ctx.workers, ctx.table, ctx.now);
    // The balancer's own overlay: counters and the settings the status worker may have changed.
    for (name, b) in ctx.balancers {
        if let Some(view) = snap.balancers.iter_mut().find(|v| v.name == *name) {
            b.overlay(view, ctx.now);
        }
    }
    // A stand-alone ajp13 worker's connection settings as this process uses them now.
    for (name, w) in ctx.ajp13 {
        if let Some(m) = snap.ajp_workers.iter_mut().find(|m| m.name == *name) {
            let c = crate::pool::ConnSettings::of(w.members()[0].spec());
            super::connection_over(m, &c);
        }
    }
    snap.server_name = ctx.server_name.to_owned();
    snap.server_port = ctx.server_port;
    snap.web_server = ctx.web_server.to_owned();
    if let (Cmd::Show, Some(w)) = (p.cmd(), &p.worker) {
        snap.balancers.retain(|b| &b.name == w);
        snap.ajp_workers.retain(|m| &m.name == w);
    }
    let show = Show::from_bits_retain(p.opt);
    show.filter(&mut snap);
    let view = View {
        prefix: &s.prefix.value,
        good: &s.good.value,
        bad: &s.bad.value,
    };
    let mime = p.mime();
    let page = Page {
        uri: ctx.uri,
        read_only: s.read_only.value || show.contains(Show::READ_ONLY),
        nonce: ctx.nonce,
        refresh: p.refresh.unwrap_or(0),
        css: s.css.value.as_deref(),
        show,
    };
    if let (Cmd::Edit, Mime::Html) = (p.cmd(), mime) {
        let lb = p.worker.as_deref().unwrap_or_default();
        return match edit(&snap, &page, lb, p.sub_worker.as_deref()) {
            Some(body) => Reply {
                content_type: mime.content_type(),
                ..text(200, body)
            },
            None => text(
                404,
                format!("nothing to edit: `{lb}` (w=) must be a balancer of this server and sw= one of its members\n"),
            ),
        };
    }
    let body = match mime {
        Mime::Html => html(&snap, &view, &page),
        Mime::Xml => xml(
            &snap,
            &view,
            Xml {
                ns: &s.ns.value,
                xmlns: &s.xmlns.value,
            },
        ),
        Mime::Txt => txt(&snap, &view),
        Mime::Prop => prop(&snap, &view),
        Mime::Json => json(&snap, &view),
        Mime::Prometheus => prometheus(&snap, &view),
    };
    Reply {
        content_type: mime.content_type(),
        ..text(200, body)
    }
}

fn refuse(status: u16, message: String) -> Refusal {
    Refusal { status, message }
}

/// Apply an update/reset/recover to the balancer named by `w` (members by `sw`, wildcards
/// allowed). Every process sees it through the shared table.
fn apply(ctx: &Context<'_>, p: &StatusRequest) -> Result<String, Refusal> {
    let name = p
        .worker
        .as_deref()
        .ok_or_else(|| refuse(400, "which worker? (w=...)".into()))?;
    let Some(lb) = ctx
        .balancers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
    else {
        return match ctx.ajp13.iter().find(|(n, _)| *n == name) {
            Some((_, w)) => apply_ajp13(ctx, p, name, w),
            None => Err(refuse(
                400,
                format!("`{name}` is not a load balancer or ajp13 worker of this server"),
            )),
        };
    };
    let names: Vec<String> = lb
        .stats(ctx.now)
        .members
        .into_iter()
        .map(|m| m.name)
        .collect();
    let members: Vec<usize> = match &p.sub_worker {
        Some(sw) => {
            let hit = action::matching(sw, names.iter().map(String::as_str));
            if hit.is_empty() {
                return Err(refuse(400, format!("no member of `{name}` matches `{sw}`")));
            }
            hit.iter().filter_map(|n| lb.member_index(n)).collect()
        }
        None => Vec::new(),
    };
    let target = format!(
        "{name}{}",
        p.sub_worker
            .as_ref()
            .map(|s| format!("/{s}"))
            .unwrap_or_default()
    );
    match p.cmd() {
        Cmd::Reset => {
            if members.is_empty() {
                lb.reset(None, ctx.now);
            }
            for &m in &members {
                lb.reset(Some(m), ctx.now);
            }
            Ok(format!("reset {target}"))
        }
        Cmd::Recover => {
            for &m in &members {
                lb.recover_now(m);
            }
            Ok(format!("recover {target}"))
        }
        _ => {
            let changes = action::changes(p)?;
            if changes.is_empty() {
                return Err(refuse(
                    400,
                    "nothing to change: give a v... parameter".into(),
                ));
            }
            // Check every change first, so a refused one leaves nothing half applied.
            let mut plan = Vec::new();
            for (index, c) in changes {
                let targets: Vec<usize> = match index {
                    Some(i) => names
                        .get(i)
                        .and_then(|n| lb.member_index(n))
                        .into_iter()
                        .collect(),
                    None => members.clone(),
                };
                let what = format!("{c:?}");
                let step = if let Some(lc) = lb_change(&c) {
                    Step::Lb(lc)
                } else if let Some(mc) = member_change(&c) {
                    Step::Member(mc)
                } else if let Some(cc) = conn_change(&c) {
                    Step::Conn(cc?)
                } else {
                    return Err(refuse(501, format!("{what}: not supported at runtime")));
                };
                if !matches!(step, Step::Lb(_)) && targets.is_empty() {
                    return Err(refuse(400, format!("{what} needs a member (sw=...)")));
                }
                plan.push((what, targets, step));
            }
            let mut done = Vec::new();
            for (what, targets, step) in plan {
                match step {
                    Step::Lb(lc) => lb.change_lb(lc),
                    Step::Member(mc) => {
                        for &m in &targets {
                            lb.change(m, mc.clone())
                                .map_err(|e| refuse(400, e.to_string()))?;
                        }
                    }
                    Step::Conn(cc) => {
                        for &m in &targets {
                            lb.change_connection(m, cc.clone())
                                .map_err(|e| refuse(409, e.to_string()))?;
                            // mod_jk keeps one record per ajp worker: a member of several
                            // balancers (or also a stand-alone worker) has the same connection
                            // settings in each.
                            let member = &names[m];
                            if let Some((_, w)) = ctx.ajp13.iter().find(|(n, _)| n == member) {
                                // Unshared (a table with no room for it): this process only.
                                let _ = w.members()[0].change_connection(cc.clone());
                            }
                            for (other, b) in ctx.balancers {
                                if *other == name {
                                    continue;
                                }
                                if let Some(i) = b.member_index(member) {
                                    b.change_connection(i, cc.clone())
                                        .map_err(|e| refuse(409, e.to_string()))?;
                                }
                            }
                        }
                    }
                }
                done.push(what);
            }
            Ok(format!("{target}: {}", done.join(", ")))
        }
    }
}

/// `w=<ajp13 worker>`: its connection settings (mod_jk's edit page of an ajp worker), and the
/// same member of every balancer, one record per ajp worker as in mod_jk.
fn apply_ajp13(
    ctx: &Context<'_>,
    p: &StatusRequest,
    name: &str,
    w: &crate::forward::Worker,
) -> Result<String, Refusal> {
    if !matches!(p.cmd(), Cmd::Update) {
        return Err(refuse(
            400,
            format!(
                "`{name}` is an ajp13 worker: only its connection settings can change (cmd=update)"
            ),
        ));
    }
    let mut plan = Vec::new();
    for (_, c) in action::changes(p)? {
        let what = format!("{c:?}");
        match conn_change(&c) {
            Some(cc) => plan.push((what, cc?)),
            None => {
                return Err(refuse(
                    400,
                    format!("{what}: not a connection setting of ajp13 worker `{name}`"),
                ))
            }
        }
    }
    if plan.is_empty() {
        return Err(refuse(
            400,
            "nothing to change: give a v... parameter".into(),
        ));
    }
    let mut done = Vec::new();
    for (what, cc) in plan {
        w.members()[0]
            .change_connection(cc.clone())
            .map_err(|e| refuse(409, format!("ajp13 worker `{name}`: {e}")))?;
        for (_, b) in ctx.balancers {
            if let Some(i) = b.member_index(name) {
                b.change_connection(i, cc.clone())
                    .map_err(|e| refuse(409, e.to_string()))?;
            }
        }
        done.push(what);
    }
    Ok(format!("{name}: {}", done.join(", ")))
}

/// One checked change of an update.
enum Step {
    Lb(LbChange),
    Member(MemberChange),
    Conn(ConnChange),
}

/// A connection setting (`va…`), validated: a port in 1..=65535, a host that resolves here.
fn conn_change(c: &Change) -> Option<Result<ConnChange, Refusal>> {
    let u = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    Some(Ok(match c {
        Change::Host(h) => {
            let checked = if h.is_empty() {
                Err(refuse(400, "vahst: the host must not be empty".into()))
            } else {
                crate::pool::resolve(h, 0, false)
                    .map(|_| ConnChange::Host(h.clone()))
                    .map_err(|e| refuse(400, format!("vahst: {e}; nothing was changed")))
            };
            return Some(checked);
        }
        Change::Port(p) => match u16::try_from(*p) {
            Ok(p) if p > 0 => ConnChange::Port(p),
            _ => {
                return Some(Err(refuse(
                    400,
                    format!("vaprt: `{p}` is not a port (1..65535); nothing was changed"),
                )))
            }
        },
        Change::ConnectionPoolTimeout(v) => ConnChange::ConnectionPoolTimeout(u(*v)),
        Change::PingTimeout(v) => ConnChange::PingTimeout(u(*v)),
        Change::ConnectTimeout(v) => ConnChange::ConnectTimeout(u(*v)),
        Change::PrepostTimeout(v) => ConnChange::PrepostTimeout(u(*v)),
        Change::ReplyTimeout(v) => ConnChange::ReplyTimeout(u(*v)),
        Change::MemberRetries(v) => ConnChange::Retries(u(*v)),
        Change::MemberRetryInterval(v) => ConnChange::RetryInterval(u(*v)),
        Change::ConnectionPingInterval(v) => ConnChange::ConnectionPingInterval(u(*v)),
        Change::RecoveryOptions(v) => ConnChange::RecoveryOptions(u(*v)),
        Change::BusyLimit(v) => ConnChange::BusyLimit(u(*v)),
        Change::MaxPacketSize(v) => ConnChange::MaxPacketSize(u(*v)),
        _ => return None,
    }))
}

fn lb_change(c: &Change) -> Option<LbChange> {
    let u = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    Some(match c {
        Change::Retries(v) => LbChange::Retries(u(*v)),
        Change::RetryInterval(v) => LbChange::RetryIntervalMs(u(*v)),
        Change::RecoverTime(v) => LbChange::RecoverTime(u(*v)),
        Change::ErrorEscalationTime(v) => LbChange::ErrorEscalationTime(u(*v)),
        Change::MaxReplyTimeouts(v) => LbChange::MaxReplyTimeouts(u(*v)),
        Change::StickySession(b) => LbChange::StickySession(*b),
        Change::StickySessionForce(b) => LbChange::StickySessionForce(*b),
        Change::Method(m) => LbChange::Method(*m),
        Change::Lock(l) => LbChange::Lock(*l),
        _ => return None,
    })
}

fn member_change(c: &Change) -> Option<MemberChange> {
    let u = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    Some(match c {
        Change::Activation(a) => MemberChange::Activation(*a),
        Change::LbFactor(v) => MemberChange::LbFactor(u(*v)),
        Change::Route(s) => MemberChange::Route(s.clone()),
        Change::Redirect(s) => MemberChange::Redirect(s.clone()),
        Change::Domain(s) => MemberChange::Domain(s.clone()),
        Change::Distance(v) => MemberChange::Distance(u(*v)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Activation, Kind, Loader};
    use crate::shm::ShmTable;
    use std::sync::Arc;
    use std::time::Duration;

    /// Balancer `lb` over `names` of `workers` in `table`, as the front ends build it.
    fn engine(
        workers: &crate::config::Workers,
        table: &Arc<ShmTable>,
        lb: &str,
        names: &[&str],
    ) -> crate::forward::Worker {
        let Kind::Lb(lbw) = &workers.get(lb).unwrap().kind else {
            panic!("{lb} is no lb")
        };
        let members: Vec<_> = names
            .iter()
            .map(|m| crate::assemble::member_spec(m, workers.ajp(m).unwrap()))
            .collect();
        let specs: Vec<_> = names
            .iter()
            .map(|m| crate::assemble::ajp_spec(m, workers.ajp(m).unwrap(), 1, false).unwrap())
            .collect();
        let b = Balancer::new(
            &crate::assemble::lb_spec(lb, lbw, 60),
            &members,
            Arc::clone(table),
            0,
        )
        .unwrap();
        crate::forward::Worker::balanced(lb, specs, b)
    }

    /// mod_jk keeps one record per ajp worker: `n1` in two balancers gets a connection change
    /// made through either; the persist file brings it back after a restart, and only for the
    /// member that was changed.
    #[test]
    fn a_member_of_two_balancers_shares_its_connection_and_it_persists() {
        let mut l = Loader::new();
        l.workers_text("worker.list=l1,l2,st\nworker.l1.type=lb\nworker.l1.balance_workers=n1,n2\nworker.l2.type=lb\nworker.l2.balance_workers=n1\nworker.n1.port=1\nworker.n2.port=2\nworker.st.type=status\nworker.st.persist_file=/nonexistent/p\n", std::path::Path::new("w"));
        let workers = l.finish().workers.unwrap();
        let Kind::Status(st) = &workers.get("st").unwrap().kind else {
            panic!()
        };
        let table = Arc::new(ShmTable::heap(2, 3));
        let make = |lb: &str, names: &[&str]| engine(&workers, &table, lb, names);
        let (w1, w2) = (make("l1", &["n1", "n2"]), make("l2", &["n1"]));
        let (l1, l2) = (w1.balancer().unwrap(), w2.balancer().unwrap());
        let mounts = MountTable::new();
        let balancers = [("l1", l1), ("l2", l2)];
        let ctx = Context {
            workers: &workers,
            table: &mounts,
            balancers: &balancers,
            ajp13: &[],
            nonce: "N",
            server_name: "h",
            server_port: 80,
            web_server: "test",
            uri: "/st",
            dump: &[],
            now: 0,
        };
        let r = respond(
            &ctx,
            st,
            "POST",
            "cmd=update&w=l2&sw=n1&vart=250&nonce=N&mime=txt",
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(l1.connection(0).unwrap().reply_timeout, 250, "l1's n1 too");
        assert_eq!(
            w1.members()[0].spec().reply_timeout,
            Some(Duration::from_millis(250))
        );
        let saved = persist::render(balancers.iter().map(|(n, b)| (*n, *b)), &[], 0);
        assert!(saved.contains("l1.n1.reply_timeout=250\n"), "{saved}");
        assert!(saved.contains("l2.n1.reply_timeout=250\n"), "{saved}");
        assert!(
            !saved.contains("n2.reply_timeout"),
            "n2 was not changed: {saved}"
        );
        // After a restart: a fresh table, the saved lines applied.
        let fresh = Arc::new(ShmTable::heap(2, 3));
        let make = |lb: &str, names: &[&str]| engine(&workers, &fresh, lb, names);
        let (f1, f2) = (make("l1", &["n1", "n2"]), make("l2", &["n1"]));
        let (b1, b2) = (f1.balancer().unwrap(), f2.balancer().unwrap());
        let problems = persist::apply(
            &saved,
            |n| match n {
                "l1" => Some(b1),
                "l2" => Some(b2),
                _ => None,
            },
            |_| None,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            f1.members()[0].spec().reply_timeout,
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            f2.members()[0].spec().reply_timeout,
            Some(Duration::from_millis(250))
        );
        assert!(!b1.connection_changed(1), "n2 untouched");
    }

    /// `w=<ajp13 worker>` changes a stand-alone worker's connection settings (mod_jk allows
    /// it), through its shared record; the same worker as a balancer member changes with it.
    #[test]
    fn a_stand_alone_ajp13_worker_changes_its_connection_settings() {
        let mut l = Loader::new();
        l.workers_text("worker.list=solo,l1,st\nworker.l1.type=lb\nworker.l1.balance_workers=solo,n2\nworker.solo.port=1\nworker.n2.port=2\nworker.st.type=status\n", std::path::Path::new("w"));
        let workers = l.finish().workers.unwrap();
        let Kind::Status(st) = &workers.get("st").unwrap().kind else {
            panic!()
        };
        let (lbs, members) = crate::assemble::shm_size(&workers);
        let table = Arc::new(ShmTable::heap(lbs, members));
        let engines = crate::assemble::engines(&workers, &table, 1, false, 0).unwrap();
        let balancers = engines.balancers();
        let ajp13 = engines.ajp13();
        let mounts = MountTable::new();
        let ctx = Context {
            workers: &workers,
            table: &mounts,
            balancers: &balancers,
            ajp13: &ajp13,
            nonce: "N",
            server_name: "h",
            server_port: 80,
            web_server: "test",
            uri: "/st",
            dump: &[],
            now: 0,
        };
        let post = |q: &str| respond(&ctx, st, "POST", &format!("{q}&nonce=N&mime=txt"), None);
        let r = post("cmd=update&w=solo&vart=300&vacpt=9");
        assert_eq!(r.status, 200, "{}", r.body);
        let solo = engines.get("solo").unwrap().worker();
        assert_eq!(
            solo.members()[0].spec().reply_timeout,
            Some(Duration::from_millis(300))
        );
        let l1 = engines.get("l1").unwrap().worker();
        assert_eq!(
            l1.members()[0].spec().reply_timeout,
            Some(Duration::from_millis(300))
        );
        let prop = respond(&ctx, st, "GET", "mime=prop", None).body;
        assert!(prop.contains("worker.solo.reply_timeout=300\n"), "{prop}");
        // And the other way: a change of l1's member reaches the stand-alone worker.
        let r = post("cmd=update&w=l1&sw=solo&vart=400");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            solo.members()[0].spec().reply_timeout,
            Some(Duration::from_millis(400))
        );
        // Only connection settings: an ajp13 worker has no activation.
        assert_eq!(post("cmd=update&w=solo&vwa=S").status, 400);
        assert_eq!(post("cmd=reset&w=solo").status, 400);
        // persist_file keeps it: `*.solo.setting` lines, applied to a fresh start.
        let saved = persist::render(balancers.iter().map(|(n, b)| (*n, *b)), &ajp13, 0);
        assert!(saved.contains("*.solo.reply_timeout=400\n"), "{saved}");
        let fresh = Arc::new(ShmTable::heap(lbs, members));
        let again = crate::assemble::engines(&workers, &fresh, 1, false, 0).unwrap();
        let problems = persist::apply(
            &saved,
            |n| again.get(n).and_then(|e| e.worker().balancer()),
            |n| again.get(n).map(|e| &**e.worker()),
        );
        assert!(problems.is_empty(), "{problems:?}");
        let solo = again.get("solo").unwrap().worker();
        assert_eq!(
            solo.members()[0].spec().reply_timeout,
            Some(Duration::from_millis(400))
        );
    }

    #[test]
    fn a_posted_change_reaches_the_balancer_and_a_get_change_is_refused() {
        let mut l = Loader::new();
        l.workers_text("worker.list=lb,st\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\nworker.n1.port=1\nworker.n2.port=2\nworker.st.type=status\n", std::path::Path::new("w"));
        let workers = l.finish().workers.unwrap();
        let Kind::Status(st) = &workers.get("st").unwrap().kind else {
            panic!()
        };
        let Kind::Lb(lbw) = &workers.get("lb").unwrap().kind else {
            panic!()
        };
        let members: Vec<_> = ["n1", "n2"]
            .iter()
            .map(|m| crate::assemble::member_spec(m, workers.ajp(m).unwrap()))
            .collect();
        let specs: Vec<_> = ["n1", "n2"]
            .iter()
            .map(|m| crate::assemble::ajp_spec(m, workers.ajp(m).unwrap(), 1, false).unwrap())
            .collect();
        let engine = crate::forward::Worker::balanced(
            "lb",
            specs,
            Balancer::new(
                &crate::assemble::lb_spec("lb", lbw, 60),
                &members,
                Arc::new(ShmTable::heap(1, 2)),
                0,
            )
            .unwrap(),
        );
        let lb = engine.balancer().unwrap();
        let table = MountTable::new();
        let balancers = [("lb", lb)];
        let ctx = Context {
            workers: &workers,
            table: &table,
            balancers: &balancers,
            ajp13: &[],
            nonce: "N",
            server_name: "h",
            server_port: 80,
            web_server: "test",
            uri: "/st",
            dump: &[],
            now: 0,
        };
        let r = respond(&ctx, st, "GET", "cmd=update&w=lb&sw=n1&vwa=S", None);
        assert_eq!(r.status, 405, "{}", r.body);
        let r = respond(
            &ctx,
            st,
            "POST",
            "cmd=update&w=lb&sw=n1&vwa=S&nonce=N",
            None,
        );
        assert_eq!(
            (r.status, r.location.as_deref()),
            (303, Some("/st")),
            "{}",
            r.body
        );
        assert_eq!(r.change.as_deref(), Some("lb/n1: Activation(Stopped)"));
        assert_eq!(lb.stats(0).members[0].activation, Activation::Stopped);
        let r = respond(&ctx, st, "GET", "mime=prop", None);
        assert!(r.body.contains("worker.n1.activation=STP\n"), "{}", r.body);
        assert_eq!(r.content_type, "text/plain; charset=utf-8");
        let post = |q: &str| respond(&ctx, st, "POST", &format!("{q}&nonce=N&mime=txt"), None);
        let r = post("cmd=update&w=lb&sw=n1&vaprt=4711&vart=250");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.change.as_deref(),
            Some("lb/n1: Port(4711), ReplyTimeout(250)")
        );
        assert_eq!(
            engine.members()[0].spec().addr.port(),
            4711,
            "the pool adopted it"
        );
        for mime in ["html", "xml", "txt", "json"] {
            let page = respond(&ctx, st, "GET", &format!("mime={mime}"), None).body;
            assert!(page.contains("4711"), "{mime}: {page}");
        }
        assert_eq!(
            engine.members()[0].spec().reply_timeout,
            Some(std::time::Duration::from_millis(250))
        );
        let prop = respond(&ctx, st, "GET", "mime=prop", None).body;
        assert!(prop.contains("worker.n1.port=4711\n"), "{prop}");
        assert!(prop.contains("worker.n1.reply_timeout=250\n"), "{prop}");
        assert!(prop.contains("worker.n2.port=2\n"), "{prop}");
        // Refused as a whole: nothing of the request is applied.
        let r = post("cmd=update&w=lb&sw=n1&vaprt=7&vahst=no-such-host.invalid");
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("does not resolve"), "{}", r.body);
        let r = post("cmd=update&w=lb&sw=n1&vahst=&vaprt=7");
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(post("cmd=update&w=lb&sw=n1&vaprt=0").status, 400);
        assert_eq!(engine.members()[0].spec().addr.port(), 4711);
        // The att/val<n> form sets one value per member, in order.
        let r = post("cmd=update&w=lb&att=vaprt&val0=11&val1=12");
        assert_eq!(r.status, 200, "{}", r.body);
        let ports: Vec<u16> = engine
            .members()
            .iter()
            .map(|p| p.spec().addr.port())
            .collect();
        assert_eq!(ports, [11, 12]);
        // The lb's retry_interval: the edit form offers it, an update shows in every format.
        let form = respond(&ctx, st, "GET", "cmd=edit&w=lb", None).body;
        assert!(
            form.contains("name=\"vlri\" min=\"0\" value=\"100\""),
            "{form}"
        );
        let r = post("cmd=update&w=lb&vlri=250&vlr=3");
        assert_eq!(r.status, 200, "{}", r.body);
        let prop = respond(&ctx, st, "GET", "mime=prop", None).body;
        assert!(prop.contains("worker.lb.retry_interval=250\n"), "{prop}");
        assert!(prop.contains("worker.lb.retries=3\n"), "{prop}");
        let txt = respond(&ctx, st, "GET", "mime=txt", None).body;
        assert!(txt.contains(" retries=3 retry_interval=250 "), "{txt}");
        let xml = respond(&ctx, st, "GET", "mime=xml", None).body;
        assert!(xml.contains("retry_interval=\"250\""), "{xml}");
        let json = respond(&ctx, st, "GET", "mime=json", None).body;
        assert!(json.contains("\"retry_interval\":250"), "{json}");
        let html = respond(&ctx, st, "GET", "", None).body;
        assert!(html.contains("retries 3 every 250 ms"), "{html}");
        let form = respond(&ctx, st, "GET", "cmd=edit&w=lb", None).body;
        assert!(
            form.contains("name=\"vlri\" min=\"0\" value=\"250\""),
            "{form}"
        );
    }
}
