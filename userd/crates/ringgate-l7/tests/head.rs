//! A response of known length goes to the client only with its first body
//! bytes: a back-end that sends a head and fails before any byte of the
//! body is answered 502, as if it had not answered, instead of a head the
//! client would take for the start of a (then truncated) response.

mod common;

use std::time::Duration;

use common::{counter, scripted_backend, settings, split_response, start_proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_head_without_a_single_body_byte_is_answered_502() {
    let (backend, _) = scripted_backend(|mut stream, _| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n")
            .await;
    })
    .await;
    let (proxy, service) = start_proxy(&[(backend, 1)], settings()).await;

    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(b"GET /x HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let (head, _) = split_response(response);
    assert!(head.starts_with("HTTP/1.1 502 "), "{head}");
    assert_eq!(counter(&service, "bad_gateway"), 1);
}
