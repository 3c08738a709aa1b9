//! `--http`: the same application over HTTP/1.1 (hyper), for side-by-side comparisons and
//! debugging without a web server in front.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::app::{self, App};
use crate::body::{Body, BoxError};
use crate::request_info::AjpInfo;
use crate::shutdown::Shutdown;

/// The HTTP listener's limits: the same flags as AJP's, each listener counting its own
/// connections (as Tomcat's connectors do).
pub(crate) struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Option<Duration>,
    pub grace: Duration,
}

pub(crate) async fn accept<A: App>(
    listener: TcpListener,
    app: A,
    limits: Limits,
    mut shutdown: Shutdown,
) {
    let mut conns = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        // At the limit, stop accepting (the kernel backlog holds newcomers) until one closes.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = shutdown.wait() => break,
        };
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    log::error!("accepting an HTTP connection: {e}");
                    tokio::task::yield_now().await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        while conns.try_join_next().is_some() {}
        let conn = serve_conn(
            stream,
            peer,
            app.clone(),
            limits.idle_timeout,
            shutdown.clone(),
        );
        conns.spawn(async move {
            conn.await;
            drop(permit);
        });
    }
    let grace = limits.grace;
    drop(listener);
    if tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        conns.shutdown().await;
    }
}

/// One HTTP connection; boxed so that its `Send`-ness is checked here, generically.
fn serve_conn<A: App>(
    stream: TcpStream,
    peer: SocketAddr,
    app: A,
    idle_timeout: Option<Duration>,
    mut sd: Shutdown,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok();
        let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let (parts, incoming) = req.into_parts();
            let mut req = Request::from_parts(parts, Body::http(incoming));
            req.extensions_mut().insert(info(peer, local));
            handle(app.clone(), req)
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        // hyper starts this clock when the connection waits for a request head (after the
        // previous response, or on a fresh connection) and stops it once the head is in: an
        // idle timeout between requests that never cuts a slow response off.
        if let Some(t) = idle_timeout {
            builder.timer(TokioTimer::new()).header_read_timeout(t);
        }
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    log::debug!("{peer}: HTTP connection: {e}");
                }
                return;
            }
            () = sd.wait() => {}
        }
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    })
}

type MappedBody<A> = http_body_util::combinators::MapErr<
    <A as App>::ResBody,
    fn(<<A as App>::ResBody as http_body::Body>::Error) -> Failure,
>;

type Handled<A> = Pin<Box<dyn Future<Output = Result<Response<MappedBody<A>>, Failure>> + Send>>;

/// An application or body error, as a concrete type: with a boxed error in these positions
/// rustc cannot prove the connection future `Send` (a known higher-ranked lifetime issue).
#[derive(Debug)]
struct Failure(BoxError);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Failure {}

/// One request (boxed: the future must be nameable and `Send` for hyper).
fn handle<A: App>(mut app: A, req: Request<Body>) -> Handled<A> {
    Box::pin(async move {
        app::ready(&mut app).await.map_err(Failure)?;
        let resp = app.call(req).await.map_err(failure)?;
        let f: fn(<A::ResBody as http_body::Body>::Error) -> Failure = failure;
        Ok(resp.map(|b| b.map_err(f)))
    })
}

fn failure<E: Into<BoxError>>(e: E) -> Failure {
    Failure(e.into())
}

fn info(peer: SocketAddr, local: Option<SocketAddr>) -> AjpInfo {
    AjpInfo {
        remote_addr: peer.ip().to_string(),
        remote_port: Some(peer.port()),
        server_name: local.map(|a| a.ip().to_string()).unwrap_or_default(),
        server_port: local.map_or(0, |a| a.port()),
        peer: Some(peer),
        ..AjpInfo::default()
    }
}
