//! The request path with a session store (`--session-store`): load the named session before
//! the application runs (one round trip), save what the request changed before the response
//! leaves (one more, only if something changed), and answer 503 when the store cannot be
//! reached for a request that needs it — one whose application used the session it named
//! (its answer is replaced), or one that created or changed one. Requests without a session
//! never touch the store; one that names a session but does not use it is served.

use std::sync::Arc;
use std::time::Instant;

use http::header::{RETRY_AFTER, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_service::Service;

use super::handle::Session;
use super::manager::{Published, SessionEvent, SessionManager};
use super::service::Replicated;
use super::{cookie, id, SessionDelta};
use crate::body::Body;
use crate::context::ContextPath;
use crate::request_info::AjpInfo;
use crate::store::Store;

/// One request: `inner` is the application, `ids` what the request names.
pub(crate) async fn call<S, B>(
    mut inner: S,
    mut req: Request<Body>,
    ids: Vec<String>,
    store: Arc<dyn Store>,
    manager: SessionManager,
    context: ContextPath,
) -> Result<Response<Replicated<B>>, S::Error>
where
    S: Service<Request<Body>, Response = Response<B>>,
{
    let (mut loaded, mut unreachable) = (None, false);
    for id in ids.iter().filter(|i| id::is_plausible(i)) {
        match store.load(id).await {
            Ok(Some(data)) => {
                loaded = Some((id.clone(), data));
                break;
            }
            Ok(None) => {}
            Err(_) => {
                // Only a request that uses its session needs it: decided after the call.
                unreachable = true;
                break;
            }
        }
    }
    let requested = loaded
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| ids.first().cloned());
    let session = Session::bind_stored(&manager, requested, loaded, unreachable, Instant::now());
    let secure = req.extensions().get::<AjpInfo>().is_some_and(|i| i.is_ssl);
    req.extensions_mut().insert(session.clone());
    req.extensions_mut().insert(context.clone());
    if let Some(original) = session.rebound_from() {
        req.extensions_mut()
            .insert(crate::cluster::OriginalSessionId(original));
    }
    let mut resp = inner.call(req).await?;
    if session.used_unreachable() {
        // It ran without the session it named: what it answered must not reach the client.
        return Ok(unavailable(manager));
    }
    let (new_id, deltas) = session.finish();
    for d in &deltas {
        manager.emit(SessionEvent::Changed(d.clone()));
    }
    // The response (not one byte of it) leaves only once Redis has the changes: an answer
    // the client saw is never lost with this node.
    if !deltas.is_empty() && store.save(deltas, session.snapshot()).await.is_err() {
        return Ok(unavailable(manager));
    }
    if let Some(id) = new_id {
        let line = cookie::set_cookie(&id, context.as_str(), secure);
        if let Ok(v) = HeaderValue::from_str(&line) {
            resp.headers_mut().append(SET_COOKIE, v);
        }
    }
    Ok(resp.map(|b| Replicated::new(Some(b), Some(session), manager)))
}

/// Changes made while the body streamed, saved at its end (the head is gone: a failure can
/// only be logged, which the store does).
pub(crate) fn save_late(store: Arc<dyn Store>, deltas: Vec<SessionDelta>) -> Published {
    Box::pin(async move {
        let _ = store.save(deltas, None).await;
    })
}

/// 503 with an empty body: the store is unreachable (the store logged why, once per outage).
fn unavailable<B>(manager: SessionManager) -> Response<Replicated<B>> {
    let mut r = Response::new(Replicated::new(None, None, manager));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    r
}
