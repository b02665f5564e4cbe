//! The messages cluster nodes broadcast over the ring, and their encoding:
//!
//! ```text
//!   format   u8    FORMAT_VERSION; anything else is refused
//!   kind     u8    which message (the tags below)
//!   at       u64   the sender's clock when it sent the message (see `state`)
//!   body           the kind's fields (see `codec`), then nothing
//! ```
//!
//! Every member decodes the same bytes, so a message one node refuses is
//! refused by all: refusal cannot split the replicated state.

use crate::codec::{DecodeError, Reader, Writer};
use crate::config::{ClusterConfig, ConfigEdit};
use crate::model::{BackendId, Micros, NodeId, Vip, VipLoad};

/// 2: services carry their health check. 3: settings carry the lease.
/// 4: configuration edits. 5: services carry their mode (NAT or HTTP).
/// 6: `SessionTableHeld` (a joiner's readiness for VIPs). 7: the
/// configuration carries the outbound translation.
pub const FORMAT_VERSION: u8 = 7;

/// A request an operator made through one node; the number lets that node
/// report the agreed outcome back to the operator.
pub type RequestId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The sender's measured load of each VIP it owns.
    Load { loads: Vec<(Vip, VipLoad)> },
    /// The sender's latest health check results (true: the back-end passed).
    Health { results: Vec<(BackendId, bool)> },
    /// Replace the configuration, if it is still at `base_version`.
    ConfigChange {
        request: RequestId,
        base_version: u64,
        config: ClusterConfig,
    },
    /// One change to the VIPs, services or back-ends, applied to the
    /// configuration in force when it is delivered (see `config::edit`).
    ConfigEdit {
        request: RequestId,
        edit: ConfigEdit,
    },
    /// The configuration the sender brings from disk or from another
    /// partition; adopted if newer than the cluster's (see `state`).
    ConfigOffer { config: ClusterConfig },
    /// The replicated state the sender had before a state transfer
    /// replaced it (encoded as in `state::snapshot`); adopted if its
    /// history is longer than the ring's (see `ReplicatedState::adopt`).
    StateOffer { state: Vec<u8> },
    /// The operator's `vip move VIP NODE`.
    MoveVip {
        request: RequestId,
        vip: Vip,
        to: NodeId,
    },
    /// The operator's `node drain` (or its undo).
    Drain {
        request: RequestId,
        node: NodeId,
        drained: bool,
    },
    /// The sender, the old owner of a VIP being handed over, has released it
    /// in its module; `epoch` names the hand-over.
    Released { vip: Vip, epoch: u64 },
    /// The sender's module holds the cluster's session table: every other
    /// member's whole table reached it since it joined. Until then the
    /// sender is given no VIP (see `ReplicatedState::may_receive`).
    SessionTableHeld,
}

impl Message {
    /// The operator's request this message carries, if it is one.
    pub fn request(&self) -> Option<RequestId> {
        match *self {
            Message::ConfigChange { request, .. }
            | Message::ConfigEdit { request, .. }
            | Message::MoveVip { request, .. }
            | Message::Drain { request, .. } => Some(request),
            _ => None,
        }
    }
}

/// A message with the sender's clock reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    pub at: Micros,
    pub message: Message,
}

const LOAD: u8 = 1;
const HEALTH: u8 = 2;
const CONFIG_CHANGE: u8 = 3;
const CONFIG_OFFER: u8 = 4;
const MOVE_VIP: u8 = 5;
const DRAIN: u8 = 6;
const RELEASED: u8 = 7;
const STATE_OFFER: u8 = 8;
const CONFIG_EDIT: u8 = 9;
const SESSION_TABLE_HELD: u8 = 10;

