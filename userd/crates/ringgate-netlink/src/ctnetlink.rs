//! Conntrack entries for sessions another node created, written through
//! conntrack's own netlink interface (ctnetlink), as `conntrack -I` and
//! conntrackd's commit do.
//!
//! In the module's tracked mode conntrack tracks a translated connection as
//! client <-> back-end on the node that carries it. When a VIP moves to a
//! node that never saw the connection, conntrack there would meet it
//! mid-stream: from a packet of the client it makes an entry (TCP with
//! `nf_conntrack_tcp_loose`, the default) and a stateful ruleset accepts it
//! as a new connection to an allowed back-end port; but from a packet of
//! the back-end (a download, whose client only acknowledges) it makes an
//! entry in the wrong direction, a ruleset accepting new connections only
//! to the back-ends drops it, and the connection dies. So the node that
//! takes a VIP writes an entry for each session of that VIP it got from
//! another node first: established (or closing), seen in both directions,
//! assured, with liberal window tracking (its sequence numbers are not
//! known here), expiring with the session.
//!
//! An entry conntrack has already is replaced by one on the same terms. It
//! is this node's own from when it last carried the connection: it served
//! it, a peer took the VIP over (a stall of its daemon, a move) and carried
//! the connection on, and now the VIP comes back. The entry's window
//! tracking still describes the connection as it was then, so every packet
//! of the client acknowledges data the entry never saw, conntrack finds it
//! out of window and marks it invalid, and a ruleset that drops invalid
//! packets breaks every such connection at once. Updating it in place is
//! not enough: ctnetlink sets the state, the flags and the window scale,
//! but the entry keeps its window, its count of retransmissions and the
//! last window it saw. Every packet then fails the stale window checks,
//! liberal tracking accepts it right there (`nf_tcp_store_invalid`),
//! before conntrack counts retransmissions again, so a count of three
//! (the duplicate acknowledgements of the very loss a take-over causes) or
//! a zero window would cap every refresh at conntrack's retransmission
//! timeout (5 minutes) for the rest of the connection. A new entry has no
//! window yet and takes one from the first packet each way. So an entry
//! the caller deems stale is deleted and created anew
//! (`Existing::Replace`); one that may be live as well is updated in place
//! (`Existing::Update`), and the entry of a connection this node carries
//! stays as it is (`Existing::Keep`).

use std::io;
use std::net::SocketAddrV4;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::wire::{messages, Builder, NLMSG_ERROR, NLM_F_ACK};
use crate::Proto;

/// `NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW` (linux/netfilter/nfnetlink.h,
/// nfnetlink_conntrack.h).
const CT_NEW: u16 = 1 << 8;
/// `NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE`.
const CT_DELETE: u16 = (1 << 8) | 2;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const AF_INET: u8 = 2;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_PROTOINFO: u16 = 4;
const CTA_TIMEOUT: u16 = 7;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const CTA_PROTOINFO_TCP: u16 = 1;
const CTA_PROTOINFO_TCP_STATE: u16 = 1;
const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;
/// `IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED`: ctnetlink confirms an
/// entry it creates before applying the status asked for, and refuses a
/// status that would take the confirmation away (EBUSY).
const STATUS_SEEN_REPLY_ASSURED: u32 = (1 << 1) | (1 << 2) | (1 << 3);
/// `IP_CT_TCP_FLAG_BE_LIBERAL`: no window check for this direction.
const TCP_FLAG_BE_LIBERAL: u8 = 0x08;
/// The flags a written entry has cleared, liberal aside: a stale entry's
/// `IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED` (0x10) would cap each refresh at
/// conntrack's unacknowledged timeout (5 minutes), and its
/// `IP_CT_TCP_FLAG_MAXACK_SET` (0x20) would judge a reset against
/// sequence numbers long past. (A new entry has none of them.)
const TCP_FLAGS_SET_MASK: u8 = TCP_FLAG_BE_LIBERAL | 0x10 | 0x20;
const EEXIST: i32 = 17;
const ENOENT: i32 = 2;

