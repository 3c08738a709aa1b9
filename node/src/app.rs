//! What the node serves: any `tower::Service<http::Request<Body>>` whose response body streams
//! `Bytes`-like data (an axum `Router` qualifies as is). These bounds are the whole contract.

use std::future::Future;

use bytes::Buf;
use http::{Request, Response};
use tower_service::Service;

use crate::body::{Body, BoxError};

/// An application the node can serve over AJP and HTTP.
pub trait App:
    Service<
        Request<Body>,
        Response = Response<Self::ResBody>,
        Error: Into<BoxError> + Send + 'static,
        Future: Future<Output = Result<Response<Self::ResBody>, Self::Error>> + Send + 'static,
    > + Clone
    + Send
    + 'static
{
    type ResBody: http_body::Body<Data: Buf + Send, Error: Into<BoxError> + Send> + Send + 'static;
}

impl<S, B> App for S
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Buf + Send,
    B::Error: Into<BoxError> + Send,
{
    type ResBody = B;
}

/// Wait until `app` can take a request.
pub(crate) async fn ready<A: App>(app: &mut A) -> Result<(), BoxError> {
    std::future::poll_fn(|cx| app.poll_ready(cx))
        .await
        .map_err(Into::into)
}
