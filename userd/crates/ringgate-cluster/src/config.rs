//! The cluster-wide configuration: nodes and their weights, VIPs with their
//! services and back-ends, and the settings of the assignment rules. It is
//! versioned and changed only by agreed messages (see `state`), so every
//! node holds the same one at the same point of the agreed order.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::codec::{DecodeError, Reader, Writer};
use crate::model::{BackendId, Micros, NodeId, Vip};

mod check;
mod edit;
mod snat;

pub use check::{CheckKind, HealthCheck, HealthProblem};
pub use edit::{
    ConfigEdit, EditError, ServiceRef, DEFAULT_SCHEDULER, MODULE_MAX_BACKENDS, MODULE_MAX_SERVICES,
    MODULE_MAX_VIPS,
};
pub use snat::{PortShare, SnatConfig, SnatProblem, FIRST_SNAT_PORT};

/// Limits that keep a configuration (and so a snapshot) well inside the
/// ring's 64 KiB message limit for realistic clusters.
pub const MAX_VIPS: usize = 256;
pub const MAX_SERVICES_PER_VIP: usize = 16;
pub const MAX_BACKENDS_PER_SERVICE: usize = 64;
pub const MAX_SCHEDULER_LEN: usize = 32;
/// The largest encoded configuration: it travels in one ring message (at
/// most 64 KiB) and inside the state-transfer snapshot, next to the VIP
/// table (about 70 bytes a VIP), the health votes and the header.
pub const MAX_CONFIG_BYTES: usize = 32 * 1024;

/// The weight a member gets when the configuration does not list it.
pub const DEFAULT_WEIGHT: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Grows by one with every applied change; changes name the version
    /// they were made against (compare-and-set).
    pub version: u64,
    pub nodes: Vec<NodeConfig>,
    pub vips: Vec<VipConfig>,
    pub settings: Settings,
    /// Outbound translation of the back-ends' connections, if any.
    pub snat: Option<SnatConfig>,
}

/// A node's capacity relative to the others: a node of weight 200 is given
/// twice the load of one of weight 100. Weight 0 means it never gets a VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeConfig {
    pub id: NodeId,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipConfig {
    pub addr: Vip,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub proto: u8,
    pub port: u16,
    /// The module's scheduler name (e.g. "maglev", "rr").
    pub scheduler: String,
    pub backends: Vec<Backend>,
    /// How every node checks this service's back-ends; `None` means they
    /// are not checked and count as up.
    pub health: Option<HealthCheck>,
    pub mode: ServiceMode,
}

/// How the cluster serves a service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceMode {
    /// The module translates its connections to the back-ends.
    #[default]
    Nat,
    /// `ringgate-l7d` on every node proxies it as HTTP (resuming downloads
    /// a failing back-end cut); the module leaves the port to the node's
    /// stack, and ARP ownership of the VIP decides which node's proxy the
    /// clients reach.
    Http,
}

