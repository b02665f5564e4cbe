//! Drives the sans-IO ring node with a UDP socket and the real clock.
//!
//! One thread owns the node: it sends what the node wants sent, sleeps in
//! poll(2) until a datagram, the node's next timeout, or a control request
//! (`ring_handle` wakes it) comes, at most `TICK` (so shutdown is noticed),
//! and answers control requests between datagrams.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use ringgate_cluster::Command;
use ringgate_netlink::Client;
use ringgate_ring::auth::ClusterKey;
use ringgate_ring::keyring::KeyringStatus;
use ringgate_ring::limits::MAX_DATAGRAM;
use ringgate_ring::node::{Destination, Event, Micros, Node, Priority, Stats};
use ringgate_ring::wire::NodeId;
use rustix::event::{PollFd, PollFlags};
use serde::Serialize;

use crate::config::{Config, KernelModule};
use crate::gateway::{Gateway, Reply};
use crate::output::{Lines, Output};
use crate::ring_handle::RingInbox;
use crate::submissions::{Answers, Submissions};

/// The longest the loop sleeps before looking at the stop flag again.
const TICK: Duration = Duration::from_millis(20);

/// Control requests taken in one turn of the ring's thread; each carries at
/// most a client's batch of `send` lines (see `control`).
const REQUESTS_PER_TURN: usize = 32;
/// Socket receive buffer requested, in bytes.
const RECEIVE_BUFFER: usize = 4 << 20;

/// A request from the control socket, with where to send the answer.
pub enum Control {
    Status(Sender<RingStatus>),
    /// Messages of one class to broadcast, answered once all are queued
    /// (see `submissions`).
    Send(Priority, Vec<Vec<u8>>, Sender<Answers>),
    Key(KeyChange, Sender<Result<(), String>>),
    /// A request for the cluster (gateway mode only).
    Cluster(ClusterRequest, Reply),
}

/// What `ringgatectl cluster`, `vip move` and `node drain` ask.
pub enum ClusterRequest {
    Status,
    /// The cluster configuration now in force.
    Config,
    Command(Command),
    /// Replace the configuration, made against `base_version` (`None`: the
    /// version this node has when the request reaches the ring thread).
    Apply {
        base_version: Option<u64>,
        config: ringgate_cluster::config::ClusterConfig,
    },
    /// One change to the configuration in force when the ring delivers it.
    Edit(ringgate_cluster::config::ConfigEdit),
}

/// A step of a cluster key rollover (see `ringgate_ring::keyring`).
pub enum KeyChange {
    /// Accept this key too.
    Add(ClusterKey),
    /// Send with the key added last.
    Use,
    /// Accept only the key this node sends with.
    Retire,
}

/// What `ringgatectl ring` shows.
#[derive(Debug, Clone, Serialize)]
pub struct RingStatus {
    pub node_id: NodeId,
    pub ring_seq: u64,
    pub ring_rep: NodeId,
    pub members: Vec<NodeId>,
    /// Whether the ring is formed and recovered (false while forming one).
    pub operational: bool,
    /// Mean time between this node's token visits over the last second.
    pub token_rotation_us: Option<u64>,
    /// Messages delivered per second over the last second.
    pub message_rate: f64,
    /// Keys accepted, and whether the newest seals what this node sends.
    pub keys: KeyringStatus,
    pub counters: Counters,
}

/// The node's own counters plus what the UDP side adds.
#[derive(Debug, Clone, Serialize)]
pub struct Counters {
    #[serde(flatten)]
    pub ring: Stats,
    pub send_failures: u64,
    /// Delivery and membership lines dropped because stdout's reader was
    /// too slow or gone (see `output`).
    pub output_dropped: u64,
}

/// Rates over the last completed one-second window.
struct RateWindow {
    started: Instant,
    visits: u64,
    delivered: u64,
    rotation_us: Option<u64>,
    message_rate: f64,
    /// Datagrams refused for a stale epoch, as of the last report.
    stale_epochs: u64,
}

