// SPDX-License-Identifier: GPL-2.0

//! NAT of VIP traffic to back-ends.
//!
//! Client to back-end: at pre-routing, before the routing decision, so the
//! rewritten destination is what gets routed. A packet opening a connection
//! to a service of a VIP this node owns gets a back-end from the scheduler
//! and a new session; later packets follow their session.
//!
//! Back-end to client: at forward, after routing. Rewriting the source to
//! the VIP before routing would make the kernel drop the reply as a martian
//! (a packet arriving from outside with one of the node's own addresses as
//! its source), which is why IPVS translates replies there too.
//!
//! Pre-routing runs before conntrack (-399 against -200), so conntrack, if
//! something in the namespace uses it, sees a translated connection as it
//! is on the back-end side: client to back-end one way, back-end to client
//! the other (the reply's source becomes the VIP only at forward, after
//! conntrack has matched it). In the tracked mode (the default) that is
//! what it tracks, so `ct state` rules, `conntrack -L` and conntrackd see
//! the connection with the back-end's tuple, and ICMP errors quoting it are
//! `related`. In the untracked mode both directions are marked untracked
//! instead: no conntrack cost, and no `ct state` rule but `untracked`
//! matches them. ICMP errors quoting a translated packet are translated
//! too, whichever side they come from.
//!
//! Outbound connections (see `snat`) are the same sessions the other way
//! round: the host behind the cluster opens them, its packets get the VIP
//! and a port of this node's range as their source at forward, and the
//! replies get the host back as their destination at pre-routing.
//! Everything else passes untouched.

use crate::clock::Clock;
use crate::glue::{End, L2Target, Packet, RcuSection, Verdict};
use crate::headers::{self, Flow};
use crate::netns::NetState;
use crate::services::{Pick, ServiceKey, ServiceTable, TCP};
use crate::sessions::{
    FlowKey, Hit, Imported, Refused, Rewrite, SessionTable, SessionView, Stage, Timeouts,
};
use crate::snat::Snat;
use crate::tcp::{self, Maker, Segment};
use crate::traffic::Way;
use crate::vips::Vip;

/// The end of a packet `rewrite` changes.
fn end_of(rewrite: &Rewrite) -> End {
    if rewrite.source {
        End::Source
    } else {
        End::Destination
    }
}

fn key_of(flow: &Flow) -> FlowKey {
    FlowKey {
        proto: flow.proto,
        saddr: flow.saddr,
        sport: flow.sport,
        daddr: flow.daddr,
        dport: flow.dport,
    }
}

/// Marks a packet of a translated connection untracked, unless the
/// namespace lets conntrack track such connections (see above).
fn untrack_unless_tracked(net: &NetState, packet: &mut Packet<'_>) {
    if !net.tracked() {
        packet.untrack();
    }
}

/// A new session's expiry for the sessions group: `stage`'s timeout.
fn expires_ms(timeouts: &Timeouts, stage: Stage) -> u32 {
    u32::try_from(timeouts.secs(stage).saturating_mul(1000)).unwrap_or(u32::MAX)
}

/// What a session just made is, for the sessions group: it is in `stage`,
/// which lasts that stage's timeout.
fn new_session(key: &FlowKey, hit: &Hit, stage: Stage, timeouts: &Timeouts) -> SessionView {
    SessionView {
        client: *key,
        backend_addr: hit.rewrite.addr,
        backend_port: hit.rewrite.port,
        stage,
        expires_ms: expires_ms(timeouts, stage),
        owner: hit.owner,
        outbound: false,
    }
}

