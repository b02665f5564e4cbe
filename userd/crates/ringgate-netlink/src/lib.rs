//! A client of the `ringgate` generic netlink family, for the CLI and the daemon.
//!
//! Requests act on the network namespace of the calling process, as the
//! kernel module keeps its state per namespace.

mod hook;
mod service;
mod session;
mod status;
mod vip;

use neli::{
    consts::{
        nl::{NlmF, NlmsgerrAttr},
        socket::NlFamily,
    },
    err::RouterError,
    genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder},
    nl::{NlPayload, Nlmsghdr},
    router::synchronous::NlRouter,
    types::{Buffer, GenlBuffer},
    utils::Groups,
};
use ringgate_uapi as uapi;

pub use hook::{Hook, UnknownHook};
pub use service::{Backend, Proto, Scheduler, Service, ServiceKey};
pub use session::{Config, ConfigChange, DownPolicy, Session};
pub use status::{HookStats, Status};
pub use vip::Vip;

use std::net::{Ipv4Addr, SocketAddrV4};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the ringgate kernel module is not loaded (load it with `modprobe ringgate` or `insmod ringgate.ko`)"
    )]
    ModuleNotLoaded,
    #[error("permission denied: {0} needs CAP_NET_ADMIN in this network namespace")]
    PermissionDenied(&'static str),
    #[error("no such VIP {0} in this network namespace's pool")]
    NoSuchVip(Ipv4Addr),
    #[error("VIP {0} is not configured on any interface of this network namespace (add it with `ip addr add {0}/32 dev <interface>` first)")]
    VipNotConfigured(Ipv4Addr),
    #[error("the VIP pool is full ({max} VIPs per network namespace)", max = uapi::RINGGATE_MAX_VIPS)]
    PoolFull,
    #[error("{0} cannot be a VIP: a VIP is a unicast IPv4 address (not 0, loopback, multicast or broadcast)")]
    NotUnicast(Ipv4Addr),
    #[error("the kernel refused {op}: {message} (errno {errno})")]
    Kernel {
        op: &'static str,
        errno: i32,
        message: String,
    },
    #[error("no such service {0}")]
    NoSuchService(ServiceKey),
    #[error("no back-end {1} in service {0}")]
    NoSuchBackend(ServiceKey, SocketAddrV4),
    #[error("VIP {0} is not in this network namespace's pool (add it with `ringgatectl vip add {0}` first)")]
    VipNotInPool(Ipv4Addr),
    #[error("the table is full ({services} services, {backends} back-ends each, per network namespace)", services = uapi::RINGGATE_MAX_SERVICES, backends = uapi::RINGGATE_MAX_BACKENDS)]
    ServiceTableFull,
    #[error("the VIP pool kept changing while it was being listed")]
    DumpInterrupted,
    #[error("netlink socket: {0}")]
    Socket(String),
    #[error("malformed reply to {op}: {why}")]
    Malformed { op: &'static str, why: String },
}

/// A connection to the module's family in the caller's network namespace.
pub struct Client {
    router: NlRouter,
    family: u16,
}

type Attrs = GenlBuffer<u16, Buffer>;
type Reply = Nlmsghdr<u16, Genlmsghdr<u8, u16>>;

impl Client {
    /// Opens a generic netlink socket and resolves the `ringgate` family.
    pub fn connect() -> Result<Self, Error> {
        let (router, _multicast) = NlRouter::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| Error::Socket(e.to_string()))?;
        let family = router
            .resolve_genl_family(uapi::RINGGATE_FAMILY_NAME)
            .map_err(|e| match e {
                // The controller answers ENOENT for a family nobody registered.
                RouterError::Nlmsgerr(_) => Error::ModuleNotLoaded,
                RouterError::Msg(_) => Error::ModuleNotLoaded,
                other => Error::Socket(other.to_string()),
            })?;
        // Ask for the kernel's explanation (extack) along with errors.
        router
            .enable_ext_ack(true)
            .map_err(|e| Error::Socket(e.to_string()))?;
        Ok(Client { router, family })
    }

    /// Adds a VIP to the pool (not owned); `garp_count` sets how many
    /// gratuitous ARP pairs announce it when taken.
    pub fn vip_add(&self, addr: Ipv4Addr, garp_count: Option<u32>) -> Result<(), Error> {
        if addr.is_unspecified()
            || addr.is_loopback()
            || addr.is_multicast()
            || addr.is_broadcast()
            || addr.octets()[0] >= 240
        {
            return Err(Error::NotUnicast(addr));
        }
        let mut attrs = vip_attrs(addr)?;
        if let Some(count) = garp_count {
            attrs.push(attr(uapi::RINGGATE_A_VIP_GARP_COUNT, count)?);
        }
        self.request("vip-add", uapi::RINGGATE_CMD_VIP_ADD, attrs, false)
            .map(|_| ())
            .map_err(|e| match e {
                Error::Kernel { errno: ENOSPC, .. } => Error::PoolFull,
                other => other,
            })
    }

    /// Removes a VIP from the pool.
    pub fn vip_del(&self, addr: Ipv4Addr) -> Result<(), Error> {
        self.request(
            "vip-del",
            uapi::RINGGATE_CMD_VIP_DEL,
            vip_attrs(addr)?,
            false,
        )
        .map(|_| ())
        .map_err(|e| no_such_vip(e, addr))
    }

    /// Takes (`owned`) or releases a VIP of the pool.
    pub fn vip_set_owned(&self, addr: Ipv4Addr, owned: bool) -> Result<(), Error> {
        let mut attrs = vip_attrs(addr)?;
        attrs.push(attr(uapi::RINGGATE_A_VIP_OWNED, u8::from(owned))?);
        self.request("vip-set", uapi::RINGGATE_CMD_VIP_SET, attrs, false)
            .map(|_| ())
            .map_err(|e| no_such_vip(e, addr))
    }

    /// One VIP of the pool.
    pub fn vip_get(&self, addr: Ipv4Addr) -> Result<Vip, Error> {
        let replies = self
            .request(
                "vip-get",
                uapi::RINGGATE_CMD_VIP_GET,
                vip_attrs(addr)?,
                false,
            )
            .map_err(|e| no_such_vip(e, addr))?;
        let reply = replies.first().ok_or_else(|| Error::Malformed {
            op: "vip-get",
            why: "no reply message".into(),
        })?;
        Vip::from_reply("vip-get", reply)
    }

    /// Creates a service of a VIP in the pool (idempotent).
    pub fn service_set(&self, key: ServiceKey, scheduler: Scheduler) -> Result<(), Error> {
        let mut attrs = service_attrs(key)?;
        attrs.push(attr(uapi::RINGGATE_A_SERVICE_SCHEDULER, scheduler.uapi())?);
        self.request("service-set", uapi::RINGGATE_CMD_SERVICE_SET, attrs, false)
            .map(|_| ())
            .map_err(|e| match e {
                Error::Kernel { errno: ENOENT, .. } => Error::VipNotInPool(key.vip),
                Error::Kernel { errno: ENOSPC, .. } => Error::ServiceTableFull,
                other => other,
            })
    }

    /// Removes a service.
    pub fn service_del(&self, key: ServiceKey) -> Result<(), Error> {
        self.request(
            "service-del",
            uapi::RINGGATE_CMD_SERVICE_DEL,
            service_attrs(key)?,
            false,
        )
        .map(|_| ())
        .map_err(|e| match e {
            Error::Kernel { errno: ENOENT, .. } => Error::NoSuchService(key),
            other => other,
        })
    }

    /// Adds a back-end to a service, or changes its weight or state.
    pub fn backend_set(
        &self,
        key: ServiceKey,
        backend: SocketAddrV4,
        weight: Option<u32>,
        up: Option<bool>,
    ) -> Result<(), Error> {
        let mut attrs = service_attrs(key)?;
        let mut nest = backend_nest(backend)?;
        if let Some(weight) = weight {
            nest = nest
                .nest(&attr(uapi::RINGGATE_A_BACKEND_WEIGHT, weight)?)
                .map_err(|e| Error::Socket(e.to_string()))?;
        }
        if let Some(up) = up {
            nest = nest
                .nest(&attr(uapi::RINGGATE_A_BACKEND_UP, u8::from(up))?)
                .map_err(|e| Error::Socket(e.to_string()))?;
        }
        attrs.push(nest);
        self.request("backend-set", uapi::RINGGATE_CMD_BACKEND_SET, attrs, false)
            .map(|_| ())
            .map_err(|e| match e {
                Error::Kernel { errno: ENOENT, .. } => Error::NoSuchService(key),
                Error::Kernel { errno: ENOSPC, .. } => Error::ServiceTableFull,
                other => other,
            })
    }

    /// Removes a back-end from a service.
    pub fn backend_del(&self, key: ServiceKey, backend: SocketAddrV4) -> Result<(), Error> {
        let mut attrs = service_attrs(key)?;
        attrs.push(backend_nest(backend)?);
        self.request("backend-del", uapi::RINGGATE_CMD_BACKEND_DEL, attrs, false)
            .map(|_| ())
            .map_err(|e| match e {
                Error::Kernel { errno: ENOENT, .. } => Error::NoSuchBackend(key, backend),
                other => other,
            })
    }

    /// Every service with its back-ends.
    pub fn services(&self) -> Result<Vec<Service>, Error> {
        for _ in 0..3 {
            match self.request(
                "service-get",
                uapi::RINGGATE_CMD_SERVICE_GET,
                Attrs::new(),
                true,
            ) {
                Ok(replies) => return replies.iter().map(Service::from_reply).collect(),
                Err(Error::DumpInterrupted) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::DumpInterrupted)
    }

    /// The data plane's settings.
    pub fn config(&self) -> Result<Config, Error> {
        let replies = self.request(
            "config-get",
            uapi::RINGGATE_CMD_CONFIG_GET,
            Attrs::new(),
            false,
        )?;
        let reply = replies.first().ok_or_else(|| Error::Malformed {
            op: "config-get",
            why: "no reply message".into(),
        })?;
        Config::from_reply(reply)
    }

    /// Changes the settings given.
    pub fn config_set(&self, change: &ConfigChange) -> Result<(), Error> {
        let mut attrs = Attrs::new();
        if let Some(id) = change.node_id {
            attrs.push(attr(uapi::RINGGATE_A_CONFIG_NODE_ID, id)?);
        }
        for (kind, value) in [
            (uapi::RINGGATE_A_CONFIG_MAX_SESSIONS, change.max_sessions),
            (uapi::RINGGATE_A_CONFIG_TIMEOUT_SYN, change.timeout_syn),
            (
                uapi::RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED,
                change.timeout_established,
            ),
            (
                uapi::RINGGATE_A_CONFIG_TIMEOUT_CLOSING,
                change.timeout_closing,
            ),
            (uapi::RINGGATE_A_CONFIG_TIMEOUT_UDP, change.timeout_udp),
        ] {
            if let Some(value) = value {
                attrs.push(attr(kind, value)?);
            }
        }
        if let Some(policy) = change.down_policy {
            attrs.push(attr(uapi::RINGGATE_A_CONFIG_DOWN_POLICY, policy.uapi())?);
        }
        self.request("config-set", uapi::RINGGATE_CMD_CONFIG_SET, attrs, false)
            .map(|_| ())
    }

    /// Every live NAT session (a sample: sessions come and go meanwhile).
    pub fn sessions(&self) -> Result<Vec<Session>, Error> {
        let replies = self.request(
            "session-get",
            uapi::RINGGATE_CMD_SESSION_GET,
            Attrs::new(),
            true,
        )?;
        replies.iter().map(Session::from_reply).collect()
    }

    /// Every VIP of the pool, sorted by address. A dump the kernel flags as
    /// interrupted by a concurrent change is retried.
    pub fn vip_list(&self) -> Result<Vec<Vip>, Error> {
        for _ in 0..3 {
            match self.request("vip-get", uapi::RINGGATE_CMD_VIP_GET, Attrs::new(), true) {
                Ok(replies) => {
                    let mut vips = replies
                        .iter()
                        .map(|r| Vip::from_reply("vip-get", r))
                        .collect::<Result<Vec<_>, _>>()?;
                    vips.sort_by_key(|v| v.addr);
                    return Ok(vips);
                }
                Err(Error::DumpInterrupted) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::DumpInterrupted)
    }

    /// The module version and this namespace's hook counters (of one hook, or all).
    pub fn status(&self, hook: Option<Hook>) -> Result<Status, Error> {
        let replies = self.request(
            "status-get",
            uapi::RINGGATE_CMD_STATUS_GET,
            hook_attr(hook)?,
            false,
        )?;
        let reply = replies.first().ok_or_else(|| Error::Malformed {
            op: "status-get",
            why: "no reply message".into(),
        })?;
        Status::from_reply(reply)
    }

    /// Zeroes this namespace's counters (of one hook, or all).
    pub fn reset_counters(&self, hook: Option<Hook>) -> Result<(), Error> {
        self.request(
            "counters-reset",
            uapi::RINGGATE_CMD_COUNTERS_RESET,
            hook_attr(hook)?,
            false,
        )
        .map(|_| ())
    }

    fn request(
        &self,
        op: &'static str,
        cmd: u8,
        attrs: Attrs,
        dump: bool,
    ) -> Result<Vec<Genlmsghdr<u8, u16>>, Error> {
        let genl = GenlmsghdrBuilder::default()
            .cmd(cmd)
            .version(uapi::RINGGATE_FAMILY_VERSION)
            .attrs(attrs)
            .build()
            .map_err(|e| Error::Socket(e.to_string()))?;
        let replies = self
            .router
            .send::<u16, Genlmsghdr<u8, u16>, u16, Genlmsghdr<u8, u16>>(
                self.family,
                if dump {
                    NlmF::DUMP | NlmF::ACK
                } else {
                    NlmF::ACK
                },
                NlPayload::Payload(genl),
            )
            .map_err(|e| kernel_error(op, e))?;
        let mut payloads = Vec::new();
        for reply in replies {
            let reply: Reply = reply.map_err(|e| kernel_error(op, e))?;
            if reply.nl_flags().contains(NlmF::DUMP_INTR) {
                return Err(Error::DumpInterrupted);
            }
            if let NlPayload::Payload(p) = reply.nl_payload() {
                payloads.push(p.clone());
            }
        }
        Ok(payloads)
    }
}

/// One attribute of a request.
fn attr<P: neli::Size + neli::ToBytes + std::fmt::Debug>(
    kind: u16,
    payload: P,
) -> Result<neli::genl::Nlattr<u16, Buffer>, Error> {
    NlattrBuilder::default()
        .nla_type(
            AttrTypeBuilder::default()
                .nla_type(kind)
                .build()
                .map_err(|e| Error::Socket(e.to_string()))?,
        )
        .nla_payload(payload)
        .build()
        .map_err(|e| Error::Socket(e.to_string()))
}

/// The address attribute every VIP request carries, in network byte order.
fn vip_attrs(addr: Ipv4Addr) -> Result<Attrs, Error> {
    let mut attrs = Attrs::new();
    attrs.push(attr(
        uapi::RINGGATE_A_VIP_ADDR,
        u32::from_ne_bytes(addr.octets()),
    )?);
    Ok(attrs)
}

const ENOENT: i32 = 2;
const ENOSPC: i32 = 28;
const EADDRNOTAVAIL: i32 = 99;

fn service_attrs(key: ServiceKey) -> Result<Attrs, Error> {
    let mut attrs = Attrs::new();
    attrs.push(attr(
        uapi::RINGGATE_A_SERVICE_VIP,
        u32::from_ne_bytes(key.vip.octets()),
    )?);
    attrs.push(attr(uapi::RINGGATE_A_SERVICE_PORT, key.port)?);
    attrs.push(attr(uapi::RINGGATE_A_SERVICE_PROTO, key.proto.number())?);
    Ok(attrs)
}

fn backend_nest(backend: SocketAddrV4) -> Result<neli::genl::Nlattr<u16, Buffer>, Error> {
    let nest = NlattrBuilder::default()
        .nla_type(
            AttrTypeBuilder::default()
                .nla_type(uapi::RINGGATE_A_SERVICE_BACKEND)
                .nla_nested(true)
                .build()
                .map_err(|e| Error::Socket(e.to_string()))?,
        )
        .nla_payload(Buffer::new())
        .build()
        .map_err(|e| Error::Socket(e.to_string()))?;
    let addr = attr(
        uapi::RINGGATE_A_BACKEND_ADDR,
        u32::from_ne_bytes(backend.ip().octets()),
    )?;
    let port = attr(uapi::RINGGATE_A_BACKEND_PORT, backend.port())?;
    nest.nest(&addr)
        .and_then(|n| n.nest(&port))
        .map_err(|e| Error::Socket(e.to_string()))
}

/// Names the VIP when the kernel says it is not in the pool, or not on any
/// interface. (The kernel explains its refusals in extack too, but neli
/// drops extack when it types an error.)
fn no_such_vip(e: Error, addr: Ipv4Addr) -> Error {
    match e {
        Error::Kernel { errno: ENOENT, .. } => Error::NoSuchVip(addr),
        Error::Kernel {
            errno: EADDRNOTAVAIL,
            ..
        } => Error::VipNotConfigured(addr),
        other => other,
    }
}

fn hook_attr(hook: Option<Hook>) -> Result<Attrs, Error> {
    let mut attrs = Attrs::new();
    if let Some(hook) = hook {
        let attr = NlattrBuilder::default()
            .nla_type(
                AttrTypeBuilder::default()
                    .nla_type(uapi::RINGGATE_A_STATUS_HOOK)
                    .build()
                    .map_err(|e| Error::Socket(e.to_string()))?,
            )
            .nla_payload(hook.uapi())
            .build()
            .map_err(|e| Error::Socket(e.to_string()))?;
        attrs.push(attr);
    }
    Ok(attrs)
}

fn kernel_error<T: std::fmt::Debug, P: std::fmt::Debug>(
    op: &'static str,
    e: RouterError<T, P>,
) -> Error {
    match e {
        RouterError::Nlmsgerr(err) => {
            let errno = -*err.error();
            match errno {
                libc_errno::EPERM => Error::PermissionDenied(op),
                _ => {
                    // Prefer the kernel's own explanation (extack) when it gave one.
                    let explained = err
                        .ext_ack()
                        .iter()
                        .find(|a| *a.nla_type().nla_type() == NlmsgerrAttr::Msg)
                        .map(|a| {
                            let raw = a.nla_payload().as_ref();
                            String::from_utf8_lossy(raw.strip_suffix(&[0]).unwrap_or(raw))
                                .into_owned()
                        });
                    Error::Kernel {
                        op,
                        errno,
                        message: explained.unwrap_or_else(|| {
                            std::io::Error::from_raw_os_error(errno).to_string()
                        }),
                    }
                }
            }
        }
        other => Error::Socket(format!("{other:?}")),
    }
}

mod libc_errno {
    pub const EPERM: i32 = 1;
}
