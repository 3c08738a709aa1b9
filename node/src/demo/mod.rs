//! The demo and test application built into the binary (`--app demo`). Every end-to-end test
//! and benchmark of the connector talks to it, so each answer is deterministic and says
//! exactly what the node received.

pub(crate) mod json;
mod pattern;
mod query;
mod routes;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use tower_service::Service;

use crate::body::{Body, BoxError};

pub use pattern::pattern_byte;

/// Response body of the demo application.
pub type DemoBody = BoxBody<Bytes, BoxError>;

/// The demo application; `route` is shown on its pages.
#[derive(Clone, Debug)]
pub struct Demo {
    route: std::sync::Arc<str>,
}

impl Demo {
    pub fn new(route: &str) -> Demo {
        Demo {
            route: route.into(),
        }
    }
}

impl Service<Request<Body>> for Demo {
    type Response = Response<DemoBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<DemoBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let route = self.route.clone();
        Box::pin(async move { Ok(routes::handle(&route, req).await) })
    }
}