impl ServiceMode {
    pub fn name(self) -> &'static str {
        match self {
            ServiceMode::Nat => "nat",
            ServiceMode::Http => "http",
        }
    }

    pub fn from_name(name: &str) -> Option<ServiceMode> {
        [ServiceMode::Nat, ServiceMode::Http]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backend {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub weight: u32,
}

/// The tunables of the assignment rules; being part of the configuration,
/// they are the same on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How often each node reports its per-VIP load.
    pub load_report_interval_us: Micros,
    /// The balancer looks at the loads at most this often.
    pub balance_interval_us: Micros,
    /// A move is considered only when the busiest node's weighted load
    /// exceeds the least busy one's by this many percent...
    pub imbalance_threshold_pct: u32,
    /// ...and by at least this much in absolute (weighted) score, so idle
    /// clusters do not shuffle VIPs over noise.
    pub min_imbalance: u64,
    /// A move must shrink the gap between the two nodes by at least this
    /// many percent; a move back could never do the same, so none follows.
    pub hysteresis_pct: u32,
    /// A VIP stays where it was moved (by the balancer or by hand) for at
    /// least this long before the balancer moves it again.
    pub hold_us: Micros,
    /// At most this many balancing moves per `move_period_us`.
    pub max_moves_per_period: u32,
    pub move_period_us: Micros,
    /// In a cluster of two configured nodes, a lone node counts as having
    /// quorum. Both halves of a split then serve: only for links that
    /// cannot split (a crossover cable) or with outside fencing.
    pub two_node: bool,
    /// A node that took over a VIP whose previous owner left without an
    /// agreed release waits this long, from when it noticed its ring was
    /// lost, before it answers for the VIP: by then the old owner has
    /// certainly stopped (see `ringgate_cluster::node::module`). At least
    /// `self_fence_us + owner_lease_us + FENCE_MARGIN_US`.
    pub takeover_fence_us: Micros,
    /// A node that has not had the ring's token for this long releases
    /// every VIP until a new ring forms: it may be cut off from peers that
    /// have already acted on its absence.
    pub self_fence_us: Micros,
    /// How long each node's module keeps its VIPs owned after the daemon
    /// last renewed (0: no lease, ownership lasts until changed). A daemon
    /// that hangs or dies thus stops answering within the lease. Agreed
    /// like every setting, so no node runs a lease the fence does not
    /// cover.
    pub owner_lease_us: Micros,
}

/// The shortest ownership lease: the daemon renews a quarter of the way
/// through it and its loop turns at least every 20 ms, so a shorter lease
/// would run out between renewals and the node would go dark over and over.
pub const MIN_OWNER_LEASE_US: Micros = 100_000;
/// What the takeover fence keeps beyond the self fence and the lease: a
/// tick of the module's clock (10 ms at 100 Hz, the coarsest usual), the
/// daemon's loop turn and a packet's flight.
pub const FENCE_MARGIN_US: Micros = 20_000;
/// The longest lease the module accepts.
pub const MAX_OWNER_LEASE_US: Micros = 60_000_000;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            load_report_interval_us: 1_000_000,
            balance_interval_us: 1_000_000,
            imbalance_threshold_pct: 25,
            min_imbalance: 100,
            hysteresis_pct: 10,
            hold_us: 30_000_000,
            max_moves_per_period: 2,
            move_period_us: 10_000_000,
            two_node: false,
            // The self fence plus the lease plus the margin. A self fence
            // of 100 ms rides out a busy host's scheduling gaps (a slower
            // host, such as an emulated one, needs more; see the README).
            takeover_fence_us: 220_000,
            self_fence_us: 100_000,
            owner_lease_us: 100_000,
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("node {0} is listed twice")]
    DuplicateNode(NodeId),
    #[error("VIP {0} is listed twice")]
    DuplicateVip(Vip),
    #[error("VIP {vip}: service {proto}/{port} is listed twice")]
    DuplicateService { vip: Vip, proto: u8, port: u16 },
    #[error("back-end {0:?} is listed twice")]
    DuplicateBackend(BackendId),
    #[error("too many {what}: {count} (at most {max})")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("VIP {vip}: scheduler name must be 1 to {MAX_SCHEDULER_LEN} bytes")]
    Scheduler { vip: Vip },
    #[error("VIP {vip}: service {proto}/{port}: health check {problem}")]
    Health {
        vip: Vip,
        proto: u8,
        port: u16,
        problem: HealthProblem,
    },
    #[error("VIP {vip}: service {proto}/{port}: HTTP mode needs TCP and the wrr scheduler (the proxy's weighted round robin)")]
    HttpMode { vip: Vip, proto: u8, port: u16 },
    #[error("settings.{0} is out of range")]
    Setting(&'static str),
    #[error("snat: {0}")]
    Snat(SnatProblem),
    #[error("the configuration encodes to {0} bytes, more than the {MAX_CONFIG_BYTES} a ring message can carry")]
    TooLarge(usize),
}