/// Makes, owns and announces the session of a connection met mid-stream
/// from one segment `maker` sent (see `pick_up` and `pick_up_reply`): the
/// client's flow `client` to back-end `pick` of the service in `slot`, in
/// the handshake stage, blind; then `met`, the flow of the segment that
/// made it, takes that segment. Nothing stays behind when it fails:
/// `Err(Accept)` when the table refuses, `Err(Drop)` when nobody here
/// would announce the session (see `NetState::announcer_missing`).
/// Bounded: one import and one lookup.
fn pick_up_session(
    context: &Context<'_>,
    client: FlowKey,
    slot: usize,
    pick: &Pick,
    maker: Maker,
    met: &FlowKey,
    segment: &Segment,
) -> Result<Hit, Verdict> {
    let Context {
        net,
        sessions,
        timeouts,
        clock,
        ..
    } = *context;
    let session = Imported {
        client,
        backend_addr: pick.addr,
        backend_port: pick.port,
        stage: Stage::Syn,
        expires: clock.after_secs(timeouts.secs(Stage::Syn)),
        owner: net.node_id(),
        blind: Some(maker),
        outbound: false,
    };
    sessions
        .import(&session, slot, pick.slot, clock.now)
        .map_err(|_| Verdict::Accept)?;
    let view = SessionView {
        client,
        backend_addr: pick.addr,
        backend_port: pick.port,
        stage: Stage::Syn,
        expires_ms: expires_ms(timeouts, Stage::Syn),
        owner: net.node_id(),
        outbound: false,
    };
    let Some(hit) = sessions.touch(met, segment, timeouts, clock) else {
        sessions.forget(&client, clock.now);
        return Err(Verdict::Accept);
    };
    if !net.notify_session_new(&view) {
        sessions.forget(&client, clock.now);
        net.count_not_owner();
        return Err(Verdict::Drop);
    }
    net.count_picked_up();
    Ok(hit)
}

/// A TCP segment of a connection this node never saw open, to a VIP it
/// owns and serves: the node that opened it died before its daemon
/// announced the session (the peers learn a new session within a turn of
/// the ring, so only a connection opened in the last moments before a
/// node's death comes here), or any host sends a stray segment. If the
/// service picks back-ends by hashing the client, the connection's
/// back-end is the one this node picks for that client too (as long as the
/// nodes agree on the service's back-ends and which are up), and the
/// segment is passed on to it in a session made here as an import would
/// be, sequence numbers learnt from the segments that pass. Anyone can send
/// such a segment, so the session stays in the handshake stage (short,
/// evictable) until the back-end answers with anything but a reset, and a
/// reset ends it (see `tcp::Direction::picked_up_blind`): a segment the
/// back-end does not know costs the table what a SYN does. `Err(Accept)`
/// for other schedulers (the back-end cannot be known), for segments that
/// are no ACK mid-stream, and when the table refuses: the kernel answers
/// them with a reset, as before. `Err(Drop)` when nobody here would
/// announce the session (see `NetState::announcer_missing`): the next
/// owner may pick the connection up, so it must not be reset here.
/// Bounded: one pick and what `pick_up_session` does.
fn pick_up(
    context: &Context<'_>,
    slot: usize,
    flow: &Flow,
    segment: &Segment,
) -> Result<Hit, Verdict> {
    let Context {
        net,
        services,
        sessions,
        ..
    } = *context;
    if !tcp::continues(flow.tcp_flags) || !services.hashes(slot) {
        return Err(Verdict::Accept);
    }
    let pick = services
        .pick(slot, net.turn(slot), flow.saddr, sessions.loads())
        .ok_or(Verdict::Accept)?;
    let key = key_of(flow);
    pick_up_session(context, key, slot, &pick, Maker::Client, &key, segment)
}

/// A packet of a session another node owns, sent on to that node if the
/// peer table knows where it is on the device the packet came in on (see
/// `peers`): untranslated, for the owner translates it as it did the
/// session's other packets. `None`: handled here, from this node's copy of
/// the session, which is also what happens to a datagram reassembled here
/// that is larger than the device's MTU (layer 2 cannot fragment it).
fn to_owner(
    net: &NetState,
    packet: &Packet<'_>,
    rcu: &RcuSection<'_>,
    owner: u16,
) -> Option<Verdict> {
    let peer = net.peers.read(rcu).redirect(
        net.node_id(),
        owner,
        packet.ingress_ifindex(),
        packet.ethernet_source(),
    )?;
    if !packet.fits_ingress_mtu() {
        return None;
    }
    net.count_redirected();
    Some(Verdict::Forward(L2Target {
        ifindex: peer.ifindex,
        mac: peer.mac,
    }))
}

