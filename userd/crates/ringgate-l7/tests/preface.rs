//! Clients that stop within HTTP/2's preface cost no CPU while they wait
//! to be let go. This test binary holds only this test: it reads the CPU
//! time of the whole process, which other tests running beside it would
//! add to.

use std::sync::Arc;
use std::time::Duration;

use ringgate_l7::proxy::{serve, Service};
use ringgate_l7::workers::Workers;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

mod common;
use common::{named, settings};

/// This process's user and system time, in milliseconds.
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 1000 / 100
}

/// The CPU the proxy spends over 2 s on 300 clients that each sent `first`
/// and then nothing.
async fn cost_of_clients_that_sent(first: &'static [u8]) -> u64 {
    let backend = named("zeta").await;
    let socket = ringgate_l7::listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    let settings = ringgate_l7::config::Settings {
        header_read: Duration::from_secs(10),
        ..settings()
    };
    let service = Arc::new(Service::new(address, &[(backend, 1)], settings));
    let workers = Workers::start(1).unwrap();
    tokio::spawn(serve(
        socket,
        service,
        Arc::new(Semaphore::new(1024)),
        Some(workers),
    ));
    let mut clients = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(first).await.unwrap();
        clients.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_ms();
    tokio::time::sleep(Duration::from_secs(2)).await;
    cpu_ms() - before
}

#[tokio::test]
async fn clients_stopped_within_the_preface_cost_no_cpu() {
    let started_http1 = cost_of_clients_that_sent(b"G").await;
    let within_preface = cost_of_clients_that_sent(b"PRI * HT").await;
    // Waiting costs nothing either way; a proxy that looked again on a
    // timer spent about a second of CPU here.
    assert!(
        within_preface < 200,
        "300 clients within the preface cost {within_preface} ms of CPU in 2 s (an HTTP/1.1 start: {started_http1} ms)"
    );
}