/// A ring node bound to a UDP socket: the I/O half of the daemon, shared
/// with the benchmark so both measure the same code.
pub struct UdpRing {
    socket: UdpSocket,
    node: Node,
    peers: HashMap<NodeId, SocketAddr>,
    start: Instant,
    send_failures: u64,
    buf: Vec<u8>,
}

impl UdpRing {
    /// Binds the configured address and creates the node.
    pub fn bind(config: &Config) -> Result<UdpRing, String> {
        let socket =
            UdpSocket::bind(config.listen).map_err(|e| format!("listen {}: {e}", config.listen))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("socket: {e}"))?;
        // A token visit may broadcast a burst of carriage packets; a receive
        // buffer that holds several bursts turns scheduling hiccups into
        // waiting instead of loss. The kernel caps this at net.core.rmem_max.
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&socket, RECEIVE_BUFFER);
        let start = Instant::now();
        // This process's incarnation number names its rings and heads its
        // datagrams; the state file keeps it counting across restarts (see
        // `epoch`).
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let epoch = crate::epoch::next_epoch(&config.state_file, wall_ms)?;
        let node = Node::with_epoch(
            config.node_id,
            &config.members(),
            config.key.clone(),
            config.ring.clone(),
            0,
            epoch,
        )
        .map_err(|e| format!("ring: {e}"))?;
        Ok(UdpRing {
            socket,
            node,
            peers: config.peers.iter().map(|p| (p.id, p.address)).collect(),
            start,
            send_failures: 0,
            buf: vec![0u8; MAX_DATAGRAM + 1],
        })
    }

    /// Microseconds since `bind`: the node's clock.
    pub fn now(&self) -> Micros {
        self.start.elapsed().as_micros() as Micros
    }

    /// The protocol state machine.
    pub fn node(&mut self) -> &mut Node {
        &mut self.node
    }

    /// Datagrams `send_to` could not send.
    pub fn send_failures(&self) -> u64 {
        self.send_failures
    }

    /// Sends everything the node has queued.
    pub fn flush(&mut self) {
        while let Some(t) = self.node.poll_transmit() {
            // The peers are walked in place: no list of them per datagram.
            let one = match t.destination {
                Destination::AllOthers => None,
                Destination::Node(id) => Some(self.peers.get(&id)),
            };
            let (socket, peers) = (&self.socket, &self.peers);
            let send = |target: &SocketAddr| socket.send_to(&t.datagram, target).is_err();
            let failures = match one {
                None => peers.values().filter(|target| send(target)).count(),
                Some(target) => target.into_iter().filter(|target| send(target)).count(),
            };
            self.send_failures += failures as u64;
        }
    }

    /// Waits for datagrams, the node's next timeout, or `max`, whichever
    /// comes first, and lets the node handle what happened. Waiting is done
    /// with poll(2), whose timeout is precise (a socket receive timeout is
    /// rounded up to whole jiffies, several milliseconds).
    pub fn wait(&mut self, max: Duration) -> Result<(), String> {
        self.wait_or_wake(max, None)
    }

    /// Like `wait`, and returns early when `wake` becomes readable (a
    /// control request came; see `ring_handle`).
    pub fn wait_or_wake(
        &mut self,
        max: Duration,
        wake: Option<&std::os::unix::net::UnixDatagram>,
    ) -> Result<(), String> {
        let now = self.now();
        let wait = self
            .node
            .poll_timeout()
            .map(|at| Duration::from_micros(at.saturating_sub(now)))
            .unwrap_or(max)
            .min(max);
        // poll(2) counts milliseconds; round up so a wait is never cut short.
        let wait_ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let mut fds = vec![PollFd::new(&self.socket, PollFlags::IN)];
        if let Some(wake) = wake {
            fds.push(PollFd::new(wake, PollFlags::IN));
        }
        let asleep = Instant::now();
        match rustix::event::poll(&mut fds, wait_ms) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        // A wake-up long after the timeout means the process was not
        // scheduled (an overloaded host or guest): said, so that a self
        // fence that follows can be told from one the daemon's own work
        // caused (see `SLOW_TURN` in `run`).
        let late = asleep
            .elapsed()
            .saturating_sub(Duration::from_millis(wait_ms as u64));
        if late >= SLOW_TURN {
            eprintln!(
                "ringgated: woke {} ms after its {wait_ms} ms wait ended: the process was not scheduled",
                late.as_millis()
            );
        }
        // Take everything that is queued, a bounded number at a time.
        for _ in 0..256 {
            match self.socket.recv_from(&mut self.buf) {
                Ok((len, _)) => {
                    let now = self.now();
                    self.node.handle_datagram(now, &self.buf[..len]);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    break
                }
                // ICMP port unreachable from a peer that is down surfaces here on Linux.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(format!("receive: {e}")),
            }
        }
        let now = self.now();
        self.node.handle_timeout(now);
        Ok(())
    }
}

