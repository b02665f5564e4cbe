//! Services and their back-ends: requests and the decoding of the dump.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::{name_or_number, Decoder};
use crate::names::Set;
use crate::spec_enum::spec_enum;
use crate::wire::{attrs, Builder};
use crate::{Client, Error};

/// A service's IP protocol: TCP, UDP, or a number this build has no name for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    /// A protocol a newer module may serve, by its IP protocol number.
    Unknown(u8),
}

impl Proto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Unknown(n) => n,
        }
    }

    pub(crate) fn from_number(n: u8) -> Proto {
        match n {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            n => Proto::Unknown(n),
        }
    }

    /// `tcp` or `udp`; `None` for another protocol.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Proto::Tcp => Some("tcp"),
            Proto::Udp => Some("udp"),
            Proto::Unknown(_) => None,
        }
    }
}

/// The name, or the number of a protocol without one here.
impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.pad(name),
            None => f.pad(&self.number().to_string()),
        }
    }
}

impl Serialize for Proto {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        name_or_number(self.name(), u32::from(self.number()), s)
    }
}

impl std::str::FromStr for Proto {
    type Err = String;
    fn from_str(s: &str) -> Result<Proto, String> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            other => Err(format!("unknown protocol {other:?} (tcp or udp)")),
        }
    }
}

spec_enum! {
    /// How a service picks the back-end of a new connection.
    #[derive(Default)]
    pub enum Scheduler ("scheduler", uapi::RINGGATE_SCHEDULER_NAMES) {
        /// Weighted round-robin.
        #[default]
        Wrr = uapi::RINGGATE_SCHEDULER_WRR,
        /// Consistent hashing of the client address (Maglev).
        Hash = uapi::RINGGATE_SCHEDULER_HASH,
        /// Weighted least-connections.
        Lc = uapi::RINGGATE_SCHEDULER_LC,
    }
}

/// What names a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceKey {
    pub vip: Ipv4Addr,
    pub port: u16,
    pub proto: Proto,
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.vip, self.port, self.proto)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backend {
    pub addr: SocketAddrV4,
    pub weight: u32,
    pub up: bool,
    /// Sessions opening, established or UDP.
    pub active_conns: u32,
    /// Sessions closing or reset, not yet expired.
    pub inactive_conns: u32,
    /// What the back-end carried since it took its slot; `None` from a
    /// module too old to count it.
    pub traffic: Option<Traffic>,
}

/// A back-end's cumulative counters (`ipvsadm -L --stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Connections (sessions) opened to it.
    pub conns: u64,
    /// Client to back-end.
    pub packets_in: u64,
    pub bytes_in: u64,
    /// Back-end to client.
    pub packets_out: u64,
    pub bytes_out: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    #[serde(flatten)]
    pub key: ServiceKey,
    pub scheduler: Scheduler,
    pub backends: Vec<Backend>,
}

const OP: &str = "service-get";

fn backend(payload: &[u8]) -> Result<Backend, Error> {
    let d = Decoder {
        op: OP,
        set: Set::BACKEND,
    };
    let (mut addr, mut port, mut weight, mut up) = (None, None, None, None);
    let (mut active_conns, mut inactive_conns) = (None, None);
    let mut counts: [Option<u64>; 5] = [None; 5];
    for attr in attrs(payload) {
        let (k, p) = (attr.kind, attr.payload);
        match k {
            uapi::RINGGATE_A_BACKEND_ADDR => addr = Some(d.addr(k, p)?),
            uapi::RINGGATE_A_BACKEND_PORT => port = Some(d.u16(k, p)?),
            uapi::RINGGATE_A_BACKEND_WEIGHT => weight = Some(d.u32(k, p)?),
            uapi::RINGGATE_A_BACKEND_UP => up = Some(d.u8(k, p)? == 1),
            uapi::RINGGATE_A_BACKEND_ACTIVE_CONNS => active_conns = Some(d.u32(k, p)?),
            uapi::RINGGATE_A_BACKEND_INACTIVE_CONNS => inactive_conns = Some(d.u32(k, p)?),
            uapi::RINGGATE_A_BACKEND_CONNS => counts[0] = Some(d.uint(k, p)?),
            uapi::RINGGATE_A_BACKEND_PACKETS_IN => counts[1] = Some(d.uint(k, p)?),
            uapi::RINGGATE_A_BACKEND_BYTES_IN => counts[2] = Some(d.uint(k, p)?),
            uapi::RINGGATE_A_BACKEND_PACKETS_OUT => counts[3] = Some(d.uint(k, p)?),
            uapi::RINGGATE_A_BACKEND_BYTES_OUT => counts[4] = Some(d.uint(k, p)?),
            // Attributes a newer module adds are skipped, not fatal.
            _ => {}
        }
    }
    Ok(Backend {
        addr: SocketAddrV4::new(
            d.need(uapi::RINGGATE_A_BACKEND_ADDR, addr)?,
            d.need(uapi::RINGGATE_A_BACKEND_PORT, port)?,
        ),
        weight: d.need(uapi::RINGGATE_A_BACKEND_WEIGHT, weight)?,
        up: d.need(uapi::RINGGATE_A_BACKEND_UP, up)?,
        active_conns: d.need(uapi::RINGGATE_A_BACKEND_ACTIVE_CONNS, active_conns)?,
        inactive_conns: d.need(uapi::RINGGATE_A_BACKEND_INACTIVE_CONNS, inactive_conns)?,
        // All or nothing: a module either counts a back-end's traffic or not.
        traffic: match counts {
            [Some(conns), Some(packets_in), Some(bytes_in), Some(packets_out), Some(bytes_out)] => {
                Some(Traffic {
                    conns,
                    packets_in,
                    bytes_in,
                    packets_out,
                    bytes_out,
                })
            }
            _ => None,
        },
    })
}

