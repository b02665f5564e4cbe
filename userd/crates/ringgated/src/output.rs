//! What the daemon hands its application: one line per delivery and per
//! membership change, written to stdout by a thread of its own.
//!
//! The thread that handles the token must never wait for a reader: a slow
//! reader of stdout would delay the token until the cluster declared it
//! lost, and a closed stdout would make `println!` panic. So lines go
//! through a bounded queue, and a line that finds the queue full (or the
//! writer gone after a write error) is dropped and counted instead.
//!
//! The lines of one turn of the ring's thread go into the queue together
//! (`Lines`, up to `CHUNK_BYTES` at a time): at full load a queue operation
//! and an allocation per line were a tenth of that thread's work.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;

/// Chunks (a line, or the lines of one turn of the ring's thread) waiting
/// for the writer; a burst of this many outlasts a reader that pauses,
/// without letting a stalled one hold unbounded memory.
pub const QUEUE_LINES: usize = 4096;
/// Bytes waiting for the writer: lines of large messages reach this bound
/// before `QUEUE_LINES`.
pub const QUEUE_BYTES: usize = 16 << 20;
/// The most the writer hands the sink in one write.
const BATCH_BYTES: usize = 64 << 10;
/// Lines gathered beyond this size go into the queue before the next.
pub const CHUNK_BYTES: usize = 32 << 10;

/// Lines written one after another, each ending in a newline, and how
/// many: what the ring's thread gathers during one turn (`Output::send`
/// queues them, and `Output::line` whenever they reach `CHUNK_BYTES`), and
/// what goes through the queue.
#[derive(Default)]
pub struct Lines {
    text: String,
    lines: u64,
}

impl Lines {
    /// The buffer to write one line into, without its newline; `end` ends it.
    pub fn start(&mut self) -> &mut String {
        &mut self.text
    }

    /// Ends the line written since `start`.
    pub fn end(&mut self) {
        self.text.push('\n');
        self.lines += 1;
    }
}

/// The token thread's end of the output queue.
pub struct Output {
    queue: SyncSender<Lines>,
    /// Bytes of the lines in the queue.
    queued: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
}

impl Output {
    /// Starts the writer thread on `sink` (stdout in the daemon).
    pub fn spawn(mut sink: impl Write + Send + 'static) -> Output {
        let (queue, lines) = sync_channel::<Lines>(QUEUE_LINES);
        let dropped = Arc::new(AtomicU64::new(0));
        let queued = Arc::new(AtomicUsize::new(0));
        let (writer_dropped, writer_queued) = (Arc::clone(&dropped), Arc::clone(&queued));
        thread::spawn(move || {
            // Lines that queued up while the last ones were written go out
            // in one write; a line with nothing behind it goes at once.
            // (Stdout flushes at every newline: a write per line cost the
            // daemon a seventh of its time at full load.)
            let mut batch: Vec<u8> = Vec::with_capacity(BATCH_BYTES);
            let mut broken = false;
            while let Ok(first) = lines.recv() {
                let mut in_batch = 0u64;
                let mut next = Some(first);
                while let Some(chunk) = next {
                    writer_queued.fetch_sub(chunk.text.len(), Ordering::AcqRel);
                    if !broken {
                        batch.extend_from_slice(chunk.text.as_bytes());
                    }
                    in_batch += chunk.lines;
                    next = if batch.len() < BATCH_BYTES {
                        lines.try_recv().ok()
                    } else {
                        None
                    };
                }
                // After a write error (EPIPE: the reader is gone for good)
                // the writer only counts what it takes off the queue. The
                // lines of the failed write count as dropped, although the
                // reader may have got the first of them.
                if !broken {
                    broken = sink.write_all(&batch).and_then(|()| sink.flush()).is_err();
                }
                if broken {
                    writer_dropped.fetch_add(in_batch, Ordering::Relaxed);
                }
                batch.clear();
                // A huge line grew the batch: give the memory back.
                batch.shrink_to(BATCH_BYTES);
            }
        });
        Output {
            queue,
            queued,
            dropped,
        }
    }

    /// Queues a line without ever blocking.
    pub fn emit(&self, mut line: String) {
        line.push('\n');
        self.queue_chunk(Lines {
            text: line,
            lines: 1,
        });
    }

    /// Queues the lines gathered so far if they reached `CHUNK_BYTES`.
    pub fn line(&self, lines: &mut Lines) {
        if lines.text.len() >= CHUNK_BYTES {
            self.send(lines);
        }
    }

    /// Queues the lines gathered, without ever blocking, and empties `lines`.
    pub fn send(&self, lines: &mut Lines) {
        if lines.lines > 0 {
            self.queue_chunk(std::mem::take(lines));
        }
    }