/// A packet from a back-end of a VIP's services that has no session here.
///
/// At a node that does not own the VIP: sent on to the VIP's owner, as the
/// cluster told this node (`owner-node`), if the peer table knows where
/// it is. This is the back-end's first reply to a connection the owner
/// opened a moment ago, come back through this node (it holds the
/// back-ends' gateway address) before the owner's daemon announced the
/// session: the owner translates it. Passed on untranslated instead, it
/// would reach the client from the back-end's address, which the client
/// answers with a reset, and the connection would open only at the
/// client's next SYN, a second later or more.
///
/// At the VIP's owner: a segment of a connection the owner lost, picked up
/// if it can be (see `pick_up_reply`).
///
/// `None`: handled here as before (no such back-end, one serving several
/// VIPs' services, a packet to this node's own address, the VIP's owner is
/// not known or not in the peer table, or nothing to pick up). Bounded: one
/// binary search of the back-end index and of the pool, one hash lookup of
/// the namespace's addresses, and what `pick_up_reply` does.
fn reply_without_session(
    context: &Context<'_>,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    flow: &Flow,
    segment: &Segment,
) -> Option<Verdict> {
    let net = context.net;
    let vip = context
        .services
        .vip_served_by(flow.saddr, flow.sport, flow.proto)?;
    // A reply to this node's own connection to the back-end (its daemon's
    // health check, say) is this node's to receive: sent away, the owner
    // would route it back, and a stateful firewall there would drop it.
    if net.is_local_address(flow.daddr, rcu) {
        return None;
    }
    let vips = net.vips.read(rcu);
    let vip = vips.find(vip)?;
    if vip.owned && net.leased(context.clock.now) {
        return pick_up_reply(context, packet, rcu, flow, segment, vip);
    }
    to_owner(net, packet, rcu, vip.owner_node)
}

/// How long after this node took a VIP a back-end's segment with no
/// session may be picked up (see `pick_up_reply`), in seconds: the time a
/// back-end's retransmission, backing off from the death of the node that
/// opened its connection, takes to come again after the takeover.
const PICK_UP_REPLY_SECS: u64 = 10;

/// A back-end's TCP segment met mid-stream at the owner of the VIP it
/// serves, with no session here: the node that opened the connection died
/// before its daemon announced the session, and the back-end speaks next
/// (it answers what the client sent before the death, or sends on its
/// own). The client has nothing to send that `pick_up` could pick up, so
/// without this the back-end's segments would leave untranslated, from its
/// own address, which the client drops, and the connection would hang. As
/// `pick_up` does from the client's side: if the back-end serves one
/// service only and that service hashes clients, and it is the back-end
/// this node picks for the segment's destination, the session is made here
/// and the segment is translated at forward. Anyone on the back-end side
/// can send such a segment, so the session stays in the handshake stage
/// until the client answers with anything but a reset, and a reset ends it
/// (`tcp::Maker::Backend`).
///
/// Only within `PICK_UP_REPLY_SECS` of this node taking the VIP: a
/// segment from the back-end's service port to a host with no session is
/// also what a connection that host opened straight to the back-end's
/// address looks like (an operator's curl through the gateway, say).
/// Picked up, it would reach that host from the VIP, which resets it, and
/// the connection would stall while the session lasts. A connection the
/// dead node left unannounced was opened a moment before the takeover, so
/// its back-end's next segment comes soon after; a host's own connection
/// to the back-end can only be disturbed in those seconds. Hosts of the
/// outbound translation's source prefix (see `snat`) are on the back-end
/// side, never clients of the VIP: their traffic is left alone.
///
/// `None` for anything else: left to the kernel, as before. `Some(Drop)`
/// when nobody here would announce the session (see
/// `NetState::announcer_missing`), as `pick_up` does. Bounded: one binary
/// search, one pick and what `pick_up_session` does.
fn pick_up_reply(
    context: &Context<'_>,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    flow: &Flow,
    segment: &Segment,
    vip: &Vip,
) -> Option<Verdict> {
    let Context {
        net,
        services,
        sessions,
        clock,
        ..
    } = *context;
    if flow.proto != TCP
        || !tcp::continues(flow.tcp_flags)
        || clock.since(vip.taken) >= clock.ticks(PICK_UP_REPLY_SECS)
    {
        return None;
    }
    let (slot, service) = services.only_service_served_by(flow.saddr, flow.sport, flow.proto)?;
    if service.vip != vip.addr || !services.hashes(slot) {
        return None;
    }
    let pick = services.pick(slot, net.turn(slot), flow.daddr, sessions.loads())?;
    if pick.addr != flow.saddr || pick.port != flow.sport {
        return None;
    }
    if net.snat.read(rcu).covers(flow.daddr) {
        return None;
    }
    if net.announcer_missing() {
        net.count_not_owner();
        return Some(Verdict::Drop);
    }
    let client = FlowKey {
        proto: flow.proto,
        saddr: flow.daddr,
        sport: flow.dport,
        daddr: service.vip,
        dport: service.port,
    };
    match pick_up_session(
        context,
        client,
        slot,
        &pick,
        Maker::Backend,
        &key_of(flow),
        segment,
    ) {
        Ok(_) => {}
        Err(Verdict::Accept) => return None,
        Err(verdict) => return Some(verdict),
    }
    // A reply: translated at forward, once routed.
    untrack_unless_tracked(net, packet);
    Some(Verdict::Accept)
}

