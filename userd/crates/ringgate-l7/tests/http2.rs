//! HTTP/2 from clients that know it in advance, to HTTP/1.1 back-ends: one
//! connection carries concurrent requests, each request arrives as a
//! well-formed HTTP/1.1 one, a connection that stops talking or taking is
//! let go, and one that is slow to take keeps its responses whole.

use std::time::Duration;

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

mod common;
use common::{
    counter, header, http2_connect, http2_get, named, scripted_backend, settings, start_proxy,
};

#[tokio::test]
async fn one_connection_carries_concurrent_requests() {
    let backend = named("alpha").await;
    let (proxy, service) = start_proxy(&[(backend, 1)], settings()).await;
    let (sender, _) = http2_connect(proxy).await;
    let requests = (0..3).map(|_| {
        let mut sender = sender.clone();
        tokio::spawn(async move { http2_get(&mut sender, "/", &[]).await })
    });
    for request in requests.collect::<Vec<_>>() {
        let response = request.await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"alpha");
    }
    assert_eq!(counter(&service, "connections"), 1);
    assert_eq!(counter(&service, "requests"), 3);
}

/// A back-end answering "ok" to every request; the request heads it got.
async fn answering_ok() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    scripted_backend(|mut stream, _| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .await;
    })
    .await
}

#[tokio::test]
async fn cookies_sent_apart_reach_the_backend_in_one_field() {
    let (backend, heads) = answering_ok().await;
    let (proxy, _) = start_proxy(&[(backend, 1)], settings()).await;
    let (mut sender, _) = http2_connect(proxy).await;
    let response = http2_get(
        &mut sender,
        "/x?y=1",
        &[("cookie", "a=1"), ("cookie", "b=2")],
    )
    .await;
    assert_eq!(response.body, b"ok");
    let head = heads.lock().unwrap()[0].clone();
    assert!(head.starts_with("GET /x?y=1 HTTP/1.1\r\n"), "{head}");
    assert_eq!(header(&head, "cookie"), Some("a=1; b=2"));
    assert_eq!(header(&head, "host"), Some("vip"));
    assert_eq!(
        head.matches("cookie:").count() + head.matches("Cookie:").count(),
        1
    );
}

#[tokio::test]
async fn an_idle_connection_is_told_to_go() {
    let backend = named("beta").await;
    let (proxy, _) = start_proxy(&[(backend, 1)], quick_to_let_go()).await;
    let (mut sender, driver) = http2_connect(proxy).await;
    assert_eq!(http2_get(&mut sender, "/", &[]).await.body, b"beta");
    timeout(Duration::from_secs(5), driver)
        .await
        .expect("the idle connection was not closed")
        .unwrap();
}

#[tokio::test]
async fn a_client_that_stops_within_the_preface_is_let_go() {
    let backend = named("gamma").await;
    let (proxy, _) = start_proxy(&[(backend, 1)], settings()).await;
    for sent in [&b""[..], b"PRI * HT"] {
        let mut stream = TcpStream::connect(proxy).await.unwrap();
        stream.write_all(sent).await.unwrap();
        let mut rest = Vec::new();
        let read = timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a client that sent {sent:?} was kept");
    }
}

/// A request and how it ended, as text: "200 OK ok \"body\"" or the error.
async fn outcome(
    sender: &mut hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    request: http::Request<http_body_util::Empty<bytes::Bytes>>,
) -> String {
    match common::http2_send(sender, request).await {
        Err(error) => format!("request failed: {error:?}"),
        Ok(response) => match response.error {
            None => format!(
                "{} ok {:?}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ),
            Some(error) => format!("{} body error: {error}", response.status),
        },
    }
}

fn get(uri: &str) -> http::Request<http_body_util::Empty<bytes::Bytes>> {
    http::Request::get(uri)
        .body(http_body_util::Empty::new())
        .unwrap()
}

#[tokio::test]
async fn a_slow_answer_is_not_cut_off_as_idleness() {
    let (backend, _) = scripted_backend(|mut stream, _| async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow")
            .await;
    })
    .await;
    let mut settings = settings();
    settings.header_read = Duration::from_millis(300);
    settings.client_stall = Duration::from_millis(500);
    settings.response = Duration::from_secs(3);
    let (proxy, _) = start_proxy(&[(backend, 1)], settings).await;
    let (mut sender, _) = http2_connect(proxy).await;
    let outcome = outcome(&mut sender, get("http://vip/")).await;
    assert_eq!(outcome, "200 OK ok \"slow\"");
}

/// Told to go after `header_read` without a request, let go after
/// `client_stall` more.
fn quick_to_let_go() -> ringgate_l7::config::Settings {
    ringgate_l7::config::Settings {
        header_read: Duration::from_millis(300),
        client_stall: Duration::from_millis(700),
        ..settings()
    }
}

#[tokio::test]
async fn a_connection_that_only_pings_is_let_go() {
    let backend = named("delta").await;
    let (proxy, _) = start_proxy(&[(backend, 1)], quick_to_let_go()).await;
    let stream = TcpStream::connect(proxy).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(Duration::from_millis(100))
            .keep_alive_while_idle(true)
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    assert_eq!(
        outcome(&mut sender, get("http://vip/")).await,
        "200 OK ok \"delta\""
    );
    timeout(Duration::from_secs(5), driver)
        .await
        .expect("a connection sending only PINGs was kept")
        .unwrap();
}

