//! One change to the VIPs, services or back-ends, agreed as such: the
//! operator's `ringgatectl vip|service|backend` on a gateway. Unlike a
//! whole configuration (`ConfigChange`, made against a version), an edit
//! travels on the ring and is applied in agreed order to the configuration
//! in force there, so whether its object exists is decided by the cluster,
//! not by the copy of the node the operator asked, and edits of different
//! objects made at once never conflict.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::codec::{DecodeError, Reader, Writer};
use crate::config::{Backend, ClusterConfig, ConfigError, Service, ServiceMode, VipConfig};
use crate::model::Vip;

/// What every node's module holds (the kernel module's UAPI limits, which
/// `ringgated` checks these against at compile time). An edit beyond them
/// would be refused by every module, so it is refused by the cluster.
pub const MODULE_MAX_VIPS: usize = 256;
pub const MODULE_MAX_SERVICES: usize = 32;
pub const MODULE_MAX_BACKENDS: usize = 32;

/// The scheduler a service created by an edit gets (the module's default).
pub const DEFAULT_SCHEDULER: &str = "wrr";

/// The service an edit is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRef {
    pub vip: Vip,
    pub proto: u8,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigEdit {
    AddVip(Vip),
    /// Refused while the VIP has services: removing a VIP should not take
    /// its services along unnoticed (stricter than the module alone).
    DelVip(Vip),
    AddService(ServiceRef, Option<String>),
    /// Creates an HTTP-mode service (scheduler wrr): `ringgate-l7d`
    /// serves it (see `ServiceMode::Http`).
    AddHttpService(ServiceRef),
    SetService(ServiceRef, String),
    DelService(ServiceRef),
    /// Creates the service (with the default scheduler) if it is not
    /// there, as the module-alone command does.
    AddBackend(ServiceRef, SocketAddrV4, Option<u32>),
    SetBackend(ServiceRef, SocketAddrV4, u32),
    DelBackend(ServiceRef, SocketAddrV4),
}

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The one wording of "not there", which `ringgatectl` turns into its
    /// not-found exit status, as it does the module's ENOENT.
    #[error("{0} is not in the cluster's configuration")]
    NotFound(String),
    #[error("{0} is already in the cluster's configuration")]
    Exists(String),
    #[error("VIP {0} still has {1} service(s); remove them first")]
    VipInUse(Vip, usize),
    #[error("{what}: {count}, more than every node's module holds ({max})")]
    Capacity {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("invalid configuration: {0}")]
    Invalid(#[from] ConfigError),
}

impl ServiceRef {
    fn matches(&self, service: &Service) -> bool {
        service.proto == self.proto && service.port == self.port
    }

    fn name(&self) -> String {
        let proto = match self.proto {
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            n => n.to_string(),
        };
        format!("service {}:{} {proto}", self.vip, self.port)
    }
}

