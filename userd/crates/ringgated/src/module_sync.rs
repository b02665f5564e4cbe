//! Carries out the cluster's module actions on the local ringgate module
//! over generic netlink. In cluster mode the daemon owns the module's
//! configuration: `ApplyConfig` makes the module's VIPs, services and
//! back-ends exactly the cluster's (what the module has beyond them is
//! removed), in an order that never leaves a service without its VIP.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;

use ringgate_cluster::config::{ClusterConfig, ServiceMode};
use ringgate_cluster::model::{BackendId, Vip};
use ringgate_cluster::ModuleAction;
use ringgate_netlink::{Client, ConfigChange, Error, Proto, Scheduler, ServiceKey};

pub struct ModuleSync {
    client: Client,
}

/// A service as the cluster describes it, for comparison with the module.
struct Wanted {
    scheduler: Scheduler,
    backends: BTreeMap<SocketAddrV4, u32>,
}

fn key(vip: Vip, proto: u8, port: u16) -> ServiceKey {
    ServiceKey {
        vip,
        port,
        proto: if proto == 17 { Proto::Udp } else { Proto::Tcp },
    }
}

fn proto_number(proto: Proto) -> u8 {
    match proto {
        Proto::Tcp => 6,
        Proto::Udp => 17,
        Proto::Unknown(n) => n,
    }
}