/// What the packet path of one packet reads, for the steps that need most
/// of it.
struct Context<'a> {
    net: &'a NetState,
    services: &'a ServiceTable,
    sessions: &'a SessionTable,
    timeouts: &'a Timeouts,
    clock: Clock,
}

/// A packet with no session that is for no service and no first reply to
/// the VIP's owner: with outbound translation on (see `snat`), a reply to a
/// connection another node translated, sent on to the node whose range
/// holds its port (its announcement of the session has not arrived yet), or
/// a new connection from a host of the source prefix. Anything else is
/// left to the kernel, as before. The ports of the ranges at the VIP are
/// the translation's: the configuration keeps them apart from the VIP's
/// services.
fn outside_in_or_out(
    context: &Context<'_>,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    flow: &Flow,
    segment: &Segment,
) -> Verdict {
    let net = context.net;
    let snat = net.snat.read(rcu);
    if !snat.is_on() {
        return Verdict::Accept;
    }
    if flow.daddr == snat.to() {
        let node = net.peers.read(rcu).node_of_port(u16::from_be(flow.dport));
        return node
            .and_then(|node| to_owner(net, packet, rcu, node))
            .unwrap_or(Verdict::Accept);
    }
    if snat.covers(flow.saddr) {
        return outbound(context, snat, packet, rcu, flow, segment);
    }
    Verdict::Accept
}

/// A packet from a host of the source prefix with no session. A TCP SYN or
/// a UDP datagram to an address outside the prefix and the pool that is
/// not this node's opens an outbound connection: a session whose port is
/// free towards the destination in this node's range, announced as the
/// node's own; the source is rewritten at forward, once routed, as a
/// reply's is. Left alone, as before: any other TCP segment (the host
/// answering a connection opened to its own address from outside, which
/// must pass as it is; or a segment of an outbound connection whose session
/// this node lacks, which the outside will not answer), a packet from a
/// back-end's service port, of one VIP's services or several (a reply, see
/// `pre_routing`), and traffic between hosts of the prefix. Bounded: one
/// back-end index search, two pool lookups, at most `snat::CANDIDATES`
/// session lookups and service scans, one session's inserts.
fn outbound(
    context: &Context<'_>,
    snat: &Snat,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    flow: &Flow,
    segment: &Segment,
) -> Verdict {
    let Context {
        net,
        services,
        sessions,
        timeouts,
        clock,
    } = *context;
    if flow.proto == TCP && !tcp::opens(flow.tcp_flags)
        || snat.covers(flow.daddr)
        || services.is_backend(flow.saddr, flow.sport, flow.proto)
        || packet.from_loopback()
        || net.is_local_address(flow.daddr, rcu)
    {
        return Verdict::Accept;
    }
    let vips = net.vips.read(rcu);
    if vips.find(flow.daddr).is_some() || vips.find(snat.to()).is_none() {
        return Verdict::Accept;
    }
    if net.announcer_missing() {
        net.count_not_owner();
        return Verdict::Drop;
    }
    let key = key_of(flow);
    let is_service = |port: u16| {
        let service = ServiceKey {
            vip: snat.to(),
            port,
            proto: flow.proto,
        };
        services.find(&service).is_some()
    };
    let owner = net.node_id();
    match sessions.create_outbound(key, snat, is_service, segment, timeouts, owner, clock) {
        Ok(hit) => {
            let stage = Stage::first(key.proto == TCP);
            let session = SessionView {
                client: hit.rewrite.applied_to(&key).reversed(),
                backend_addr: key.saddr,
                backend_port: key.sport,
                stage,
                expires_ms: expires_ms(timeouts, stage),
                owner,
                outbound: true,
            };
            if !net.notify_session_new(&session) {
                // Nobody here announces it: see `announcer_missing`.
                sessions.forget(&session.client, clock.now);
                net.count_not_owner();
                return Verdict::Drop;
            }
            untrack_unless_tracked(net, packet);
            Verdict::Accept
        }
        Err(Refused::Conflict) => {
            net.count_snat_no_port();
            Verdict::Drop
        }
        Err(Refused::Full) => {
            net.notify_table_full(sessions.dropped(), clock);
            Verdict::Drop
        }
    }
}