impl Stamped {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(FORMAT_VERSION);
        let kind = match &self.message {
            Message::Load { .. } => LOAD,
            Message::Health { .. } => HEALTH,
            Message::ConfigChange { .. } => CONFIG_CHANGE,
            Message::ConfigOffer { .. } => CONFIG_OFFER,
            Message::MoveVip { .. } => MOVE_VIP,
            Message::Drain { .. } => DRAIN,
            Message::Released { .. } => RELEASED,
            Message::StateOffer { .. } => STATE_OFFER,
            Message::ConfigEdit { .. } => CONFIG_EDIT,
            Message::SessionTableHeld => SESSION_TABLE_HELD,
        };
        w.u8(kind).u64(self.at);
        match &self.message {
            Message::Load { loads } => {
                w.count(loads.len());
                for (vip, load) in loads {
                    w.ip(*vip);
                    load.encode(&mut w);
                }
            }
            Message::Health { results } => {
                w.count(results.len());
                for (backend, up) in results {
                    backend.encode(&mut w);
                    w.bool(*up);
                }
            }
            Message::ConfigChange {
                request,
                base_version,
                config,
            } => {
                w.u64(*request).u64(*base_version);
                config.encode(&mut w);
            }
            Message::ConfigOffer { config } => config.encode(&mut w),
            Message::MoveVip { request, vip, to } => {
                w.u64(*request).ip(*vip).u16(*to);
            }
            Message::Drain {
                request,
                node,
                drained,
            } => {
                w.u64(*request).u16(*node).bool(*drained);
            }
            Message::Released { vip, epoch } => {
                w.ip(*vip).u64(*epoch);
            }
            Message::StateOffer { state } => {
                w.bytes(state);
            }
            Message::ConfigEdit { request, edit } => {
                w.u64(*request);
                edit.encode(&mut w);
            }
            Message::SessionTableHeld => {}
        }
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Stamped, DecodeError> {
        let mut r = Reader::new(bytes);
        let format = r.u8()?;
        if format != FORMAT_VERSION {
            return Err(DecodeError::Version(format));
        }
        let kind = r.u8()?;
        let at = r.u64()?;
        let message = match kind {
            LOAD => Message::Load {
                loads: (0..r.count(4 + VipLoad::ENCODED_LEN)?)
                    .map(|_| Ok((r.ip()?, VipLoad::decode(&mut r)?)))
                    .collect::<Result<_, DecodeError>>()?,
            },
            HEALTH => Message::Health {
                results: (0..r.count(BackendId::ENCODED_LEN + 1)?)
                    .map(|_| Ok((BackendId::decode(&mut r)?, r.bool()?)))
                    .collect::<Result<_, DecodeError>>()?,
            },
            CONFIG_CHANGE => Message::ConfigChange {
                request: r.u64()?,
                base_version: r.u64()?,
                config: ClusterConfig::decode(&mut r)?,
            },
            CONFIG_OFFER => Message::ConfigOffer {
                config: ClusterConfig::decode(&mut r)?,
            },
            MOVE_VIP => Message::MoveVip {
                request: r.u64()?,
                vip: r.ip()?,
                to: r.u16()?,
            },
            DRAIN => Message::Drain {
                request: r.u64()?,
                node: r.u16()?,
                drained: r.bool()?,
            },
            RELEASED => Message::Released {
                vip: r.ip()?,
                epoch: r.u64()?,
            },
            STATE_OFFER => Message::StateOffer { state: r.bytes()? },
            CONFIG_EDIT => Message::ConfigEdit {
                request: r.u64()?,
                edit: ConfigEdit::decode(&mut r)?,
            },
            SESSION_TABLE_HELD => Message::SessionTableHeld,
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "message kind",
                    tag,
                })
            }
        };
        r.finish()?;
        Ok(Stamped { at, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn samples() -> Vec<Stamped> {
        let vip = Ipv4Addr::new(10, 0, 0, 1);
        let backend = BackendId {
            vip,
            proto: 6,
            port: 80,
            addr: Ipv4Addr::new(192, 168, 0, 2),
            backend_port: 8080,
        };
        let load = VipLoad {
            packets_per_sec: 5,
            bytes_per_sec: 6,
            new_sessions_per_sec: 7,
            live_sessions: 8,
        };
        [
            Message::Load {
                loads: vec![(vip, load)],
            },
            Message::Health {
                results: vec![(backend, false)],
            },
            Message::ConfigChange {
                request: 9,
                base_version: 2,
                config: ClusterConfig::empty(),
            },
            Message::ConfigOffer {
                config: ClusterConfig::empty(),
            },
            Message::MoveVip {
                request: 1,
                vip,
                to: 3,
            },
            Message::Drain {
                request: 2,
                node: 3,
                drained: true,
            },
            Message::Released { vip, epoch: 11 },
            Message::StateOffer {
                state: vec![1, 2, 3],
            },
            Message::ConfigEdit {
                request: 4,
                edit: ConfigEdit::AddVip(vip),
            },
            Message::SessionTableHeld,
        ]
        .into_iter()
        .map(|message| Stamped { at: 42, message })
        .collect()
    }

    #[test]
    fn every_message_round_trips() {
        for m in samples() {
            assert_eq!(Stamped::decode(&m.encode()), Ok(m));
        }
    }

    /// Truncated, extended, re-versioned and retagged messages are refused
    /// with an error, never a panic.
    #[test]
    fn damaged_messages_are_refused() {
        for m in samples() {
            let bytes = m.encode();
            for cut in 0..bytes.len() {
                assert!(Stamped::decode(&bytes[..cut]).is_err(), "{m:?} cut {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(Stamped::decode(&longer), Err(DecodeError::Trailing(1)));
            let mut future = bytes.clone();
            future[0] = FORMAT_VERSION + 1;
            assert_eq!(
                Stamped::decode(&future),
                Err(DecodeError::Version(FORMAT_VERSION + 1))
            );
            let mut unknown = bytes.clone();
            unknown[1] = 99;
            assert!(matches!(
                Stamped::decode(&unknown),
                Err(DecodeError::UnknownTag { .. })
            ));
            // Flipping any byte either decodes to something or is refused.
            for i in 0..bytes.len() {
                let mut flipped = bytes.clone();
                flipped[i] ^= 0xa5;
                let _ = Stamped::decode(&flipped);
            }
        }
    }
}
