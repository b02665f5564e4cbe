//! An HTTP/1.1 client that stops taking its response is let go after
//! `client_stall`, and so is the connection slot it held: hyper stops
//! reading a response body while it cannot write, so without a watch on
//! the socket nothing would ever time the connection out.

use std::sync::Arc;
use std::time::Duration;

use ringgate_l7::config::Settings;
use ringgate_l7::proxy::{serve, Service};
use ringgate_l7::workers::Workers;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio::time::timeout;

mod common;
use common::{counter, get, scripted_backend, settings};

#[tokio::test]
async fn a_client_that_stops_reading_gives_its_slot_back() {
    let (backend, _) = scripted_backend(|mut stream, _| async move {
        let mut response =
            b"HTTP/1.1 200 OK\r\nContent-Length: 4000000\r\nConnection: close\r\n\r\n".to_vec();
        response.resize(response.len() + 4_000_000, b'z');
        let _ = stream.write_all(&response).await;
    })
    .await;
    let socket = ringgate_l7::listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    let settings = Settings {
        client_stall: Duration::from_millis(500),
        ..settings()
    };
    let service = Arc::new(Service::new(address, &[(backend, 1)], settings));
    // One client at a time: the second is served only once the first
    // gave its slot back.
    tokio::spawn(serve(
        socket,
        service.clone(),
        Arc::new(Semaphore::new(1)),
        Some(Workers::start(1).unwrap()),
    ));
    let client = TcpSocket::new_v4().unwrap();
    client.set_recv_buffer_size(4096).unwrap();
    let mut stalled = client.connect(address).await.unwrap();
    stalled
        .write_all(b"GET /big HTTP/1.1\r\nHost: vip\r\n\r\n")
        .await
        .unwrap();
    // It reads nothing from here on.
    let second = timeout(Duration::from_secs(8), get(address.port())).await;
    let served = matches!(&second, Ok(Some(body)) if body.len() == 4_000_000);
    assert!(served, "the stalled client kept the only slot");
    assert_eq!(counter(&service, "connections_stalled"), 1);
    drop(stalled);
}
