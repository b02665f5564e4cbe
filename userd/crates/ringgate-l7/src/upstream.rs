//! Back-end connections kept open between exchanges, so that a back-end
//! that keeps its connections alive is not paid a TCP handshake, and the
//! proxy a connection task, for every request.
//!
//! A kept-open connection can be closed by the back-end (its idle timeout)
//! just as a request goes out on it; the request then fails although the
//! back-end is fine (RFC 9112 section 9.3.1). Only requests that can simply
//! be sent again travel on kept-open connections: a safe method without a
//! body. Such a failure then costs one fresh connection to the same
//! back-end, and blames nobody.
//!
//! Connections rest here for at most `IDLE_FOR`, well under the shortest
//! idle timeout common servers use (Apache's 5 s), which makes that race
//! rare; at most `MAX_IDLE_PER_BACKEND` rest per back-end.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;

use crate::proxy::UpstreamBody;
use crate::workers;

pub type Sender = SendRequest<UpstreamBody>;

/// How long a connection may rest unused before it is closed.
pub const IDLE_FOR: Duration = Duration::from_secs(2);

/// Resting connections per back-end and worker thread; a connection
/// finished when that many rest already is closed.
pub const MAX_IDLE_PER_BACKEND: usize = 32;

struct Resting {
    sender: Sender,
    since: Instant,
}

impl Resting {
    /// Still open, and young enough to be reused.
    fn usable(&self, now: Instant) -> bool {
        !self.sender.is_closed() && now.duration_since(self.since) < IDLE_FOR
    }
}

/// The resting connections of one service's back-ends.
#[derive(Default)]
pub struct Upstream {
    /// By worker thread and back-end: a connection is driven by the
    /// thread that opened it, and reused by requests on that thread.
    idle: Mutex<HashMap<(usize, SocketAddr), Vec<Resting>>>,
}

impl Upstream {
    fn idle(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, SocketAddr), Vec<Resting>>> {
        // The map holds no invariant a panicking holder could break halfway.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently rested connection to `backend` that is still open
    /// and young enough (the freshest is the least likely to be closing).
    pub fn take(&self, backend: SocketAddr, now: Instant) -> Option<Sender> {
        let mut idle = self.idle();
        let resting = idle.get_mut(&(workers::current(), backend))?;
        while let Some(connection) = resting.pop() {
            if connection.usable(now) {
                return Some(connection.sender);
            }
        }
        None
    }

    /// Lets a connection whose exchange ended cleanly rest for the next
    /// request to `backend`; the connections resting beside it that rested
    /// too long or were closed by their back-end are let go on the way
    /// (the others when `prune` comes by).
    pub fn put(&self, backend: SocketAddr, sender: Sender, now: Instant) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle();
        let resting = idle.entry((workers::current(), backend)).or_default();
        resting.retain(|c| c.usable(now));
        if resting.len() < MAX_IDLE_PER_BACKEND {
            resting.push(Resting { sender, since: now });
        }
    }

    /// Closes the connections rested too long or closed by their back-end
    /// (the accept loop calls it while no traffic comes).
    pub fn prune(&self, now: Instant) {
        prune(&mut self.idle(), now);
    }

    /// Connections resting now, for the status.
    pub fn resting(&self) -> usize {
        self.idle().values().map(Vec::len).sum()
    }
}

fn prune(idle: &mut HashMap<(usize, SocketAddr), Vec<Resting>>, now: Instant) {
    for resting in idle.values_mut() {
        resting.retain(|c| c.usable(now));
    }
    idle.retain(|_, resting| !resting.is_empty());
}
