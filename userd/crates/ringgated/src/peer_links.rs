//! The daemon's side of the module's peer table: which of its links this
//! node announced, what its peers announced, and what the module was
//! given.
//!
//! The module sends a packet of a session another node owns to that node
//! at layer 2 (see the module's `peers.rs`), so it must know every peer's
//! hardware address on each segment the two share. Each node announces its
//! links over the ring (`links`) after every membership change, when they
//! change and every `ANNOUNCE_EVERY`; each computes its table from its own
//! links and the announcements of the current members only, and gives the
//! module a new table whenever that changes. A node that leaves the ring
//! leaves the table with the membership change that reports it, so its
//! sessions are served from their copies from then on, not sent to a node
//! that is gone. This is outside the replicated state machine: a lost
//! announcement is sent again within `ANNOUNCE_EVERY`.
//!
//! This node's links are read by a thread of their own (`LinkReader`), so
//! the ring's thread never waits for an rtnetlink dump; the table is
//! computed again only when something it depends on changed.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use ringgate_netlink::{Peer, PortRange};

use crate::links::{self, Link, PeerRoute};

/// How often the links are announced when nothing asks for it sooner.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(30);
/// How often this node's own links are read again.
pub const READ_EVERY: Duration = Duration::from_secs(5);
/// How long after a refused table the module is asked again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// The most entries the module's table holds (`RINGGATE_MAX_PEERS`).
pub const MAX_PEERS: usize = ringgate_netlink::uapi::RINGGATE_MAX_PEERS as usize;

/// Reads this node's links every `READ_EVERY` on its own thread, which
/// ends when the reader is dropped.
pub struct LinkReader {
    results: Receiver<Result<Vec<Link>, String>>,
}

impl LinkReader {
    /// Starts the thread; `None` (logged by the caller) if it cannot be.
    pub fn spawn() -> std::io::Result<LinkReader> {
        let (send, results) = mpsc::sync_channel(1);
        thread::Builder::new()
            .name("links".to_string())
            .spawn(move || loop {
                let read = links::local_links().map_err(|e| format!("read this node's links: {e}"));
                if send.send(read).is_err() {
                    return;
                }
                thread::sleep(READ_EVERY);
            })?;
        Ok(LinkReader { results })
    }

    /// The latest reading since the last call, if any.
    pub fn latest(&self) -> Option<Result<Vec<Link>, String>> {
        let mut latest = None;
        loop {
            match self.results.try_recv() {
                Ok(read) => latest = Some(read),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return latest,
            }
        }
    }
}

#[derive(Default)]
pub struct PeerLinks {
    /// This node's links as last read.
    local: Vec<Link>,
    /// Whether the table may differ from the one given (an input changed,
    /// or the module refused the last one).
    stale: bool,
    /// Each peer's last announcement.
    announced: BTreeMap<u16, Vec<Link>>,
    /// The ring's current members.
    members: Vec<u16>,
    /// Each member's outbound translation ports (see `gateway::give_snat`).
    ports: BTreeMap<u16, PortRange>,
    /// Whether this node's links must be announced at the next chance.
    announce_due: bool,
    announced_at: Option<Instant>,
    /// The table the module holds (`None`: unknown, at start).
    given: Option<Vec<Peer>>,
    /// When the module last refused a table.
    refused_at: Option<Instant>,
}

impl PeerLinks {
    /// At a daemon's start: the module may hold a table an earlier daemon
    /// gave it, so the first table (empty until the ring forms) is given
    /// whatever it is.
    pub fn new() -> PeerLinks {
        PeerLinks {
            stale: true,
            ..PeerLinks::default()
        }
    }

    /// A peer's announcement; a malformed one changes nothing.
    pub fn heard(&mut self, origin: u16, payload: &[u8]) -> Result<(), String> {
        let links = links::decode(payload)?;
        self.announced.insert(origin, links);
        self.stale = true;
        Ok(())
    }

    /// The ring's membership changed: the new members need this node's
    /// links, and the table loses the nodes that left.
    pub fn membership(&mut self, members: &[u16]) {
        self.members = members.to_vec();
        self.announced.retain(|node, _| members.contains(node));
        self.announce_due = true;
        self.stale = true;
    }

    /// The members' outbound translation ports, as the cluster shares them
    /// out now; a change makes a new table.
    pub fn ports(&mut self, ports: BTreeMap<u16, PortRange>) {
        if ports != self.ports {
            self.ports = ports;
            self.stale = true;
        }
    }

    /// This node's links as just read; a change is announced.
    pub fn local(&mut self, fresh: Vec<Link>) {
        if fresh != self.local {
            self.local = fresh;
            self.announce_due = true;
            self.stale = true;
        }
    }

    /// The announcement to broadcast now, if one is due. Call `sent` once
    /// the ring took it.
    pub fn announcement(&self, now: Instant) -> Option<Vec<u8>> {
        let periodic = self
            .announced_at
            .is_none_or(|at| now.duration_since(at) >= ANNOUNCE_EVERY);
        (self.announce_due || periodic).then(|| links::encode(&self.local))
    }

    pub fn sent(&mut self, now: Instant) {
        self.announce_due = false;
        self.announced_at = Some(now);
    }

