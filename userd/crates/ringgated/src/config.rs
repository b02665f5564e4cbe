//! The daemon's TOML configuration file, checked completely before anything
//! starts: every error names the field it is about.
//!
//! ```toml
//! node_id = 1
//! listen = "127.0.0.1:5405"
//! key_file = "cluster.key"          # relative to this file; hex, see `openssl rand -hex 32`
//! control_socket = "/run/ringgated.sock"
//! kernel_module = "required"        # or "optional": run the ring without ringgate.ko
//! state_file = "/var/lib/ringgated/epoch"  # the incarnation counter, which
//!                                   # names this node's rings (see `epoch`)
//! ring_nice = -10                   # the ring thread's nice value, -20 to 0
//!                                   # (see `priority`)
//!
//! [[peers]]
//! id = 2
//! address = "127.0.0.2:5405"
//!
//! [timeouts]                       # all optional; these are the defaults
//! token_retransmit_ms = 5
//! token_hold_ms = 1
//! token_loss_ms = 24                # plus token_loss_per_member_ms per member
//! token_loss_per_member_ms = 2
//! join_interval_ms = 5
//! gather_settle_ms = 10
//! consensus_ms = 20
//! merge_probe_ms = 50
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ringgate_ring::auth::ClusterKey;
use ringgate_ring::limits::MAX_NODES;
use ringgate_ring::node::Config as RingConfig;
use ringgate_ring::wire::{NodeId, RESERVED_NODE_IDS};
use serde::Deserialize;

use crate::cluster_file::{ClusterFile, ClusterOptions};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    node_id: NodeId,
    listen: SocketAddr,
    key_file: PathBuf,
    control_socket: PathBuf,
    state_file: PathBuf,
    #[serde(default)]
    kernel_module: KernelModule,
    ring_nice: Option<i32>,
    #[serde(default)]
    peers: Vec<Peer>,
    #[serde(default)]
    timeouts: Timeouts,
    /// Present on a gateway: the cluster this node serves (see `cluster_file`).
    cluster: Option<ClusterFile>,
}

/// Whether the daemon insists on the kernel module being loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelModule {
    #[default]
    Required,
    Optional,
}

/// Another member of the ring.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub id: NodeId,
    pub address: SocketAddr,
}

/// Protocol timeouts in milliseconds; any left out take the defaults of
/// `ringgate_ring::node::Config`, which suit a LAN.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timeouts {
    token_retransmit_ms: Option<u64>,
    token_hold_ms: Option<u64>,
    token_loss_ms: Option<u64>,
    token_loss_per_member_ms: Option<u64>,
    join_interval_ms: Option<u64>,
    gather_settle_ms: Option<u64>,
    consensus_ms: Option<u64>,
    merge_probe_ms: Option<u64>,
}

impl Timeouts {
    /// The ring's configuration, or an error naming the first bad field.
    fn ring_config(&self) -> Result<RingConfig, String> {
        let d = RingConfig::default();
        let us = |v: Option<u64>, default: u64| v.map_or(default, |ms| ms.saturating_mul(1000));
        let c = RingConfig {
            token_retransmit_us: us(self.token_retransmit_ms, d.token_retransmit_us),
            token_hold_us: us(self.token_hold_ms, d.token_hold_us),
            token_loss_us: us(self.token_loss_ms, d.token_loss_us),
            token_loss_per_member_us: us(self.token_loss_per_member_ms, d.token_loss_per_member_us),
            join_interval_us: us(self.join_interval_ms, d.join_interval_us),
            gather_settle_us: us(self.gather_settle_ms, d.gather_settle_us),
            consensus_us: us(self.consensus_ms, d.consensus_us),
            merge_probe_us: us(self.merge_probe_ms, d.merge_probe_us),
        };
        let at_least_1 = [
            ("token_retransmit_ms", c.token_retransmit_us),
            ("join_interval_ms", c.join_interval_us),
            ("gather_settle_ms", c.gather_settle_us),
            ("consensus_ms", c.consensus_us),
            ("merge_probe_ms", c.merge_probe_us),
        ];
        if let Some((name, _)) = at_least_1.iter().find(|(_, v)| *v == 0) {
            return Err(format!("timeouts.{name}: must be at least 1"));
        }
        // One lost token must cost a retransmission, not the ring.
        if c.token_loss_us < 2 * c.token_retransmit_us {
            return Err(format!(
                "timeouts.token_loss_ms: must be at least twice token_retransmit_ms ({} ms)",
                c.token_retransmit_us / 1000
            ));
        }
        // The representative holds an idle token this long while the others
        // wait for it; holding it as long as they wait makes an idle ring
        // declare its token lost and re-form over and over.
        if c.token_hold_us >= c.token_loss_us {
            return Err(format!(
                "timeouts.token_hold_ms: must be shorter than token_loss_ms ({} ms)",
                c.token_loss_us / 1000
            ));
        }
        // A set of nodes has settled only once every node had the chance to
        // repeat its Join; sooner, the representative commits before it
        // heard everyone.
        if c.gather_settle_us < c.join_interval_us {
            return Err(format!(
                "timeouts.gather_settle_ms: must be at least join_interval_ms ({} ms)",
                c.join_interval_us / 1000
            ));
        }
        // The others wait for the representative's Commit after the set has
        // settled; a wait shorter than the settling itself gives up on a
        // representative that is still listening.
        if c.consensus_us < c.gather_settle_us {
            return Err(format!(
                "timeouts.consensus_ms: must be at least gather_settle_ms ({} ms)",
                c.gather_settle_us / 1000
            ));
        }
        Ok(c)
    }
}

