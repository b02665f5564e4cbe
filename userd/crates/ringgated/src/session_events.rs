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
//! overflowed, or more waited than `MAX_FRESH`) is made good by the
//! worker's next read, paced as ever (reading at once on every loss would
//! dump the table back to back under a flood of new connections, which is
//! what the pacing is there to prevent); the reads announce every session
//! anyway, and a peer that gets one twice merges the copies.
//!
//! A module unloaded and loaded again drops the subscription without a
//! word (the group goes away with the family), so after `IDLE_CHECK`
//! without a notification the listener resolves the family again and
//! subscribes anew if its ids changed: until then the module would refuse
//! every new connection under the daemon's lease.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use ringgate_netlink::{Client, Event, Events, Session};

use crate::session_sync;

/// Sessions notified and not yet taken by the ring's thread; more are
/// dropped (the next read announces them).
pub const MAX_FRESH: usize = 8192;
/// How often the listener tries again to subscribe.
const RESUBSCRIBE_EVERY: Duration = Duration::from_secs(1);
/// How long without a notification before the listener checks that its
/// subscription is to the module loaded now.
const IDLE_CHECK: Duration = Duration::from_secs(5);

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
    /// caller logs it).
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

/// Starts the listener for node `me`: notified sessions go to `fresh`. If
/// the thread cannot be started, sessions are announced by the worker's
/// reads alone (logged).
pub fn spawn(me: u16, fresh: FreshSessions) {
    let started = thread::Builder::new()
        .name("session-events".to_string())
        .spawn(move || listen(me, &fresh));
    if let Err(e) = started {
        log(&format!(
            "session notifications not read ({e}): new sessions wait for the next read, and while a lease runs the module opens no new connection"
        ));
    }
}

fn listen(me: u16, fresh: &FreshSessions) {
    let mut logged = false;
    loop {
        let subscribed = Client::connect().and_then(|client| {
            let ids = client.sessions_ids();
            client.session_events().map(|events| (events, ids))
        });
        let (mut events, ids) = match subscribed {
            Ok(subscribed) => {
                if logged {
                    log("session notifications: subscribed");
                }
                logged = false;
                subscribed
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
        if let Err(e) = read_while_current(me, fresh, &mut events, ids) {
            log(&format!("session notifications: {e}; subscribing again"));
            thread::sleep(RESUBSCRIBE_EVERY);
        }
    }
}

/// Reads notifications until the subscription fails or the module's
/// family is no longer the one subscribed to (`ids`).
fn read_while_current(
    me: u16,
    fresh: &FreshSessions,
    events: &mut Events,
    ids: (u16, Option<u32>),
) -> Result<(), String> {
    // Logged once a subscription: under a flood the buffer overflows again
    // and again.
    let mut loss_logged = false;
    loop {
        if !events.wait(IDLE_CHECK).map_err(|e| e.to_string())? {
            match Client::connect() {
                Ok(client) if client.sessions_ids() == ids => continue,
                Ok(_) => return Err("the module was loaded again".to_string()),
                Err(e) => return Err(format!("the module is not there ({e})")),
            }
        }
        match events.next_event().map_err(|e| e.to_string())? {
            Event::SessionNew(session) => {
                // The module notifies only its own sessions; a stale node
                // id (set a moment ago) is left to the reads.
                let first_dropped = session.owner == me && fresh.add(session);
                if first_dropped {
                    log(&format!(
                        "session notifications: more than {MAX_FRESH} waiting for the ring; the next read announces the rest"
                    ));
                }
            }
            Event::Lost if !loss_logged => {
                loss_logged = true;
                log("session notifications lost (the socket's buffer overflowed); the next read announces them");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use ringgate_netlink::{Proto, Stage};

    use super::*;
    use crate::session_sync::{decode, Batch, BATCH};

    fn session(port: u16) -> Session {
        Session {
            proto: Proto::Tcp,
            client: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1), port),
            vip: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 100), 80),
            backend: SocketAddrV4::new(Ipv4Addr::new(10, 8, 0, 2), 8080),
            stage: Stage(1),
            expires_ms: 60_000,
            owner: 1,
            outbound: false,
        }
    }

    #[test]
    fn notified_sessions_go_out_once_as_changes_in_batches() {
        let fresh = FreshSessions::default();
        let count = BATCH + 1;
        for port in 0..count {
            assert!(!fresh.add(session(port as u16)));
        }
        let batches = fresh.take_batches();
        assert_eq!(batches.len(), 2);
        let mut ports = Vec::new();
        for batch in &batches {
            match decode(batch).unwrap() {
                Batch::Sessions {
                    full: None,
                    sessions,
                } => ports.extend(sessions.iter().map(|s| s.client.port())),
                other => panic!("not a batch of changes: {other:?}"),
            }
        }
        assert_eq!(ports, (0..count as u16).collect::<Vec<_>>());
        assert!(fresh.take_batches().is_empty(), "taken twice");
    }

    #[test]
    fn beyond_the_bound_sessions_are_dropped_and_the_first_drop_is_told() {
        let fresh = FreshSessions::default();
        for port in 0..MAX_FRESH {
            assert!(!fresh.add(session(port as u16)));
        }
        // The first session with no room asks for a read; the next ones
        // do not ask again until the ring's thread took the sessions.
        assert!(fresh.add(session(1)));
        assert!(!fresh.add(session(2)));
        let taken: usize = fresh
            .take_batches()
            .iter()
            .map(|b| crate::session_sync::count(b))
            .sum();
        assert_eq!(taken, MAX_FRESH);
        assert!(!fresh.add(session(3)));
        for port in 1..MAX_FRESH {
            fresh.add(session(port as u16));
        }
        assert!(fresh.add(session(4)), "a drop after a take is told again");
    }
}