/// A turn of the ring's thread, or a wake-up this late, is logged: it is
/// half the default self fence (100 ms) and far beyond what a turn takes
/// on an idle machine.
const SLOW_TURN: Duration = Duration::from_millis(50);

/// Runs the ring until `stop` is set. Every delivery is written to stdout
/// (from another thread, dropped if its reader falls behind) as one line, `deliver <first> <origin> <length> <text>`, and every new ring as
/// `membership <seq> <representative> <member,member,...>
/// <transitional,...> <primary|minority>`.
pub fn run(config: &Config, control: RingInbox, stop: &AtomicBool) -> Result<(), String> {
    let mut ring = UdpRing::bind(config)?;
    let mut window = RateWindow {
        started: Instant::now(),
        visits: 0,
        delivered: 0,
        rotation_us: None,
        message_rate: 0.0,
        stale_epochs: 0,
    };
    let mut stored_epoch = ring.node().epoch();
    let mut submissions = Submissions::default();

    let output = Output::spawn(std::io::stdout());
    let mut lines = Lines::default();
    let mut gateway = match &config.cluster {
        Some(options) => {
            let client = match Client::connect() {
                Ok(client) => Some(client),
                Err(e) if config.kernel_module == KernelModule::Optional => {
                    eprintln!("ringgated: {e}; the cluster runs without a module to drive");
                    None
                }
                Err(e) => return Err(e.to_string()),
            };
            let keys = ring.node().keyring().clone();
            Some(Gateway::start(
                config.node_id,
                options.clone(),
                client,
                keys,
            )?)
        }
        None => None,
    };

    crate::priority::raise_ring_thread(config.ring_nice);
    while !stop.load(Ordering::Relaxed) {
        let turn = Instant::now();
        if let Some(gateway) = &mut gateway {
            gateway.phases().start();
        }
        ring.flush();
        if let Some(gateway) = &mut gateway {
            gateway.phases().lap("sending the ring's packets");
        }
        while let Some(event) = ring.node().poll_event() {
            announce(&event, &output, &mut lines);
            match (&mut gateway, event) {
                (Some(gateway), event) => gateway.on_event(&mut ring, event),
                (
                    None,
                    Event::Deliver {
                        first,
                        origin,
                        payload,
                        ..
                    },
                ) => {
                    let _ = write!(
                        lines.start(),
                        "deliver {first} {origin} {} {}",
                        payload.len(),
                        crate::output::payload_text(&payload)
                    );
                    lines.end();
                    output.line(&mut lines);
                }
                // Without a cluster there is no application state: an
                // empty snapshot lets the receivers go on.
                (
                    None,
                    Event::SnapshotRequested {
                        ring: id,
                        receivers,
                    },
                ) => {
                    let now = ring.now();
                    if let Err(e) = ring.node().submit_snapshot(now, id, Vec::new()) {
                        eprintln!("ringgated: snapshot for {receivers:?} not sent: {e}");
                    }
                }
                (None, Event::Snapshot { origin, data }) => {
                    let _ = write!(lines.start(), "snapshot {origin} {}", data.len());
                    lines.end();
                }
                (None, Event::Membership { .. } | Event::Safe { .. }) => {}
            }
        }
        output.send(&mut lines);
        if let Some(gateway) = &mut gateway {
            gateway.phases().lap("the ring's events");
            gateway.pump(&mut ring);
            ring.flush();
            gateway.phases().lap("sending the ring's packets");
        }
        // The token waits while a turn runs: a long one is said, since it
        // can make this node miss its self fence.
        let busy = turn.elapsed();
        if busy >= SLOW_TURN {
            let steps = gateway
                .as_mut()
                .map(|g| g.phases().longest())
                .filter(|s| !s.is_empty())
                .map_or(String::new(), |s| format!(": {s}"));
            eprintln!(
                "ringgated: one turn of the ring's thread took {} ms (the token waited){steps}",
                busy.as_millis()
            );
        }

        let elapsed = window.started.elapsed();
        if elapsed >= Duration::from_secs(1) {
            let stats = ring.node().stats().clone();
            let visits = stats.token_visits - window.visits;
            window.rotation_us = (visits > 0).then(|| elapsed.as_micros() as u64 / visits);
            window.message_rate =
                (stats.delivered_messages - window.delivered) as f64 / elapsed.as_secs_f64();
            window.visits = stats.token_visits;
            window.delivered = stats.delivered_messages;
            window.started = Instant::now();
            // Once a second at most, so a replay flood cannot flood the log.
            if stats.stale_epochs > window.stale_epochs {
                eprintln!(
                    "ringgated: refused {} datagrams of an earlier epoch of a peer: replays, \
                     or a peer restarted without its state file below its old epoch \
                     (it is told, and moves above it)",
                    stats.stale_epochs - window.stale_epochs
                );
                window.stale_epochs = stats.stale_epochs;
            }
        }

        // A peer refused this process's epoch as older than its
        // predecessor's and the node raised it: store it, so the next start
        // counts on from the raised value instead of being refused again.
        let epoch = ring.node().epoch();
        if epoch != stored_epoch {
            eprintln!(
                "ringgated: peers had seen epoch {} of this node (state file lost, clock \
                 stepped back?); now running as epoch {epoch}",
                epoch - 1
            );
            crate::epoch::store(&config.state_file, epoch)?;
            stored_epoch = epoch;
        }

        // The token drained the queue: messages waiting for room go first,
        // ahead of new ones of their class.
        let now = ring.now();
        submissions.retry(ring.node(), now);
        control.clear_wake_ups();
        // At most `REQUESTS_PER_TURN` requests a turn: alone in a ring, or
        // with a token held idle, a message is delivered as it is taken, and
        // its delivery waits in the node until the next turn drains it to
        // stdout's bounded queue. Clients answered at once send more, so a
        // turn that took every request there was grew without bound (1.2 GB
        // and 200 ms turns under four flooding clients).
        let mut taken = 0;
        for request in control.requests.try_iter().take(REQUESTS_PER_TURN) {
            taken += 1;
            match request {
                Control::Status(reply) => {
                    let _ = reply.send(ring_status(&mut ring, &window, &output));
                }
                Control::Cluster(request, reply) => match &mut gateway {
                    None => {
                        let _ = reply.send(Err(
                            "this daemon runs the ring only (its configuration has no [cluster] section)"
                                .into(),
                        ));
                    }
                    Some(gateway) => match request {
                        ClusterRequest::Status => {
                            let ring_status = ring_status(&mut ring, &window, &output);
                            let _ = reply.send(Ok(crate::status_json::cluster_status(
                                gateway.node(),
                                &ring_status,
                                gateway.module_errors(),
                                gateway.session_counters(),
                            )));
                        }
                        ClusterRequest::Config => {
                            let _ = reply.send(Ok(crate::status_json::config(
                                &gateway.node().state().config,
                            )));
                        }
                        ClusterRequest::Command(command) => {
                            gateway.command(&mut ring, command, reply)
                        }
                        ClusterRequest::Edit(edit) => {
                            gateway.command(&mut ring, Command::EditConfig(edit), reply)
                        }
                        ClusterRequest::Apply {
                            base_version,
                            config,
                        } => {
                            let base_version =
                                base_version.unwrap_or(gateway.node().state().config.version);
                            gateway.command(
                                &mut ring,
                                Command::ChangeConfig {
                                    base_version,
                                    config,
                                },
                                reply,
                            )
                        }
                    },
                },
                Control::Send(priority, messages, reply) => {
                    let now = ring.now();
                    submissions.offer(ring.node(), now, priority, messages, reply);
                }
                Control::Key(change, reply) => {
                    let node = ring.node();
                    let result = match change {
                        KeyChange::Add(key) => node.add_key(key),
                        KeyChange::Use => node.use_newest_key(),
                        KeyChange::Retire => node.retire_key(),
                    };
                    if result.is_ok() {
                        eprintln!("ringgated: cluster keys now {:?}", node.key_status());
                        if let Some(gateway) = &mut gateway {
                            gateway.rekey(node.keyring().clone());
                        }
                    }
                    let _ = reply.send(result.map_err(|e| e.to_string()));
                }
            }
        }
        // What the requests made the node send goes out before the wait:
        // a message sent with a token this node held idle, or a request for
        // the token (`HoldCancel`), would otherwise wait for whatever next
        // wakes the thread, which on an idle ring is the hold's end.
        ring.flush();
        // The cluster's timers (a fenced take, the self fence, the load
        // report) wake the loop on time too.
        let now = ring.now();
        let wait = gateway
            .as_ref()
            .and_then(Gateway::poll_timeout)
            .map_or(TICK, |at| {
                TICK.min(Duration::from_micros(at.saturating_sub(now)))
            });
        // A full turn may have left requests that were already woken for: the wait
        // only takes what came meanwhile.
        let wait = if taken == REQUESTS_PER_TURN {
            Duration::ZERO
        } else {
            wait
        };
        ring.wait_or_wake(wait, Some(control.wake_socket()))?;
    }
    if let Some(gateway) = &mut gateway {
        gateway.shutdown();
    }
    Ok(())
}