/// Where a TCP connection is, as conntrack names it (`enum tcp_conntrack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    Established = 3,
    /// One side has sent its FIN.
    CloseWait = 5,
}

/// One connection as conntrack should know it: client to back-end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackedFlow {
    pub proto: Proto,
    pub client: SocketAddrV4,
    pub backend: SocketAddrV4,
    /// TCP only.
    pub tcp_state: Option<TcpState>,
    /// Seconds until conntrack forgets it unless a packet refreshes it.
    pub timeout_secs: u32,
    /// What becomes of an entry conntrack has already.
    pub existing: Existing,
}

/// What `Conntrack::insert` does with an entry conntrack has already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// It is right (this node carries the connection): left as it is.
    Keep,
    /// It may be this node's own from when it last carried the connection,
    /// or live (this node carries the connection's other direction):
    /// brought to the same terms in place, which a live entry survives.
    Update,
    /// It is most likely stale (a VIP just taken or adopted here): deleted
    /// and written anew (see the module's documentation).
    Replace,
}

/// What `Conntrack::insert` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inserted {
    /// Entries written.
    pub created: u64,
    /// Entries conntrack had already, deleted and written anew (see the
    /// module's documentation).
    pub replaced: u64,
    /// Entries conntrack had already, updated in place: `Existing::Update`,
    /// or an entry a packet made again between a deletion and the new
    /// entry (conntrack meeting the connection mid-stream).
    pub updated: u64,
    /// Entries conntrack had already, kept as they are (`Existing::Keep`,
    /// or one a packet made again after the old one expired).
    pub kept: u64,
    /// Flows conntrack refused to write (an expected connection's entry,
    /// one whose reply tuple clashes with another's), and the first
    /// refusal's error number: the others are written all the same.
    pub refused: u64,
    pub first_refusal: Option<i32>,
}

/// A ctnetlink socket of the caller's network namespace.
pub struct Conntrack {
    socket: Socket,
    port: u32,
    seq: u32,
}

impl Conntrack {
    pub fn open() -> io::Result<Conntrack> {
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        let addr = socket.bind_auto()?;
        socket.set_ext_ack(true)?;
        Ok(Conntrack {
            socket,
            port: addr.port_number(),
            seq: 0,
        })
    }

    /// Writes an entry for each flow, one request at a time: a new one, or
    /// for an entry already there what the flow's `existing` says (kept,
    /// updated in place, or replaced). A flow conntrack refuses is counted
    /// and the next one written (a refusal after a deletion leaves the
    /// connection without an entry); only an error of the socket itself
    /// ends the writing (the entries written stay).
    pub fn insert(&mut self, flows: &[TrackedFlow]) -> io::Result<Inserted> {
        insert_with(flows, |flow, write| self.write(flow, write))
    }

    /// Sends one request; its acknowledgement's error code.
    fn write(&mut self, flow: &TrackedFlow, write: Write) -> io::Result<i32> {
        self.seq = self.seq.wrapping_add(1);
        self.socket
            .send(&request(flow, write, self.seq, self.port), 0)?;
        self.ack()
    }

    /// The error code of the acknowledgement of request `self.seq`.
    fn ack(&mut self) -> io::Result<i32> {
        loop {
            let (datagram, _) = self.socket.recv_from_full()?;
            for message in messages(&datagram) {
                let message = message.map_err(|t| io::Error::other(t.0))?;
                if message.kind == NLMSG_ERROR && message.seq == self.seq {
                    let code = message
                        .payload
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .map(i32::from_ne_bytes)
                        .ok_or_else(|| io::Error::other("a short ctnetlink acknowledgement"))?;
                    return Ok(code);
                }
            }
        }
    }
}