impl ConfigEdit {
    /// The configuration with this edit made (its version unchanged: the
    /// caller gives the next one), checked as any configuration is and
    /// against what every module holds.
    pub fn apply(&self, config: &ClusterConfig) -> Result<ClusterConfig, EditError> {
        let mut next = config.clone();
        match self {
            ConfigEdit::AddVip(vip) => {
                if next.vips.iter().any(|v| v.addr == *vip) {
                    return Err(EditError::Exists(format!("VIP {vip}")));
                }
                next.vips.push(VipConfig {
                    addr: *vip,
                    services: Vec::new(),
                });
            }
            ConfigEdit::DelVip(vip) => {
                let at = vip_index(&next, *vip)?;
                match next.vips[at].services.len() {
                    0 => {
                        next.vips.remove(at);
                    }
                    n => return Err(EditError::VipInUse(*vip, n)),
                }
            }
            ConfigEdit::AddService(key, scheduler) => {
                let vip = vip_entry(&mut next, key.vip)?;
                if vip.services.iter().any(|s| key.matches(s)) {
                    return Err(EditError::Exists(key.name()));
                }
                vip.services.push(new_service(key, scheduler.clone()));
            }
            ConfigEdit::AddHttpService(key) => {
                let vip = vip_entry(&mut next, key.vip)?;
                if vip.services.iter().any(|s| key.matches(s)) {
                    return Err(EditError::Exists(key.name()));
                }
                let mut service = new_service(key, None);
                service.mode = ServiceMode::Http;
                vip.services.push(service);
            }
            ConfigEdit::SetService(key, scheduler) => {
                service_entry(&mut next, key)?.scheduler = scheduler.clone();
            }
            ConfigEdit::DelService(key) => {
                let vip = vip_entry(&mut next, key.vip)?;
                let at = vip
                    .services
                    .iter()
                    .position(|s| key.matches(s))
                    .ok_or_else(|| EditError::NotFound(key.name()))?;
                vip.services.remove(at);
            }
            ConfigEdit::AddBackend(key, addr, weight) => {
                let vip = vip_entry(&mut next, key.vip)?;
                if !vip.services.iter().any(|s| key.matches(s)) {
                    vip.services.push(new_service(key, None));
                }
                let service = service_entry(&mut next, key)?;
                if backend_index(service, *addr).is_some() {
                    return Err(EditError::Exists(format!(
                        "back-end {addr} of {}",
                        key.name()
                    )));
                }
                service.backends.push(Backend {
                    addr: *addr.ip(),
                    port: addr.port(),
                    weight: weight.unwrap_or(1),
                });
            }
            ConfigEdit::SetBackend(key, addr, weight) => {
                let service = service_entry(&mut next, key)?;
                let at = backend_of(service, key, *addr)?;
                service.backends[at].weight = *weight;
            }
            ConfigEdit::DelBackend(key, addr) => {
                let service = service_entry(&mut next, key)?;
                let at = backend_of(service, key, *addr)?;
                service.backends.remove(at);
            }
        }
        check_capacity(&next)?;
        next.validate()?;
        Ok(next)
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        match self {
            ConfigEdit::AddVip(vip) => w.u8(1).ip(*vip),
            ConfigEdit::DelVip(vip) => w.u8(2).ip(*vip),
            ConfigEdit::AddService(key, scheduler) => {
                key.encode(w.u8(3));
                w.bool(scheduler.is_some());
                w.str(scheduler.as_deref().unwrap_or(""))
            }
            ConfigEdit::SetService(key, scheduler) => {
                key.encode(w.u8(4));
                w.str(scheduler)
            }
            ConfigEdit::DelService(key) => {
                key.encode(w.u8(5));
                w
            }
            ConfigEdit::AddBackend(key, addr, weight) => {
                key.encode(w.u8(6));
                w.ip(*addr.ip()).u16(addr.port());
                w.bool(weight.is_some()).u32(weight.unwrap_or(0))
            }
            ConfigEdit::SetBackend(key, addr, weight) => {
                key.encode(w.u8(7));
                w.ip(*addr.ip()).u16(addr.port()).u32(*weight)
            }
            ConfigEdit::DelBackend(key, addr) => {
                key.encode(w.u8(8));
                w.ip(*addr.ip()).u16(addr.port())
            }
            ConfigEdit::AddHttpService(key) => {
                key.encode(w.u8(9));
                w
            }
        };
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let addr = |r: &mut Reader| -> Result<SocketAddrV4, DecodeError> {
            Ok(SocketAddrV4::new(r.ip()?, r.u16()?))
        };
        Ok(match r.u8()? {
            1 => ConfigEdit::AddVip(r.ip()?),
            2 => ConfigEdit::DelVip(r.ip()?),
            3 => {
                let key = ServiceRef::decode(r)?;
                let given = r.bool()?;
                let scheduler = r.str()?;
                ConfigEdit::AddService(key, given.then_some(scheduler))
            }
            4 => ConfigEdit::SetService(ServiceRef::decode(r)?, r.str()?),
            5 => ConfigEdit::DelService(ServiceRef::decode(r)?),
            9 => ConfigEdit::AddHttpService(ServiceRef::decode(r)?),
            6 => {
                let key = ServiceRef::decode(r)?;
                let at = addr(r)?;
                let given = r.bool()?;
                let weight = r.u32()?;
                ConfigEdit::AddBackend(key, at, given.then_some(weight))
            }
            7 => ConfigEdit::SetBackend(ServiceRef::decode(r)?, addr(r)?, r.u32()?),
            8 => ConfigEdit::DelBackend(ServiceRef::decode(r)?, addr(r)?),
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "configuration edit",
                    tag,
                })
            }
        })
    }
}

