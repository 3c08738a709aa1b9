//! The request body an application reads. Over AJP it streams on demand: the body asks the
//! connection for more only when the application polls it, and the connection answers with a
//! Get Body Chunk (except for the unsolicited first packet of a Content-Length body).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// Errors a request body can report (the connection went away or broke mid-body).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body, the `B` in `http::Request<Body>` handed to applications.
pub struct Body {
    inner: Inner,
}

enum Inner {
    Empty,
    Ajp(AjpBody),
    Http(hyper::body::Incoming),
}

impl Body {
    pub fn empty() -> Self {
        Body {
            inner: Inner::Empty,
        }
    }

    pub(crate) fn http(incoming: hyper::body::Incoming) -> Self {
        Body {
            inner: Inner::Http(incoming),
        }
    }

    pub(crate) fn ajp(body: AjpBody) -> Self {
        Body {
            inner: Inner::Ajp(body),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Inner::Empty => "Body::Empty",
            Inner::Ajp(_) => "Body::Ajp",
            Inner::Http(_) => "Body::Http",
        })
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().inner {
            Inner::Empty => Poll::Ready(None),
            Inner::Ajp(b) => b.poll_data(cx).map(|o| o.map(|r| r.map(Frame::data))),
            Inner::Http(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Empty => true,
            Inner::Ajp(b) => b.done,
            Inner::Http(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Ajp(b) => match b.length {
                Some(n) => SizeHint::with_exact(n),
                None => SizeHint::default(),
            },
            Inner::Http(b) => b.size_hint(),
        }
    }
}

/// The application's end of an AJP request body.
pub(crate) struct AjpBody {
    data: mpsc::Receiver<Result<Bytes, BoxError>>,
    demand: mpsc::Sender<()>,
    /// A demand is outstanding: do not ask twice for one chunk.
    asked: bool,
    done: bool,
    length: Option<u64>,
}

/// The connection's end: receives demand, sends data.
pub(crate) struct BodyFeed {
    pub data: mpsc::Sender<Result<Bytes, BoxError>>,
    pub demand: mpsc::Receiver<()>,
}

/// A linked pair for one request; `length` is the Content-Length, if any.
pub(crate) fn ajp_channel(length: Option<u64>) -> (AjpBody, BodyFeed) {
    let (data_tx, data_rx) = mpsc::channel(1);
    let (demand_tx, demand_rx) = mpsc::channel(1);
    (
        AjpBody {
            data: data_rx,
            demand: demand_tx,
            asked: false,
            done: false,
            length,
        },
        BodyFeed {
            data: data_tx,
            demand: demand_rx,
        },
    )
}

impl AjpBody {
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.data.poll_recv(cx) {
            Poll::Ready(Some(r)) => {
                self.asked = false;
                if r.is_err() {
                    self.done = true;
                }
                Poll::Ready(Some(r))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if !self.asked {
                    // Capacity 1 and at most one demand outstanding: this cannot be full. A
                    // closed channel means the connection is gone; the data side says so next.
                    let _ = self.demand.try_send(());
                    self.asked = true;
                }
                Poll::Pending
            }
        }
    }
}
