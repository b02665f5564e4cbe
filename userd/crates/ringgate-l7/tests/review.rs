//! Defects an adversarial review of the proxy reproduced, each as the
//! behaviour it must have (all five failed before their fixes): short bodies
//! that looked complete, a panic from a back-end's Content-Range, an unsafe
//! method sent twice, a slow body that cannot be resumed cut as a stall.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringgate_l7::config::Settings;
use ringgate_l7::listener;
use ringgate_l7::proxy::{serve, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

mod common;
use common::{content, counter, header, scripted_backend, split_response, LENGTH};

#[derive(Clone)]
enum Behaviour {
    /// 200, chunked, no Content-Length, strong ETag "v1": `data` `repeat`
    /// times, closed mid-chunk after `cut` body bytes.
    Chunked {
        data: Arc<Vec<u8>>,
        repeat: usize,
        cut: Option<usize>,
    },
    /// A 206 for `bytes=N-` that carries only `short` bytes from N.
    ShortPartial { data: Arc<Vec<u8>>, short: usize },
    /// A 206 whose Content-Range ends at u64::MAX, with a Content-Length.
    OverflowRange,
    /// Reads the request head, then closes without answering.
    Vanish,
    /// 200, Content-Length 20, no validator: 10 bytes, a pause, 10 bytes.
    Pausing(Duration),
}

async fn backend(behaviour: Behaviour) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    scripted_backend(move |mut stream, head| {
        let behaviour = behaviour.clone();
        async move {
            let _ = answer(&mut stream, &head, behaviour).await;
        }
    })
    .await
}

async fn answer(stream: &mut TcpStream, head: &str, behaviour: Behaviour) -> std::io::Result<()> {
    match behaviour {
        Behaviour::Chunked { data, repeat, cut } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                .await?;
            let mut sent = 0;
            for _ in 0..repeat {
                for piece in data.chunks(16 * 1024) {
                    stream.write_all(format!("{:x}\r\n", piece.len()).as_bytes()).await?;
                    if let Some(cut) = cut {
                        if sent + piece.len() > cut {
                            // Mid-chunk: hyper's client reports an error.
                            stream.write_all(&piece[..cut - sent]).await?;
                            return Ok(());
                        }
                    }
                    stream.write_all(piece).await?;
                    stream.write_all(b"\r\n").await?;
                    sent += piece.len();
                }
            }
            stream.write_all(b"0\r\n\r\n").await
        }
        Behaviour::ShortPartial { data, short } => {
            let first: usize = header(head, "range")
                .and_then(|v| v.strip_prefix("bytes="))
                .and_then(|v| v.split_once('-'))
                .and_then(|(first, _)| first.parse().ok())
                .unwrap();
            let last = first + short - 1;
            let response = format!(
                "HTTP/1.1 206 Partial Content\r\nETag: \"v1\"\r\nContent-Range: bytes {first}-{last}/{LENGTH}\r\nContent-Length: {short}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(response.as_bytes()).await?;
            stream.write_all(&data[first..=last]).await
        }
        Behaviour::OverflowRange => {
            stream
                .write_all(b"HTTP/1.1 206 Partial Content\r\nETag: \"v1\"\r\nContent-Range: bytes 0-18446744073709551615/*\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789")
                .await
        }
        Behaviour::Vanish => Ok(()),
        Behaviour::Pausing(pause) => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\nConnection: close\r\n\r\n0123456789")
                .await?;
            tokio::time::sleep(pause).await;
            stream.write_all(b"abcdefghij").await
        }
    }
}

/// The shared settings, with a client allowed to stall only 500 ms.
fn settings() -> Settings {
    Settings {
        client_stall: Duration::from_millis(500),
        header_read: Duration::from_secs(2),
        ..common::settings()
    }
}

async fn proxy(backends: &[(SocketAddr, u32)]) -> (SocketAddr, Arc<Service>) {
    let socket = listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    let service = Arc::new(Service::new(address, backends, settings()));
    tokio::spawn(serve(
        socket,
        service.clone(),
        Arc::new(Semaphore::new(64)),
        None,
    ));
    (address, service)
}

/// Sends `request` (after `pause` without reading, on a small receive
/// buffer); returns the response head and the raw bytes after it.
async fn exchange(proxy: SocketAddr, request: &str, pause: Duration) -> (String, Vec<u8>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(proxy).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await;
    split_response(response)
}

const GET: &str = "GET /file HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n";

