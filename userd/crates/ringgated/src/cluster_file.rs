//! The `[cluster]` section of the daemon's configuration file: the cluster
//! configuration this node starts from (nodes, VIPs, services, back-ends,
//! settings) and this node's own cluster options. Its presence turns the
//! daemon from a ring member into a gateway that drives its module.
//!
//! ```toml
//! [cluster]
//! state_file = "cluster.state"   # the last applied cluster state (atomic writes)
//! http_proxy = "/usr/sbin/ringgate-l7d"  # default: beside ringgated; runs the
//!                                # "http" services, from <state_file>.l7d.toml
//!                                # (written by ringgated), status <state_file>.l7d.sock
//!
//! [[cluster.nodes]]              # optional; a member not listed has weight 100
//! id = 1
//! weight = 100
//!
//! [cluster.settings]             # all optional; these are the defaults
//! load_report_interval_ms = 1000
//! balance_interval_ms = 1000
//! imbalance_threshold_pct = 25
//! min_imbalance = 100
//! hysteresis_pct = 10
//! hold_ms = 30000
//! max_moves_per_period = 2
//! move_period_ms = 10000
//! two_node = false
//! takeover_fence_ms = 220         # at least self_fence_ms + owner_lease_ms + 20
//! self_fence_ms = 100
//! owner_lease_ms = 100           # the modules' VIP ownership lease (0: none, or 100+)
//!
//! [[cluster.vips]]
//! addr = "10.0.0.100"
//! [[cluster.vips.services]]
//! proto = "tcp"                  # or "udp"
//! port = 80
//! scheduler = "wrr"              # wrr, hash or lc
//! mode = "nat"                   # or "http": ringgate-l7d proxies it (TCP, wrr)
//! backends = [{ addr = "10.1.0.2:8080", weight = 1 }]
//! # optional: every node checks every back-end; the cluster marks one down
//! # when a majority of the live nodes see it fail
//! health = { check = "http", path = "/", expect_status = 200, interval_ms = 1000,
//!            timeout_ms = 500, rise = 2, fall = 3 }   # or { check = "tcp" }
//!
//! [cluster.snat]                 # optional: outbound translation
//! source = "10.1.0.0/24"         # the hosts (back-ends) whose connections out
//! to = "10.0.0.100"              # leave from this VIP of the configuration,
//! ports = "20000-59999"          # each ring member with its share of these
//! ```
//!
//! The file's configuration is version 1 unless `version` says otherwise;
//! a node that restarts with its state file starts from what the cluster
//! last agreed instead, and a newer configuration held by the cluster wins
//! over an older file (see `ringgate_cluster::node`).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use ringgate_cluster::config::{
    Backend, ClusterConfig, NodeConfig, Service, ServiceMode, Settings, SnatConfig, SnatProblem,
    VipConfig, FENCE_MARGIN_US, MIN_OWNER_LEASE_US,
};
use ringgate_netlink::Scheduler;
use serde::Deserialize;