/// `Conntrack::insert` with the requests sent by `write`, which answers
/// each with its acknowledgement's error code (0, or minus an errno).
fn insert_with(
    flows: &[TrackedFlow],
    mut write: impl FnMut(&TrackedFlow, Write) -> io::Result<i32>,
) -> io::Result<Inserted> {
    let mut done = Inserted::default();
    for flow in flows {
        let code = match write(flow, Write::Create)? {
            0 => Ok(Counted::Created),
            e if e == -EEXIST => match flow.existing {
                Existing::Keep => Ok(Counted::Kept),
                Existing::Update => update_in_place(flow, &mut write)?,
                Existing::Replace => match write(flow, Write::Delete)? {
                    // Deleted, or expired in between: written anew, unless
                    // a packet made it again meanwhile, from what it
                    // carried: then it is brought to the same terms in
                    // place.
                    deleted if deleted == 0 || deleted == -ENOENT => {
                        match write(flow, Write::Create)? {
                            0 if deleted == 0 => Ok(Counted::Replaced),
                            0 => Ok(Counted::Created),
                            e if e == -EEXIST => update_in_place(flow, &mut write)?,
                            e => Err(e),
                        }
                    }
                    e => Err(e),
                },
            },
            e => Err(e),
        };
        match code {
            Ok(Counted::Created) => done.created += 1,
            Ok(Counted::Replaced) => done.replaced += 1,
            Ok(Counted::Updated) => done.updated += 1,
            Ok(Counted::Kept) => done.kept += 1,
            Err(e) => {
                done.refused += 1;
                done.first_refusal.get_or_insert(-e);
            }
        }
    }
    Ok(done)
}

/// How one flow's entry was written, or the error code that refused it.
enum Counted {
    Created,
    Replaced,
    Updated,
    Kept,
}

/// Brings an entry conntrack has to the flow's terms in place; one that
/// expired in between is written anew, and one a packet made again after
/// that is left as the packet made it.
fn update_in_place(
    flow: &TrackedFlow,
    write: &mut impl FnMut(&TrackedFlow, Write) -> io::Result<i32>,
) -> io::Result<Result<Counted, i32>> {
    Ok(match write(flow, Write::Update)? {
        0 => Ok(Counted::Updated),
        e if e == -ENOENT => match write(flow, Write::Create)? {
            0 => Ok(Counted::Created),
            e if e == -EEXIST => Ok(Counted::Kept),
            e => Err(e),
        },
        e => Err(e),
    })
}

/// What a request asks of conntrack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// A new entry; refused (EEXIST) if there is one.
    Create,
    /// The entry there changed; refused (ENOENT) if there is none.
    Update,
    /// The entry there deleted; refused (ENOENT) if there is none.
    Delete,
}

/// One tuple nest: source to destination.
fn put_tuple(b: &mut Builder, kind: u16, proto: u8, from: SocketAddrV4, to: SocketAddrV4) {
    b.nest(kind, |t| {
        t.nest(CTA_TUPLE_IP, |ip| {
            ip.put(CTA_IP_V4_SRC, &from.ip().octets())
                .put(CTA_IP_V4_DST, &to.ip().octets());
        })
        .nest(CTA_TUPLE_PROTO, |p| {
            p.put_u8(CTA_PROTO_NUM, proto)
                .put(CTA_PROTO_SRC_PORT, &from.port().to_be_bytes())
                .put(CTA_PROTO_DST_PORT, &to.port().to_be_bytes());
        });
    });
}