impl ModuleSync {
    pub fn new(client: Client) -> ModuleSync {
        ModuleSync { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Does `action`; `down` is the cluster's set of down back-ends, so a
    /// back-end (re-)added by a configuration starts in its agreed state.
    /// Returns every refusal, each naming what it was about; the rest of
    /// the action is still done.
    pub fn apply(&self, action: &ModuleAction, down: &BTreeSet<BackendId>) -> Vec<String> {
        match action {
            ModuleAction::TakeVip(vip) => self
                .client
                .vip_set_owned(*vip, true)
                .err()
                .map(|e| format!("take VIP {vip}: {e}"))
                .into_iter()
                .collect(),
            // A VIP the configuration just removed from the pool is
            // released already.
            ModuleAction::ReleaseVip(vip) => match self.client.vip_set_owned(*vip, false) {
                Ok(()) | Err(Error::NoSuchVip(_)) => Vec::new(),
                Err(e) => vec![format!("release VIP {vip}: {e}")],
            },
            ModuleAction::SetBackend { backend, up } => self
                .client
                .backend_set(
                    key(backend.vip, backend.proto, backend.port),
                    SocketAddrV4::new(backend.addr, backend.backend_port),
                    None,
                    Some(*up),
                )
                .err()
                .map(|e| format!("set back-end {backend:?} up={up}: {e}"))
                .into_iter()
                .collect(),
            ModuleAction::ApplyConfig(config) => self.apply_config(config, down),
        }
    }

    /// Makes the sessions the module holds as node `me`'s nobody's (owner
    /// 0, never a ring member) and sets the module's node id to `me`.
    /// The module outlives the daemon: a daemon that starts finds the
    /// sessions a predecessor created, whose VIPs a peer has usually taken
    /// and whose sessions it adopted. Were they still `me`'s, this node
    /// would announce its stale copies as its own, peers would record it
    /// as their owner again, and the node that carries them would stop
    /// announcing them. As nobody's, whichever node owns each VIP adopts
    /// them (this one too, if it takes the VIP back). The module renames
    /// only from a node other than its own, so its id is 0 meanwhile.
    ///
    /// The errors of what could not be disowned; `Err` if the module's id
    /// could not be set to `me` at the end: a module left at 0 would give
    /// every new session owner 0, so nothing would be announced and every
    /// failover would reset its connections, and the daemon must not run
    /// like that. (A daemon killed in between leaves the id at 0; the next
    /// start sets it.)
    pub fn disown_sessions(&self, me: u16) -> Result<Vec<String>, String> {
        let set_id = |id: u16| {
            let change = ConfigChange {
                node_id: Some(id),
                ..ConfigChange::default()
            };
            self.client
                .config_set(&change)
                .map_err(|e| format!("setting the module's node id to {id}: {e}"))
        };
        let mut errors = Vec::new();
        match set_id(0) {
            Ok(()) => match self.client.vip_list() {
                Ok(vips) => {
                    for v in vips {
                        if let Err(e) = self.client.session_adopt(v.addr, me) {
                            errors
                                .push(format!("disowning node {me}'s sessions of {}: {e}", v.addr));
                        }
                    }
                }
                Err(e) => errors.push(format!("list VIPs: {e}")),
            },
            Err(e) => errors.push(e),
        }
        set_id(me)?;
        Ok(errors)
    }

    /// Releases every VIP the module owns: what a daemon does when it
    /// starts (a predecessor may have left ownership behind) and stops.
    pub fn release_all(&self) -> Vec<String> {
        match self.client.vip_list() {
            Ok(vips) => vips
                .iter()
                .filter(|v| v.owned)
                .filter_map(|v| {
                    self.client
                        .vip_set_owned(v.addr, false)
                        .err()
                        .map(|e| format!("release VIP {}: {e}", v.addr))
                })
                .collect(),
            Err(e) => vec![format!("list VIPs: {e}")],
        }
    }

    /// The VIPs the module owns now.
    pub fn owned(&self) -> Result<BTreeSet<Vip>, Error> {
        Ok(self
            .client
            .vip_list()?
            .into_iter()
            .filter(|v| v.owned)
            .map(|v| v.addr)
            .collect())
    }

    fn apply_config(&self, config: &ClusterConfig, down: &BTreeSet<BackendId>) -> Vec<String> {
        let mut errors = Vec::new();
        let mut note = |what: String, result: Result<(), Error>| {
            if let Err(e) = result {
                errors.push(format!("{what}: {e}"));
            }
        };
        let mut wanted: BTreeMap<(Vip, u8, u16), Wanted> = BTreeMap::new();
        for v in &config.vips {
            // An HTTP service is the proxy's: the module leaves its port to
            // the node's stack, where ringgate-l7d listens.
            for s in v.services.iter().filter(|s| s.mode == ServiceMode::Nat) {
                let backends = s
                    .backends
                    .iter()
                    .map(|b| (SocketAddrV4::new(b.addr, b.port), b.weight))
                    .collect();
                wanted.insert(
                    (v.addr, s.proto, s.port),
                    Wanted {
                        // Checked against the module's names before the
                        // configuration was submitted.
                        scheduler: s.scheduler.parse().unwrap_or_default(),
                        backends,
                    },
                );
            }
        }
        let wanted_vips: BTreeSet<Vip> = config.vips.iter().map(|v| v.addr).collect();
        let (services, vips) = match (self.client.services(), self.client.vip_list()) {
            (Ok(s), Ok(v)) => (s, v),
            (Err(e), _) | (_, Err(e)) => return vec![format!("read the module's tables: {e}")],
        };
        // Removals first, services before their VIPs.
        let mut present = BTreeMap::new();
        for service in services {
            let k = service.key;
            let id = (k.vip, proto_number(k.proto), k.port);
            if wanted.contains_key(&id) {
                present.insert(id, service);
            } else {
                note(format!("remove service {k}"), self.client.service_del(k));
            }
        }
        for vip in &vips {
            if !wanted_vips.contains(&vip.addr) {
                note(
                    format!("remove VIP {}", vip.addr),
                    self.client.vip_del(vip.addr),
                );
            }
        }
        let have_vips: BTreeSet<Vip> = vips.iter().map(|v| v.addr).collect();
        for vip in wanted_vips.difference(&have_vips) {
            note(format!("add VIP {vip}"), self.client.vip_add(*vip, None));
        }
        for (id @ (vip, proto, port), want) in &wanted {
            let k = key(*vip, *proto, *port);
            let have: BTreeMap<SocketAddrV4, u32> = match present.get(id) {
                Some(service) => {
                    if service.scheduler != want.scheduler {
                        note(
                            format!("set scheduler of {k}"),
                            self.client.service_set(k, want.scheduler),
                        );
                    }
                    service
                        .backends
                        .iter()
                        .map(|b| (b.addr, b.weight))
                        .collect()
                }
                None => {
                    note(
                        format!("add service {k}"),
                        self.client.service_add(k, Some(want.scheduler)),
                    );
                    BTreeMap::new()
                }
            };
            for addr in have.keys().filter(|a| !want.backends.contains_key(a)) {
                note(
                    format!("remove back-end {addr} of {k}"),
                    self.client.backend_del(k, *addr),
                );
            }
            for (addr, weight) in &want.backends {
                let up = !down.contains(&BackendId {
                    vip: *vip,
                    proto: *proto,
                    port: *port,
                    addr: *addr.ip(),
                    backend_port: addr.port(),
                });
                let result = match have.get(addr) {
                    None => self.client.backend_add(k, *addr, Some(*weight), Some(up)),
                    Some(w) if w != weight => {
                        self.client.backend_set(k, *addr, Some(*weight), None)
                    }
                    Some(_) => Ok(()),
                };
                note(format!("back-end {addr} of {k}"), result);
            }
        }
        errors
    }
}
