//! The packets of the protocol and their encoding (big-endian throughout).
//!
//! ```text
//! header   magic "RG" | version u8 | kind u8 | sender u16 | ring rep u16 | ring seq u64
//!          | ring epoch u64
//! Token    token_seq u64 | seq u64 | aru u64 | aru_id u16 (0xffff: none) | rtr count u16 | rtr u64...
//! TokenAck token_seq u64
//! Data     seq u64 | first u64 | index u16 | count u16 | origin u16 | len u16 | payload
//! Join     ring_seq u64 | proc count u16 | proc u16... | fail count u16 | fail u16...
//!          | member count u16 | member u16...   (the sender's ring; none while forming)
//! Commit   member count u16 | member u16... | epoch u64 per member   (header ring = the new ring)
//! StaleEpoch refused u64 | seen u64   (header ring = none)
//! HoldCancel (no fields; header ring = the sender's ring)
//! ```
//!
//! Node-id lists travel in strictly ascending order, which the decoder
//! checks, so a set has exactly one encoding.
//!
//! On the wire a packet is framed by the node (`node::frame`): the sender's
//! epoch u64 and datagram counter u64 come first, then the packet, then the
//! authentication tag over both, so a replayed copy is recognised.
//!
//! A data-carriage packet names the first sequence number of its message and
//! how many carriage packets form that message, so a receiver knows when it
//! can reassemble. Decoding checks every length and bound and never panics;
//! it is fuzzed (fuzz/) and tested with truncations of valid packets.

use crate::limits::{HEADER_LEN, MAX_FRAGMENT, MAX_FRAGMENTS, MAX_NODES, MAX_RTR};

const MAGIC: [u8; 2] = *b"RG";
/// Protocol version; a node refuses packets of another version.
pub const VERSION: u8 = 2;
/// The token's aru_id when no member holds the aru down.
const NO_NODE: NodeId = NodeId::MAX;

/// A member's identity, configured per node.
pub type NodeId = u16;

/// Ids no node may have, because the protocol gives them a meaning: 0 is the
/// representative of "no ring" (what a forming node reports), and `NO_NODE`
/// is the token's "nobody holds the aru down". A node configured as
/// `NO_NODE` could never lower the aru for good, so the others would forget
/// packets it still lacks.
pub const RESERVED_NODE_IDS: [NodeId; 2] = [0, NO_NODE];

/// Identifies one ring configuration: a sequence number that grows with
/// every new ring, its representative, and the representative's epoch (its
/// incarnation number, from a counter persisted across restarts). A
/// representative never numbers two rings alike within one incarnation, and
/// every incarnation has an epoch of its own, so no two rings ever share an
/// id, whatever the clock does: packets of another ring are recognised and
/// refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RingId {
    pub seq: u64,
    pub rep: NodeId,
    pub epoch: u64,
}

/// Bytes of an encoded ring id.
pub const RING_ID_LEN: usize = 2 + 8 + 8;

impl RingId {
    /// Appends the ring id as it travels: rep, seq, epoch.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rep.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
    }

    /// Reads a ring id from the front of `bytes`.
    pub fn decode_from(bytes: &[u8]) -> Option<RingId> {
        let mut r = Reader(bytes);
        Some(RingId {
            rep: r.u16().ok()?,
            seq: r.u64().ok()?,
            epoch: r.u64().ok()?,
        })
    }
}

/// The token that circulates among members.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Token {
    /// Grows by one per hop; lets a node drop duplicated tokens.
    pub token_seq: u64,
    /// Highest sequence number assigned so far.
    pub seq: u64,
    /// All-received-up-to: every member had everything up to here.
    pub aru: u64,
    /// Who last lowered `aru`; only that node raises it again.
    pub aru_id: Option<NodeId>,
    /// Sequence numbers some member is missing.
    pub rtr: Vec<u64>,
}

/// One data-carriage packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carriage {
    pub seq: u64,
    /// Sequence number of the message's first carriage packet.
    pub first: u64,
    pub index: u16,
    pub count: u16,
    /// The node whose application submitted the message.
    pub origin: NodeId,
    pub payload: Vec<u8>,
}