/// Decodes a chunked body: its bytes, and whether the last chunk came.
fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|line| usize::from_str_radix(line.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else {
            return (body, false);
        };
        raw = &raw[eol + 2..];
        if size == 0 {
            return (body, true);
        }
        if raw.len() < size + 2 {
            body.extend_from_slice(&raw[..raw.len().min(size)]);
            return (body, false);
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// proxy.rs Outcome::ClientStalled drops the sender without an error: the
/// chunked response gets its last chunk and looks complete.
#[tokio::test]
async fn a_stalled_client_never_gets_a_short_body_as_complete() {
    let data = content(1);
    let repeat = 32;
    let (origin, _) = backend(Behaviour::Chunked {
        data,
        repeat,
        cut: None,
    })
    .await;
    let (proxy, service) = proxy(&[(origin, 1)]).await;
    let (head, raw) = exchange(proxy, GET, Duration::from_secs(2)).await;
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let (body, complete) = dechunk(&raw);
    // The pump's wait on the client and the connection's watch on its
    // socket both run out after `client_stall`: either may end it first.
    let stalls = counter(&service, "client_stalled") + counter(&service, "connections_stalled");
    assert!(stalls >= 1, "the client did not stall");
    assert!(
        !complete || body.len() == LENGTH * repeat,
        "{} of {} bytes, ended with the last chunk",
        body.len(),
        LENGTH * repeat
    );
}

/// resume.rs accept_resumed: with the end unknown (chunked 200) a 206 that
/// stops short of the complete length is accepted as the end of the body.
#[tokio::test]
async fn a_short_206_does_not_end_an_open_ended_body() {
    let data = content(2);
    let (dying, _) = backend(Behaviour::Chunked {
        data: data.clone(),
        repeat: 1,
        cut: Some(300_000),
    })
    .await;
    let (short, _) = backend(Behaviour::ShortPartial {
        data: data.clone(),
        short: 1000,
    })
    .await;
    let (proxy, _) = proxy(&[(dying, 2), (short, 1)]).await;
    let (_, raw) = exchange(proxy, GET, Duration::ZERO).await;
    let (body, complete) = dechunk(&raw);
    assert!(
        !complete || body == data[..],
        "{} bytes, ended with the last chunk",
        body.len()
    );
}

/// range.rs ContentRange::length overflows (0-u64::MAX); the pump task
/// panics and its dropped sender ends the chunked body as if complete.
#[tokio::test]
async fn an_overflowing_content_range_is_refused_not_a_panic() {
    let data = content(3);
    let (dying, _) = backend(Behaviour::Chunked {
        data: data.clone(),
        repeat: 1,
        cut: Some(300_000),
    })
    .await;
    let (evil, _) = backend(Behaviour::OverflowRange).await;
    let (proxy, service) = proxy(&[(dying, 2), (evil, 1)]).await;
    let (_, raw) = exchange(proxy, GET, Duration::ZERO).await;
    let (body, complete) = dechunk(&raw);
    assert!(!complete, "{} bytes, ended with the last chunk", body.len());
    assert_eq!(counter(&service, "aborted"), 1);
}

/// proxy.rs handle: a body-less POST whose back-end closed after reading
/// it is sent again to another back-end (RFC 9110 9.2.2).
#[tokio::test]
async fn a_non_idempotent_request_is_not_sent_twice() {
    let (vanishing, first) = backend(Behaviour::Vanish).await;
    let (other, second) = backend(Behaviour::Pausing(Duration::ZERO)).await;
    let (proxy, _) = proxy(&[(vanishing, 2), (other, 1)]).await;
    let request =
        "POST /order HTTP/1.1\r\nHost: vip\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let _ = exchange(proxy, request, Duration::ZERO).await;
    let sent = first.lock().unwrap().len() + second.lock().unwrap().len();
    assert_eq!(sent, 1, "the POST reached {sent} back-ends");
}

/// proxy.rs forward: a non-resumable response that pauses longer than
/// stall_ms (a slow report, a stream) is cut and its back-end held down.
#[tokio::test]
async fn a_slow_non_resumable_body_is_not_cut() {
    let (slow, _) = backend(Behaviour::Pausing(Duration::from_secs(1))).await;
    let (proxy, service) = proxy(&[(slow, 1)]).await;
    let (_, body) = exchange(proxy, GET, Duration::ZERO).await;
    assert_eq!(
        body,
        b"0123456789abcdefghij",
        "{:?}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(counter(&service, "backend_failures"), 0);
}