impl Service {
    pub(crate) fn decode(payload: &[u8]) -> Result<Service, Error> {
        let d = Decoder {
            op: OP,
            set: Set::SERVICE,
        };
        let (mut vip, mut port, mut proto, mut scheduler) = (None, None, None, None);
        let mut backends = Vec::new();
        for attr in attrs(payload) {
            let (k, p) = (attr.kind, attr.payload);
            match k {
                uapi::RINGGATE_A_SERVICE_VIP => vip = Some(d.addr(k, p)?),
                uapi::RINGGATE_A_SERVICE_PORT => port = Some(d.u16(k, p)?),
                uapi::RINGGATE_A_SERVICE_PROTO => proto = Some(Proto::from_number(d.u8(k, p)?)),
                uapi::RINGGATE_A_SERVICE_SCHEDULER => {
                    scheduler = Some(Scheduler::from_uapi(d.u32(k, p)?))
                }
                uapi::RINGGATE_A_SERVICE_BACKENDS => backends.push(backend(p)?),
                _ => {}
            }
        }
        Ok(Service {
            key: ServiceKey {
                vip: d.need(uapi::RINGGATE_A_SERVICE_VIP, vip)?,
                port: d.need(uapi::RINGGATE_A_SERVICE_PORT, port)?,
                proto: d.need(uapi::RINGGATE_A_SERVICE_PROTO, proto)?,
            },
            scheduler: d.need(uapi::RINGGATE_A_SERVICE_SCHEDULER, scheduler)?,
            backends,
        })
    }
}

fn put_key(request: &mut Builder, key: ServiceKey) {
    request
        .put(uapi::RINGGATE_A_SERVICE_VIP, &key.vip.octets())
        .put_u16(uapi::RINGGATE_A_SERVICE_PORT, key.port)
        .put_u8(uapi::RINGGATE_A_SERVICE_PROTO, key.proto.number());
}

/// The back-end nest of `backend-set` and `backend-del`.
fn put_backend(request: &mut Builder, backend: SocketAddrV4, fill: impl FnOnce(&mut Builder)) {
    request.nest(uapi::RINGGATE_A_SERVICE_BACKEND, |n| {
        n.put(uapi::RINGGATE_A_BACKEND_ADDR, &backend.ip().octets())
            .put_u16(uapi::RINGGATE_A_BACKEND_PORT, backend.port());
        fill(n);
    });
}

const ENOENT: i32 = 2;
const EEXIST: i32 = 17;
const ENOSPC: i32 = 28;

/// The typed errors of service and back-end changes, where the module has
/// one cause for the errno (its extack says the same). `enoent` is what
/// ENOENT means for the request, if it has one meaning only; otherwise the
/// kernel's own words say which cause it was.
fn about_service(enoent: Option<Error>) -> impl FnOnce(i32) -> Option<Error> {
    move |errno| match errno {
        ENOENT => enoent,
        ENOSPC => Some(Error::ServiceTableFull),
        _ => None,
    }
}

