//! A client whose upload breaks off (it sends less than its
//! `Content-Length` and goes) is the client's failure: the back-end that
//! was receiving the body is not blamed, so it is not put in its hold-down
//! and other clients' requests are not moved away from it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{counter, scripted_backend, settings};
use ringgate_l7::listener;
use ringgate_l7::proxy::{serve, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[tokio::test]
async fn an_upload_the_client_breaks_off_does_not_blame_the_backend() {
    // The back-end reads the body to its end before it answers.
    let (backend, _) = scripted_backend(|mut stream, _| async move {
        let mut body = Vec::new();
        let _ = stream.read_to_end(&mut body).await;
    })
    .await;
    let socket = listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let proxy = socket.local_addr().unwrap();
    let service = Arc::new(Service::new(proxy, &[(backend, 1)], settings()));
    tokio::spawn(serve(socket, service.clone(), Arc::new(Semaphore::new(64))));

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