impl ClusterConfig {
    /// An empty configuration with default settings: what a node has before
    /// it learns the cluster's.
    pub fn empty() -> Self {
        ClusterConfig {
            version: 0,
            nodes: Vec::new(),
            vips: Vec::new(),
            settings: Settings::default(),
            snat: None,
        }
    }

    /// The configured weight of a node.
    pub fn weight(&self, node: NodeId) -> u32 {
        self.nodes
            .iter()
            .find(|n| n.id == node)
            .map_or(DEFAULT_WEIGHT, |n| n.weight)
    }

    /// Every back-end of every service.
    pub fn backends(&self) -> impl Iterator<Item = BackendId> + '_ {
        self.vips.iter().flat_map(|v| {
            v.services.iter().flat_map(move |s| {
                s.backends.iter().map(move |b| BackendId {
                    vip: v.addr,
                    proto: s.proto,
                    port: s.port,
                    addr: b.addr,
                    backend_port: b.port,
                })
            })
        })
    }

    /// Checks what every node would otherwise have to guess about.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let too_many = |what, count, max| {
            if count > max {
                Err(ConfigError::TooMany { what, count, max })
            } else {
                Ok(())
            }
        };
        too_many("nodes", self.nodes.len(), ringgate_ring::limits::MAX_NODES)?;
        too_many("VIPs", self.vips.len(), MAX_VIPS)?;
        let mut nodes = BTreeSet::new();
        for n in &self.nodes {
            if !nodes.insert(n.id) {
                return Err(ConfigError::DuplicateNode(n.id));
            }
        }
        let mut vips = BTreeSet::new();
        let mut backends = BTreeSet::new();
        for v in &self.vips {
            if !vips.insert(v.addr) {
                return Err(ConfigError::DuplicateVip(v.addr));
            }
            too_many(
                "services of one VIP",
                v.services.len(),
                MAX_SERVICES_PER_VIP,
            )?;
            let mut services = BTreeSet::new();
            for s in &v.services {
                if !services.insert((s.proto, s.port)) {
                    return Err(ConfigError::DuplicateService {
                        vip: v.addr,
                        proto: s.proto,
                        port: s.port,
                    });
                }
                if s.scheduler.is_empty() || s.scheduler.len() > MAX_SCHEDULER_LEN {
                    return Err(ConfigError::Scheduler { vip: v.addr });
                }
                too_many(
                    "back-ends of one service",
                    s.backends.len(),
                    MAX_BACKENDS_PER_SERVICE,
                )?;
                if s.mode == ServiceMode::Http && (s.proto != 6 || s.scheduler != "wrr") {
                    return Err(ConfigError::HttpMode {
                        vip: v.addr,
                        proto: s.proto,
                        port: s.port,
                    });
                }
                if let Some(problem) = s.health.as_ref().and_then(HealthCheck::problem) {
                    return Err(ConfigError::Health {
                        vip: v.addr,
                        proto: s.proto,
                        port: s.port,
                        problem,
                    });
                }
            }
        }
        for b in self.backends() {
            if !backends.insert(b) {
                return Err(ConfigError::DuplicateBackend(b));
            }
        }
        let mut w = Writer::default();
        self.encode(&mut w);
        let encoded = w.finish().len();
        if encoded > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge(encoded));
        }
        if let Some(snat) = &self.snat {
            snat.check_against(&self.vips).map_err(ConfigError::Snat)?;
        }
        let s = &self.settings;
        let checks = [
            (s.hysteresis_pct < 100, "hysteresis_pct"),
            (s.max_moves_per_period > 0, "max_moves_per_period"),
            (s.load_report_interval_us > 0, "load_report_interval_us"),
            (
                s.owner_lease_us == 0
                    || (MIN_OWNER_LEASE_US..=MAX_OWNER_LEASE_US).contains(&s.owner_lease_us),
                "owner_lease_us",
            ),
            (
                s.takeover_fence_us
                    >= s.self_fence_us
                        .saturating_add(s.owner_lease_us)
                        .saturating_add(FENCE_MARGIN_US),
                "takeover_fence_us",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, field)) => Err(ConfigError::Setting(field)),
            None => Ok(()),
        }
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        self.encode_with(w, true, true);
    }

    /// `with_mode: false` is the encoding before services had a mode (state
    /// files of snapshot format 3), `with_snat: false` the one before the
    /// outbound translation (formats 3 to 5), for tests of reading those.
    pub(crate) fn encode_with(&self, w: &mut Writer, with_mode: bool, with_snat: bool) {
        w.u64(self.version).count(self.nodes.len());
        for n in &self.nodes {
            w.u16(n.id).u32(n.weight);
        }
        w.count(self.vips.len());
        for v in &self.vips {
            w.ip(v.addr).count(v.services.len());
            for s in &v.services {
                w.u8(s.proto).u16(s.port).str(&s.scheduler);
                w.count(s.backends.len());
                for b in &s.backends {
                    w.ip(b.addr).u16(b.port).u32(b.weight);
                }
                w.bool(s.health.is_some());
                if let Some(check) = &s.health {
                    check.encode(w);
                }
                if !with_mode {
                    continue;
                }
                w.u8(match s.mode {
                    ServiceMode::Nat => 0,
                    ServiceMode::Http => 1,
                });
            }
        }
        let s = &self.settings;
        w.u64(s.load_report_interval_us)
            .u64(s.balance_interval_us)
            .u32(s.imbalance_threshold_pct)
            .u64(s.min_imbalance)
            .u32(s.hysteresis_pct)
            .u64(s.hold_us)
            .u32(s.max_moves_per_period)
            .u64(s.move_period_us)
            .bool(s.two_node)
            .u64(s.takeover_fence_us)
            .u64(s.self_fence_us)
            .u64(s.owner_lease_us);
        if with_snat {
            w.bool(self.snat.is_some());
            if let Some(snat) = &self.snat {
                snat.encode(w);
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Self::decode_with(r, true, true)
    }

    /// `with_mode: false` reads the encoding before services had a mode
    /// (a state file of snapshot format 3): every service is NAT.
    /// `with_snat: false` the one before the outbound translation (formats
    /// 3 to 5): there is none.
    pub(crate) fn decode_with(
        r: &mut Reader,
        with_mode: bool,
        with_snat: bool,
    ) -> Result<Self, DecodeError> {
        let version = r.u64()?;
        let nodes = (0..r.count(6)?)
            .map(|_| {
                Ok(NodeConfig {
                    id: r.u16()?,
                    weight: r.u32()?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        let mut vips = Vec::new();
        for _ in 0..r.count(6)? {
            let addr = r.ip()?;
            let mut services = Vec::new();
            // A service is at least its protocol, port, scheduler length,
            // back-end count and health-check tag (and mode).
            for _ in 0..r.count(8 + usize::from(with_mode))? {
                let proto = r.u8()?;
                let port = r.u16()?;
                let scheduler = r.str()?;
                let backends = (0..r.count(10)?)
                    .map(|_| {
                        Ok(Backend {
                            addr: r.ip()?,
                            port: r.u16()?,
                            weight: r.u32()?,
                        })
                    })
                    .collect::<Result<_, DecodeError>>()?;
                let health = match r.bool()? {
                    true => Some(HealthCheck::decode(r)?),
                    false => None,
                };
                let mode = match if with_mode { r.u8()? } else { 0 } {
                    0 => ServiceMode::Nat,
                    1 => ServiceMode::Http,
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "service mode",
                            tag,
                        })
                    }
                };
                services.push(Service {
                    proto,
                    port,
                    scheduler,
                    backends,
                    health,
                    mode,
                });
            }
            vips.push(VipConfig { addr, services });
        }
        let settings = Settings {
            load_report_interval_us: r.u64()?,
            balance_interval_us: r.u64()?,
            imbalance_threshold_pct: r.u32()?,
            min_imbalance: r.u64()?,
            hysteresis_pct: r.u32()?,
            hold_us: r.u64()?,
            max_moves_per_period: r.u32()?,
            move_period_us: r.u64()?,
            two_node: r.bool()?,
            takeover_fence_us: r.u64()?,
            self_fence_us: r.u64()?,
            owner_lease_us: r.u64()?,
        };
        let snat = match with_snat && r.bool()? {
            true => Some(SnatConfig::decode(r)?),
            false => None,
        };
        Ok(ClusterConfig {
            version,
            nodes,
            vips,
            settings,
            snat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ClusterConfig {
        ClusterConfig {
            version: 3,
            nodes: vec![
                NodeConfig { id: 1, weight: 100 },
                NodeConfig { id: 2, weight: 200 },
            ],
            vips: vec![VipConfig {
                addr: Ipv4Addr::new(10, 0, 0, 1),
                services: vec![Service {
                    proto: 6,
                    port: 80,
                    scheduler: "maglev".into(),
                    backends: vec![Backend {
                        addr: Ipv4Addr::new(192, 168, 0, 10),
                        port: 8080,
                        weight: 1,
                    }],
                    health: Some(HealthCheck {
                        kind: CheckKind::Http {
                            path: "/healthz".into(),
                            expect_status: 200,
                        },
                        interval_ms: 1000,
                        timeout_ms: 500,
                        rise: 2,
                        fall: 3,
                    }),
                    mode: ServiceMode::Nat,
                }],
            }],
            settings: Settings::default(),
            snat: Some(SnatConfig {
                source: Ipv4Addr::new(192, 168, 0, 0),
                prefix_len: 24,
                to: Ipv4Addr::new(10, 0, 0, 1),
                first_port: 20000,
                last_port: 29999,
            }),
        }
    }

    /// Encodes `config`, checks it decodes to itself with nothing left
    /// over, and returns the bytes.
    fn round_trip(config: &ClusterConfig) -> Vec<u8> {
        let mut w = Writer::default();
        config.encode(&mut w);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        assert_eq!(ClusterConfig::decode(&mut r).as_ref(), Ok(config));
        assert_eq!(r.finish(), Ok(()));
        bytes
    }

    #[test]
    fn a_configuration_round_trips_and_truncations_fail() {
        let bytes = round_trip(&sample());
        for cut in 0..bytes.len() {
            assert!(ClusterConfig::decode(&mut Reader::new(&bytes[..cut])).is_err());
        }
    }

    #[test]
    fn a_configuration_without_outbound_translation_round_trips_and_validates() {
        let mut config = sample();
        config.snat = None;
        let without = round_trip(&config);
        assert_eq!(config.validate(), Ok(()));
        // One byte says there is none; the translation itself is 13.
        assert_eq!(round_trip(&sample()).len(), without.len() + 13);
    }

    #[test]
    fn outbound_translation_from_a_vip_not_configured_is_refused() {
        let mut config = sample();
        assert_eq!(config.validate(), Ok(()));
        let other = Ipv4Addr::new(10, 0, 0, 2);
        if let Some(snat) = &mut config.snat {
            snat.to = other;
        }
        assert_eq!(
            config.validate(),
            Err(ConfigError::Snat(SnatProblem::NotAVip(other)))
        );
    }

    #[test]
    fn a_service_without_a_check_round_trips_too() {
        let mut config = sample();
        config.vips[0].services[0].health = None;
        round_trip(&config);
    }

    #[test]
    fn an_http_service_round_trips_and_needs_tcp_and_wrr() {
        let mut config = sample();
        config.vips[0].services[0].mode = ServiceMode::Http;
        let bytes = round_trip(&config);
        // The mode is the service's last byte: an unknown one is refused.
        let mut unknown = bytes.clone();
        let at = round_trip(&sample()).len() - settings_bytes(&config) - 1;
        assert_eq!(unknown[at], 1);
        unknown[at] = 7;
        assert_eq!(
            ClusterConfig::decode(&mut Reader::new(&unknown)),
            Err(DecodeError::UnknownTag {
                what: "service mode",
                tag: 7
            })
        );
        // maglev: refused; wrr: fine; UDP: refused.
        let refused = Err(ConfigError::HttpMode {
            vip: Ipv4Addr::new(10, 0, 0, 1),
            proto: 6,
            port: 80,
        });
        assert_eq!(config.validate(), refused);
        config.vips[0].services[0].scheduler = "wrr".into();
        assert_eq!(config.validate(), Ok(()));
        config.vips[0].services[0].proto = 17;
        assert!(matches!(
            config.validate(),
            Err(ConfigError::HttpMode { proto: 17, .. })
        ));
        assert_eq!(ServiceMode::from_name("http"), Some(ServiceMode::Http));
        assert_eq!(ServiceMode::from_name("HTTP"), None);
    }

    /// How many bytes the settings (and the outbound translation after
    /// them) take at the end of `config`'s encoding.
    fn settings_bytes(config: &ClusterConfig) -> usize {
        let mut without = config.clone();
        without.vips.clear();
        let mut w = Writer::default();
        without.encode(&mut w);
        // version u64, node count and nodes, VIP count: what precedes the
        // settings when there are no VIPs.
        let mut head = Writer::default();
        head.u64(0).count(without.nodes.len());
        for n in &without.nodes {
            head.u16(n.id).u32(n.weight);
        }
        head.count(0);
        w.finish().len() - head.finish().len()
    }

    #[test]
    fn a_bad_health_check_names_its_service() {
        let mut c = sample();
        if let Some(check) = &mut c.vips[0].services[0].health {
            check.fall = 0;
        }
        assert_eq!(
            c.validate(),
            Err(ConfigError::Health {
                vip: Ipv4Addr::new(10, 0, 0, 1),
                proto: 6,
                port: 80,
                problem: HealthProblem::Fall(0),
            })
        );
        assert_eq!(
            c.validate().map_err(|e| e.to_string()),
            Err("VIP 10.0.0.1: service 6/80: health check fall 0 is outside 1..=100".into())
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let mut c = sample();
        assert_eq!(c.validate(), Ok(()));
        c.vips.push(c.vips[0].clone());
        assert_eq!(
            c.validate(),
            Err(ConfigError::DuplicateVip(Ipv4Addr::new(10, 0, 0, 1)))
        );
        let mut c = sample();
        c.settings.hysteresis_pct = 100;
        assert_eq!(c.validate(), Err(ConfigError::Setting("hysteresis_pct")));
        let mut c = sample();
        for n in 0..MAX_VIPS as u32 {
            let mut v = c.vips[0].clone();
            v.addr = Ipv4Addr::from(0x0a01_0000 + n);
            v.services[0].backends = vec![v.services[0].backends[0]; 1];
            c.vips.push(v);
        }
        c.vips.remove(0);
        for v in c.vips.iter_mut().take(250) {
            v.services[0].backends = (0..16)
                .map(|b| Backend {
                    addr: Ipv4Addr::new(192, 168, 1, b),
                    port: 80,
                    weight: 1,
                })
                .collect();
        }
        assert!(matches!(c.validate(), Err(ConfigError::TooLarge(_))));
        let mut c = sample();
        c.settings.takeover_fence_us = c.settings.self_fence_us;
        assert_eq!(c.validate(), Err(ConfigError::Setting("takeover_fence_us")));
        // The lease: none, or at least the minimum; and the fence covers the
        // self fence, the lease and the margin (220 ms by default).
        for (lease, ok, field) in [
            (0, true, ""),
            (MIN_OWNER_LEASE_US - 1, false, "owner_lease_us"),
            (MIN_OWNER_LEASE_US, true, ""),
            (MIN_OWNER_LEASE_US + 1, false, "takeover_fence_us"),
        ] {
            let mut c = sample();
            c.settings.owner_lease_us = lease;
            let expected = if ok {
                Ok(())
            } else {
                Err(ConfigError::Setting(field))
            };
            assert_eq!(c.validate(), expected, "lease {lease}");
        }
        assert_eq!(sample().weight(2), 200);
        assert_eq!(sample().weight(9), DEFAULT_WEIGHT);
    }
}
