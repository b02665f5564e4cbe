//! Probes against real sockets on 127.0.0.1 (and never anywhere else).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// How a test back-end behaves once it has read a request.
enum Behaviour {
    /// Writes these bytes and closes.
    Answer(Vec<u8>),
    /// Never answers; holds the connection until the prober closes it.
    Silent,
    /// Sends one byte every 20 ms, never a line break.
    Trickle,
}

const SLOW: Duration = Duration::from_millis(200);
/// Far longer than any probe in these tests may take, so a hang fails the
/// test instead of blocking it.
const SAFETY: Duration = Duration::from_secs(10);

fn loopback() -> TcpListener {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1")
}

fn addr(listener: &TcpListener) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::LOCALHOST,
        listener.local_addr().expect("local addr").port(),
    )
}

/// A one-connection back-end; the receiver gets the request it read.
fn serve(behaviour: Behaviour) -> (SocketAddrV4, Receiver<Vec<u8>>) {
    let listener = loopback();
    let target = addr(&listener);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(SAFETY)).expect("timeout");
        let request = read_request(&mut s);
        let _ = tx.send(request);
        match behaviour {
            Behaviour::Answer(bytes) => {
                let _ = s.write_all(&bytes);
            }
            Behaviour::Silent => {
                // Returns when the prober gives up and closes.
                let _ = s.read(&mut [0; 64]);
            }
            Behaviour::Trickle => {
                let start = Instant::now();
                while start.elapsed() < SAFETY && s.write_all(b"H").is_ok() {
                    thread::sleep(Duration::from_millis(20));
                }
            }
        }
    });
    (target, rx)
}

/// Reads up to the blank line that ends a request's head, so the answer is
/// not preceded by a reset for unread data.
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 512];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

fn http(status: u16) -> CheckKind {
    CheckKind::Http {
        path: "/healthz".into(),
        expect_status: status,
    }
}

fn answering(bytes: &[u8]) -> Result<(), String> {
    let (target, _) = serve(Behaviour::Answer(bytes.to_vec()));
    probe(target, &http(200), SAFETY)
}

#[test]
fn tcp_passes_when_something_listens() {
    let listener = loopback();
    // The kernel completes the handshake from the backlog; no accept needed.
    assert_eq!(probe(addr(&listener), &CheckKind::Tcp, SLOW), Ok(()));
}

#[test]
fn tcp_fails_on_a_closed_port() {
    let target = addr(&loopback());
    assert_eq!(
        probe(target, &CheckKind::Tcp, SLOW),
        Err("connect: connection refused".into())
    );
    assert_eq!(
        probe(target, &http(200), SLOW),
        Err("connect: connection refused".into())
    );
}

#[test]
fn http_passes_on_the_expected_status_and_sends_the_documented_request() {
    let (target, request) = serve(Behaviour::Answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ));
    assert_eq!(probe(target, &http(200), SAFETY), Ok(()));
    let expected = format!(
        "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nUser-Agent: ringgated-health\r\nConnection: close\r\n\r\n",
        target.port()
    );
    assert_eq!(
        request.recv_timeout(SAFETY).as_deref(),
        Ok(expected.as_bytes())
    );
}

#[test]
fn http_fails_on_another_status() {
    assert_eq!(
        answering(b"HTTP/1.0 503 Service Unavailable\r\n\r\n"),
        Err("status 503 not 200".into())
    );
    // Any status can be the expected one.
    let (target, _) = serve(Behaviour::Answer(b"HTTP/1.1 204\r\n\r\n".to_vec()));
    assert_eq!(probe(target, &http(204), SAFETY), Ok(()));
}

#[test]
fn http_fails_on_something_else_than_http() {
    assert_eq!(
        answering(b"SSH-2.0-OpenSSH_9.6\r\n"),
        Err("not HTTP: answered \"SSH-2.0-OpenSSH_9.6\"".into())
    );
    assert_eq!(
        answering(&[b'x'; 5000]),
        Err("not HTTP: no status line in the first 4096 bytes".into())
    );
    assert_eq!(answering(b""), Err("read: closed without an answer".into()));
    // A status line cut short by the close is still read.
    assert_eq!(answering(b"HTTP/1.1 200 OK"), Ok(()));
}

#[test]
fn http_times_out_on_a_back_end_that_never_answers() {
    let (target, _) = serve(Behaviour::Silent);
    let start = Instant::now();
    assert_eq!(
        probe(target, &http(200), SLOW),
        Err("read: timed out after 200 ms".into())
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn the_whole_probe_is_bounded_even_when_bytes_keep_trickling() {
    let (target, _) = serve(Behaviour::Trickle);
    let start = Instant::now();
    let result = probe(target, &http(200), SLOW);
    assert!(
        result.as_ref().is_err_and(|e| e.contains("timed out")),
        "{result:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn status_lines_are_parsed_strictly() {
    assert_eq!(status_code(b"HTTP/1.1 200 OK"), Some(200));
    assert_eq!(status_code(b"HTTP/1.0 404"), Some(404));
    assert_eq!(status_code(b"HTTP/2 200 OK"), None);
    assert_eq!(status_code(b"HTTP/1.1 20 OK"), None);
    assert_eq!(status_code(b"HTTP/1.1 2000"), None);
    assert_eq!(status_code(b"HTTP/1.x 200 OK"), None);
    assert_eq!(status_code(b"http/1.1 200 OK"), None);
    assert_eq!(status_code(b""), None);
}
