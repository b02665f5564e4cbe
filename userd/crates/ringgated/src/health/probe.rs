//! One health probe of one back-end. Every step has a deadline, so a
//! back-end that accepts and then never answers (or answers a byte at a
//! time) costs at most the check's timeout.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use ringgate_cluster::config::CheckKind;

/// The most of an HTTP answer that is read: the status line comes first,
/// and a back-end that sends 4 KiB without one is not speaking HTTP.
const MAX_RESPONSE: usize = 4096;

/// Checks `target`; the error says why it failed, for logs and status.
pub fn probe(target: SocketAddrV4, kind: &CheckKind, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&SocketAddr::V4(target), timeout)
        .map_err(|e| describe("connect", &e, timeout))?;
    match kind {
        CheckKind::Tcp => Ok(()),
        CheckKind::Http {
            path,
            expect_status,
        } => {
            let request = format!(
                "GET {path} HTTP/1.0\r\nHost: {}:{}\r\nUser-Agent: ringgated-health\r\nConnection: close\r\n\r\n",
                target.ip(),
                target.port()
            );
            stream
                .set_write_timeout(Some(left(deadline, timeout)?))
                .and_then(|()| stream.write_all(request.as_bytes()))
                .map_err(|e| describe("send", &e, timeout))?;
            let line = status_line(&mut stream, deadline, timeout)?;
            let status = status_code(&line).ok_or_else(|| not_http(&line))?;
            if status == *expect_status {
                Ok(())
            } else {
                Err(format!("status {status} not {expect_status}"))
            }
        }
    }
}

/// What is left of the probe's time; none left is a timeout. (A zero
/// socket timeout would mean "block forever", so it must not be passed on.)
fn left(deadline: Instant, timeout: Duration) -> Result<Duration, String> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("timed out after {} ms", timeout.as_millis()))
}

/// Reads until the first line break (or until the peer closes), without
/// the CR LF or LF that ends the line.
fn status_line(
    stream: &mut TcpStream,
    deadline: Instant,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let mut buf = [0; MAX_RESPONSE];
    let mut len = 0;
    loop {
        if let Some(end) = buf[..len].iter().position(|&b| b == b'\n') {
            let line = &buf[..end];
            return Ok(line.strip_suffix(b"\r").unwrap_or(line).to_vec());
        }
        if len == buf.len() {
            return Err(format!(
                "not HTTP: no status line in the first {MAX_RESPONSE} bytes"
            ));
        }
        stream
            .set_read_timeout(Some(left(deadline, timeout)?))
            .map_err(|e| describe("read", &e, timeout))?;
        match stream.read(&mut buf[len..]) {
            Ok(0) if len == 0 => return Err("read: closed without an answer".into()),
            Ok(0) => return Ok(buf[..len].to_vec()),
            Ok(n) => len += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(describe("read", &e, timeout)),
        }
    }
}

/// The status of `HTTP/1.x NNN reason`; None if the line is not one.
fn status_code(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (minor, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ").filter(|_| minor.is_ascii_digit())?;
    let code = rest.get(..3).filter(|c| c.iter().all(u8::is_ascii_digit))?;
    if !matches!(rest.get(3), None | Some(b' ')) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Quotes the start of what came back, so a log shows what the back-end
/// actually said without letting it write arbitrary bytes into the log.
fn not_http(line: &[u8]) -> String {
    let shown = String::from_utf8_lossy(&line[..line.len().min(40)])
        .escape_debug()
        .to_string();
    format!("not HTTP: answered \"{shown}\"")
}

fn describe(stage: &str, e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => format!("{stage}: connection refused"),
        // A socket timeout shows as WouldBlock on Unix, TimedOut elsewhere.
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            format!("{stage}: timed out after {} ms", timeout.as_millis())
        }
        _ => format!("{stage}: {e}"),
    }
}

#[cfg(test)]
mod tests;