use crate::health_file::HealthCheckFile;
use crate::http_proxy::ProxyPaths;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    state_file: Option<PathBuf>,
    /// The HTTP proxy's program (default: `ringgate-l7d` beside ringgated).
    http_proxy: Option<PathBuf>,
    /// Moved to `settings` (agreed cluster-wide); named only to say so.
    owner_lease_ms: Option<u64>,
    version: Option<u64>,
    #[serde(default)]
    nodes: Vec<NodeFile>,
    #[serde(default)]
    settings: SettingsFile,
    #[serde(default)]
    vips: Vec<VipFile>,
    snat: Option<SnatFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnatFile {
    /// "address/length".
    source: String,
    to: Ipv4Addr,
    /// "first-last".
    ports: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    id: u16,
    weight: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    load_report_interval_ms: Option<u64>,
    balance_interval_ms: Option<u64>,
    imbalance_threshold_pct: Option<u32>,
    min_imbalance: Option<u64>,
    hysteresis_pct: Option<u32>,
    hold_ms: Option<u64>,
    max_moves_per_period: Option<u32>,
    move_period_ms: Option<u64>,
    two_node: Option<bool>,
    takeover_fence_ms: Option<u64>,
    self_fence_ms: Option<u64>,
    owner_lease_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VipFile {
    addr: Ipv4Addr,
    #[serde(default)]
    services: Vec<ServiceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    proto: String,
    port: u16,
    scheduler: Option<String>,
    /// "nat" (the default) or "http".
    mode: Option<String>,
    #[serde(default)]
    backends: Vec<BackendFile>,
    /// How every node checks the back-ends (none: they count as up).
    health: Option<HealthCheckFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendFile {
    addr: SocketAddrV4,
    weight: Option<u32>,
}

/// This node's cluster options and the configuration it starts from.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Where the last applied replicated state is kept.
    pub state_file: PathBuf,
    pub config: ClusterConfig,
    /// The HTTP proxy's program; its configuration file and status socket
    /// sit beside the state file.
    pub http_proxy: ProxyPaths,
}

impl ClusterFile {
    /// Checks the section; errors name the field (`cluster.vips[0].addr`).
    /// `default_state` is where the state goes when the file does not say.
    pub fn into_options(
        self,
        dir: &Path,
        default_state: PathBuf,
    ) -> Result<ClusterOptions, String> {
        if self.owner_lease_ms.is_some() {
            return Err(
                "cluster.owner_lease_ms: moved to cluster.settings.owner_lease_ms \
                        (the lease is agreed cluster-wide, like the takeover fence it must fit)"
                    .into(),
            );
        }
        let d = Settings::default();
        let s = &self.settings;
        let us = |v: Option<u64>, default: u64| v.map_or(default, |ms| ms.saturating_mul(1000));
        let settings = Settings {
            load_report_interval_us: us(s.load_report_interval_ms, d.load_report_interval_us),
            balance_interval_us: us(s.balance_interval_ms, d.balance_interval_us),
            imbalance_threshold_pct: s
                .imbalance_threshold_pct
                .unwrap_or(d.imbalance_threshold_pct),
            min_imbalance: s.min_imbalance.unwrap_or(d.min_imbalance),
            hysteresis_pct: s.hysteresis_pct.unwrap_or(d.hysteresis_pct),
            hold_us: us(s.hold_ms, d.hold_us),
            max_moves_per_period: s.max_moves_per_period.unwrap_or(d.max_moves_per_period),
            move_period_us: us(s.move_period_ms, d.move_period_us),
            two_node: s.two_node.unwrap_or(d.two_node),
            takeover_fence_us: us(s.takeover_fence_ms, d.takeover_fence_us),
            self_fence_us: us(s.self_fence_ms, d.self_fence_us),
            owner_lease_us: us(s.owner_lease_ms, d.owner_lease_us),
        };
        let mut vips = Vec::new();
        for (i, vip) in self.vips.into_iter().enumerate() {
            let field = format!("cluster.vips[{i}]");
            ringgate_netlink::check_vip_addr(vip.addr).map_err(|e| format!("{field}.addr: {e}"))?;
            let mut services = Vec::new();
            for (j, service) in vip.services.into_iter().enumerate() {
                services.push(service.into_service(&format!("{field}.services[{j}]"))?);
            }
            vips.push(VipConfig {
                addr: vip.addr,
                services,
            });
        }
        module_limits(&vips)?;
        let snat = self.snat.map(SnatFile::into_config).transpose()?;
        let config = ClusterConfig {
            version: self.version.unwrap_or(1).max(1),
            nodes: self
                .nodes
                .iter()
                .map(|n| NodeConfig {
                    id: n.id,
                    weight: n.weight,
                })
                .collect(),
            vips,
            settings,
            snat,
        };
        check_lease(&config.settings)?;
        config.validate().map_err(|e| format!("cluster: {e}"))?;
        let state_file = self.state_file.map_or(default_state, |p| dir.join(p));
        let beside = |suffix: &str| {
            let mut path = state_file.as_os_str().to_owned();
            path.push(suffix);
            PathBuf::from(path)
        };
        let program = match self.http_proxy {
            Some(path) => dir.join(path),
            None => std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|d| d.join("ringgate-l7d")))
                .unwrap_or_else(|| PathBuf::from("ringgate-l7d")),
        };
        Ok(ClusterOptions {
            http_proxy: ProxyPaths {
                program,
                config: beside(".l7d.toml"),
                status_socket: beside(".l7d.sock"),
            },
            state_file,
            config,
        })
    }
}

