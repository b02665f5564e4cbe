//! One client connection, served as HTTP/1.1 or, when the client opens with
//! HTTP/2's connection preface, as HTTP/2. Without TLS there is no ALPN to
//! agree on the protocol, so HTTP/2 is spoken to clients that know it in
//! advance ("prior knowledge", RFC 9113 section 3.3; `curl
//! --http2-prior-knowledge`). Back-ends are always spoken to in HTTP/1.1.
//!
//! Every connection is bounded in time as well as in number. The client's
//! first bytes must show which protocol it speaks within `header_read_ms`.
//! HTTP/1.1 then cuts off a head not complete within `header_read_ms` and
//! an idle keep-alive connection after as long (hyper's own timer). An
//! HTTP/2 connection without a request in progress for `header_read_ms` is
//! told to go (GOAWAY; what it still has queued goes out), and closed if it
//! still has none after `client_stall_ms`: control frames (PING, SETTINGS)
//! and a request head that never completes do not keep it, a slow answer
//! or a long download does. Either protocol is closed when its client takes
//! nothing for `client_stall_ms`: its socket stays full, or (HTTP/2)
//! responses wait that long for the client to open its window while no
//! stream of the connection moves. hyper would
//! wait for ever in both cases: it stops reading a response body while it
//! cannot write, so the body's own timeouts never fire.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::metrics::Metrics;
use crate::proxy::{handle, BoxError, ClientBody, Service};

/// What an HTTP/2 client sends first (RFC 9113 section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Response bytes buffered per HTTP/2 stream.
const SEND_BUFFER: usize = 64 * 1024;

/// Serves one accepted client until it leaves or is let go.
pub async fn serve(service: Arc<Service>, mut stream: TcpStream, peer: SocketAddr) {
    let settings = service.settings().clone();
    let mut first = [0u8; PREFACE.len()];
    let (read, http2) = match timeout(settings.header_read, opening(&mut stream, &mut first)).await
    {
        Ok(Some(opening)) => opening,
        // Silent for too long, or gone before it showed its protocol.
        Err(_) | Ok(None) => return,
    };
    let writes = Arc::new(WriteWatch::new());
    let io = TokioIo::new(Rewound {
        first,
        read,
        given: 0,
        stream,
        writes: writes.clone(),
    });
    let client_stall = settings.client_stall;
    if !http2 {
        let metrics = service.clone();
        let handler = service_fn(move |request| handle(service.clone(), peer, request));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read)
            .max_buf_size(settings.max_header_bytes)
            .serve_connection(io, handler);
        tokio::pin!(connection);
        loop {
            let blocked = writes.blocked_for();
            if blocked.is_some_and(|blocked| blocked >= client_stall) {
                Metrics::add(&metrics.metrics.connections_stalled);
                return;
            }
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = tokio::time::sleep(client_stall - blocked.unwrap_or_default()) => {}
            }
        }
    }
    let metrics = service.clone();
    let streams = Arc::new(Streams::new());
    let open = streams.clone();
    let handler = service_fn(move |request| {
        let stream = open.opened();
        let service = service.clone();
        async move {
            let response = handle(service, peer, request).await?;
            Ok::<_, Infallible>(response.map(|body| Counted::new(body, stream).boxed()))
        }
    });
    let connection = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.http2_max_streams)
        .max_header_list_size(u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX))
        // A stream's response data waiting for the client's window: one
        // back-end read, as the HTTP/1.1 side holds (hyper's default is
        // 400 KiB per stream).
        .max_send_buf_size(SEND_BUFFER)
        .serve_connection(io, handler);
    tokio::pin!(connection);
    let mut told_to_go = false;
    loop {
        let stalled = writes.blocked_for().max(streams.stalled_for());
        if stalled.is_some_and(|stalled| stalled >= client_stall) {
            Metrics::add(&metrics.metrics.connections_stalled);
            return;
        }
        let next_stall = client_stall - stalled.unwrap_or_default();
        let wait = match streams.idle_for() {
            // Requests in progress bound themselves (`response_ms`,
            // `stall_ms`, and the stall watch here).
            None => next_stall,
            Some(idle) => {
                let limit = if told_to_go {
                    client_stall
                } else {
                    settings.header_read
                };
                if idle >= limit {
                    if told_to_go {
                        // Still nothing in progress after GOAWAY: let go.
                        return;
                    }
                    connection.as_mut().graceful_shutdown();
                    told_to_go = true;
                    streams.idle_from_now();
                    continue;
                }
                (limit - idle).min(next_stall)
            }
        };
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Reads the client's first bytes until they can only be HTTP/2's preface
/// or cannot be it; returns how many were read and which it is, or `None`
/// when the client left or failed first. They are read, not peeked: bytes
/// left unread keep the socket readable, and waiting for more would spin.
async fn opening(stream: &mut TcpStream, first: &mut [u8; 24]) -> Option<(usize, bool)> {
    let mut read = 0;
    loop {
        let more = stream.read(&mut first[read..]).await.ok()?;
        if more == 0 {
            return None;
        }
        read += more;
        if first[..read] != PREFACE[..read] {
            return Some((read, false));
        }
        if read == PREFACE.len() {
            return Some((read, true));
        }
    }
}

/// The client's socket with the bytes read to tell its protocol put back
/// in front, for hyper to read them again; it notes when writes block.
struct Rewound {
    first: [u8; 24],
    read: usize,
    given: usize,
    stream: TcpStream,
    writes: Arc<WriteWatch>,
}

/// Since when a connection's writes have been blocked: its client takes
/// nothing and the socket's buffer is full.
struct WriteWatch {
    started: Instant,
    /// 0 while writes pass; else milliseconds from `started`, plus one.
    blocked_since: AtomicU64,
}

impl WriteWatch {
    fn new() -> WriteWatch {
        WriteWatch {
            started: Instant::now(),
            blocked_since: AtomicU64::new(0),
        }
    }

    fn noted<T>(
        &self,
        polled: Poll<io::Result<T>>,
        wrote: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        match &polled {
            Poll::Pending => {
                if self.blocked_since.load(Ordering::Relaxed) == 0 {
                    let ms = millis_since(self.started);
                    self.blocked_since
                        .store(ms.saturating_add(1), Ordering::Relaxed);
                }
            }
            Poll::Ready(Ok(written)) if wrote(written) => {
                if self.blocked_since.load(Ordering::Relaxed) != 0 {
                    self.blocked_since.store(0, Ordering::Relaxed);
                }
            }
            Poll::Ready(_) => {}
        }
        polled
    }

    fn blocked_for(&self) -> Option<Duration> {
        match self.blocked_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some((self.started + Duration::from_millis(since - 1)).elapsed()),
        }
    }
}

fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
}

impl AsyncRead for Rewound {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.given < self.read {
            let count = (self.read - self.given).min(buf.remaining());
            let given = self.given;
            buf.put_slice(&self.first[given..given + count]);
            self.given += count;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewound {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.writes.noted(polled, |written| *written > 0)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.writes.noted(polled, |written| *written > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The requests in progress on one HTTP/2 connection, since when it has
/// had none, its response bodies, and when the client last took data.
struct Streams {
    open: AtomicUsize,
    started: Instant,
    /// Milliseconds from `started` to when the last request ended.
    idle_since_ms: AtomicU64,
    bodies: Mutex<Vec<Arc<BodyWatch>>>,
    /// Milliseconds from `started` to when a body that had handed over
    /// data was polled again: the client's window took that data.
    progress_at: AtomicU64,
}

/// What one response body last did: hyper polls it whenever the client's
/// window lets it send more, so a body that had data ready and is not
/// polled again waits for the client.
struct BodyWatch {
    /// It has nothing ready: the back-end is the one to wait for.
    waiting_for_backend: AtomicBool,
    /// Milliseconds from the connection's start to when it was last found
    /// with data or its end ready.
    ready_at: AtomicU64,
}

impl Streams {
    fn new() -> Streams {
        Streams {
            open: AtomicUsize::new(0),
            started: Instant::now(),
            idle_since_ms: AtomicU64::new(0),
            bodies: Mutex::new(Vec::new()),
            progress_at: AtomicU64::new(0),
        }
    }

    fn bodies(&self) -> std::sync::MutexGuard<'_, Vec<Arc<BodyWatch>>> {
        // A list of watches holds no invariant a panicking holder could break.
        self.bodies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long responses with data ready have waited for the client
    /// while it took nothing on any stream; `None` when none waits. One
    /// stream the client holds back (a paused video) does not stall the
    /// connection while others move: that transfer ends on its own (the
    /// pump's `client_stall`), the others go on.
    fn stalled_for(&self) -> Option<Duration> {
        let now = millis_since(self.started);
        let earliest = self
            .bodies()
            .iter()
            .filter(|body| !body.waiting_for_backend.load(Ordering::Relaxed))
            .map(|body| body.ready_at.load(Ordering::Relaxed))
            .min()?;
        let since = earliest.max(self.progress_at.load(Ordering::Relaxed));
        Some(Duration::from_millis(now.saturating_sub(since)))
    }

    /// A request began; it is in progress until the guard drops, which
    /// hyper does when its response ended or the stream was reset.
    fn opened(self: &Arc<Self>) -> StreamGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        StreamGuard(self.clone())
    }

    fn idle_from_now(&self) {
        self.idle_since_ms
            .store(millis_since(self.started), Ordering::Relaxed);
    }

    /// How long no request has been in progress; `None` while one is.
    fn idle_for(&self) -> Option<Duration> {
        if self.open.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let since =
            self.started + Duration::from_millis(self.idle_since_ms.load(Ordering::Relaxed));
        Some(since.elapsed())
    }
}

struct StreamGuard(Arc<Streams>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.idle_from_now();
        }
    }
}

/// A response body that keeps its request counted as in progress and
/// tells the connection's watch whether it waits for the client.
struct Counted {
    body: ClientBody,
    stream: StreamGuard,
    watch: Arc<BodyWatch>,
    /// The last poll handed over data (or the end).
    handed_over: bool,
}

impl Counted {
    fn new(body: ClientBody, stream: StreamGuard) -> Counted {
        let watch = Arc::new(BodyWatch {
            waiting_for_backend: AtomicBool::new(false),
            ready_at: AtomicU64::new(millis_since(stream.0.started)),
        });
        stream.0.bodies().push(watch.clone());
        Counted {
            body,
            stream,
            watch,
            handed_over: false,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.stream
            .0
            .bodies()
            .retain(|watch| !Arc::ptr_eq(watch, &self.watch));
    }
}

impl Body for Counted {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let now = millis_since(self.stream.0.started);
        if self.handed_over {
            // hyper asks for more only once the client's window took what
            // it had.
            self.stream.0.progress_at.store(now, Ordering::Relaxed);
        }
        let waiting = polled.is_pending();
        self.handed_over = !waiting;
        if !waiting {
            self.watch.ready_at.store(now, Ordering::Relaxed);
        }
        self.watch
            .waiting_for_backend
            .store(waiting, Ordering::Relaxed);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
