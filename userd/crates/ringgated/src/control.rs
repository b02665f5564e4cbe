//! The local control socket `ringgatectl` talks to: a Unix stream socket
//! where each connection sends one request line and reads one JSON line.
//!
//! Requests: `status`, and `send <text>` (broadcast a message on the ring).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc::{channel, Sender};
use std::thread;

use crate::runtime::Control;

/// Longest request line accepted.
const MAX_REQUEST: u64 = 64 * 1024;

/// Binds the socket (replacing a stale one) and serves it on a thread.
pub fn serve(path: &Path, to_ring: Sender<Control>) -> Result<(), String> {
    if path.exists() {
        std::fs::remove_file(path)
            .map_err(|e| format!("control_socket {}: {e}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).map_err(|e| format!("control_socket {}: {e}", path.display()))?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &to_ring);
        }
    });
    Ok(())
}

fn answer(stream: UnixStream, to_ring: &Sender<Control>) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(std::io::Read::take(&stream, MAX_REQUEST)).read_line(&mut line)?;
    let line = line.trim_end_matches('\n');
    let reply = match line.split_once(' ').unwrap_or((line, "")) {
        ("status", _) => {
            let (tx, rx) = channel();
            to_ring.send(Control::Status(tx)).ok();
            match rx.recv() {
                Ok(status) => serde_json::to_value(status).unwrap_or_default(),
                Err(_) => serde_json::json!({ "error": "the ring is stopping" }),
            }
        }
        ("send", text) => {
            let (tx, rx) = channel();
            to_ring
                .send(Control::Send(text.as_bytes().to_vec(), tx))
                .ok();
            match rx.recv() {
                Ok(Ok(())) => serde_json::json!({ "ok": true }),
                Ok(Err(e)) => serde_json::json!({ "error": e }),
                Err(_) => serde_json::json!({ "error": "the ring is stopping" }),
            }
        }
        (other, _) => {
            serde_json::json!({ "error": format!("unknown request {other:?}; expected status or send") })
        }
    };
    let mut stream = stream;
    writeln!(stream, "{reply}")
}
