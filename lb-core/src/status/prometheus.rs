//! `mime=prometheus`: OpenMetrics text for monitoring. Per member: requests, errors, client
//! errors, reply timeouts and bytes as counters, busy/connected as gauges, state and
//! activation as labelled gauges (1 for the current one); per balancer the good / degraded /
//! bad member counts.

use std::fmt::Write;

use super::model::{Member, Snapshot};
use super::rating::{rate, Rating};
use super::View;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, String)>,
}

pub fn prometheus(snap: &Snapshot, view: &View<'_>) -> String {
    let fam = |name, kind, help| Family {
        name,
        kind,
        help,
        samples: Vec::new(),
    };
    let mut requests = fam(
        "rjk_member_requests",
        "counter",
        "Requests sent to the member.",
    );
    let mut errors = fam(
        "rjk_member_errors",
        "counter",
        "Requests that failed on the member.",
    );
    let mut client_errors = fam(
        "rjk_member_client_errors",
        "counter",
        "Requests the client aborted.",
    );
    let mut reply_timeouts = fam(
        "rjk_member_reply_timeouts",
        "counter",
        "Reply timeouts (decayed like mod_jk's).",
    );
    let mut sent = fam(
        "rjk_member_sent_bytes",
        "counter",
        "Bytes sent to the member.",
    );
    let mut received = fam(
        "rjk_member_received_bytes",
        "counter",
        "Bytes received from the member.",
    );
    let mut busy = fam(
        "rjk_member_busy",
        "gauge",
        "Requests in progress on the member.",
    );
    let mut connected = fam("rjk_member_connected", "gauge", "Open backend connections.");
    let mut state = fam(
        "rjk_member_state",
        "gauge",
        "1 for the member's current state.",
    );
    let mut activation = fam(
        "rjk_member_activation",
        "gauge",
        "1 for the member's current activation.",
    );
    let mut rating = fam(
        "rjk_balancer_members",
        "gauge",
        "Members of a balancer by rating.",
    );

    let mut add = |lb: &str, m: &Member| {
        let l = format!("balancer=\"{}\",member=\"{}\"", label(lb), label(&m.name));
        for (f, v) in [
            (&mut requests, m.used),
            (&mut errors, m.errors),
            (&mut client_errors, m.client_errors),
            (&mut reply_timeouts, m.reply_timeouts),
            (&mut sent, m.transferred),
            (&mut received, m.read),
        ] {
            f.samples.push((format!("_total{{{l}}}"), v.to_string()));
        }
        busy.samples.push((format!("{{{l}}}"), m.busy.to_string()));
        connected
            .samples
            .push((format!("{{{l}}}"), m.connected.to_string()));
        if let Some(x) = &m.lb {
            state
                .samples
                .push((format!("{{{l},state=\"{}\"}}", x.state.text()), "1".into()));
            activation.samples.push((
                format!("{{{l},activation=\"{}\"}}", x.activation.name()),
                "1".into(),
            ));
        }
    };
    for b in &snap.balancers {
        for m in &b.members {
            add(&b.name, m);
        }
    }
    for m in &snap.ajp_workers {
        add("", m);
    }
    for b in &snap.balancers {
        let mut c = [0usize; 3];
        for m in &b.members {
            c[match rate(m, view.good, view.bad) {
                Rating::Good => 0,
                Rating::Degraded => 1,
                Rating::Bad => 2,
            }] += 1;
        }
        for (r, n) in ["good", "degraded", "bad"].iter().zip(c) {
            rating.samples.push((
                format!("{{balancer=\"{}\",rating=\"{r}\"}}", label(&b.name)),
                n.to_string(),
            ));
        }
    }

    let mut out = String::new();
    for f in [
        requests,
        errors,
        client_errors,
        reply_timeouts,
        sent,
        received,
        busy,
        connected,
        state,
        activation,
        rating,
    ] {
        let _ = writeln!(
            out,
            "# TYPE {} {}\n# HELP {} {}",
            f.name, f.kind, f.name, f.help
        );
        for (suffix, v) in f.samples {
            let _ = writeln!(out, "{}{suffix} {v}", f.name);
        }
    }
    out.push_str("# EOF\n");
    out
}
