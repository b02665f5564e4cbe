//! The proxy against scripted back-ends on loopback: a back-end that dies
//! mid-body is replaced by one that has the same bytes, and never by one
//! that has other bytes. The VM test `l7-resume` does the same with real
//! servers killed for real.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringgate_l7::config::Settings;
use ringgate_l7::listener;
use ringgate_l7::proxy::{serve, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

mod common;
use common::{content, counter, header, scripted_backend, settings, split_response, LENGTH};

/// How a scripted back-end misbehaves.
#[derive(Clone)]
struct Script {
    content: Arc<Vec<u8>>,
    etag: &'static str,
    /// Close the connection after this many body bytes.
    cut_after: Option<usize>,
    /// After `cut_after` bytes, keep the connection open and silent.
    stall: bool,
    /// Answer 200 with the whole body whatever the request's Range.
    ignore_range: bool,
}

impl Script {
    fn good(content: &Arc<Vec<u8>>) -> Script {
        Script {
            content: content.clone(),
            etag: "\"v1\"",
            cut_after: None,
            stall: false,
            ignore_range: false,
        }
    }

    fn cut(mut self, after: usize) -> Script {
        self.cut_after = Some(after);
        self
    }
}

/// A back-end serving one script; records every request head it receives.
async fn backend(script: Script) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    scripted_backend(move |stream, head| respond(stream, head, script.clone())).await
}

