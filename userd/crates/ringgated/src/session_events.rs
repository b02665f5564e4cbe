//! The sessions this node's module creates, as it creates them (the
//! module's `sessions` multicast group), announced to the peers at the ring
//! thread's next turn instead of at the session worker's next read of the
//! whole table.
//!
//! The worker's reads are paced by their cost: on a slow host a read of a
//! few thousand sessions took over a second, and the reads came 2 s apart.
//! A connection opened between two reads was known to nobody else, so when
//! its gateway died the VIP's next owner met its packets without a session
//! and the client's connection was reset (the failover loop lost 14 to 21
//! of about 550 short connections that way). Notified, a new session
//! reaches the peers within a turn of the ring.
//!
//! The subscription is also what keeps the module serving: while a lease
//! runs, the module opens a new connection only if someone listens to the
//! group, so a killed daemon's module refuses new connections at once (see
//! `owner-lease` in the spec). The listener thread therefore runs at the
//! daemon's own priority, not the worker's lower one, and does no netlink
//! work beyond reading.
//!
//! Nothing here is authoritative: a notification lost (the socket's buffer
//! overflowed, or more waited than `MAX_FRESH`) makes the worker read the
//! table at once, and the reads announce every session anyway (a peer that
//! gets one twice merges the copies).

use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use ringgate_netlink::{Client, Event, Session};

use crate::session_sync;

/// Sessions notified and not yet taken by the ring's thread; more are
/// dropped (the next read announces them).
pub const MAX_FRESH: usize = 8192;
/// How often the listener tries again to subscribe.
const RESUBSCRIBE_EVERY: Duration = Duration::from_secs(1);

fn log(msg: &str) {
    eprintln!("ringgated: {msg}");
}

/// The sessions notified since the ring's thread last took them.
#[derive(Default)]
pub struct Fresh {
    sessions: Vec<Session>,
    /// Whether some were lost since the worker was last told.
    lost: bool,
}

/// The shared side: the listener adds, the ring's thread takes.
#[derive(Clone, Default)]
pub struct FreshSessions(Arc<Mutex<Fresh>>);

impl FreshSessions {
    /// Adds a notified session, or drops it for lack of room; true if it
    /// is the first dropped since the ring's thread last took them (the
    /// caller has the worker read the table, once).
    fn add(&self, session: Session) -> bool {
        let mut fresh = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if fresh.sessions.len() < MAX_FRESH {
            fresh.sessions.push(session);
            return false;
        }
        !std::mem::replace(&mut fresh.lost, true)
    }

    /// The batches announcing the sessions notified since the last call.
    pub fn take_batches(&self) -> Vec<Vec<u8>> {
        let sessions = {
            let mut fresh = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            fresh.lost = false;
            std::mem::take(&mut fresh.sessions)
        };
        session_sync::encode_changes(&sessions)
    }
}

/// Starts the listener for node `me`: notified sessions go to `fresh`;
/// `read_now` is called when some were lost. If the thread cannot be
/// started, sessions are announced by the worker's reads alone (logged).
pub fn spawn(me: u16, fresh: FreshSessions, read_now: impl Fn() + Send + 'static) {
    let started = thread::Builder::new()
        .name("session-events".to_string())
        .spawn(move || listen(me, &fresh, &read_now));
    if let Err(e) = started {
        log(&format!(
            "session notifications not read ({e}): new sessions wait for the next read, and while a lease runs the module opens no new connection"
        ));
    }
}

fn listen(me: u16, fresh: &FreshSessions, read_now: &dyn Fn()) {
    let mut logged = false;
    loop {
        let subscribed = Client::connect().and_then(|client| client.session_events());
        let mut events = match subscribed {
            Ok(events) => {
                if logged {
                    log("session notifications: subscribed");
                }
                logged = false;
                events
            }
            Err(e) => {
                if !logged {
                    log(&format!(
                        "session notifications: cannot subscribe ({e}); tried every second"
                    ));
                    logged = true;
                }
                thread::sleep(RESUBSCRIBE_EVERY);
                continue;
            }
        };
        // A gap between subscriptions may have lost some.
        read_now();
        loop {
            match events.next_event() {
                Ok(Event::SessionNew(session)) => {
                    // The module notifies only its own sessions; a stale
                    // node id (set a moment ago) is left to the reads.
                    if session.owner == me && fresh.add(session) {
                        read_now();
                    }
                }
                Ok(Event::Lost) => read_now(),
                Ok(_) => {}
                Err(e) => {
                    log(&format!("session notifications: {e}; subscribing again"));
                    break;
                }
            }
        }
    }
}