impl SnatFile {
    /// The translation, or what is wrong with it, named as in the file
    /// (what the configuration as a whole must agree with, such as `to`
    /// being one of its VIPs, `ClusterConfig::validate` checks).
    fn into_config(self) -> Result<SnatConfig, String> {
        let (addr, len) = self.source.split_once('/').ok_or_else(|| {
            format!(
                "cluster.snat.source: {:?} is not address/length (10.1.0.0/24)",
                self.source
            )
        })?;
        let source: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("cluster.snat.source: {addr:?} is not an IPv4 address"))?;
        let prefix_len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| format!("cluster.snat.source: /{len} is not a length of 0 to 32"))?;
        let ports = |text: &str| text.trim().parse::<u16>().ok();
        let (first_port, last_port) = self
            .ports
            .split_once('-')
            .and_then(|(a, b)| Some((ports(a)?, ports(b)?)))
            .ok_or_else(|| {
                format!(
                    "cluster.snat.ports: {:?} is not first-last (20000-59999)",
                    self.ports
                )
            })?;
        let snat = SnatConfig {
            source,
            prefix_len,
            to: self.to,
            first_port,
            last_port,
        };
        // The VIP and its services are checked with the whole configuration.
        snat.check().map_err(|e| match e {
            SnatProblem::HostBits(..) | SnatProblem::PrefixLength(_) => {
                format!("cluster.snat.source: {e}")
            }
            SnatProblem::Range(..) => format!("cluster.snat.ports: {e}"),
            SnatProblem::NotAVip(_) | SnatProblem::ServicePort(..) => format!("cluster.snat: {e}"),
        })?;
        Ok(snat)
    }
}

/// The file's wording of what `ClusterConfig::validate` refuses about the
/// fences and the lease, which must fit together.
fn check_lease(s: &Settings) -> Result<(), String> {
    let lease = s.owner_lease_us;
    if lease != 0 && lease < MIN_OWNER_LEASE_US {
        return Err(format!(
            "cluster.settings.owner_lease_ms: {} is too short (0 for none, or at least {})",
            lease / 1000,
            MIN_OWNER_LEASE_US / 1000
        ));
    }
    // A peer takes over a VIP a fence after it noticed the owner gone; the
    // owner may answer until its self fence and then its lease ran out.
    let needed = s
        .self_fence_us
        .saturating_add(lease)
        .saturating_add(FENCE_MARGIN_US);
    if s.takeover_fence_us < needed {
        return Err(format!(
            "cluster.settings.takeover_fence_ms: {} is less than self_fence_ms ({}) + \
             owner_lease_ms ({}) + {} ms: a cut-off or hung node could still answer \
             for a VIP its peers took over",
            s.takeover_fence_us / 1000,
            s.self_fence_us / 1000,
            lease / 1000,
            FENCE_MARGIN_US / 1000
        ));
    }
    Ok(())
}

/// What every node's module can hold: a configuration beyond it would be
/// refused by every module, half-applied, so it is refused here, before the
/// ring sees it.
pub(crate) fn module_limits(vips: &[VipConfig]) -> Result<(), String> {
    use ringgate_netlink::uapi::{RINGGATE_MAX_BACKENDS, RINGGATE_MAX_SERVICES, RINGGATE_MAX_VIPS};
    if vips.len() > RINGGATE_MAX_VIPS as usize {
        return Err(format!(
            "cluster.vips: {} VIPs, more than the module's pool holds ({RINGGATE_MAX_VIPS})",
            vips.len()
        ));
    }
    let services: usize = vips.iter().map(|v| v.services.len()).sum();
    if services > RINGGATE_MAX_SERVICES as usize {
        return Err(format!(
            "cluster.vips: {services} services in all, more than the module holds ({RINGGATE_MAX_SERVICES})"
        ));
    }
    for (i, v) in vips.iter().enumerate() {
        for (j, s) in v.services.iter().enumerate() {
            if s.backends.len() > RINGGATE_MAX_BACKENDS as usize {
                return Err(format!(
                    "cluster.vips[{i}].services[{j}].backends: {} back-ends, more than a service holds ({RINGGATE_MAX_BACKENDS})",
                    s.backends.len()
                ));
            }
        }
    }
    Ok(())
}

