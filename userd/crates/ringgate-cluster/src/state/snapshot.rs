//! The replicated state as bytes: the state-transfer snapshot a joining node
//! receives, and what the daemon keeps on disk (it writes it atomically).
//!
//! ```text
//!   format u8 (SNAPSHOT_FORMAT), config, members, quorate, serving,
//!   ring_primary, generation,
//!   vips [addr, holding, epoch, moved_at, pinned_until, retired, load],
//!   drained, agreed_now, failing [voter, bitmap], down bitmap,
//!   next_balance_at, recent_moves, next_epoch, table_holders
//! ```
//!
//! A holding is a tag (0 unowned, 1 owned, 2 hand-over) and its fields.
//!
//! Health votes are bitmaps over the configuration's back-ends (in
//! `ClusterConfig::backends` order; the state only keeps votes about
//! back-ends of its configuration): one per node that reported a failure,
//! and one for the back-ends agreed down. Listing each failing back-end
//! with its voters instead costs up to 13 bytes plus 2 a voter per entry,
//! which let a valid configuration whose back-ends all failed outgrow the
//! ring's 64 KiB message, so no node could join (see the test below).

use std::collections::{BTreeMap, BTreeSet};

use super::{Holding, ReplicatedState, VipRecord};
use crate::codec::{DecodeError, Reader, Writer};
use crate::config::ClusterConfig;
use crate::model::{BackendId, NodeId, VipLoad};

/// 2: services carry their health check. 3: health votes as bitmaps,
/// settings carry the ownership lease. 4: services carry their mode.
/// 5: the members holding the session table. 6: the configuration carries
/// the outbound translation.
pub const SNAPSHOT_FORMAT: u8 = 6;
/// Earlier formats, still read from a state file written before an
/// upgrade: 5 lacks the outbound translation (there was none), 4 also the
/// table holders (a restored state has none anyway), 3 also the services'
/// mode (all NAT).
const SNAPSHOT_FORMAT_NO_SNAT: u8 = 5;
const SNAPSHOT_FORMAT_NO_HOLDERS: u8 = 4;
const SNAPSHOT_FORMAT_NO_MODE: u8 = 3;

fn put_nodes<'a>(w: &mut Writer, nodes: impl ExactSizeIterator<Item = &'a NodeId>) {
    w.count(nodes.len());
    for n in nodes {
        w.u16(*n);
    }
}

fn get_nodes(r: &mut Reader) -> Result<Vec<NodeId>, DecodeError> {
    (0..r.count(2)?).map(|_| r.u16()).collect()
}

fn put_holding(w: &mut Writer, holding: &Holding) {
    match *holding {
        Holding::Unowned { fenced } => {
            w.u8(0).bool(fenced);
        }
        Holding::Owned { node, fenced } => {
            w.u8(1).u16(node).bool(fenced);
        }
        Holding::Handoff { from, to } => {
            w.u8(2).u16(from).bool(to.is_some()).u16(to.unwrap_or(0));
        }
    }
}

fn get_holding(r: &mut Reader) -> Result<Holding, DecodeError> {
    Ok(match r.u8()? {
        0 => Holding::Unowned { fenced: r.bool()? },
        1 => Holding::Owned {
            node: r.u16()?,
            fenced: r.bool()?,
        },
        2 => {
            let from = r.u16()?;
            let has_to = r.bool()?;
            let to = r.u16()?;
            Holding::Handoff {
                from,
                to: has_to.then_some(to),
            }
        }
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "holding",
                tag,
            })
        }
    })
}

type Votes = BTreeMap<BackendId, BTreeSet<NodeId>>;

fn bitmap_of(backends: &[BackendId], mut set: impl FnMut(&BackendId) -> bool) -> Vec<u8> {
    let mut bits = vec![0u8; backends.len().div_ceil(8)];
    for (i, b) in backends.iter().enumerate() {
        if set(b) {
            bits[i / 8] |= 1 << (i % 8);
        }
    }
    bits
}

fn members_of<'a>(
    backends: &'a [BackendId],
    bits: &'a [u8],
) -> impl Iterator<Item = BackendId> + 'a {
    backends
        .iter()
        .enumerate()
        .filter(|(i, _)| bits[i / 8] & (1 << (i % 8)) != 0)
        .map(|(_, b)| *b)
}

fn put_votes(w: &mut Writer, config: &ClusterConfig, failing: &Votes, down: &BTreeSet<BackendId>) {
    let backends: Vec<BackendId> = config.backends().collect();
    let voters: BTreeSet<NodeId> = failing.values().flatten().copied().collect();
    w.count(voters.len());
    for voter in voters {
        w.u16(voter);
        w.raw(&bitmap_of(&backends, |b| {
            failing.get(b).is_some_and(|v| v.contains(&voter))
        }));
    }
    w.raw(&bitmap_of(&backends, |b| down.contains(b)));
}