    fn queue_chunk(&self, chunk: Lines) {
        let (len, lines) = (chunk.text.len(), chunk.lines);
        // Only this thread adds to `queued`, so the check cannot race with
        // another addition; the writer only lowers it.
        if self.queued.load(Ordering::Acquire) + len > QUEUE_BYTES {
            self.dropped.fetch_add(lines, Ordering::Relaxed);
            return;
        }
        self.queued.fetch_add(len, Ordering::AcqRel);
        match self.queue.try_send(chunk) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(len, Ordering::AcqRel);
                self.dropped.fetch_add(lines, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped so far because the reader was too slow or gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};
    use std::time::{Duration, Instant};

    /// Waits until the writer took every queued line, and then a moment
    /// for it to be in its write: a busy machine may take a while to run
    /// the writer's thread at all.
    fn wait_taken(output: &Output) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while output.queued.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    /// Blocks until the test opens `gate`.
    fn wait_released(gate: &(Mutex<bool>, Condvar)) {
        let (released, wake) = gate;
        let mut r = released.lock().unwrap();
        while !*r {
            r = wake.wait(r).unwrap();
        }
    }

    /// A sink that blocks every write until released, like a full pipe.
    struct Stalled(Arc<(Mutex<bool>, Condvar)>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            wait_released(&self.0);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A sink whose reader has gone.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A sink that records each write, the first one held until released.
    struct Recording {
        gate: Arc<(Mutex<bool>, Condvar)>,
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Write for Recording {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            wait_released(&self.gate);
            self.writes.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_that_queued_up_go_out_in_few_writes_whole_and_in_order() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let output = Output::spawn(Recording {
            gate: Arc::clone(&gate),
            writes: Arc::clone(&writes),
        });
        output.emit("first".into());
        // The writer holds "first" in a write that waits; these queue.
        wait_taken(&output);
        for i in 0..1000 {
            output.emit(format!("line {i}"));
        }
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let expected: String = std::iter::once("first\n".to_string())
            .chain((0..1000).map(|i| format!("line {i}\n")))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let written: Vec<u8> = writes.lock().unwrap().concat();
            if written.len() >= expected.len() || Instant::now() > deadline {
                assert_eq!(String::from_utf8(written).unwrap(), expected);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let count = writes.lock().unwrap().len();
        assert!(count <= 5, "{count} writes for 1001 lines");
        assert_eq!(output.dropped(), 0);
    }

    #[test]
    fn a_stalled_reader_never_blocks_emit_and_the_overflow_is_counted() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let output = Output::spawn(Stalled(Arc::clone(&gate)));
        // The writer takes this one and stalls in its write.
        output.emit("first".into());
        wait_taken(&output);
        let started = Instant::now();
        let lines = QUEUE_LINES + 100;
        for i in 0..lines {
            output.emit(format!("line {i}"));
        }
        assert!(started.elapsed() < Duration::from_secs(5), "emit blocked");
        // The queue holds QUEUE_LINES; the rest are dropped.
        assert_eq!(output.dropped(), 100, "of {lines} lines");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
    }

    #[test]
    fn queued_bytes_are_bounded_as_well_as_lines() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let output = Output::spawn(Stalled(Arc::clone(&gate)));
        let line = "x".repeat(1 << 20);
        for _ in 0..40 {
            output.emit(line.clone());
        }
        // One line in the stalled write, sixteen queued.
        let dropped = output.dropped();
        assert!((23..=24).contains(&dropped), "{dropped} of 40 dropped");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
    }

    /// A sink whose first write waits until released and succeeds, and
    /// whose reader is gone for every write after it.
    struct GoneAfterFirst {
        gate: Arc<(Mutex<bool>, Condvar)>,
        writes: usize,
    }

    impl Write for GoneAfterFirst {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            if self.writes > 1 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            wait_released(&self.gate);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_batch_counts_its_lines_and_no_line_written_before_it() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let output = Output::spawn(GoneAfterFirst {
            gate: Arc::clone(&gate),
            writes: 0,
        });
        output.emit("written".into());
        wait_taken(&output);
        for i in 0..10 {
            output.emit(format!("line {i}"));
        }
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let deadline = Instant::now() + Duration::from_secs(5);
        while output.dropped() < 10 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(output.dropped(), 10);
        output.emit("after".into());
        while output.dropped() < 11 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(output.dropped(), 11);
    }

    #[test]
    fn a_closed_reader_drops_every_line_without_panicking() {
        let output = Output::spawn(Closed);
        for i in 0..10 {
            output.emit(format!("line {i}"));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while output.dropped() < 10 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(output.dropped(), 10);
    }
}

/// A delivered payload as it appears in a `deliver` line: Rust's debug
/// escaping of its text (invalid UTF-8 replaced), so a line never breaks.
/// Printable ASCII other than the quotes and the backslash escapes to
/// itself, and that common case is copied as it is: escaping char by char
/// cost the token's thread a quarter of its time at full load.
pub fn payload_text(payload: &[u8]) -> std::borrow::Cow<'_, str> {
    // Without short-circuiting, so the compiler checks many bytes at once.
    let plain = payload.chunks(64).all(|chunk| {
        chunk.iter().fold(true, |plain, &b| {
            plain & (0x20..0x7f).contains(&b) & (b != b'\\') & (b != b'\'') & (b != b'"')
        })
    });
    match std::str::from_utf8(payload) {
        Ok(text) if plain => std::borrow::Cow::Borrowed(text),
        _ => std::borrow::Cow::Owned(String::from_utf8_lossy(payload).escape_debug().to_string()),
    }
}

#[cfg(test)]
mod payload_text_tests {
    use super::payload_text;

    #[test]
    fn the_plain_copy_and_the_escaping_agree() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"123456 xxxxxxxx".to_vec(),
            b"".to_vec(),
            b"a\"b'c\\d".to_vec(),
            b"line\nbreak\ttab\r".to_vec(),
            "caf\u{e9} \u{301} \u{7f}".as_bytes().to_vec(),
            vec![0xff, 0xfe, b'a', 0],
        ];
        // Every single byte, alone and between plain text.
        for b in 0..=255u8 {
            samples.push(vec![b]);
            samples.push(vec![b'x', b, b'y']);
        }
        for sample in samples {
            let slow = String::from_utf8_lossy(&sample).escape_debug().to_string();
            assert_eq!(payload_text(&sample), slow, "{sample:?}");
        }
        assert!(matches!(
            payload_text(b"123 xxxx"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