/// The `IPCTNL_MSG_CT_NEW` request writing `flow` (ctnetlink's numbers are
/// big-endian; its header is `struct nfgenmsg`, laid out as a generic
/// netlink header: family, version, resource id).
pub(crate) fn request(flow: &TrackedFlow, write: Write, seq: u32, port: u32) -> Vec<u8> {
    let proto = flow.proto.number();
    if write == Write::Delete {
        // `IPCTNL_MSG_CT_DELETE` finds the entry by its original tuple (or
        // one whose reply tuple it is). Without a tuple it would flush the
        // whole table (`ctnetlink_del_conntrack`): the tuple is always
        // there, and a unit test holds it to that.
        let mut b = Builder::genl(CT_DELETE, NLM_F_ACK, AF_INET, 0);
        put_tuple(&mut b, CTA_TUPLE_ORIG, proto, flow.client, flow.backend);
        return b.finish(seq, port);
    }
    let flags = match write {
        Write::Update => NLM_F_ACK,
        _ => NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    };
    let mut b = Builder::genl(CT_NEW, flags, AF_INET, 0);
    put_tuple(&mut b, CTA_TUPLE_ORIG, proto, flow.client, flow.backend);
    put_tuple(&mut b, CTA_TUPLE_REPLY, proto, flow.backend, flow.client);
    b.put(CTA_STATUS, &STATUS_SEEN_REPLY_ASSURED.to_be_bytes())
        .put(CTA_TIMEOUT, &flow.timeout_secs.max(1).to_be_bytes());
    if let Some(state) = flow.tcp_state {
        b.nest(CTA_PROTOINFO, |info| {
            info.nest(CTA_PROTOINFO_TCP, |tcp| {
                // `struct nf_ct_tcp_flags`: the flags, then the mask of
                // those the request sets or clears.
                let liberal = [TCP_FLAG_BE_LIBERAL, TCP_FLAGS_SET_MASK];
                tcp.put_u8(CTA_PROTOINFO_TCP_STATE, state as u8)
                    .put(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &liberal)
                    .put(CTA_PROTOINFO_TCP_FLAGS_REPLY, &liberal);
            });
        });
    }
    b.finish(seq, port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbytes::{nest, nla};

    /// An established TCP flow from 10.9.0.1:`port` to 10.8.0.2:8080.
    fn tcp_flow(port: u16, existing: Existing) -> TrackedFlow {
        TrackedFlow {
            proto: Proto::Tcp,
            client: SocketAddrV4::new([10, 9, 0, 1].into(), port),
            backend: "10.8.0.2:8080".parse().unwrap(),
            tcp_state: Some(TcpState::Established),
            timeout_secs: 900,
            existing,
        }
    }

    #[test]
    fn a_tcp_entry_is_both_tuples_status_timeout_and_liberal_state() {
        let flow = tcp_flow(40000, Existing::Replace);
        let bytes = request(&flow, Write::Create, 7, 99);
        // nlmsghdr: type, flags; then nfgenmsg: AF_INET, version 0, res_id 0.
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 0x100);
        assert_eq!(
            u16::from_ne_bytes([bytes[6], bytes[7]]),
            0x1 | 0x4 | 0x200 | 0x400
        );
        assert_eq!(bytes[16..20], [2, 0, 0, 0]);
        let tuple = |kind, from: [u8; 4], sport: u16, to: [u8; 4], dport: u16| {
            nest(
                kind,
                &[
                    nest(1, &[nla(1, &from), nla(2, &to)]),
                    nest(
                        2,
                        &[
                            nla(1, &[6]),
                            nla(2, &sport.to_be_bytes()),
                            nla(3, &dport.to_be_bytes()),
                        ],
                    ),
                ],
            )
        };
        let want = [
            tuple(1, [10, 9, 0, 1], 40000, [10, 8, 0, 2], 8080),
            tuple(2, [10, 8, 0, 2], 8080, [10, 9, 0, 1], 40000),
            nla(3, &14u32.to_be_bytes()),
            nla(7, &900u32.to_be_bytes()),
            nest(
                4,
                &[nest(
                    1,
                    &[nla(1, &[3]), nla(4, &[8, 0x38]), nla(5, &[8, 0x38])],
                )],
            ),
        ]
        .concat();
        assert_eq!(bytes[20..], want);

        // An update of the entry there says the same without asking for a
        // new one: no NLM_F_CREATE, no NLM_F_EXCL.
        let update = request(&flow, Write::Update, 7, 99);
        assert_eq!(u16::from_ne_bytes([update[6], update[7]]), 0x1 | 0x4);
        assert_eq!(update[8..], bytes[8..]);
    }

    #[test]
    fn a_deletion_names_the_original_tuple_only() {
        let flow = tcp_flow(40000, Existing::Replace);
        let bytes = request(&flow, Write::Delete, 3, 99);
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 0x102);
        assert_eq!(u16::from_ne_bytes([bytes[6], bytes[7]]), 0x1 | 0x4);
        let attrs: Vec<u16> = crate::wire::attrs(&bytes[20..]).map(|a| a.kind).collect();
        assert_eq!(attrs, [1]);
        assert_eq!(
            bytes[20..],
            request(&flow, Write::Create, 3, 99)[20..][..bytes.len() - 20]
        );
    }

    /// Runs `insert_with` on flows whose requests conntrack answers as
    /// `script` says, in order; returns the counts and the requests sent.
    fn scripted(flows: &[TrackedFlow], script: &[i32]) -> (Inserted, Vec<(u16, Write)>) {
        let mut answers = script.iter().copied();
        let mut sent = Vec::new();
        let done = insert_with(flows, |flow, write| {
            sent.push((flow.client.port(), write));
            Ok(answers.next().expect("a request the script did not expect"))
        })
        .unwrap();
        assert_eq!(
            answers.next(),
            None,
            "requests the script expected were not sent"
        );
        (done, sent)
    }

    #[test]
    fn stale_entries_are_replaced_others_updated_and_carried_ones_kept() {
        let flow = tcp_flow;
        let (e, n) = (-EEXIST, -ENOENT);
        use Existing::{Keep, Replace};
        use Write::*;
        let flows = [
            flow(1, Replace),          // none there: created
            flow(2, Keep),             // kept
            flow(3, Replace),          // replaced
            flow(4, Replace),          // expired before the deletion: created
            flow(5, Replace),          // made again by a packet before the new entry
            flow(6, Replace),          // expired, then made again by a packet
            flow(7, Existing::Update), // updated in place
            flow(8, Existing::Update), // expired, then made again: kept
            flow(9, Replace),          // refused (EBUSY) on creation
        ];
        let script = [
            0, e, e, 0, 0, e, n, 0, e, 0, e, 0, e, n, e, 0, e, 0, e, n, e, -16,
        ];
        let (done, sent) = scripted(&flows, &script);
        assert_eq!(
            sent,
            [
                (1, Create),
                (2, Create),
                (3, Create),
                (3, Delete),
                (3, Create),
                (4, Create),
                (4, Delete),
                (4, Create),
                (5, Create),
                (5, Delete),
                (5, Create),
                (5, Update),
                (6, Create),
                (6, Delete),
                (6, Create),
                (6, Update),
                (7, Create),
                (7, Update),
                (8, Create),
                (8, Update),
                (8, Create),
                (9, Create),
            ]
        );
        assert_eq!(
            done,
            Inserted {
                created: 2,
                replaced: 1,
                updated: 3,
                kept: 2,
                refused: 1,
                first_refusal: Some(16),
            }
        );
    }

    #[test]
    fn a_udp_entry_has_no_protocol_state_and_lives_at_least_a_second() {
        let flow = TrackedFlow {
            proto: Proto::Udp,
            client: "10.9.0.1:40000".parse().unwrap(),
            backend: "10.8.0.2:53".parse().unwrap(),
            tcp_state: None,
            timeout_secs: 0,
            existing: Existing::Keep,
        };
        let bytes = request(&flow, Write::Create, 1, 1);
        let attrs: Vec<u16> = crate::wire::attrs(&bytes[20..]).map(|a| a.kind).collect();
        assert_eq!(attrs, [1, 2, 3, 7]);
        assert!(bytes.ends_with(&nla(7, &1u32.to_be_bytes())));
    }
}