fn get_votes(
    r: &mut Reader,
    config: &ClusterConfig,
) -> Result<(Votes, BTreeSet<BackendId>), DecodeError> {
    let backends: Vec<BackendId> = config.backends().collect();
    let len = backends.len().div_ceil(8);
    let valid = |bits: &[u8]| {
        // Bits past the last back-end would name nothing.
        let spare = len * 8 - backends.len();
        spare == 0 || bits[len - 1] >> (8 - spare) == 0
    };
    let mut failing = Votes::new();
    for _ in 0..r.count(2 + len)? {
        let voter = r.u16()?;
        let bits = r.raw(len)?;
        if !valid(bits) {
            return Err(DecodeError::Invalid("health vote for no back-end"));
        }
        for b in members_of(&backends, bits) {
            failing.entry(b).or_default().insert(voter);
        }
    }
    let bits = r.raw(len)?;
    if !valid(bits) {
        return Err(DecodeError::Invalid("down back-end that is not configured"));
    }
    Ok((failing, members_of(&backends, bits).collect()))
}

impl ReplicatedState {
    pub fn encode(&self) -> Vec<u8> {
        self.encode_format(SNAPSHOT_FORMAT)
    }

    fn encode_format(&self, format: u8) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(format);
        self.config.encode_with(
            &mut w,
            format != SNAPSHOT_FORMAT_NO_MODE,
            format == SNAPSHOT_FORMAT,
        );
        put_nodes(&mut w, self.members.iter());
        w.bool(self.quorate).bool(self.serving);
        w.bool(self.ring_primary).u64(self.generation);
        w.count(self.vips.len());
        for (vip, r) in &self.vips {
            w.ip(*vip);
            put_holding(&mut w, &r.holding);
            w.u64(r.epoch)
                .u64(r.moved_at)
                .u64(r.pinned_until)
                .bool(r.retired);
            r.load.encode(&mut w);
        }
        put_nodes(&mut w, self.drained.iter());
        w.u64(self.agreed_now);
        put_votes(&mut w, &self.config, &self.failing, &self.down);
        w.u64(self.next_balance_at).count(self.recent_moves.len());
        for t in &self.recent_moves {
            w.u64(*t);
        }
        w.u64(self.next_epoch);
        if format >= SNAPSHOT_FORMAT_NO_SNAT {
            put_nodes(&mut w, self.table_holders.iter());
        }
        w.finish()
    }

    /// A state in the current format: what the ring carries. (A peer of
    /// the previous version sends format 3; its messages are refused too,
    /// so taking its state would leave the two drifting apart.)
    pub fn decode(bytes: &[u8]) -> Result<ReplicatedState, DecodeError> {
        Self::decode_formats(bytes, false)
    }

    fn decode_formats(bytes: &[u8], previous_too: bool) -> Result<ReplicatedState, DecodeError> {
        let mut r = Reader::new(bytes);
        let format = r.u8()?;
        let previous = previous_too
            && (format == SNAPSHOT_FORMAT_NO_MODE
                || format == SNAPSHOT_FORMAT_NO_HOLDERS
                || format == SNAPSHOT_FORMAT_NO_SNAT);
        if format != SNAPSHOT_FORMAT && !previous {
            return Err(DecodeError::Version(format));
        }
        let config = ClusterConfig::decode_with(
            &mut r,
            format != SNAPSHOT_FORMAT_NO_MODE,
            format == SNAPSHOT_FORMAT,
        )?;
        let members = get_nodes(&mut r)?;
        let quorate = r.bool()?;
        let serving = r.bool()?;
        let ring_primary = r.bool()?;
        let generation = r.u64()?;
        let mut vips = BTreeMap::new();
        for _ in 0..r.count(4 + 2 + 8 * 3 + 1 + VipLoad::ENCODED_LEN)? {
            let vip = r.ip()?;
            let record = VipRecord {
                holding: get_holding(&mut r)?,
                epoch: r.u64()?,
                moved_at: r.u64()?,
                pinned_until: r.u64()?,
                retired: r.bool()?,
                load: VipLoad::decode(&mut r)?,
            };
            vips.insert(vip, record);
        }
        let drained: BTreeSet<NodeId> = get_nodes(&mut r)?.into_iter().collect();
        let agreed_now = r.u64()?;
        let (failing, down) = get_votes(&mut r, &config)?;
        let next_balance_at = r.u64()?;
        let recent_moves = (0..r.count(8)?)
            .map(|_| r.u64())
            .collect::<Result<_, _>>()?;
        let next_epoch = r.u64()?;
        let table_holders = if format >= SNAPSHOT_FORMAT_NO_SNAT {
            get_nodes(&mut r)?.into_iter().collect()
        } else {
            BTreeSet::new()
        };
        r.finish()?;
        Ok(ReplicatedState {
            config,
            members,
            quorate,
            serving,
            ring_primary,
            generation,
            vips,
            drained,
            table_holders,
            agreed_now,
            failing,
            down,
            next_balance_at,
            recent_moves,
            next_epoch,
            moves: Vec::new(),
        })
    }

    /// The state as restored from disk by a process that starts: it is in
    /// no ring yet, and whatever it owned was released when its previous
    /// process died, so no owner counts as serving. A state file of the
    /// previous format (3, before services had a mode) is read too: an
    /// upgrade keeps the cluster's configuration.
    pub fn restored(bytes: &[u8]) -> Result<ReplicatedState, DecodeError> {
        let mut state = ReplicatedState::decode_formats(bytes, true)?;
        state.members.clear();
        state.table_holders.clear();
        state.quorate = false;
        state.serving = false;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Backend, Service, ServiceMode, VipConfig};
    use std::net::Ipv4Addr;

    fn with_service(mode: ServiceMode) -> ReplicatedState {
        let mut config = ClusterConfig::empty();
        config.version = 2;
        config.vips.push(VipConfig {
            addr: Ipv4Addr::new(10, 0, 0, 1),
            services: vec![Service {
                proto: 6,
                port: 80,
                scheduler: "wrr".into(),
                backends: vec![Backend {
                    addr: Ipv4Addr::new(10, 1, 0, 2),
                    port: 80,
                    weight: 1,
                }],
                health: None,
                mode,
            }],
        });
        ReplicatedState::new(config)
    }

    #[test]
    fn a_state_file_of_the_previous_format_is_read_with_nat_services() {
        // Written by a ringgated before services had a mode: an upgrade
        // starts from it instead of refusing it.
        let state = with_service(ServiceMode::Nat);
        let old = state.encode_format(SNAPSHOT_FORMAT_NO_MODE);
        assert_eq!(old[0], 3);
        let restored = ReplicatedState::restored(&old).unwrap();
        assert_eq!(restored.config, state.config);
        assert_eq!(
            restored,
            ReplicatedState::restored(&state.encode()).unwrap()
        );
        // Over the ring it is refused: a peer of the previous version.
        assert_eq!(ReplicatedState::decode(&old), Err(DecodeError::Version(3)));
        // Format 4 (no table holders) is read from disk, refused on the ring.
        let mut holding = with_service(ServiceMode::Nat);
        holding.table_holders.insert(2);
        let four = holding.encode_format(SNAPSHOT_FORMAT_NO_HOLDERS);
        assert_eq!(
            ReplicatedState::restored(&four).unwrap(),
            ReplicatedState::restored(&holding.encode()).unwrap()
        );
        assert_eq!(ReplicatedState::decode(&four), Err(DecodeError::Version(4)));
        // Format 5 (no outbound translation) too; the current one keeps it.
        let five = holding.encode_format(SNAPSHOT_FORMAT_NO_SNAT);
        assert_eq!(
            ReplicatedState::restored(&five).unwrap(),
            ReplicatedState::restored(&holding.encode()).unwrap()
        );
        assert_eq!(ReplicatedState::decode(&five), Err(DecodeError::Version(5)));
        let mut translating = holding.clone();
        translating.config.snat = Some(crate::config::SnatConfig {
            source: Ipv4Addr::new(10, 1, 0, 0),
            prefix_len: 24,
            to: translating.config.vips[0].addr,
            first_port: 20000,
            last_port: 20999,
        });
        assert_eq!(
            ReplicatedState::decode(&translating.encode()),
            Ok(translating.clone())
        );
        // The ring carries them; a restored state (a restarted node) has none.
        assert_eq!(
            ReplicatedState::decode(&holding.encode()),
            Ok(holding.clone())
        );
        assert!(ReplicatedState::restored(&holding.encode())
            .unwrap()
            .table_holders
            .is_empty());
        // The current format keeps an HTTP service's mode.
        let http = with_service(ServiceMode::Http);
        assert_eq!(ReplicatedState::decode(&http.encode()), Ok(http));
        let mut unknown = state.encode();
        unknown[0] = 2;
        assert_eq!(
            ReplicatedState::decode(&unknown),
            Err(DecodeError::Version(2))
        );
    }
}