impl ServiceRef {
    fn encode(&self, w: &mut Writer) {
        w.ip(self.vip).u8(self.proto).u16(self.port);
    }

    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ServiceRef {
            vip: r.ip()?,
            proto: r.u8()?,
            port: r.u16()?,
        })
    }
}

fn check_capacity(config: &ClusterConfig) -> Result<(), EditError> {
    let over = |what, count, max| {
        if count > max {
            Err(EditError::Capacity { what, count, max })
        } else {
            Ok(())
        }
    };
    over("VIPs", config.vips.len(), MODULE_MAX_VIPS)?;
    let services = config.vips.iter().map(|v| v.services.len()).sum();
    over("services in all", services, MODULE_MAX_SERVICES)?;
    for s in config.vips.iter().flat_map(|v| &v.services) {
        over(
            "back-ends of one service",
            s.backends.len(),
            MODULE_MAX_BACKENDS,
        )?;
    }
    Ok(())
}

fn new_service(key: &ServiceRef, scheduler: Option<String>) -> Service {
    Service {
        proto: key.proto,
        port: key.port,
        scheduler: scheduler.unwrap_or_else(|| DEFAULT_SCHEDULER.into()),
        backends: Vec::new(),
        health: None,
        mode: ServiceMode::Nat,
    }
}

fn vip_index(config: &ClusterConfig, vip: Ipv4Addr) -> Result<usize, EditError> {
    config
        .vips
        .iter()
        .position(|v| v.addr == vip)
        .ok_or_else(|| EditError::NotFound(format!("VIP {vip}")))
}

fn vip_entry(config: &mut ClusterConfig, vip: Ipv4Addr) -> Result<&mut VipConfig, EditError> {
    let at = vip_index(config, vip)?;
    Ok(&mut config.vips[at])
}

fn service_entry<'a>(
    config: &'a mut ClusterConfig,
    key: &ServiceRef,
) -> Result<&'a mut Service, EditError> {
    vip_entry(config, key.vip)?
        .services
        .iter_mut()
        .find(|s| key.matches(s))
        .ok_or_else(|| EditError::NotFound(key.name()))
}

fn backend_index(service: &Service, addr: SocketAddrV4) -> Option<usize> {
    service
        .backends
        .iter()
        .position(|b| b.addr == *addr.ip() && b.port == addr.port())
}

