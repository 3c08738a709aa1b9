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
use super::manager::{Published, SessionEvent, SessionManager};
use crate::body::Body;
use crate::context::ContextPath;
use crate::request_info::AjpInfo;

/// An application with sessions.
#[derive(Clone)]
pub struct Sessions<S> {
    inner: S,
    manager: SessionManager,
    context: ContextPath,
}

impl<S> Sessions<S> {
    /// `inner` served at the root context (`/`).
    pub fn new(inner: S, manager: SessionManager) -> Self {
        Sessions {
            inner,
            manager,
            context: ContextPath::default(),
        }
    }

    /// Mounted under `context`: the cookie's `Path`, and a [`ContextPath`] extension.
    pub fn with_context(mut self, context: ContextPath) -> Self {
        self.context = context;
        self
    }
}

impl<S, B> Service<Request<Body>> for Sessions<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Replicated<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        if let Some(store) = self.manager.store().cloned() {
            // The session comes from the store first: the application runs later, on a
            // clone that has been made ready (tower's usual swap).
            let ready = self.inner.clone();
            let inner = std::mem::replace(&mut self.inner, ready);
            let ids = requested_ids(&mut req);
            return Box::pin(super::stored::call(
                inner,
                req,
                ids,
                store,
                self.manager.clone(),
                self.context.clone(),
            ));
        }
        let ids = requested_ids(&mut req);
        let secure = req.extensions().get::<AjpInfo>().is_some_and(|i| i.is_ssl);
        // A session served elsewhere (`--cluster backup`) is fetched before the request binds
        // it; the service that was made ready goes with the request.
        if let Some(fetch) = self
            .manager
            .replicator()
            .and_then(|r| r.fetch_missing(&ids))
        {
            let clone = self.inner.clone();
            let mut inner = std::mem::replace(&mut self.inner, clone);
            let (manager, context) = (self.manager.clone(), self.context.clone());
            return Box::pin(async move {
                fetch.await;
                // Handed on again before this request bound it, and our copy dropped: fetch
                // it once more rather than serve the request without its session.
                for _ in 0..2 {
                    let now = Instant::now();
                    let gone = ids.iter().all(|id| manager.find_current(id, now).is_none())
                        && ids.iter().any(|id| manager.moved_to(id).is_some());
                    match manager
                        .replicator()
                        .filter(|_| gone)
                        .and_then(|r| r.fetch_missing(&ids))
                    {
                        Some(again) => again.await,
                        None => break,
                    }
                }
                let (session, req) = prepare(&manager, &context, ids, req);
                respond(inner.call(req), session, manager, context, secure).await
            });
        }
        let (session, req) = prepare(&self.manager, &self.context, ids, req);
        let fut = self.inner.call(req);
        Box::pin(respond(
            fut,
            session,
            self.manager.clone(),
            self.context.clone(),
            secure,
        ))
    }
}

/// Bind the request to its session and put the session (and the context) in its extensions.
fn prepare(
    manager: &SessionManager,
    context: &ContextPath,
    ids: Vec<String>,
    mut req: Request<Body>,
) -> (Session, Request<Body>) {
    let session = Session::bind(manager, ids.iter().map(String::as_str), Instant::now());
    req.extensions_mut().insert(session.clone());
    req.extensions_mut().insert(context.clone());
    if let Some(original) = session.rebound_from() {
        req.extensions_mut()
            .insert(crate::cluster::OriginalSessionId(original));
    }
    (session, req)
}

async fn respond<F, B, E>(
    fut: F,
    session: Session,
    manager: SessionManager,
    context: ContextPath,
    secure: bool,
) -> Result<Response<Replicated<B>>, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    let mut resp = fut.await?;
    let (new_id, deltas) = session.finish();
    if let Some(id) = new_id {
        // Scoped to the application, as Tomcat does: other contexts on the same host
        // keep their own sessions.
        let line = cookie::set_cookie(&id, context.as_str(), secure);
        if let Ok(v) = HeaderValue::from_str(&line) {
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
    // Changes the application makes while the body streams are published (and, in
    // sync mode, acknowledged) before the body's end, i.e. before End Response.
    let watch = manager.replicator().is_some().then_some(session);
    Ok(resp.map(|inner| Replicated {
        inner: Some(inner),
        session: watch,
        manager,
        pending: None,
    }))
}

impl<B> Replicated<B> {
    /// The application's body, with the request's session when changes made while it
    /// streams must be saved at its end.
    pub(crate) fn new(inner: Option<B>, session: Option<Session>, manager: SessionManager) -> Self {
        Replicated {
            inner,
            session,
            manager,
            pending: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The application's response body, and (in a cluster) the request's session: when the
    /// body ends, what the application changed while it streamed is replicated first.
    pub struct Replicated<B> {
        #[pin]
        inner: Option<B>,
        session: Option<Session>,
        manager: SessionManager,
        pending: Option<Published>,
    }
}

impl<B: http_body::Body> http_body::Body for Replicated<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        if let Some(p) = this.pending.as_mut() {
            std::task::ready!(p.as_mut().poll(cx));
            *this.pending = None;
            return Poll::Ready(None);
        }
        let frame = match this.inner.as_pin_mut() {
            Some(inner) => std::task::ready!(inner.poll_frame(cx)),
            None => None,
        };
        if frame.is_some() {
            return Poll::Ready(frame);
        }
        if let Some(session) = this.session.take() {
            // The cookie went out with the head: only the deltas matter now.
            let (_, deltas) = session.finish();
            for d in &deltas {
                this.manager.emit(SessionEvent::Changed(d.clone()));
            }
            let publish = match (this.manager.replicator(), this.manager.store()) {
                _ if deltas.is_empty() => None,
                (Some(r), _) => Some(r.publish(deltas)),
                (None, Some(s)) => Some(super::stored::save_late(s.clone(), deltas)),
                (None, None) => None,
            };
            if let Some(mut p) = publish {
                if p.as_mut().poll(cx).is_pending() {
                    *this.pending = Some(p);
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.session.is_none()
            && self.pending.is_none()
            && self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.inner {
            Some(b) => b.size_hint(),
            None => http_body::SizeHint::with_exact(0),
        }
    }
}

/// The ids the request names: a `;jsessionid=` path parameter first (and strip it), then
/// every `JSESSIONID` cookie in order.
fn requested_ids(req: &mut Request<Body>) -> Vec<String> {
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
    ids
}
