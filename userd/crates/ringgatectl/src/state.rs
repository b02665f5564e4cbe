//! The namespace's configuration as one value (what `save` prints and what
//! `restore` compares a file with), and the changes a restore makes, kept
//! apart from the socket so both can be tested without a kernel.

use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_netlink::{
    Client, Config, ConfigChange, Error, Scheduler, Service, ServiceKey, Snat, Vip,
};

/// What `save` saves: the VIP pool, the services with their back-ends, the
/// settings and the outbound translation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    pub vips: Vec<Vip>,
    pub services: Vec<Service>,
    pub config: Config,
    pub snat: Option<Snat>,
}

/// One request a restore sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Config(ConfigChange),
    VipAdd {
        addr: Ipv4Addr,
        garp_count: Option<u32>,
    },
    VipSet {
        addr: Ipv4Addr,
        owned: Option<bool>,
        garp_count: Option<u32>,
    },
    ServiceAdd {
        key: ServiceKey,
        scheduler: Option<Scheduler>,
    },
    ServiceSet {
        key: ServiceKey,
        scheduler: Scheduler,
    },
    BackendAdd {
        key: ServiceKey,
        backend: SocketAddrV4,
        weight: Option<u32>,
        up: Option<bool>,
    },
    BackendSet {
        key: ServiceKey,
        backend: SocketAddrV4,
        weight: Option<u32>,
        up: Option<bool>,
    },
    /// The deletes undo a restore's adds when the kernel refuses a later
    /// request; a restore plans none of its own.
    VipDel {
        addr: Ipv4Addr,
    },
    ServiceDel {
        key: ServiceKey,
    },
    BackendDel {
        key: ServiceKey,
        backend: SocketAddrV4,
    },
    /// The outbound translation, or off.
    Snat(Option<Snat>),
}

/// Where a restore reads the state from and sends its changes: the module,
/// or a stand-in in the tests.
pub(crate) trait Target {
    fn state(&mut self) -> Result<State, Error>;
    fn apply(&mut self, change: &Change) -> Result<(), Error>;
}

impl Target for Client {
    fn state(&mut self) -> Result<State, Error> {
        Ok(State {
            vips: self.vip_list()?,
            services: self.services()?,
            config: self.config()?,
            snat: match self.snat() {
                Ok(snat) => snat,
                // A module from before outbound translation has no such
                // command, and translates nothing.
                Err(Error::Kernel(k)) if k.errno == libc::EOPNOTSUPP => None,
                Err(e) => return Err(e),
            },
        })
    }

    fn apply(&mut self, change: &Change) -> Result<(), Error> {
        match change.clone() {
            Change::Config(change) => self.config_set(&change),
            Change::VipAdd { addr, garp_count } => self.vip_add(addr, garp_count),
            Change::VipSet {
                addr,
                owned,
                garp_count,
            } => self.vip_set(addr, owned, garp_count),
            Change::ServiceAdd { key, scheduler } => self.service_add(key, scheduler),
            Change::ServiceSet { key, scheduler } => self.service_set(key, scheduler),
            Change::BackendAdd {
                key,
                backend,
                weight,
                up,
            } => self.backend_add(key, backend, weight, up),
            Change::BackendSet {
                key,
                backend,
                weight,
                up,
            } => self.backend_set(key, backend, weight, up),
            Change::VipDel { addr } => self.vip_del(addr),
            Change::ServiceDel { key } => self.service_del(key),
            Change::BackendDel { key, backend } => self.backend_del(key, backend),
            Change::Snat(snat) => self.snat_set(snat.as_ref()),
        }
    }
}
