//! A client's request body on its way to a back-end, watched so that the
//! wait for the response head is charged to the right side. A back-end
//! may answer only once the whole body arrived, and a large upload on a
//! slow link takes longer than `response_ms`: a clock started when the
//! request went out would blame a healthy back-end for the client's link.
//! So the back-end's `response_ms` starts when the upload ends; until then
//! the upload must move at least once every `response_ms`. One that stops
//! fails the request without blaming anyone: the client may have stopped
//! sending, or the back-end stopped reading (hyper then stops taking the
//! client's bytes), and from here the two look the same.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// How far an upload got, shared by its body and the exchange waiting for
/// the response head.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// Microseconds from `started` to the last body bytes, or to the end.
    last_us: AtomicU64,
    finished: AtomicBool,
}

impl Progress {
    pub fn new(now: Instant) -> Arc<Progress> {
        Arc::new(Progress {
            started: now,
            last_us: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        })
    }

    fn touch(&self) {
        let us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_us.store(us, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.started + Duration::from_micros(self.last_us.load(Ordering::Relaxed))
    }
}

/// The upload stopped moving for `response_ms` before its end.
#[derive(Debug)]
pub struct UploadStalled;

impl std::fmt::Display for UploadStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the upload stopped moving before its end")
    }
}

impl std::error::Error for UploadStalled {}

/// The client's body, noting its progress.
pub struct Upload {
    inner: Incoming,
    progress: Arc<Progress>,
}

impl Upload {
    pub fn new(inner: Incoming, progress: Arc<Progress>) -> Upload {
        Upload { inner, progress }
    }
}

impl Body for Upload {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => self.progress.touch(),
            Poll::Ready(None) => {
                self.progress.touch();
                self.progress.finished.store(true, Ordering::Relaxed);
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why waiting for a response head ended without one.
#[derive(Debug, PartialEq, Eq)]
pub enum Late {
    /// The back-end's fault: no head within `response` of the upload's end.
    Backend,
    /// The upload stopped moving for `response` before its end.
    Upload,
}

/// Awaits `head` (a request's response head): within `response` of the
/// end of the upload `progress` watches, while the upload makes progress
/// at least once every `response`; without an upload, within `response`.
pub async fn head_within<F: Future>(
    head: F,
    response: Duration,
    progress: Option<&Progress>,
) -> Result<F::Output, Late> {
    let mut head = std::pin::pin!(head);
    let mut deadline = tokio::time::Instant::now() + response;
    loop {
        if let Ok(output) = tokio::time::timeout_at(deadline, head.as_mut()).await {
            return Ok(output);
        }
        let Some(progress) = progress else {
            return Err(Late::Backend);
        };
        let since = tokio::time::Instant::from_std(progress.last()) + response;
        if since <= tokio::time::Instant::now() {
            return Err(if progress.finished.load(Ordering::Relaxed) {
                Late::Backend
            } else {
                Late::Upload
            });
        }
        // The upload moved (or ended) since: the wait starts again from its
        // last progress.
        deadline = since;
    }
}