/// Writes a line for every new ring (see `run`) and logs it.
fn announce(event: &Event, output: &Output, lines: &mut Lines) {
    let Event::Membership {
        ring,
        members,
        transitional,
        primary,
        ..
    } = event
    else {
        return;
    };
    let list: Vec<String> = members.iter().map(NodeId::to_string).collect();
    let from: Vec<String> = transitional.iter().map(NodeId::to_string).collect();
    // A chunk of its own: a full queue drops whole chunks, and a membership
    // line should not go with a chunk of deliveries.
    output.send(lines);
    let _ = write!(
        lines.start(),
        "membership {} {} {} {} {}",
        ring.seq,
        ring.rep,
        list.join(","),
        from.join(","),
        if *primary { "primary" } else { "minority" }
    );
    lines.end();
    output.send(lines);
    eprintln!(
        "ringgated: ring {}/{} installed with members {}",
        ring.seq,
        ring.rep,
        list.join(", ")
    );
}

/// What `ringgatectl ring` shows.
fn ring_status(ring: &mut UdpRing, window: &RateWindow, output: &Output) -> RingStatus {
    let send_failures = ring.send_failures();
    let node = ring.node();
    RingStatus {
        node_id: node.id(),
        ring_seq: node.ring().seq,
        ring_rep: node.ring().rep,
        members: node.members().to_vec(),
        operational: node.is_operational(),
        token_rotation_us: window.rotation_us,
        message_rate: window.message_rate,
        keys: node.key_status(),
        counters: Counters {
            ring: node.stats().clone(),
            send_failures,
            output_dropped: output.dropped(),
        },
    }
}
