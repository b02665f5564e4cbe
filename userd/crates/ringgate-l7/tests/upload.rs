//! Uploads and the blame for them. A client whose upload breaks off (it
//! sends less than its `Content-Length` and goes) is the client's failure;
//! an upload slower than `response_ms` is nobody's; one that stops moving
//! fails the request without blaming the back-end. In none of these is the
//! back-end put in its hold-down.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{counter, scripted_backend, settings, split_response, start_proxy};
use ringgate_l7::config::Settings;
use ringgate_l7::proxy::Service;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn an_upload_the_client_breaks_off_does_not_blame_the_backend() {
    // The back-end reads the body to its end before it answers.
    let (backend, _) = scripted_backend(|mut stream, _| async move {
        let mut body = Vec::new();
        let _ = stream.read_to_end(&mut body).await;
    })
    .await;
    let (proxy, service) = start_proxy(&[(backend, 1)], settings()).await;

    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(
            b"POST /up HTTP/1.1\r\nHost: vip\r\nContent-Length: 100000\r\n\r\nonly this much",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);

    for _ in 0..100 {
        if counter(&service, "client_upload_failed") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counter(&service, "client_upload_failed"), 1);
    let view = &service.backends()[0];
    assert!(view.up && view.failures == 0, "{view:?}");
    assert_eq!(counter(&service, "bad_gateway"), 0);
}

const SIZE: usize = 2000;

/// A proxy with a 300 ms `response_ms` before a back-end that reads the
/// whole body, then answers with its length.
async fn proxy_to_reader() -> (std::net::SocketAddr, Arc<Service>) {
    let (backend, _) = scripted_backend(|mut stream, _| async move {
        let mut body = vec![0; SIZE];
        if stream.read_exact(&mut body).await.is_ok() {
            let answer = format!("got {}", body.len());
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    })
    .await;
    let settings = Settings {
        response: Duration::from_millis(300),
        ..settings()
    };
    start_proxy(&[(backend, 1)], settings).await
}

async fn response_of(mut stream: TcpStream) -> (String, String) {
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let (head, body) = split_response(response);
    (head, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn an_upload_slower_than_response_ms_is_answered_and_blames_nobody() {
    let (proxy, service) = proxy_to_reader().await;
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let head = format!(
        "POST /up HTTP/1.1\r\nHost: vip\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 1 s in all, a piece every 50 ms: more than three times response_ms.
    for _ in 0..20 {
        stream.write_all(&[b'u'; SIZE / 20]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (head, body) = response_of(stream).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, format!("got {SIZE}"));
    let view = &service.backends()[0];
    assert!(view.up && view.failures == 0, "{view:?}");
}

#[tokio::test]
async fn an_upload_that_stops_moving_is_answered_408_and_blames_nobody() {
    let (proxy, service) = proxy_to_reader().await;
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let head = format!(
        "POST /up HTTP/1.1\r\nHost: vip\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\nsome"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The rest never comes, and the client stays.
    let (head, _) = response_of(stream).await;
    assert!(head.starts_with("HTTP/1.1 408 "), "{head}");
    assert_eq!(counter(&service, "upload_stalled"), 1);
    let view = &service.backends()[0];
    assert!(view.up && view.failures == 0, "{view:?}");
}