/// Bounded work: one session lookup; for a new connection one scan of the
/// service table, one pick and two inserts; for a session another node
/// owns, two scans of the peer table at most; for a packet with neither,
/// what `reply_without_session` does.
pub(crate) fn pre_routing(
    net: &NetState,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    clock: Clock,
) -> Verdict {
    if !net.nat_active() {
        return Verdict::Accept;
    }
    let Some(flow) = headers::flow(packet) else {
        return icmp_error_in(net, packet, rcu, clock.now);
    };
    let key = key_of(&flow);
    let sessions = net.sessions.read(rcu);
    let timeouts = net.timeouts();
    let segment = Segment {
        flags: flow.tcp_flags,
        seq: flow.seq,
        ack: flow.ack,
        payload: flow.payload,
    };
    let found = sessions.touch(&key, &segment, &timeouts, clock);
    if let Some(hit) = &found {
        if hit.owner != net.node_id() {
            if let Some(to) = to_owner(net, packet, rcu, hit.owner) {
                return to;
            }
        }
    }
    let hit = match found {
        Some(reply) if reply.rewrite.source => {
            // A reply: translated at forward, once routed.
            untrack_unless_tracked(net, packet);
            return Verdict::Accept;
        }
        Some(hit) => hit,
        None => {
            let services = net.services.read(rcu);
            let service = ServiceKey {
                vip: flow.daddr,
                port: flow.dport,
                proto: flow.proto,
            };
            let context = Context {
                net,
                services: &services,
                sessions: &sessions,
                timeouts: &timeouts,
                clock,
            };
            let Some(slot) = services.find(&service) else {
                if let Some(verdict) = reply_without_session(&context, packet, rcu, &flow, &segment)
                {
                    return verdict;
                }
                return outside_in_or_out(&context, packet, rcu, &flow, &segment);
            };
            // Only the owner serves a VIP. The others drop its services'
            // packets that have no session here rather than let them reach
            // their own stack, where the VIP is a local address with
            // nothing listening: a reset would end the client's
            // connection. Such packets come while a VIP moves, from
            // clients whose ARP entry still names this node (after its
            // lease ran out, say); dropped, they are sent again and reach
            // the new owner once its gratuitous ARP has. This host's own
            // connections to the VIP (in on loopback) are left to its
            // stack as before: no client of another host is behind them,
            // and a local process is better told at once.
            match net.vips.read(rcu).find(flow.daddr) {
                // A service on an address outside the pool: not ringgate's.
                None => return Verdict::Accept,
                Some(_) if packet.from_loopback() => return Verdict::Accept,
                Some(vip) if !(vip.owned && net.leased(clock.now)) || net.announcer_missing() => {
                    net.count_not_owner();
                    return Verdict::Drop;
                }
                Some(_) => {}
            }
            // Only a SYN opens a TCP connection; anything else without a
            // session is picked up if it can be (see `pick_up`), else left
            // to the kernel, which answers with a reset.
            if flow.proto == TCP && !tcp::opens(flow.tcp_flags) {
                match pick_up(&context, slot, &flow, &segment) {
                    Ok(hit) => hit,
                    Err(verdict) => return verdict,
                }
            } else {
                let Some(pick) = services.pick(slot, net.turn(slot), flow.saddr, sessions.loads())
                else {
                    net.count_no_backend();
                    return Verdict::Drop;
                };
                match sessions.create(key, slot, pick, &segment, &timeouts, net.node_id(), clock) {
                    Ok(hit) => {
                        let first = Stage::first(key.proto == TCP);
                        if !net.notify_session_new(&new_session(&key, &hit, first, &timeouts)) {
                            // Nobody here announces it: see `announcer_missing`.
                            sessions.forget(&key, clock.now);
                            net.count_not_owner();
                            return Verdict::Drop;
                        }
                        hit
                    }
                    Err(_) => {
                        net.notify_table_full(sessions.dropped(), clock);
                        return Verdict::Drop;
                    }
                }
            }
        }
    };
    let rewrite = hit.rewrite;
    if packet
        .nat(end_of(&rewrite), rewrite.addr, rewrite.port)
        .is_err()
    {
        return Verdict::Drop;
    }
    sessions.count_packet(hit.load, Way::ToBackend, packet.len());
    untrack_unless_tracked(net, packet);
    Verdict::Accept
}

