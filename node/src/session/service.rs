//! The wrapper every application runs inside: before the call it finds the session the
//! request names (cookie or `;jsessionid=` path parameter, which is stripped from the URI as
//! Tomcat does) and puts a [`Session`] in the extensions; after the call it sets the cookie for
//! a new or re-keyed session and publishes the request's deltas (and, in a cluster, waits
//! until they are replicated).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response, Uri};
use tower_service::Service;

use super::cookie;
use super::handle::Session;
use super::manager::{SessionEvent, SessionManager};
use crate::body::Body;
use crate::request_info::AjpInfo;

/// An application with sessions.
#[derive(Clone)]
pub struct Sessions<S> {
    inner: S,
    manager: SessionManager,
}

impl<S> Sessions<S> {
    pub fn new(inner: S, manager: SessionManager) -> Self {
        Sessions { inner, manager }
    }
}

impl<S, B> Service<Request<Body>> for Sessions<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: Send,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let session = bind(&self.manager, &mut req);
        let secure = req.extensions().get::<AjpInfo>().is_some_and(|i| i.is_ssl);
        req.extensions_mut().insert(session.clone());
        if let Some(original) = session.rebound_from() {
            req.extensions_mut()
                .insert(crate::cluster::OriginalSessionId(original));
        }
        let fut = self.inner.call(req);
        let manager = self.manager.clone();
        Box::pin(async move {
            let mut resp = fut.await?;
            let (new_id, deltas) = session.finish();
            if let Some(id) = new_id {
                // Context path "/": the node serves one application at the root.
                if let Ok(v) = HeaderValue::from_str(&cookie::set_cookie(&id, "/", secure)) {
                    resp.headers_mut().append(SET_COOKIE, v);
                }
            }
            for d in &deltas {
                manager.emit(SessionEvent::Changed(d.clone()));
            }
            // Sync replication: the response (not one byte of it) leaves only once the
            // members have the changes; async: this returns at once.
            let publish = match manager.replicator() {
                Some(r) if !deltas.is_empty() => Some(r.publish(deltas)),
                _ => None,
            };
            if let Some(p) = publish {
                p.await;
            }
            Ok(resp)
        })
    }
}

/// Find the request's session: a `;jsessionid=` path parameter first (and strip it), then
/// every `JSESSIONID` cookie in order.
fn bind(manager: &SessionManager, req: &mut Request<Body>) -> Session {
    let mut ids: Vec<String> = Vec::new();
    let path = req.uri().path().as_bytes();
    if let Some((rest, id)) = cookie::strip_path_param(path) {
        if let Ok(id) = std::str::from_utf8(id) {
            ids.push(id.to_string());
        }
        let mut target = rest;
        if target.is_empty() {
            target.push(b'/');
        }
        if let Some(q) = req.uri().query() {
            target.push(b'?');
            target.extend_from_slice(q.as_bytes());
        }
        if let Ok(uri) = Uri::try_from(target) {
            *req.uri_mut() = uri;
        }
    }
    for h in req.headers().get_all(COOKIE) {
        for id in cookie::cookie_ids(h.as_bytes()) {
            if let Ok(id) = std::str::from_utf8(id) {
                ids.push(id.to_string());
            }
        }
    }
    Session::bind(manager, ids.iter().map(String::as_str), Instant::now())
}