/// A node's view of who hears whom: repeated while it forms a ring, and
/// sent as a merge probe by members of a ring that lacks configured nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Join {
    /// Nodes the sender hears (itself and its ring's members included).
    pub proc_set: Vec<NodeId>,
    /// Nodes the sender knows of but does not hear (Totem's fail set).
    pub fail_set: Vec<NodeId>,
    /// Sequence number of the last ring the sender installed.
    pub ring_seq: u64,
    /// The members of the sender's ring, for a merge probe; empty while the
    /// sender forms a ring.
    pub members: Vec<NodeId>,
}

/// What a packet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Token(Token),
    TokenAck {
        token_seq: u64,
    },
    Data(Carriage),
    Join(Join),
    /// The representative of a new ring (the one in the header) tells its
    /// members to install it; any member repeats it to a successor that does
    /// not acknowledge the ring's token. It names the incarnation (epoch) of
    /// each member whose Join agreed, so a member that restarted since
    /// refuses a ring its earlier process agreed to.
    Commit {
        members: Vec<NodeId>,
        /// One per member, in the same order.
        epochs: Vec<u64>,
    },
    /// Sent to a node whose datagrams the sender refuses because their
    /// epoch `refused` is below `seen`, the latest epoch the sender took
    /// from that node. A node that finds its own epoch refused (it
    /// restarted without its state and with a clock stepped back) raises
    /// its epoch above `seen`; see `node::epoch_notice`.
    StaleEpoch {
        refused: u64,
        seen: u64,
    },
    /// A member that has a message to send and saw the ring go idle asks
    /// the representative (of the ring in the header) to pass on the token
    /// it may be holding, instead of letting the message wait out the hold
    /// (Totem's token hold cancel).
    HoldCancel,
}

/// A whole packet (before authentication is added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub sender: NodeId,
    pub ring: RingId,
    pub body: Body,
}

/// Why bytes are not a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated packet")]
    Truncated,
    #[error("bad magic")]
    BadMagic,
    #[error("protocol version {0} (this node speaks {VERSION})")]
    Version(u8),
    #[error("unknown packet kind {0}")]
    Kind(u8),
    #[error("field out of bounds")]
    Bounds,
    #[error("trailing bytes after the packet")]
    Trailing,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }
}

const KIND_TOKEN: u8 = 1;
const KIND_TOKEN_ACK: u8 = 2;
const KIND_DATA: u8 = 3;
const KIND_JOIN: u8 = 4;
const KIND_COMMIT: u8 = 5;
const KIND_STALE_EPOCH: u8 = 6;
const KIND_HOLD_CANCEL: u8 = 7;

fn put_ids(out: &mut Vec<u8>, ids: &[NodeId]) {
    let ids = &ids[..ids.len().min(MAX_NODES)];
    out.extend_from_slice(&(ids.len() as u16).to_be_bytes());
    for id in ids {
        out.extend_from_slice(&id.to_be_bytes());
    }
}

/// Reads a node-id list: at most `MAX_NODES`, strictly ascending.
fn get_ids(r: &mut Reader<'_>) -> Result<Vec<NodeId>, DecodeError> {
    let n = r.u16()? as usize;
    if n > MAX_NODES {
        return Err(DecodeError::Bounds);
    }
    let ids = (0..n).map(|_| r.u16()).collect::<Result<Vec<_>, _>>()?;
    if ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err(DecodeError::Bounds);
    }
    Ok(ids)
}

