//! How the control socket's threads reach the thread that owns the ring:
//! requests go through a channel, and each is followed by a byte on a
//! socket pair that the ring thread polls beside its UDP socket. Without
//! the byte, a request would wait until a datagram or a timer woke the
//! ring thread, which adds up to a tick of latency to every message an
//! application submits and caps the rate at one request per wake-up.

use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use crate::runtime::Control;

/// The sending side, one clone per control client.
#[derive(Clone)]
pub struct RingHandle {
    requests: Sender<Control>,
    wake: Arc<UnixDatagram>,
}

/// The ring thread's side: the requests, and the socket to poll.
pub struct RingInbox {
    pub requests: Receiver<Control>,
    wake: UnixDatagram,
}

/// A connected handle and inbox.
pub fn ring_channel() -> Result<(RingHandle, RingInbox), String> {
    let (requests, receiver) = mpsc::channel();
    let (wake, woken) = UnixDatagram::pair().map_err(|e| format!("wake-up socket pair: {e}"))?;
    for end in [&wake, &woken] {
        end.set_nonblocking(true)
            .map_err(|e| format!("wake-up socket pair: {e}"))?;
    }
    Ok((
        RingHandle {
            requests,
            wake: Arc::new(wake),
        },
        RingInbox {
            requests: receiver,
            wake: woken,
        },
    ))
}

impl RingHandle {
    /// Queues a request and wakes the ring thread; false if it has stopped.
    pub fn send(&self, request: Control) -> bool {
        let sent = self.requests.send(request).is_ok();
        // A full socket buffer means wake-ups are already pending, which is
        // as good: the ring thread takes every queued request per wake-up.
        let _ = self.wake.send(&[1]);
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
                Err(_) => return,
            }
        }
    }
}