impl ServiceFile {
    fn into_service(self, field: &str) -> Result<Service, String> {
        let proto = match self.proto.as_str() {
            "tcp" => 6,
            "udp" => 17,
            other => {
                return Err(format!(
                    "{field}.proto: {other:?} is not \"tcp\" or \"udp\""
                ))
            }
        };
        if self.port == 0 {
            return Err(format!("{field}.port: must be 1 to 65535"));
        }
        let scheduler = self.scheduler.unwrap_or_else(|| "wrr".into());
        // The module's own names, so a name it would refuse is refused here.
        scheduler
            .parse::<Scheduler>()
            .map_err(|e| format!("{field}.scheduler: {e}"))?;
        let mode = match self.mode.as_deref() {
            None => ServiceMode::Nat,
            Some(name) => ServiceMode::from_name(name)
                .ok_or_else(|| format!("{field}.mode: {name:?} is not \"nat\" or \"http\""))?,
        };
        if mode == ServiceMode::Http && (proto != 6 || scheduler != "wrr") {
            return Err(format!(
                "{field}.mode: \"http\" needs proto \"tcp\" and scheduler \"wrr\" (the proxy's weighted round robin)"
            ));
        }
        let mut backends = Vec::new();
        for (k, b) in self.backends.into_iter().enumerate() {
            if b.addr.port() == 0 {
                return Err(format!(
                    "{field}.backends[{k}].addr: the port must not be 0"
                ));
            }
            let weight = b.weight.unwrap_or(1);
            if weight == 0 {
                return Err(format!(
                    "{field}.backends[{k}].weight: must be at least 1 (remove the back-end to stop using it)"
                ));
            }
            // What a module (and the edits) take; the HTTP proxy too.
            if weight > crate::config_edit::MAX_WEIGHT {
                return Err(format!(
                    "{field}.backends[{k}].weight: at most {}",
                    crate::config_edit::MAX_WEIGHT
                ));
            }
            backends.push(Backend {
                addr: *b.addr.ip(),
                port: b.addr.port(),
                weight,
            });
        }
        let health = self
            .health
            .map(|h| h.into_check(&format!("{field}.health")))
            .transpose()?;
        Ok(Service {
            proto,
            port: self.port,
            scheduler,
            backends,
            health,
            mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(text: &str) -> Result<ClusterOptions, String> {
        let file: ClusterFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.into_options(
            Path::new("/etc/ringgate"),
            PathBuf::from("/var/lib/x.cluster"),
        )
    }

    const GOOD: &str = r#"
        state_file = "c.state"
        [[nodes]]
        id = 2
        weight = 200
        [settings]
        hold_ms = 5000
        [[vips]]
        addr = "10.0.0.100"
        [[vips.services]]
        proto = "tcp"
        port = 80
        scheduler = "hash"
        backends = [{ addr = "10.1.0.2:8080" }, { addr = "10.1.0.3:8080", weight = 3 }]
        health = { check = "http", path = "/health" }
    "#;

    #[test]
    fn a_full_section_becomes_the_cluster_configuration() {
        let o = options(GOOD).unwrap();
        assert_eq!(o.state_file, PathBuf::from("/etc/ringgate/c.state"));
        assert_eq!(o.config.settings.owner_lease_us, 100_000);
        assert_eq!(o.config.version, 1);
        assert_eq!(o.config.weight(2), 200);
        assert_eq!(o.config.settings.hold_us, 5_000_000);
        let s = &o.config.vips[0].services[0];
        assert_eq!((s.proto, s.port, s.scheduler.as_str()), (6, 80, "hash"));
        assert_eq!(s.backends[1].weight, 3);
        assert_eq!(s.backends[0].weight, 1);
        assert_eq!(s.mode, ServiceMode::Nat);
        let http = GOOD.replace("scheduler = \"hash\"", "mode = \"http\"");
        let o = options(&http).unwrap();
        let s = &o.config.vips[0].services[0];
        assert_eq!((s.mode, s.scheduler.as_str()), (ServiceMode::Http, "wrr"));
        let o = options("").unwrap();
        assert_eq!(o.state_file, PathBuf::from("/var/lib/x.cluster"));
        assert!(o.config.vips.is_empty());
    }

    const SNAT: &str = r#"
        [snat]
        source = "10.1.0.0/24"
        to = "10.0.0.100"
        ports = "20000-29999"
    "#;

    #[test]
    fn an_outbound_translation_is_read_and_checked() {
        let o = options(&format!("{GOOD}{SNAT}")).unwrap();
        let snat = o.config.snat.unwrap();
        assert_eq!(
            (snat.source, snat.prefix_len, snat.to),
            (Ipv4Addr::new(10, 1, 0, 0), 24, Ipv4Addr::new(10, 0, 0, 100))
        );
        assert_eq!((snat.first_port, snat.last_port), (20000, 29999));
        assert_eq!(options(GOOD).unwrap().config.snat, None);
        let bad = |from: &str, to: &str, says: &str| {
            let text = format!("{GOOD}{}", SNAT.replace(from, to));
            let err = options(&text).unwrap_err();
            assert!(err.contains(says), "{err:?} does not say {says:?}");
        };
        bad(
            "10.1.0.0/24",
            "10.1.0.0",
            "cluster.snat.source: \"10.1.0.0\" is not address/length",
        );
        bad(
            "10.1.0.0/24",
            "10.1.0.1/24",
            "cluster.snat.source: 10.1.0.1/24 has bits set",
        );
        bad("10.1.0.0/24", "10.1.0.0/33", "cluster.snat.source: /33");
        bad(
            "10.1.0.0/24",
            "10.1.x.0/24",
            "cluster.snat.source: \"10.1.x.0\"",
        );
        bad(
            "20000-29999",
            "20000",
            "cluster.snat.ports: \"20000\" is not first-last",
        );
        bad(
            "20000-29999",
            "1000-29999",
            "cluster.snat.ports: ports 1000-29999",
        );
        bad("20000-29999", "30000-29999", "cluster.snat.ports");
        bad("20000-29999", "20000-70000", "cluster.snat.ports");
        bad(
            "to = \"10.0.0.100\"",
            "to = \"10.0.0.101\"",
            "snat: to = 10.0.0.101 is not a VIP",
        );
        bad("ports", "port = 1\nports", "unknown field");
        bad("20000-29999", "79-29999", "cluster.snat.ports");
        // A service of the VIP on a port of the range.
        let text = format!("{}{SNAT}", GOOD.replace("port = 80", "port = 25000"));
        let err = options(&text).unwrap_err();
        assert!(
            err.contains("snat: port 25000 of the range is a service's port of the VIP 10.0.0.100"),
            "{err}"
        );
    }

    #[test]
    fn every_error_names_its_field() {
        let bad = |from: &str, to: &str, field: &str| {
            let text = GOOD.replace(from, to);
            let err = options(&text).unwrap_err();
            assert!(err.contains(field), "{err:?} does not name {field}");
        };
        bad("\"tcp\"", "\"sctp\"", "cluster.vips[0].services[0].proto");
        bad(
            "\"hash\"",
            "\"fifo\"",
            "cluster.vips[0].services[0].scheduler",
        );
        bad("port = 80", "port = 0", "cluster.vips[0].services[0].port");
        bad(
            "10.1.0.2:8080",
            "10.1.0.2:0",
            "cluster.vips[0].services[0].backends[0].addr",
        );
        bad(
            "weight = 3",
            "weight = 0",
            "cluster.vips[0].services[0].backends[1].weight",
        );
        bad(
            "weight = 3",
            "weight = 1001",
            "cluster.vips[0].services[0].backends[1].weight: at most 1000",
        );
        bad("\"10.0.0.100\"", "\"127.0.0.1\"", "cluster.vips[0].addr");
        bad(
            "scheduler = \"hash\"",
            "scheduler = \"hash\"\nmode = \"l7\"",
            "cluster.vips[0].services[0].mode: \"l7\"",
        );
        // HTTP mode with the hash scheduler: the proxy has only wrr.
        bad(
            "scheduler = \"hash\"",
            "scheduler = \"hash\"\nmode = \"http\"",
            "cluster.vips[0].services[0].mode: \"http\" needs",
        );
        bad(
            "path = \"/health\"",
            "path = \"health\"",
            "cluster.vips[0].services[0].health.path",
        );
        // Beyond what a module holds: refused before any node tries.
        let many: String = (1..=33)
            .map(|p| format!("[[vips.services]]\nproto = \"udp\"\nport = {p}\n"))
            .collect();
        let err = options(&format!("{GOOD}{many}")).unwrap_err();
        assert!(err.contains("34 services in all"), "{err}");
        let backends: Vec<String> = (1..=33)
            .map(|i| format!("{{ addr = \"10.1.1.{i}:80\" }}"))
            .collect();
        let err = options(&GOOD.replace(
            "backends = [",
            &format!("backends = [{}, ", backends.join(", ")),
        ))
        .unwrap_err();
        assert!(
            err.contains("cluster.vips[0].services[0].backends: 35 back-ends"),
            "{err}"
        );
        bad("hold_ms = 5000", "owner_lease_ms = 40", "too short");
        bad("hold_ms = 5000", "hold_ms = 5000\nbogus = 1", "bogus");
        // The default 100 ms self fence and 100 ms lease need a 220 ms fence.
        bad(
            "hold_ms = 5000",
            "takeover_fence_ms = 150",
            "cluster.settings.takeover_fence_ms: 150 is less than",
        );
        bad(
            "hold_ms = 5000",
            "owner_lease_ms = 900",
            "cluster.settings.takeover_fence_ms",
        );
        bad("state_file", "owner_lease_ms = 200\nstate_file", "moved to");
        bad(
            "weight = 200",
            "weight = 200\n[[nodes]]\nid = 2\nweight = 1",
            "node 2 is listed twice",
        );
    }
}
