//! HTTP/2 from clients that know it in advance, to HTTP/1.1 back-ends: one
//! connection carries concurrent requests, each request arrives as a
//! well-formed HTTP/1.1 one, and a connection that stops talking is let go.

use std::time::Duration;

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

#[tokio::test]
async fn cookies_sent_apart_reach_the_backend_in_one_field() {
    let (backend, heads) = scripted_backend(|mut stream, _| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .await;
    })
    .await;
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
    // `header_read` is 300 ms in the shared settings.
    let (proxy, _) = start_proxy(&[(backend, 1)], settings()).await;
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