impl Packet {
    /// Encodes the packet (without the authentication tag).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 64);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(match self.body {
            Body::Token(_) => KIND_TOKEN,
            Body::TokenAck { .. } => KIND_TOKEN_ACK,
            Body::Data(_) => KIND_DATA,
            Body::Join(_) => KIND_JOIN,
            Body::Commit { .. } => KIND_COMMIT,
            Body::StaleEpoch { .. } => KIND_STALE_EPOCH,
            Body::HoldCancel => KIND_HOLD_CANCEL,
        });
        out.extend_from_slice(&self.sender.to_be_bytes());
        self.ring.encode_into(&mut out);
        match &self.body {
            Body::Token(t) => {
                out.extend_from_slice(&t.token_seq.to_be_bytes());
                out.extend_from_slice(&t.seq.to_be_bytes());
                out.extend_from_slice(&t.aru.to_be_bytes());
                out.extend_from_slice(&t.aru_id.unwrap_or(NO_NODE).to_be_bytes());
                let rtr = &t.rtr[..t.rtr.len().min(MAX_RTR)];
                out.extend_from_slice(&(rtr.len() as u16).to_be_bytes());
                for s in rtr {
                    out.extend_from_slice(&s.to_be_bytes());
                }
            }
            Body::TokenAck { token_seq } => out.extend_from_slice(&token_seq.to_be_bytes()),
            Body::Data(c) => {
                out.extend_from_slice(&c.seq.to_be_bytes());
                out.extend_from_slice(&c.first.to_be_bytes());
                out.extend_from_slice(&c.index.to_be_bytes());
                out.extend_from_slice(&c.count.to_be_bytes());
                out.extend_from_slice(&c.origin.to_be_bytes());
                out.extend_from_slice(&(c.payload.len() as u16).to_be_bytes());
                out.extend_from_slice(&c.payload);
            }
            Body::Join(j) => {
                out.extend_from_slice(&j.ring_seq.to_be_bytes());
                put_ids(&mut out, &j.proc_set);
                put_ids(&mut out, &j.fail_set);
                put_ids(&mut out, &j.members);
            }
            Body::Commit { members, epochs } => {
                put_ids(&mut out, members);
                for epoch in epochs.iter().take(members.len().min(MAX_NODES)) {
                    out.extend_from_slice(&epoch.to_be_bytes());
                }
            }
            Body::StaleEpoch { refused, seen } => {
                out.extend_from_slice(&refused.to_be_bytes());
                out.extend_from_slice(&seen.to_be_bytes());
            }
            Body::HoldCancel => {}
        }
        out
    }

    /// Decodes one packet; refuses anything malformed or out of bounds.
    pub fn decode(bytes: &[u8]) -> Result<Packet, DecodeError> {
        let mut r = Reader(bytes);
        if r.take(2)? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let kind = r.u8()?;
        let sender = r.u16()?;
        let rep = r.u16()?;
        let ring = RingId {
            rep,
            seq: r.u64()?,
            epoch: r.u64()?,
        };
        let body = match kind {
            KIND_TOKEN => {
                let token_seq = r.u64()?;
                let seq = r.u64()?;
                let aru = r.u64()?;
                let aru_id = Some(r.u16()?).filter(|id| *id != NO_NODE);
                let n = r.u16()? as usize;
                if n > MAX_RTR || aru > seq {
                    return Err(DecodeError::Bounds);
                }
                let rtr = (0..n).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
                Body::Token(Token {
                    token_seq,
                    seq,
                    aru,
                    aru_id,
                    rtr,
                })
            }
            KIND_TOKEN_ACK => Body::TokenAck {
                token_seq: r.u64()?,
            },
            KIND_DATA => {
                let seq = r.u64()?;
                let first = r.u64()?;
                let index = r.u16()?;
                let count = r.u16()?;
                let origin = r.u16()?;
                let len = r.u16()? as usize;
                let consistent = count >= 1
                    && (count as usize) <= MAX_FRAGMENTS
                    && index < count
                    && first.checked_add(u64::from(index)) == Some(seq)
                    && len <= MAX_FRAGMENT
                    && seq > 0;
                if !consistent {
                    return Err(DecodeError::Bounds);
                }
                let payload = r.take(len)?.to_vec();
                Body::Data(Carriage {
                    seq,
                    first,
                    index,
                    count,
                    origin,
                    payload,
                })
            }
            KIND_JOIN => {
                let ring_seq = r.u64()?;
                let proc_set = get_ids(&mut r)?;
                let fail_set = get_ids(&mut r)?;
                let members = get_ids(&mut r)?;
                Body::Join(Join {
                    proc_set,
                    fail_set,
                    ring_seq,
                    members,
                })
            }
            KIND_COMMIT => {
                let members = get_ids(&mut r)?;
                if members.is_empty() {
                    return Err(DecodeError::Bounds);
                }
                let epochs = members
                    .iter()
                    .map(|_| r.u64())
                    .collect::<Result<Vec<_>, _>>()?;
                Body::Commit { members, epochs }
            }
            KIND_STALE_EPOCH => {
                let refused = r.u64()?;
                let seen = r.u64()?;
                // Only a lower epoch is ever refused as stale.
                if refused >= seen {
                    return Err(DecodeError::Bounds);
                }
                Body::StaleEpoch { refused, seen }
            }
            KIND_HOLD_CANCEL => Body::HoldCancel,
            other => return Err(DecodeError::Kind(other)),
        };
        if !r.0.is_empty() {
            return Err(DecodeError::Trailing);
        }
        Ok(Packet { sender, ring, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Packet> {
        let ring = RingId {
            seq: 7,
            rep: 1,
            epoch: 3,
        };
        vec![
            Packet {
                sender: 1,
                ring,
                body: Body::Token(Token {
                    token_seq: 9,
                    seq: 40,
                    aru: 38,
                    aru_id: Some(2),
                    rtr: vec![39, 40],
                }),
            },
            Packet {
                sender: 2,
                ring,
                body: Body::Token(Token::default()),
            },
            Packet {
                sender: 3,
                ring,
                body: Body::TokenAck { token_seq: 10 },
            },
            Packet {
                sender: 3,
                ring,
                body: Body::Data(Carriage {
                    seq: 12,
                    first: 11,
                    index: 1,
                    count: 2,
                    origin: 3,
                    payload: b"hi".to_vec(),
                }),
            },
            Packet {
                sender: 4,
                ring,
                body: Body::Join(Join {
                    proc_set: vec![1, 2, 4],
                    fail_set: vec![3],
                    ring_seq: 6,
                    members: vec![2, 4],
                }),
            },
            Packet {
                sender: 1,
                ring,
                body: Body::Commit {
                    members: vec![1, 2, 4],
                    epochs: vec![7, 8, 9],
                },
            },
            Packet {
                sender: 2,
                ring: RingId::default(),
                body: Body::StaleEpoch {
                    refused: 4000,
                    seen: 5000,
                },
            },
            Packet {
                sender: 3,
                ring,
                body: Body::HoldCancel,
            },
        ]
    }

    #[test]
    fn packets_round_trip() {
        for p in samples() {
            assert_eq!(Packet::decode(&p.encode()), Ok(p));
        }
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        for p in samples() {
            let bytes = p.encode();
            for len in 0..bytes.len() {
                assert!(Packet::decode(&bytes[..len]).is_err(), "{p:?} cut at {len}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(Packet::decode(&longer), Err(DecodeError::Trailing));
        }
    }

    #[test]
    fn inconsistent_fields_are_refused() {
        let mut bad = samples()
            .into_iter()
            .find(|p| matches!(p.body, Body::Data(_)))
            .unwrap();
        if let Body::Data(c) = &mut bad.body {
            c.index = 2; // index >= count
        }
        assert_eq!(Packet::decode(&bad.encode()), Err(DecodeError::Bounds));
        let mut bytes = samples()[0].encode();
        bytes[2] = VERSION + 1;
        assert_eq!(
            Packet::decode(&bytes),
            Err(DecodeError::Version(VERSION + 1))
        );
        bytes[2] = VERSION;
        bytes[3] = 9;
        assert_eq!(Packet::decode(&bytes), Err(DecodeError::Kind(9)));
        // A notice that an epoch is stale names a higher one.
        let notice = Packet {
            sender: 1,
            ring: RingId::default(),
            body: Body::StaleEpoch {
                refused: 5,
                seen: 5,
            },
        };
        assert_eq!(Packet::decode(&notice.encode()), Err(DecodeError::Bounds));
    }

    #[test]
    fn node_lists_must_be_ascending_and_commits_non_empty() {
        let join = |proc_set: Vec<NodeId>| Packet {
            sender: 1,
            ring: RingId::default(),
            body: Body::Join(Join {
                proc_set,
                fail_set: vec![],
                ring_seq: 0,
                members: vec![],
            }),
        };
        assert_eq!(
            Packet::decode(&join(vec![2, 1]).encode()),
            Err(DecodeError::Bounds)
        );
        assert_eq!(
            Packet::decode(&join(vec![2, 2]).encode()),
            Err(DecodeError::Bounds)
        );
        let empty = Packet {
            sender: 1,
            ring: RingId::default(),
            body: Body::Commit {
                members: vec![],
                epochs: vec![],
            },
        };
        assert_eq!(Packet::decode(&empty.encode()), Err(DecodeError::Bounds));
    }
}