#[tokio::test]
async fn a_request_head_that_never_completes_is_cut_off() {
    let backend = named("epsilon").await;
    let (proxy, service) = start_proxy(&[(backend, 1)], quick_to_let_go()).await;
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    stream
        .write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
        .await
        .unwrap(); // SETTINGS
    stream
        .write_all(&[0, 0, 100, 1, 4, 0, 0, 0, 1])
        .await
        .unwrap(); // HEADERS of 100 bytes
    let started = std::time::Instant::now();
    let mut junk = [0u8; 4096];
    let closed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "a trickled head was kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        // One byte of the head at a time.
        if stream.write_all(&[0x82]).await.is_err() {
            break true;
        }
        if let Ok(Ok(0) | Err(_)) = timeout(Duration::from_millis(1), stream.read(&mut junk)).await
        {
            break true;
        }
    };
    assert!(closed);
    assert_eq!(counter(&service, "requests"), 0);
}

#[tokio::test]
async fn a_304_with_a_content_length_ends_with_its_head() {
    let (backend, _) = scripted_backend(|mut stream, _| async move {
        let _ = stream
            .write_all(
                b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
            )
            .await;
    })
    .await;
    let (proxy, _) = start_proxy(&[(backend, 1)], settings()).await;
    let (mut sender, _) = http2_connect(proxy).await;
    let request = http::Request::get("http://vip/")
        .header("if-none-match", "\"x\"")
        .body(http_body_util::Empty::new())
        .unwrap();
    assert_eq!(
        outcome(&mut sender, request).await,
        "304 Not Modified ok \"\""
    );
}

#[tokio::test]
async fn the_requests_authority_wins_over_another_host() {
    let (backend, heads) = answering_ok().await;
    let (proxy, _) = start_proxy(&[(backend, 1)], settings()).await;
    let (mut sender, _) = http2_connect(proxy).await;
    let request = http::Request::get("http://user:secret@public.example/x")
        .header("host", "internal.example")
        .body(http_body_util::Empty::new())
        .unwrap();
    assert_eq!(outcome(&mut sender, request).await, "200 OK ok \"ok\"");
    let head = heads.lock().unwrap()[0].clone();
    assert_eq!(header(&head, "host"), Some("public.example"));
}

/// An HTTP/2 connection whose client announces a receive window of
/// `window` bytes per stream.
async fn connect_with_window(
    proxy: std::net::SocketAddr,
    window: u32,
) -> (
    hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    tokio::task::JoinHandle<()>,
) {
    let stream = TcpStream::connect(proxy).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size(window)
            .initial_connection_window_size(window.max(65535))
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, driver)
}

/// A back-end answering every request with `length` bytes.
async fn sized(length: usize) -> std::net::SocketAddr {
    let (backend, _) = scripted_backend(move |mut stream, _| async move {
        let mut response =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n")
                .into_bytes();
        response.resize(response.len() + length, b'y');
        let _ = stream.write_all(&response).await;
    })
    .await;
    backend
}

#[tokio::test]
async fn a_client_that_never_opens_its_window_is_let_go() {
    let backend = sized(2_000_000).await;
    let settings = ringgate_l7::config::Settings {
        client_stall: Duration::from_millis(500),
        ..settings()
    };
    let (proxy, service) = start_proxy(&[(backend, 1)], settings).await;
    let (mut sender, driver) = connect_with_window(proxy, 65535).await;
    let response = sender.send_request(get("http://vip/")).await.unwrap();
    assert_eq!(response.status(), 200);
    // The body is never read: the window stays shut.
    timeout(Duration::from_secs(5), driver)
        .await
        .expect("a client that takes nothing was kept")
        .unwrap();
    assert_eq!(counter(&service, "connections_stalled"), 1);
    drop(response);
}

#[tokio::test]
async fn a_tail_waiting_for_the_clients_window_is_not_cut_off() {
    let backend = sized(6000).await;
    // `header_read` is 300 ms: the request ends (its last bytes queued for
    // the client's window) long before the client reads.
    let (proxy, _) = start_proxy(&[(backend, 1)], settings()).await;
    let (mut sender, _) = connect_with_window(proxy, 1024).await;
    let response = sender.send_request(get("http://vip/")).await.unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body was cut off");
    assert_eq!(body.to_bytes().len(), 6000);
}

#[tokio::test]
async fn one_stream_held_back_does_not_cut_the_others() {
    // `/slow` trickles 20 pieces over 2 s; anything else is 2 MB at once.
    let (backend, _) = scripted_backend(|mut stream, head| async move {
        if head.starts_with("GET /slow ") {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n")
                .await;
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = stream.write_all(&[b's'; 1000]).await;
            }
        } else {
            let mut response =
                b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n".to_vec();
            response.resize(response.len() + 2_000_000, b'b');
            let _ = stream.write_all(&response).await;
        }
    })
    .await;
    let settings = ringgate_l7::config::Settings {
        client_stall: Duration::from_millis(500),
        ..settings()
    };
    let (proxy, service) = start_proxy(&[(backend, 1)], settings).await;
    let (mut sender, driver) = connect_with_window(proxy, 1024).await;
    // The client never reads this one: its stream's window stays shut.
    let held_back = sender.send_request(get("http://vip/big")).await.unwrap();
    // This one it reads as it comes, for four times `client_stall`.
    let moving = sender.send_request(get("http://vip/slow")).await.unwrap();
    let body = moving
        .into_body()
        .collect()
        .await
        .expect("the moving stream was cut");
    assert_eq!(body.to_bytes().len(), 20_000);
    // With nothing moving any more, the held-back stream stalls the
    // connection, which gives its slot back.
    timeout(Duration::from_secs(5), driver)
        .await
        .expect("a connection that takes nothing was kept")
        .unwrap();
    assert_eq!(counter(&service, "connections_stalled"), 1);
    drop(held_back);
}