/// Translates replies back to the VIP, after routing: one read-only lookup.
/// ICMP errors from the back side about client packets are translated here
/// too (see `translate_error_to_client`).
pub(crate) fn forward(
    net: &NetState,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    now: u64,
) -> Verdict {
    if !net.nat_active() {
        return Verdict::Accept;
    }
    let Some(flow) = headers::flow(packet) else {
        return translate_error_to_client(net, packet, rcu, true, now);
    };
    // Pre-routing already refreshed this flow's entry; only read it here.
    let sessions = net.sessions.read(rcu);
    match sessions.peek(&key_of(&flow), now) {
        Some(Hit { rewrite, load, .. }) if rewrite.source => {
            if packet
                .nat(end_of(&rewrite), rewrite.addr, rewrite.port)
                .is_err()
            {
                return Verdict::Drop;
            }
            sessions.count_packet(load, Way::ToClient, packet.len());
            Verdict::Accept
        }
        _ => Verdict::Accept,
    }
}

/// ICMP errors this node sends about a translated packet (fragmentation
/// needed on the way to a back-end, say) quote it as translated: client to
/// back-end. Runs at local-out: one session lookup per ICMP error. The
/// kernel gives such an error the conntrack entry of the packet it answers
/// (`icmp_send` calls `nf_ct_attach`), so in the tracked mode it is related
/// whatever this rewrites in it.
pub(crate) fn local_out(
    net: &NetState,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    now: u64,
) -> Verdict {
    if !net.nat_active() {
        return Verdict::Accept;
    }
    translate_error_to_client(net, packet, rcu, false, now)
}

/// An ICMP error arriving at pre-routing that quotes a translated packet.
///
/// From the client side, about a reply (the client's path cannot carry the
/// back-end's segments, say): it is addressed to the VIP and quotes
/// VIP -> client. Only the back-end can act on it, so it goes there: its
/// destination and the quoted source become the back-end's. From the back
/// side, about a client packet: translated at forward, once routed.
///
/// In the untracked mode it is marked untracked, as the packets it quotes
/// are: conntrack, finding no connection for the quoted packet, would call
/// the error invalid, and a common `ct state invalid drop` rule would drop
/// it. In the tracked mode conntrack finds the connection the error quotes
/// (client to back-end, or back-end to client once translated here) and
/// calls the error related.
fn icmp_error_in(
    net: &NetState,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    now: u64,
) -> Verdict {
    let Some(quoted) = headers::icmp_quoted(packet) else {
        return Verdict::Accept;
    };
    match net
        .sessions
        .read(rcu)
        .peek(&key_of(&quoted.flow).reversed(), now)
    {
        Some(Hit {
            rewrite: to_backend,
            ..
        }) if !to_backend.source => {
            if packet
                .nat_quoted(
                    quoted.offset,
                    End::Source,
                    to_backend.addr,
                    to_backend.port,
                    true,
                )
                .is_err()
            {
                return Verdict::Drop;
            }
            untrack_unless_tracked(net, packet);
            Verdict::Accept
        }
        Some(_) => {
            untrack_unless_tracked(net, packet);
            Verdict::Accept
        }
        None => Verdict::Accept,
    }
}

/// An ICMP error quoting a client packet as translated (client to
/// back-end). The client knows only its connection to the VIP, so the
/// quoted destination is put back to the VIP's address and port, or the
/// client would ignore the error (and a path-MTU problem would stall the
/// connection). With `from_back_side`, the error came from a back-end or a
/// router behind this node, and its source becomes the VIP too, as IPVS
/// does: the client sees neither back-end nor internal router addresses.
fn translate_error_to_client(
    net: &NetState,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
    from_back_side: bool,
    now: u64,
) -> Verdict {
    let Some(quoted) = headers::icmp_quoted(packet) else {
        return Verdict::Accept;
    };
    // The quoted packet went client -> back-end; its session's back-end-side
    // entry has the opposite flow and knows the VIP.
    match net
        .sessions
        .read(rcu)
        .peek(&key_of(&quoted.flow).reversed(), now)
    {
        Some(Hit {
            rewrite: to_client, ..
        }) if to_client.source => {
            if packet
                .nat_quoted(
                    quoted.offset,
                    End::Destination,
                    to_client.addr,
                    to_client.port,
                    from_back_side,
                )
                .is_err()
            {
                return Verdict::Drop;
            }
            Verdict::Accept
        }
        _ => Verdict::Accept,
    }
}
