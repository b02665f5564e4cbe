//! How the control socket's threads reach the thread that owns the ring:
//! requests go through a channel, and each is followed by a byte on a
//! socket pair that the ring thread polls beside its UDP socket. Without
//! the byte, a request would wait until a datagram or a timer woke the
//! ring thread, which adds up to a tick of latency to every message an
//! application submits and caps the rate at one request per wake-up.
//!
//! Only the first request after the ring thread last looked sends a byte:
//! the ones behind it find a wake-up pending and are taken with it. A byte
//! per request cost a system call on each side and, at full load, a
//! wake-up of a thread that was busy anyway.

use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use crate::runtime::Control;

/// The sending side, one clone per control client.
#[derive(Clone)]
pub struct RingHandle {
    requests: Sender<Control>,
    wake: Arc<UnixDatagram>,
    /// A wake-up byte was sent that the ring thread has not cleared yet.
    pending: Arc<AtomicBool>,
}

/// The ring thread's side: the requests, and the socket to poll.
pub struct RingInbox {
    pub requests: Receiver<Control>,
    wake: UnixDatagram,
    pending: Arc<AtomicBool>,
}

/// A connected handle and inbox.
pub fn ring_channel() -> Result<(RingHandle, RingInbox), String> {
    let (requests, receiver) = mpsc::channel();
    let (wake, woken) = UnixDatagram::pair().map_err(|e| format!("wake-up socket pair: {e}"))?;
    for end in [&wake, &woken] {
        end.set_nonblocking(true)
            .map_err(|e| format!("wake-up socket pair: {e}"))?;
    }
    let pending = Arc::new(AtomicBool::new(false));
    Ok((
        RingHandle {
            requests,
            wake: Arc::new(wake),
            pending: pending.clone(),
        },
        RingInbox {
            requests: receiver,
            wake: woken,
            pending,
        },
    ))
}

impl RingHandle {
    /// Queues a request and wakes the ring thread; false if it has stopped.
    pub fn send(&self, request: Control) -> bool {
        let sent = self.requests.send(request).is_ok();
        // The request is queued before the flag is read: if the flag was
        // set, the ring thread has yet to clear it, and clears it before it
        // takes the queued requests, this one among them.
        // The fence pairs with the one in `clear_wake_ups`: here the queue
        // is written before the flag is read, there the flag before the
        // queue is read, and the two fences forbid both reads seeing the
        // old value (the channel's acquire/release alone would allow it).
        fence(Ordering::SeqCst);
        if !self.pending.swap(true, Ordering::SeqCst) {
            // A full socket buffer means wake-ups are already pending,
            // which is as good.
            let _ = self.wake.send(&[1]);
        }
        sent
    }
}

impl RingInbox {
    /// What the ring thread polls for wake-ups.
    pub fn wake_socket(&self) -> &UnixDatagram {
        &self.wake
    }

    /// Discards the wake-up bytes; call before taking the requests, so a
    /// request that comes after them wakes the thread again.
    pub fn clear_wake_ups(&self) {
        let mut buf = [0u8; 64];
        loop {
            match self.wake.recv(&mut buf) {
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        // From here, the next request sends a byte again.
        self.pending.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_request() -> Control {
        Control::Status(mpsc::channel().0)
    }

    fn bytes_waiting(inbox: &RingInbox) -> usize {
        let mut count = 0;
        let mut buf = [0u8; 1];
        while inbox.wake.recv(&mut buf).is_ok() {
            count += 1;
        }
        count
    }

    #[test]
    fn requests_behind_a_pending_wake_up_send_no_byte() {
        let (handle, inbox) = ring_channel().unwrap();
        for _ in 0..100 {
            assert!(handle.send(status_request()));
        }
        assert_eq!(bytes_waiting(&inbox), 1);
        inbox.clear_wake_ups();
        assert_eq!(inbox.requests.try_iter().count(), 100);
        // Once the ring thread looked, the next request wakes it again.
        assert!(handle.send(status_request()));
        assert_eq!(bytes_waiting(&inbox), 1);
    }

    #[test]
    fn no_request_waits_without_a_wake_up() {
        // Four senders race the ring thread's clear-and-take, in bursts
        // with pauses, so that the thread often finds the queue empty and
        // waits; a request left queued with no byte to wake the thread
        // would stall it here until the poll timed out.
        let (handle, inbox) = ring_channel().unwrap();
        const EACH: usize = 5_000;
        let senders: Vec<_> = (0..4)
            .map(|_| {
                let handle = handle.clone();
                std::thread::spawn(move || {
                    for n in 0..EACH {
                        assert!(handle.send(status_request()));
                        if n % 10 == 0 {
                            std::thread::sleep(std::time::Duration::from_micros(50));
                        }
                    }
                })
            })
            .collect();
        let mut taken = 0;
        while taken < 4 * EACH {
            let mut fds = [rustix::event::PollFd::new(
                inbox.wake_socket(),
                rustix::event::PollFlags::IN,
            )];
            let ready = rustix::event::poll(&mut fds, 2000).unwrap();
            assert!(ready > 0, "a wake-up was lost with {taken} requests taken");
            inbox.clear_wake_ups();
            taken += inbox.requests.try_iter().count();
        }
        for sender in senders {
            sender.join().unwrap();
        }
    }
}
