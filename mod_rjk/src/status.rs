//! Serving a status worker: read the request (query, form body, remote user), let lb-core
//! answer it, log any change, write the reply.

use std::os::raw::c_int;

use lb_core::config::StatusWorker;
use lb_core::status::form::Form;
use lb_core::status::respond::{respond, Context, Reply};

use crate::ffi;
use crate::request::HttpdRequest;
use crate::runtime::ServerRuntime;

pub fn serve(req: &mut HttpdRequest<'_>, rt: &ServerRuntime, s: &StatusWorker, uri: &str) -> c_int {
    let method = String::from_utf8_lossy(req.method()).into_owned();
    let mut form = Form::new();
    if method == "POST" {
        let mut buf = [0u8; 8192];
        loop {
            let refused = match req.read_body(&mut buf) {
                Ok(0) => break,
                Ok(n) => form.push(&buf[..n]).err(),
                Err(e) => Some(Form::failed(&e)),
            };
            if let Some(reply) = refused {
                return write_reply(req, &reply);
            }
        }
    }
    let params = form.params(req.query().unwrap_or_default());
    let user = req
        .remote_user()
        .map(|u| String::from_utf8_lossy(u).into_owned());
    let table = rt.mounts.current();
    let balancers = rt.global.engines.balancers();
    let ajp13 = rt.global.engines.ajp13();
    let server_name = String::from_utf8_lossy(req.server_name()).into_owned();
    let banner = crate::hooks::server_banner();
    let ctx = Context {
        workers: &rt.global.workers,
        table: &table,
        balancers: &balancers,
        ajp13: &ajp13,
        nonce: &rt.global.nonce,
        server_name: &server_name,
        server_port: req.server_port(),
        web_server: &banner,
        uri,
        dump: &rt.global.dump,
        now: crate::runtime::unix_now(),
    };
    let reply = respond(&ctx, s, &method, &params, user.as_deref());
    if let Some(change) = &reply.change {
        let from = String::from_utf8_lossy(req.remote_addr()).into_owned();
        crate::log::request_info(
            req,
            &format!(
                "mod_rjk: status change by {} from {from}: {change}",
                user.as_deref().unwrap_or("-")
            ),
        );
    }
    if let Some(e) = &reply.persist_error {
        crate::log::request_info(req, &format!("mod_rjk: cannot save runtime changes to {e}"));
    }
    write_reply(req, &reply)
}

fn write_reply(req: &mut HttpdRequest<'_>, reply: &Reply) -> c_int {
    let mut head: Vec<(&[u8], &[u8])> = vec![(b"Content-Type", reply.content_type.as_bytes())];
    if let Some(l) = &reply.location {
        head.push((b"Location", l.as_bytes()));
    }
    req.set_head(reply.status, None, head.into_iter());
    if !req.header_only() && !reply.body.is_empty() {
        let _ = req.write(reply.body.as_bytes());
    }
    ffi::OK
}
