//! Helpers the loopback tests share: content that differs at every offset,
//! a back-end on loopback answering by a script, reading a header, reading
//! a counter.

#![allow(dead_code)] // Each test file uses its own share of the helpers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringgate_l7::config::Settings;
use ringgate_l7::listener;
use ringgate_l7::proxy::{serve, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

pub const LENGTH: usize = 1_000_000;

pub fn content(seed: u8) -> Arc<Vec<u8>> {
    // Bytes that differ at every offset, so a splice at the wrong place shows.
    let mut state = u32::from(seed) | 1;
    Arc::new(
        (0..LENGTH)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect(),
    )
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

pub fn counter(service: &Service, name: &str) -> u64 {
    service.metrics.to_json()[name].as_u64().unwrap()
}

/// A back-end on loopback: each connection's request head is recorded and
/// `answer` writes the response (or misbehaves).
pub async fn scripted_backend<F, R>(answer: F) -> (SocketAddr, Arc<Mutex<Vec<String>>>)
where
    F: Fn(TcpStream, String) -> R + Send + Sync + 'static,
    R: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let (seen, answer) = (seen.clone(), answer.clone());
            tokio::spawn(async move {
                let head = read_head(&mut stream).await;
                seen.lock().unwrap().push(head.clone());
                answer(stream, head).await;
            });
        }
    });
    (address, heads)
}

/// A response as read off the socket: its head, and the bytes after it.
pub fn split_response(mut response: Vec<u8>) -> (String, Vec<u8>) {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let body = response.split_off(split);
    (String::from_utf8_lossy(&response).into_owned(), body)
}

/// Short timeouts, so that stalls and slow clients show within a test.
pub fn settings() -> Settings {
    Settings {
        max_connections: 64,
        max_resumes: 3,
        max_header_bytes: 16 * 1024,
        http2_max_streams: 8,
        connect: Duration::from_secs(2),
        response: Duration::from_secs(5),
        stall: Duration::from_millis(300),
        client_stall: Duration::from_secs(10),
        header_read: Duration::from_millis(300),
        hold_down: Duration::from_secs(5),
    }
}

/// A back-end on loopback whose every answer is `name`.
pub async fn named(name: &'static str) -> SocketAddr {
    let (address, _) = scripted_backend(move |mut stream, _| async move {
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
            name.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
    })
    .await;
    address
}

/// A loopback port nothing listens on (the OS gave it and it was let go).
pub fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// The body of one GET through loopback port `port`, or `None` if nothing
/// listens there or no whole response head came.
pub async fn get(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let at = response.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some(String::from_utf8_lossy(&response[at..]).into_owned())
}

/// A proxy on a free loopback port for `backends`, serving until the test
/// ends; its address and its service (for counters and back-end views).
pub async fn start_proxy(
    backends: &[(SocketAddr, u32)],
    settings: Settings,
) -> (SocketAddr, Arc<Service>) {
    let socket = listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    let service = Arc::new(Service::new(address, backends, settings));
    let workers = ringgate_l7::workers::Workers::start(1).unwrap();
    tokio::spawn(serve(
        socket,
        service.clone(),
        Arc::new(Semaphore::new(64)),
        Some(workers),
    ));
    (address, service)
}

/// An HTTP/2 connection to `proxy`, spoken with prior knowledge as `curl
/// --http2-prior-knowledge` does; the task driving it ends when it closes.
pub async fn http2_connect(
    proxy: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    tokio::task::JoinHandle<()>,
) {
    let stream = TcpStream::connect(proxy).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, driver)
}

/// What one HTTP/2 exchange gave: the status, the headers, the body bytes
/// that arrived, and the error that ended the body early, if one did.
pub struct Http2Response {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub error: Option<String>,
}

/// A GET of `path` on an HTTP/2 connection, with `extra` request headers.
pub async fn http2_get(
    sender: &mut hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    path: &str,
    extra: &[(&str, &str)],
) -> Http2Response {
    let mut request = http::Request::get(format!("http://vip{path}"));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let request = request.body(http_body_util::Empty::new()).unwrap();
    http2_send(sender, request).await.unwrap()
}

/// One request on an HTTP/2 connection, its response read to the end or
/// to the error that ended it; the error if no response came.
pub async fn http2_send(
    sender: &mut hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    request: http::Request<http_body_util::Empty<bytes::Bytes>>,
) -> Result<Http2Response, hyper::Error> {
    use http_body_util::BodyExt;
    let response = sender.send_request(request).await?;
    let (parts, mut body) = response.into_parts();
    let (mut bytes, mut error) = (Vec::new(), None);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Err(failed) => {
                error = Some(failed.to_string());
                break;
            }
        }
    }
    Ok(Http2Response {
        status: parts.status,
        headers: parts.headers,
        body: bytes,
        error,
    })
}