/// Reads the key file, refusing one that users other than its owner may
/// read or write: anyone who reads the key can speak for every node.
pub fn read_private_key(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "mode {:04o} gives group or others access; make it 0600 (chmod 600)",
            mode & 0o7777
        ));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub node_id: NodeId,
    pub listen: SocketAddr,
    pub key: ClusterKey,
    pub control_socket: PathBuf,
    /// Where the incarnation counter is kept (relative paths from the
    /// config's directory).
    pub state_file: PathBuf,
    pub kernel_module: KernelModule,
    /// The ring thread's nice value (see `priority`).
    pub ring_nice: i32,
    pub peers: Vec<Peer>,
    pub ring: RingConfig,
    /// The cluster this node serves; `None` runs the ring alone.
    pub cluster: Option<ClusterOptions>,
}

impl Config {
    /// Every member's id, this node's included.
    pub fn members(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.peers.iter().map(|p| p.id).collect();
        ids.push(self.node_id);
        ids
    }

    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, dir, read_private_key).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks configuration text; `read_key` reads the key file
    /// (relative paths are taken from `dir`).
    pub fn parse(
        text: &str,
        dir: &Path,
        read_key: impl Fn(&Path) -> Result<String, String>,
    ) -> Result<Config, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        if file.peers.len() + 1 > MAX_NODES {
            return Err(format!(
                "peers: a ring has at most {MAX_NODES} members, this one {}",
                file.peers.len() + 1
            ));
        }
        if RESERVED_NODE_IDS.contains(&file.node_id) {
            return Err(format!(
                "node_id: {} is reserved by the ring protocol (0 and 65535 are)",
                file.node_id
            ));
        }
        if let Some((i, peer)) = file
            .peers
            .iter()
            .enumerate()
            .find(|(_, p)| RESERVED_NODE_IDS.contains(&p.id))
        {
            return Err(format!(
                "peers[{i}].id: {} is reserved by the ring protocol (0 and 65535 are)",
                peer.id
            ));
        }
        let mut ids = HashSet::from([file.node_id]);
        let mut addresses = HashSet::from([file.listen]);
        for (i, peer) in file.peers.iter().enumerate() {
            if !ids.insert(peer.id) {
                return Err(format!("peers[{i}].id: node id {} is used twice", peer.id));
            }
            if !addresses.insert(peer.address) {
                return Err(format!(
                    "peers[{i}].address: {} is used twice",
                    peer.address
                ));
            }
        }
        let ring_nice = file.ring_nice.unwrap_or(crate::priority::RING_NICE);
        if !(-20..=0).contains(&ring_nice) {
            return Err(format!(
                "ring_nice: {ring_nice} is not a nice value from -20 (most favoured) to 0"
            ));
        }
        let ring = file.timeouts.ring_config()?;
        let key_path = dir.join(&file.key_file);
        let key_text =
            read_key(&key_path).map_err(|e| format!("key_file: {}: {e}", key_path.display()))?;
        let key = ClusterKey::from_key_file(&key_text)
            .map_err(|e| format!("key_file: {}: {e}", key_path.display()))?;
        let state_file = dir.join(file.state_file);
        let cluster = match file.cluster {
            Some(section) => {
                let mut default_state = state_file.clone().into_os_string();
                default_state.push(".cluster");
                Some(section.into_options(dir, default_state.into())?)
            }
            None => None,
        };
        Ok(Config {
            node_id: file.node_id,
            listen: file.listen,
            key,
            control_socket: file.control_socket,
            state_file,
            kernel_module: file.kernel_module,
            ring_nice,
            peers: file.peers,
            ring,
            cluster,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/ringgate"), |p| {
            if p == Path::new("/etc/ringgate/cluster.key") {
                Ok(KEY.to_string())
            } else {
                Err("No such file or directory".into())
            }
        })
    }

    const GOOD: &str = r#"