async fn respond(mut stream: TcpStream, head: String, script: Script) {
    let range = header(&head, "range").and_then(|value| {
        let (first, last) = value.strip_prefix("bytes=")?.split_once('-')?;
        let first: usize = first.parse().ok()?;
        let last: usize = if last.is_empty() {
            LENGTH - 1
        } else {
            last.parse().ok()?
        };
        Some((first, last))
    });
    let (status, body, extra) = match range {
        Some((first, last)) if !script.ignore_range => (
            "206 Partial Content",
            &script.content[first..=last],
            format!("Content-Range: bytes {first}-{last}/{LENGTH}\r\n"),
        ),
        _ => ("200 OK", &script.content[..], String::new()),
    };
    let response_head = format!(
        "HTTP/1.1 {status}\r\nETag: {}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        script.etag,
        body.len()
    );
    if stream.write_all(response_head.as_bytes()).await.is_err() {
        return;
    }
    let sent = script.cut_after.unwrap_or(body.len()).min(body.len());
    let _ = stream.write_all(&body[..sent]).await;
    if script.stall && sent < body.len() {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

async fn proxy(backends: &[(SocketAddr, u32)], settings: Settings) -> (SocketAddr, Arc<Service>) {
    let socket = listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    let service = Arc::new(Service::new(address, backends, settings));
    tokio::spawn(serve(
        socket,
        service.clone(),
        Arc::new(Semaphore::new(64)),
        None,
    ));
    (address, service)
}

/// One request through the proxy; returns the response head and the body
/// bytes that arrived before the proxy closed the connection.
async fn fetch(proxy: SocketAddr, extra: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let request = format!("GET /file HTTP/1.1\r\nHost: vip\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response)).await;
    split_response(response)
}

#[tokio::test]
async fn a_download_cut_mid_body_is_finished_by_another_backend() {
    let data = content(1);
    let (dying, _) = backend(Script::good(&data).cut(300_000)).await;
    let (healthy, heads) = backend(Script::good(&data)).await;
    let (proxy, service) = proxy(&[(dying, 2), (healthy, 1)], settings()).await;
    let (head, body) = fetch(proxy, "").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body.len(), LENGTH);
    assert!(body == data[..], "the spliced body differs from the file");
    let asked = heads.lock().unwrap().clone();
    assert_eq!(header(&asked[0], "range"), Some("bytes=300000-999999"));
    assert_eq!(header(&asked[0], "if-range"), Some("\"v1\""));
    assert_eq!(counter(&service, "resumed"), 1);
    assert_eq!(counter(&service, "transfers_completed"), 1);
}

#[tokio::test]
async fn two_failures_in_one_download_are_both_resumed() {
    let data = content(2);
    let (first, _) = backend(Script::good(&data).cut(200_000)).await;
    let (second, _) = backend(Script::good(&data).cut(300_000)).await;
    let (third, heads) = backend(Script::good(&data)).await;
    let (proxy, service) = proxy(&[(first, 3), (second, 2), (third, 1)], settings()).await;
    let (_, body) = fetch(proxy, "").await;
    assert!(body == data[..], "got {} bytes, not the file", body.len());
    assert_eq!(
        header(&heads.lock().unwrap()[0], "range"),
        Some("bytes=500000-999999")
    );
    assert_eq!(counter(&service, "resumed"), 2);
}

#[tokio::test]
async fn a_clients_own_range_is_resumed_within_it() {
    let data = content(3);
    let (dying, _) = backend(Script::good(&data).cut(200_000)).await;
    let (healthy, heads) = backend(Script::good(&data)).await;
    let (proxy, _) = proxy(&[(dying, 2), (healthy, 1)], settings()).await;
    let (head, body) = fetch(proxy, "Range: bytes=100000-599999\r\n").await;
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    assert!(
        body == data[100_000..600_000],
        "got {} bytes, not the range",
        body.len()
    );
    assert_eq!(
        header(&heads.lock().unwrap()[0], "range"),
        Some("bytes=300000-599999")
    );
}

#[tokio::test]
async fn a_stalled_backend_counts_as_failed() {
    let data = content(4);
    let mut stalling = Script::good(&data).cut(100_000);
    stalling.stall = true;
    let (stalled, _) = backend(stalling).await;
    let (healthy, _) = backend(Script::good(&data)).await;
    let (proxy, service) = proxy(&[(stalled, 2), (healthy, 1)], settings()).await;
    let (_, body) = fetch(proxy, "").await;
    assert!(body == data[..], "got {} bytes, not the file", body.len());
    assert_eq!(counter(&service, "resumed"), 1);
}

/// Runs a download whose first back-end dies at 300 kB and whose only other
/// back-end is `other`; returns what the client got and the service.
async fn cut_with_only(other: Script, data: &Arc<Vec<u8>>) -> (String, Vec<u8>, Arc<Service>) {
    let (dying, _) = backend(Script::good(data).cut(300_000)).await;
    let (other, _) = backend(other).await;
    let (proxy, service) = proxy(&[(dying, 2), (other, 1)], settings()).await;
    let (head, body) = fetch(proxy, "").await;
    (head, body, service)
}

#[tokio::test]
async fn another_version_of_the_file_is_never_spliced_in() {
    let data = content(5);
    let mut changed = Script::good(&content(6));
    changed.etag = "\"v2\"";
    let (head, body, service) = cut_with_only(changed, &data).await;
    // The client was promised the whole length and gets it short: HTTP's
    // truncated response, which curl and browsers report as a failure.
    assert_eq!(header(&head, "content-length"), Some("1000000"));
    assert_eq!(body.len(), 300_000);
    assert!(body == data[..300_000]);
    assert_eq!(counter(&service, "refused_validator_mismatch"), 1);
    assert_eq!(counter(&service, "aborted"), 1);
}

#[tokio::test]
async fn a_backend_that_ignores_range_is_never_spliced_in() {
    let data = content(7);
    let mut whole = Script::good(&data);
    whole.ignore_range = true;
    let (_, body, service) = cut_with_only(whole, &data).await;
    assert_eq!(body.len(), 300_000);
    assert_eq!(counter(&service, "refused_not_partial"), 1);
    assert_eq!(counter(&service, "aborted"), 1);
}

#[tokio::test]
async fn with_every_other_backend_down_the_response_ends_short() {
    let data = content(8);
    let (dying, _) = backend(Script::good(&data).cut(300_000)).await;
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (proxy, service) = proxy(&[(dying, 2), (closed, 1)], settings()).await;
    let (_, body) = fetch(proxy, "").await;
    assert_eq!(body.len(), 300_000);
    assert_eq!(counter(&service, "resume_attempts"), 1);
    assert_eq!(counter(&service, "aborted"), 1);
}

#[tokio::test]
async fn a_huge_request_head_is_refused() {
    let data = content(9);
    let (good, heads) = backend(Script::good(&data)).await;
    let (proxy, _) = proxy(&[(good, 1)], settings()).await;
    let (head, _) = fetch(proxy, &format!("X-Filler: {}\r\n", "a".repeat(40_000))).await;
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    assert!(heads.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_client_that_never_finishes_its_head_is_cut_off() {
    let data = content(10);
    let (good, _) = backend(Script::good(&data)).await;
    let (proxy, service) = proxy(&[(good, 1)], settings()).await;
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(b"GET /file HTTP/1.1\r\nHost: vip\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // Far longer than the 300 ms allowed: the proxy must have closed by then.
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow client was not cut off");
    assert_eq!(service.metrics.requests.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_download_over_http2_cut_mid_body_is_finished_by_another_backend() {
    let data = content(11);
    let (dying, _) = backend(Script::good(&data).cut(300_000)).await;
    let (healthy, heads) = backend(Script::good(&data)).await;
    let (proxy, service) = proxy(&[(dying, 2), (healthy, 1)], settings()).await;
    let (mut sender, _) = common::http2_connect(proxy).await;
    let response = common::http2_get(&mut sender, "/file", &[]).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.error, None);
    assert!(
        response.body == data[..],
        "got {} bytes, not the file",
        response.body.len()
    );
    // The back-ends speak HTTP/1.1: the request's authority became its Host.
    let asked = heads.lock().unwrap().clone();
    assert_eq!(header(&asked[0], "host"), Some("vip"));
    assert_eq!(header(&asked[0], "range"), Some("bytes=300000-999999"));
    assert_eq!(counter(&service, "resumed"), 1);
}

#[tokio::test]
async fn over_http2_a_body_nobody_can_finish_ends_in_an_error() {
    let data = content(12);
    let mut changed = Script::good(&content(13));
    changed.etag = "\"v2\"";
    let (dying, _) = backend(Script::good(&data).cut(300_000)).await;
    let (other, _) = backend(changed).await;
    let (proxy, service) = proxy(&[(dying, 2), (other, 1)], settings()).await;
    let (mut sender, _) = common::http2_connect(proxy).await;
    let response = common::http2_get(&mut sender, "/file", &[]).await;
    // HTTP/2 says "truncated" by resetting the stream, never by ending it.
    assert!(response.error.is_some(), "the stream ended cleanly");
    assert_eq!(response.body.len(), 300_000);
    assert!(response.body == data[..300_000]);
    assert_eq!(counter(&service, "refused_validator_mismatch"), 1);
}