fn backend_of(service: &Service, key: &ServiceRef, addr: SocketAddrV4) -> Result<usize, EditError> {
    backend_index(service, addr)
        .ok_or_else(|| EditError::NotFound(format!("back-end {addr} of {}", key.name())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
    const HTTP: ServiceRef = ServiceRef {
        vip: VIP,
        proto: 6,
        port: 80,
    };
    const DNS: ServiceRef = ServiceRef {
        vip: VIP,
        proto: 17,
        port: 53,
    };

    fn be(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, last), port)
    }

    fn base() -> ClusterConfig {
        let mut c = ClusterConfig::empty();
        c.version = 4;
        c
    }

    fn apply_all(edits: &[ConfigEdit]) -> Result<ClusterConfig, EditError> {
        edits.iter().try_fold(base(), |c, e| e.apply(&c))
    }

    #[test]
    fn a_vip_service_and_backend_are_added_changed_and_removed() {
        let c = apply_all(&[
            ConfigEdit::AddVip(VIP),
            ConfigEdit::AddBackend(HTTP, be(2, 8080), Some(5)),
        ])
        .unwrap();
        let s = &c.vips[0].services[0];
        assert_eq!((s.proto, s.port, s.scheduler.as_str()), (6, 80, "wrr"));
        let b = s.backends[0];
        assert_eq!((b.addr, b.port, b.weight), (*be(2, 0).ip(), 8080, 5));
        assert_eq!(c.version, 4, "the caller gives the next version");
        let c = ConfigEdit::SetBackend(HTTP, be(2, 8080), 7)
            .apply(&c)
            .unwrap();
        assert_eq!(c.vips[0].services[0].backends[0].weight, 7);
        let c = ConfigEdit::SetService(HTTP, "hash".into())
            .apply(&c)
            .unwrap();
        assert_eq!(c.vips[0].services[0].scheduler, "hash");
        let c = [
            ConfigEdit::DelBackend(HTTP, be(2, 8080)),
            ConfigEdit::DelService(HTTP),
            ConfigEdit::DelVip(VIP),
        ]
        .iter()
        .try_fold(c, |c, e| e.apply(&c))
        .unwrap();
        assert_eq!(c, base());
    }

    #[test]
    fn an_edit_that_does_not_fit_is_refused_with_the_reason() {
        let c = apply_all(&[
            ConfigEdit::AddVip(VIP),
            ConfigEdit::AddService(DNS, Some("lc".into())),
            ConfigEdit::AddBackend(DNS, be(2, 53), None),
        ])
        .unwrap();
        let other = Ipv4Addr::new(10, 0, 0, 101);
        for (edit, reason) in [
            (ConfigEdit::AddVip(VIP), "VIP 10.0.0.100 is already in"),
            (
                ConfigEdit::DelVip(other),
                "VIP 10.0.0.101 is not in the cluster's configuration",
            ),
            (ConfigEdit::DelVip(VIP), "still has 1 service(s)"),
            (ConfigEdit::AddService(DNS, None), "is already in"),
            (
                ConfigEdit::SetService(HTTP, "wrr".into()),
                "service 10.0.0.100:80 tcp is not in the cluster's configuration",
            ),
            (
                ConfigEdit::SetBackend(DNS, be(3, 53), 3),
                "back-end 10.1.0.3:53 of service 10.0.0.100:53 udp is not in",
            ),
            (
                ConfigEdit::AddBackend(DNS, be(2, 53), None),
                "is already in",
            ),
            (ConfigEdit::DelBackend(HTTP, be(2, 53)), "is not in"),
        ] {
            let e = edit.apply(&c).unwrap_err().to_string();
            assert!(e.contains(reason), "{edit:?}: {e}");
        }
    }

    #[test]
    fn an_edit_beyond_what_every_module_holds_is_refused() {
        let mut c = apply_all(&[ConfigEdit::AddVip(VIP)]).unwrap();
        for i in 0..MODULE_MAX_BACKENDS as u8 {
            c = ConfigEdit::AddBackend(HTTP, be(i, 80), None)
                .apply(&c)
                .unwrap();
        }
        let e = ConfigEdit::AddBackend(HTTP, be(200, 80), None)
            .apply(&c)
            .unwrap_err();
        assert!(matches!(e, EditError::Capacity { count: 33, .. }), "{e}");
    }

    #[test]
    fn every_edit_round_trips() {
        for edit in [
            ConfigEdit::AddVip(VIP),
            ConfigEdit::DelVip(VIP),
            ConfigEdit::AddService(HTTP, None),
            ConfigEdit::AddService(DNS, Some("hash".into())),
            ConfigEdit::SetService(HTTP, "lc".into()),
            ConfigEdit::DelService(DNS),
            ConfigEdit::AddBackend(HTTP, be(1, 81), None),
            ConfigEdit::AddBackend(HTTP, be(1, 81), Some(9)),
            ConfigEdit::SetBackend(DNS, be(2, 53), 1000),
            ConfigEdit::DelBackend(DNS, be(2, 53)),
            ConfigEdit::AddHttpService(HTTP),
        ] {
            let mut w = Writer::default();
            edit.encode(&mut w);
            let bytes = w.finish();
            let mut r = Reader::new(&bytes);
            assert_eq!(ConfigEdit::decode(&mut r), Ok(edit.clone()));
            r.finish().unwrap();
        }
    }

    #[test]
    fn an_http_service_is_added_by_its_own_edit_and_keeps_wrr() {
        let c = apply_all(&[ConfigEdit::AddVip(VIP), ConfigEdit::AddHttpService(HTTP)]).unwrap();
        let s = &c.vips[0].services[0];
        assert_eq!((s.mode, s.scheduler.as_str()), (ServiceMode::Http, "wrr"));
        // The proxy has only weighted round robin; UDP is no HTTP.
        let e = ConfigEdit::SetService(HTTP, "hash".into())
            .apply(&c)
            .unwrap_err();
        assert!(e.to_string().contains("HTTP mode needs TCP"), "{e}");
        let e = ConfigEdit::AddHttpService(DNS).apply(&c).unwrap_err();
        assert!(e.to_string().contains("HTTP mode needs TCP"), "{e}");
        let e = ConfigEdit::AddHttpService(HTTP).apply(&c).unwrap_err();
        assert!(e.to_string().contains("is already in"), "{e}");
    }
}