node_id = 1
listen = "127.0.0.1:5405"
key_file = "cluster.key"
control_socket = "/run/ringgated.sock"
state_file = "epoch"
[[peers]]
id = 2
address = "127.0.0.2:5405"
[timeouts]
token_retransmit_ms = 7
"#;

    #[test]
    fn a_good_file_parses_with_defaults_filled_in() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.members(), vec![2, 1]);
        assert_eq!(c.ring.token_retransmit_us, 7000);
        assert_eq!(c.ring.token_hold_us, RingConfig::default().token_hold_us);
        assert_eq!(c.kernel_module, KernelModule::Required);
        assert_eq!(c.state_file, PathBuf::from("/etc/ringgate/epoch"));
        // Without its incarnation counter a node could reuse a ring id.
        let missing = parse(&GOOD.replace("state_file = \"epoch\"\n", "")).unwrap_err();
        assert!(missing.contains("state_file"), "{missing}");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (GOOD.replace("node_id = 1", "node_id = 70000"), "node_id"),
            (
                GOOD.replace("listen = \"127.0.0.1:5405\"", "listen = \"nowhere\""),
                "listen",
            ),
            (GOOD.replace("id = 2", "id = 1"), "peers[0].id"),
            (
                GOOD.replace("127.0.0.2:5405", "127.0.0.1:5405"),
                "peers[0].address",
            ),
            (
                GOOD.replace("cluster.key", "missing.key"),
                "key_file: /etc/ringgate/missing.key",
            ),
            (
                GOOD.replace("token_retransmit_ms = 7", "token_retransmit_ms = 0"),
                "timeouts.token_retransmit_ms",
            ),
            (
                GOOD.replace(
                    "token_retransmit_ms = 7",
                    "token_retransmit_ms = 7\ntoken_loss_ms = 10",
                ),
                "timeouts.token_loss_ms",
            ),
            (
                GOOD.replace(
                    "token_retransmit_ms = 7",
                    "token_retransmit_ms = 7\ntoken_lost_ms = 100",
                ),
                "token_lost_ms",
            ),
            (GOOD.replace("node_id = 1", "node_id = 0"), "node_id: 0"),
            (
                GOOD.replace("node_id = 1", "node_id = 65535"),
                "node_id: 65535",
            ),
            (GOOD.replace("id = 2", "id = 0"), "peers[0].id: 0"),
            (GOOD.replace("id = 2", "id = 65535"), "peers[0].id: 65535"),
            (
                GOOD.replace(
                    "token_retransmit_ms = 7",
                    "token_retransmit_ms = 7\ntoken_hold_ms = 24",
                ),
                "timeouts.token_hold_ms",
            ),
            (
                GOOD.replace(
                    "token_retransmit_ms = 7",
                    "token_retransmit_ms = 7\ngather_settle_ms = 4",
                ),
                "timeouts.gather_settle_ms",
            ),
            (
                GOOD.replace(
                    "token_retransmit_ms = 7",
                    "token_retransmit_ms = 7\nconsensus_ms = 9",
                ),
                "timeouts.consensus_ms",
            ),
            (GOOD.replace("node_id", "nodeid"), "nodeid"),
            (
                GOOD.replace("node_id = 1", "node_id = 1\nring_nice = -21"),
                "ring_nice: -21",
            ),
            (
                GOOD.replace("node_id = 1", "node_id = 1\nring_nice = 5"),
                "ring_nice: 5",
            ),
            (
                format!("{GOOD}\nkernel_module = \"maybe\""),
                "kernel_module",
            ),
        ];
        for (text, field) in cases {
            assert!(text != GOOD, "case for {field:?} changed nothing");
            let err = parse(&text).unwrap_err();
            assert!(
                err.contains(field),
                "error for {field:?} does not name it: {err}"
            );
        }
    }

    #[test]
    fn a_key_file_others_may_read_is_refused_and_a_private_one_taken() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ringgated-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cluster.key"), KEY).unwrap();
        let config = dir.join("ringgated.toml");
        std::fs::write(&config, GOOD).unwrap();
        for (mode, refused) in [(0o644, true), (0o640, true), (0o602, true), (0o600, false)] {
            std::fs::set_permissions(
                dir.join("cluster.key"),
                std::fs::Permissions::from_mode(mode),
            )
            .unwrap();
            match Config::load(&config) {
                Err(e) => assert!(
                    refused && e.contains("key_file") && e.contains(&format!("{mode:04o}")),
                    "mode {mode:o}: {e}"
                ),
                Ok(_) => assert!(!refused, "mode {mode:o} was taken"),
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
