//! One client connection, served as HTTP/1.1 or, when the client opens with
//! HTTP/2's connection preface, as HTTP/2. Without TLS there is no ALPN to
//! agree on the protocol, so HTTP/2 is spoken to clients that know it in
//! advance ("prior knowledge", RFC 9113 section 3.3; `curl
//! --http2-prior-knowledge`). Back-ends are always spoken to in HTTP/1.1.
//!
//! Every connection is bounded in time as well as in number: a client that
//! sends nothing is let go after `header_read_ms`, as HTTP/1.1's idle
//! keep-alive connections are; an HTTP/2 connection without traffic for as
//! long is told to go (GOAWAY, its streams still finish) and closed once it
//! has been silent for `client_stall_ms` more.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::proxy::{handle, Service};

/// What an HTTP/2 client sends first (RFC 9113 section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Response bytes buffered per HTTP/2 stream.
const SEND_BUFFER: usize = 64 * 1024;

/// Serves one accepted client until it leaves or is let go.
pub async fn serve(service: Arc<Service>, stream: TcpStream, peer: SocketAddr) {
    let settings = service.settings().clone();
    let http2 = match timeout(settings.header_read, opens_with_preface(&stream)).await {
        Ok(Some(http2)) => http2,
        // Silent for too long, or gone before a byte.
        Err(_) | Ok(None) => return,
    };
    let handler = service_fn(move |request| handle(service.clone(), peer, request));
    if !http2 {
        let _ = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read)
            .max_buf_size(settings.max_header_bytes)
            .serve_connection(TokioIo::new(stream), handler)
            .await;
        return;
    }
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
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
        let quiet = activity.quiet_for();
        let (limit, next) = if told_to_go {
            (settings.client_stall, settings.client_stall)
        } else {
            (settings.header_read, settings.header_read)
        };
        if quiet >= limit {
            if told_to_go {
                // It did not finish after GOAWAY and sends nothing: let go.
                return;
            }
            connection.as_mut().graceful_shutdown();
            told_to_go = true;
            activity.touch();
            continue;
        }
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = tokio::time::sleep(next - quiet) => {}
        }
    }
}

/// Whether the client's first bytes are HTTP/2's preface; `None` when it
/// left or failed before deciding.
async fn opens_with_preface(stream: &TcpStream) -> Option<bool> {
    let mut first = [0u8; PREFACE.len()];
    loop {
        let seen = stream.peek(&mut first).await.ok()?;
        if seen == 0 {
            return None;
        }
        if first[..seen] != PREFACE[..seen] {
            return Some(false);
        }
        if seen == PREFACE.len() {
            return Some(true);
        }
        // A preface cut across segments: peeking again at once would only
        // see the same bytes (they stay unread, so the socket stays ready).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// When a connection last moved bytes either way.
struct Activity {
    started: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        last.elapsed()
    }
}

/// A client's socket that notes every byte it moves.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
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
