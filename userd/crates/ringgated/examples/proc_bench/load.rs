//! A client of one daemon's control socket, as an application submits:
//! one connection, one `send` line per message, answers read by a thread
//! of their own so the writer never waits for them.
//!
//! Each message's text starts with its intended send time. At a fixed
//! rate that is its slot in the schedule, not the moment it was written:
//! a client that falls behind still charges the wait to the ring (no
//! coordinated omission).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::cluster::micros;

/// How fast a client submits.
#[derive(Clone, Copy)]
pub enum Rate {
    /// As fast as the daemon takes messages, with at most this many
    /// unanswered; a refusal (the ring's queue is full) makes it pause.
    Max { outstanding: u64 },
    /// This many messages a second, on a fixed schedule.
    Fixed(f64),
}

/// What a client did.
#[derive(Default)]
pub struct Counts {
    pub written: AtomicU64,
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
}

/// Submits from `from_us` until `until_us` (bench clock) to the daemon at
/// `socket`; returns the counts, filled in as the answers come.
pub fn run(
    socket: &Path,
    size: usize,
    rate: Rate,
    epoch: Instant,
    from_us: u64,
    until_us: u64,
) -> Result<(Arc<Counts>, thread::JoinHandle<()>), String> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let answers = stream.try_clone().map_err(|e| e.to_string())?;
    let counts = Arc::new(Counts::default());
    let reader_counts = Arc::clone(&counts);
    thread::spawn(move || {
        let mut reader = BufReader::new(answers);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let counter = if line.starts_with(b"{\"ok\"") {
                &reader_counts.accepted
            } else {
                &reader_counts.refused
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let writer_counts = Arc::clone(&counts);
    let writer = thread::spawn(move || {
        let mut out = BufWriter::new(stream);
        // Built once, as corosync's client fills its buffer once: the
        // client's own work should not weigh on the two shared cores.
        let padding = "x".repeat(size);
        let mut k = 0u64;
        let mut last_refused = 0;
        loop {
            let now = micros(epoch);
            let intended = match rate {
                Rate::Fixed(per_second) => {
                    let slot = from_us + (k as f64 * 1e6 / per_second) as u64;
                    if slot > now {
                        let _ = out.flush();
                        thread::sleep(Duration::from_micros(slot - now));
                    }
                    slot
                }
                Rate::Max { outstanding } => {
                    let c = &writer_counts;
                    let answered =
                        c.accepted.load(Ordering::Relaxed) + c.refused.load(Ordering::Relaxed);
                    let refused = c.refused.load(Ordering::Relaxed);
                    if refused != last_refused
                        || c.written.load(Ordering::Relaxed) - answered >= outstanding
                    {
                        last_refused = refused;
                        let _ = out.flush();
                        thread::sleep(Duration::from_micros(200));
                        continue;
                    }
                    now.max(from_us)
                }
            };
            if intended >= until_us {
                break;
            }
            if write_message(&mut out, intended, size, &padding).is_err() {
                break; // The daemon is gone.
            }
            writer_counts.written.fetch_add(1, Ordering::Relaxed);
            k += 1;
        }
        let _ = out.flush();
    });
    Ok((counts, writer))
}

/// A `send` line whose message is its intended send time, then padding to
/// `size` bytes.
fn write_message(
    out: &mut impl Write,
    intended: u64,
    size: usize,
    padding: &str,
) -> std::io::Result<()> {
    let mut head = intended.to_string();
    head.push(' ');
    let pad = size.saturating_sub(head.len());
    out.write_all(b"send ")?;
    out.write_all(head.as_bytes())?;
    out.write_all(&padding.as_bytes()[..pad])?;
    out.write_all(b"\n")
}