impl Client {
    /// Creates a service of a VIP in the pool (wrr unless `scheduler` says
    /// otherwise). An existing service is refused by the kernel (EEXIST)
    /// and left as it is.
    pub fn service_add(&self, key: ServiceKey, scheduler: Option<Scheduler>) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_SERVICE_ADD,
            |r| {
                put_key(r, key);
                if let Some(scheduler) = scheduler {
                    r.put_u32(uapi::RINGGATE_A_SERVICE_SCHEDULER, scheduler.uapi());
                }
            },
            &mut |_| Ok(()),
        )
        .map_err(|e| e.refine(about_service(Some(Error::VipNotInPool(key.vip)))))
    }

    /// Creates the service `key` (wrr) unless it exists; an existing one is
    /// left exactly as it is. It is one request, so two callers that race
    /// to create the same service both succeed (a dump, then an add, fails
    /// one of them).
    pub fn service_ensure(&self, key: ServiceKey) -> Result<(), Error> {
        match self.service_add(key, None) {
            Err(Error::Kernel(k)) if k.errno == EEXIST => Ok(()),
            other => other,
        }
    }

    /// Changes an existing service's scheduler. A missing service and a
    /// VIP not in the pool are both refused with ENOENT, so the kernel's
    /// own words say which it was.
    pub fn service_set(&self, key: ServiceKey, scheduler: Scheduler) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_SERVICE_SET,
            |r| {
                put_key(r, key);
                r.put_u32(uapi::RINGGATE_A_SERVICE_SCHEDULER, scheduler.uapi());
            },
            &mut |_| Ok(()),
        )
        // ENOENT: no such service, or its VIP is not in the pool.
        .map_err(|e| e.refine(about_service(None)))
    }

    /// Removes a service.
    pub fn service_del(&self, key: ServiceKey) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_SERVICE_DEL,
            |r| put_key(r, key),
            &mut |_| Ok(()),
        )
        .map_err(|e| e.refine(about_service(Some(Error::NoSuchService(key)))))
    }

    /// Adds a back-end to an existing service (weight 1 unless given; up
    /// unless `up` says down, so a back-end can be added drained). One
    /// already there is refused by the kernel (EEXIST) and left as it is:
    /// re-adding never brings a drained back-end up.
    pub fn backend_add(
        &self,
        key: ServiceKey,
        backend: SocketAddrV4,
        weight: Option<u32>,
        up: Option<bool>,
    ) -> Result<(), Error> {
        self.backend_request(uapi::RINGGATE_CMD_BACKEND_ADD, key, backend, weight, up)
    }

    /// Changes a back-end's weight or state (those given); a back-end not
    /// in the service is refused (ENOENT, in the kernel's words).
    pub fn backend_set(
        &self,
        key: ServiceKey,
        backend: SocketAddrV4,
        weight: Option<u32>,
        up: Option<bool>,
    ) -> Result<(), Error> {
        self.backend_request(uapi::RINGGATE_CMD_BACKEND_SET, key, backend, weight, up)
    }

    fn backend_request(
        &self,
        cmd: u8,
        key: ServiceKey,
        backend: SocketAddrV4,
        weight: Option<u32>,
        up: Option<bool>,
    ) -> Result<(), Error> {
        self.call(
            cmd,
            |r| {
                put_key(r, key);
                put_backend(r, backend, |n| {
                    if let Some(weight) = weight {
                        n.put_u32(uapi::RINGGATE_A_BACKEND_WEIGHT, weight);
                    }
                    if let Some(up) = up {
                        n.put_u8(uapi::RINGGATE_A_BACKEND_UP, u8::from(up));
                    }
                });
            },
            &mut |_| Ok(()),
        )
        // The kernel's own words say which is missing, the service or the
        // back-end, or which table is full.
    }

    /// Removes a back-end from a service. The kernel's ENOENT here means
    /// "no such service or back-end", so its own words are kept.
    pub fn backend_del(&self, key: ServiceKey, backend: SocketAddrV4) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_BACKEND_DEL,
            |r| {
                put_key(r, key);
                put_backend(r, backend, |_| {});
            },
            &mut |_| Ok(()),
        )
    }

    /// Every service with its back-ends. A dump the kernel flags as
    /// interrupted by a concurrent change is read to its end and tried again.
    pub fn services(&self) -> Result<Vec<Service>, Error> {
        self.dump_consistent(
            uapi::RINGGATE_CMD_SERVICE_GET,
            "service table",
            Service::decode,
        )
    }
}