    /// The table the module should hold, if it differs from the one it was
    /// given (and the module did not refuse one within `RETRY_AFTER`), with
    /// how many routes it left out (at most `MAX_PEERS` are kept).
    pub fn table_to_give(&mut self, me: u16, now: Instant) -> Option<(Vec<Peer>, usize)> {
        if !self.stale
            || self
                .refused_at
                .is_some_and(|at| now.duration_since(at) < RETRY_AFTER)
        {
            return None;
        }
        self.stale = false;
        let routes = links::peer_routes(&self.local, &self.announced, &self.members, me);
        let left_out = routes.len().saturating_sub(MAX_PEERS);
        let table: Vec<Peer> = routes
            .into_iter()
            .take(MAX_PEERS)
            .map(|PeerRoute { node, ifindex, mac }| Peer {
                node,
                ifindex,
                mac,
                ports: self.ports.get(&node).copied(),
            })
            .collect();
        (self.given.as_ref() != Some(&table)).then_some((table, left_out))
    }

    /// The module took `table` (`Ok`) or refused it.
    pub fn given(&mut self, table: Vec<Peer>, result: Result<(), ()>, now: Instant) {
        match result {
            Ok(()) => {
                self.given = Some(table);
                self.refused_at = None;
            }
            Err(()) => {
                self.refused_at = Some(now);
                self.stale = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn link(ifindex: u32, last: u8, net: u8) -> Link {
        Link {
            ifindex,
            mac: [2, 0, 0, 0, net, last],
            addr: Ipv4Addr::new(10, net, 0, last),
            prefix_len: 24,
        }
    }

    fn node(n: u8) -> Vec<Link> {
        vec![link(4, n, 9), link(5, n, 8)]
    }

    /// Node 1 with nodes 2 and 3 announced and in the ring.
    fn three() -> (PeerLinks, Instant) {
        let now = Instant::now();
        let mut p = PeerLinks::default();
        p.local(node(1));
        p.membership(&[1, 2, 3]);
        for n in [2, 3] {
            p.heard(u16::from(n), &links::encode(&node(n))).unwrap();
        }
        (p, now)
    }

    #[test]
    fn a_new_daemon_gives_the_module_an_empty_table_first() {
        let now = Instant::now();
        assert_eq!(
            PeerLinks::new().table_to_give(1, now),
            Some((Vec::new(), 0))
        );
        assert_eq!(PeerLinks::default().table_to_give(1, now), None);
    }

    #[test]
    fn members_that_announced_get_a_route_per_shared_segment() {
        let (mut p, now) = three();
        let (table, left_out) = p.table_to_give(1, now).unwrap();
        assert_eq!(left_out, 0);
        let nodes: Vec<(u16, u32)> = table.iter().map(|p| (p.node, p.ifindex)).collect();
        assert_eq!(nodes, [(2, 4), (2, 5), (3, 4), (3, 5)]);
        assert_eq!(table[0].mac, [2, 0, 0, 0, 9, 2]);
    }

    #[test]
    fn a_node_that_left_the_ring_leaves_the_table_at_once() {
        let (mut p, now) = three();
        let (table, _) = p.table_to_give(1, now).unwrap();
        p.given(table, Ok(()), now);
        assert!(p.table_to_give(1, now).is_none(), "nothing changed");
        p.membership(&[1, 3]);
        let (table, _) = p.table_to_give(1, now).unwrap();
        assert!(table.iter().all(|p| p.node == 3), "{table:?}");
        // It must announce again to come back.
        p.membership(&[1, 2, 3]);
        let (table, _) = p.table_to_give(1, now).unwrap();
        assert!(table.iter().all(|p| p.node == 3), "{table:?}");
    }

    #[test]
    fn a_membership_change_or_new_links_make_an_announcement_due() {
        let (mut p, now) = three();
        assert!(p.announcement(now).is_some());
        p.sent(now);
        assert!(p.announcement(now).is_none());
        p.membership(&[1, 2]);
        assert_eq!(
            links::decode(&p.announcement(now).unwrap()).unwrap().len(),
            2
        );
        p.sent(now);
        // The same links read again: nothing to say; changed links: due.
        p.local(node(1));
        assert!(p.announcement(now).is_none());
        p.local(vec![link(4, 1, 9)]);
        assert!(p.announcement(now).is_some());
        p.sent(now);
        assert!(p.announcement(now + ANNOUNCE_EVERY).is_some());
    }

    #[test]
    fn a_refused_table_is_asked_again_after_a_pause_and_a_bad_announcement_changes_nothing() {
        let (mut p, now) = three();
        let (table, _) = p.table_to_give(1, now).unwrap();
        p.given(table.clone(), Err(()), now);
        assert!(p.table_to_give(1, now).is_none());
        assert!(p.heard(2, b"RGLK\x01\x05").is_err());
        assert_eq!(p.table_to_give(1, now + RETRY_AFTER).unwrap().0, table);
        p.given(table, Ok(()), now + RETRY_AFTER);
        assert!(p.table_to_give(1, now + RETRY_AFTER).is_none());
    }

    #[test]
    fn the_table_keeps_at_most_what_the_module_holds() {
        let now = Instant::now();
        let mut p = PeerLinks::default();
        let local: Vec<Link> = (1..=16).map(|i| link(i, 1, i as u8)).collect();
        p.local(local);
        let members: Vec<u16> = (1..=8).collect();
        p.membership(&members);
        for n in 2..=8u16 {
            let theirs: Vec<Link> = (1..=16).map(|i| link(0, n as u8, i as u8)).collect();
            p.heard(n, &links::encode(&theirs)).unwrap();
        }
        let (table, left_out) = p.table_to_give(1, now).unwrap();
        assert_eq!(table.len(), MAX_PEERS);
        assert_eq!(left_out, 7 * 16 - MAX_PEERS);
    }
}
