//! Kept-open back-end connections (`upstream`): reused for the requests that
//! may be sent again, never for the others, and a connection the back-end
//! closes under a request costs a fresh connection, not a 502 or a blame.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{counter, header, settings, split_response, start_proxy};
use ringgate_l7::proxy::Service;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the back-end does with the `n`th request (from 0) of the `c`th
/// connection (from 0) it accepted: answer it, or close without a word.
type Plan = fn(usize, usize) -> bool;

/// A keep-alive back-end on loopback; returns its address and how many
/// connections it accepted.
async fn keep_alive_backend(plan: Plan) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let connection = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                for request in 0.. {
                    let Some(head) = read_head(&mut stream).await else {
                        return;
                    };
                    let length: usize =
                        header(&head, "content-length").map_or(0, |value| value.parse().unwrap());
                    let mut body = vec![0; length];
                    if stream.read_exact(&mut body).await.is_err() || !plan(connection, request) {
                        return;
                    }
                    let answer = format!("request {request} of connection {connection}");
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (address, accepted)
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

async fn proxy(backend: SocketAddr) -> (SocketAddr, Arc<Service>) {
    start_proxy(&[(backend, 1)], settings()).await
}

/// One request on its own client connection; the response's status line
/// and body.
async fn send(proxy: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let (head, body) = split_response(response);
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, String::from_utf8_lossy(&body).into_owned())
}

const GET: &str = "GET /x HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n";

/// Waits until the proxy let the last exchange's connection rest (the body
/// reaches the client a moment before the proxy reads its end).
async fn rested(service: &Service, count: usize) {
    for _ in 0..200 {
        if service.resting_connections() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{} connections rest, not {count}",
        service.resting_connections()
    );
}

#[tokio::test]
async fn sequential_requests_share_one_backend_connection() {
    let (backend, accepted) = keep_alive_backend(|_, _| true).await;
    let (proxy, service) = proxy(backend).await;
    for n in 0..5 {
        let (status, body) = send(proxy, GET).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, format!("request {n} of connection 0"));
        rested(&service, 1).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(counter(&service, "upstream_reused"), 4);
    // The bytes handed to clients, which ringgated adds to the VIP's load.
    let bodies = (0..5).map(|n| format!("request {n} of connection 0").len() as u64);
    assert_eq!(counter(&service, "bytes_to_clients"), bodies.sum::<u64>());
}

#[tokio::test]
async fn a_request_with_a_body_never_goes_on_a_kept_open_connection() {
    let (backend, accepted) = keep_alive_backend(|_, _| true).await;
    let (proxy, service) = proxy(backend).await;
    send(proxy, GET).await;
    rested(&service, 1).await;
    let post = "POST /x HTTP/1.1\r\nHost: vip\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
    let (status, body) = send(proxy, post).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "request 0 of connection 1");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(counter(&service, "upstream_reused"), 0);
    // Nor is the connection that carried a body kept for later requests.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(service.resting_connections(), 1);
}

#[tokio::test]
async fn a_connection_closed_under_a_request_costs_a_fresh_one_not_a_502() {
    // The first connection answers one request and closes on the second,
    // as a back-end whose idle timeout fires just as the request arrives.
    let (backend, accepted) =
        keep_alive_backend(|connection, request| connection > 0 || request == 0).await;
    let (proxy, service) = proxy(backend).await;
    send(proxy, GET).await;
    rested(&service, 1).await;
    let (status, body) = send(proxy, GET).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "request 0 of connection 1");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(counter(&service, "upstream_closed_under_request"), 1);
    assert_eq!(counter(&service, "bad_gateway"), 0);
    // Not blamed: the back-end is not in its hold-down.
    let view = &service.backends()[0];
    assert!(view.up && view.failures == 0, "{view:?}");
}

#[tokio::test]
async fn a_resting_connection_is_closed_when_its_time_is_up_without_traffic() {
    let (backend, _) = keep_alive_backend(|_, _| true).await;
    let (proxy, service) = proxy(backend).await;
    send(proxy, GET).await;
    rested(&service, 1).await;
    // No request comes to use or return one: the accept loop, which looks
    // every IDLE_FOR, lets it go at its second look at the latest.
    tokio::time::sleep(ringgate_l7::upstream::IDLE_FOR * 2 + Duration::from_millis(500)).await;
    assert_eq!(service.resting_connections(), 0);
}

#[tokio::test]
async fn each_worker_thread_keeps_its_own_backend_connections() {
    let (backend, accepted) = keep_alive_backend(|_, _| true).await;
    let socket = ringgate_l7::listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    let service = Arc::new(Service::new(address, &[(backend, 1)], settings()));
    let workers = ringgate_l7::workers::Workers::start(2).unwrap();
    tokio::spawn(ringgate_l7::proxy::serve(
        socket,
        service.clone(),
        Arc::new(tokio::sync::Semaphore::new(8)),
        Some(workers),
    ));
    // Client connections go to the two workers in turn; each worker opens
    // one back-end connection and reuses it, and no worker drives another's.
    for n in 0..6 {
        let (status, _) = send(address, GET).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        rested(&service, (n + 1).min(2)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(counter(&service, "upstream_reused"), 4);
}
