//! From a parsed restore file and the namespace's state to the requests
//! that make the one into the other: only what differs is sent (so a file
//! `save` printed, restored onto the state it came from, sends nothing), a
//! missing object is added and an existing one set, and every line is
//! checked against the state and the lines before it before anything is
//! sent.

use ringgate_netlink::{uapi, Backend, ConfigChange, Scheduler, Service, ServiceKey, Vip};

use super::parse::{Action, BadLine, Line};
use crate::state::{Change, State};

/// The garp-count the kernel gives a VIP added without one (the spec's
/// `vip-add` doc), for the state a restore expects after adding it.
const DEFAULT_GARP_COUNT: u32 = 3;
/// The weight and state the kernel gives a back-end added without them.
const DEFAULT_WEIGHT: u32 = 1;

/// One request, with the line it comes from and the request that undoes
/// it (what a restore sends, newest first, when the kernel refuses a later
/// one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub line: usize,
    pub change: Change,
    pub undo: Change,
}

/// The requests `lines` need on `state`, in order, or the first line that
/// cannot be applied to it.
pub(crate) fn plan(state: &State, lines: &[Line]) -> Result<Vec<Step>, BadLine> {
    // The state as it will be after each line, so later lines see earlier
    // ones (a service on a VIP the file adds above it).
    let mut state = state.clone();
    let mut steps = Vec::new();
    for line in lines {
        let before = state.clone();
        let changes = plan_line(&mut state, &line.action).map_err(|why| BadLine {
            number: line.number,
            why,
        })?;
        steps.extend(changes.into_iter().map(|change| Step {
            line: line.number,
            undo: undo(&before, &change),
            change,
        }));
    }
    Ok(steps)
}

/// The request that puts back what `change` changes, from the state
/// before its line. A line's changes touch what existed before it (a set)
/// or what it creates (an add, undone by a delete), so `before` holds every
/// value an undo needs.
fn undo(before: &State, change: &Change) -> Change {
    let vip = |addr| before.vips.iter().find(|v| v.addr == addr);
    let service = |key| before.services.iter().find(|s| s.key == key);
    match change.clone() {
        Change::Config(set) => {
            let c = &before.config;
            Change::Config(ConfigChange {
                node_id: set.node_id.map(|_| c.node_id),
                max_sessions: set.max_sessions.map(|_| c.max_sessions),
                timeout_syn: set.timeout_syn.map(|_| c.timeout_syn),
                timeout_established: set.timeout_established.map(|_| c.timeout_established),
                timeout_closing: set.timeout_closing.map(|_| c.timeout_closing),
                timeout_udp: set.timeout_udp.map(|_| c.timeout_udp),
                down_policy: set.down_policy.map(|_| c.down_policy),
                conntrack: set.conntrack.map(|_| c.conntrack),
            })
        }
        Change::VipAdd { addr, .. } => Change::VipDel { addr },
        Change::VipSet {
            addr,
            owned,
            garp_count,
        } => {
            let old = vip(addr);
            Change::VipSet {
                addr,
                owned: owned.and(old.map(|v| v.owned)),
                garp_count: garp_count.and(old.map(|v| v.garp_count)),
            }
        }
        Change::ServiceAdd { key, .. } => Change::ServiceDel { key },
        Change::ServiceSet { key, scheduler } => Change::ServiceSet {
            key,
            scheduler: service(key).map_or(scheduler, |s| s.scheduler),
        },
        Change::BackendAdd { key, backend, .. } => Change::BackendDel { key, backend },
        Change::BackendSet {
            key,
            backend,
            weight,
            up,
        } => {
            let old = service(key).and_then(|s| s.backends.iter().find(|b| b.addr == backend));
            Change::BackendSet {
                key,
                backend,
                weight: weight.and(old.map(|b| b.weight)),
                up: up.and(old.map(|b| b.up)),
            }
        }
        Change::Snat(_) => Change::Snat(before.snat),
        // A plan never deletes; an undo of an undo is not needed.
        delete
        @ (Change::VipDel { .. } | Change::ServiceDel { .. } | Change::BackendDel { .. }) => delete,
    }
}

fn plan_line(state: &mut State, action: &Action) -> Result<Vec<Change>, String> {
    match action {
        Action::Snat(want) if *want == state.snat => Ok(vec![]),
        Action::Snat(want) => {
            state.snat = *want;
            Ok(vec![Change::Snat(*want)])
        }
        Action::Config(want) => Ok(config(state, want)),
        &Action::Vip {
            addr,
            garp_count,
            create,
        } => {
            let pool_size = state.vips.len();
            match state.vips.iter_mut().find(|v| v.addr == addr) {
                Some(vip) => Ok(match garp_count.filter(|g| *g != vip.garp_count) {
                    Some(g) => {
                        vip.garp_count = g;
                        vec![Change::VipSet {
                            addr,
                            owned: None,
                            garp_count: Some(g),
                        }]
                    }
                    None => vec![],
                }),
                None if create => {
                    if pool_size >= uapi::RINGGATE_MAX_VIPS as usize {
                        return Err(format!(
                            "the VIP pool would hold more than {} VIPs",
                            uapi::RINGGATE_MAX_VIPS
                        ));
                    }
                    state.vips.push(Vip {
                        addr,
                        owned: false,
                        garp_count: garp_count.unwrap_or(DEFAULT_GARP_COUNT),
                        owner_node: 0,
                    });
                    Ok(vec![Change::VipAdd { addr, garp_count }])
                }
                None => Err(no_vip(addr)),
            }
        }
        &Action::VipOwned { addr, owned } => {
            let vip = state
                .vips
                .iter_mut()
                .find(|v| v.addr == addr)
                .ok_or_else(|| no_vip(addr))?;
            if vip.owned == owned {
                return Ok(vec![]);
            }
            vip.owned = owned;
            Ok(vec![Change::VipSet {
                addr,
                owned: Some(owned),
                garp_count: None,
            }])
        }
        &Action::Service {
            key,
            scheduler,
            create,
        } => match state.services.iter_mut().find(|s| s.key == key) {
            Some(service) => match scheduler {
                Some(scheduler) if service.scheduler != scheduler => {
                    service.scheduler = scheduler;
                    Ok(vec![Change::ServiceSet { key, scheduler }])
                }
                _ => Ok(vec![]),
            },
            None if create => {
                add_service(state, key, scheduler.unwrap_or(Scheduler::Wrr))?;
                Ok(vec![Change::ServiceAdd { key, scheduler }])
            }
            None => Err(format!(
                "no service {key} in the namespace or earlier in the file"
            )),
        },
        &Action::Backend {
            key,
            backend,
            weight,
            up,
            create,
        } => {
            let mut changes = Vec::new();
            if !state.services.iter().any(|s| s.key == key) {
                if !create {
                    return Err(format!(
                        "no service {key} in the namespace or earlier in the file"
                    ));
                }
                // As `backend add` on the command line: the service is
                // created (wrr) if needed.
                add_service(state, key, Scheduler::Wrr)?;
                changes.push(Change::ServiceAdd {
                    key,
                    scheduler: None,
                });
            }
            let service = state
                .services
                .iter_mut()
                .find(|s| s.key == key)
                .expect("the service exists or was just added");
            match service.backends.iter_mut().find(|b| b.addr == backend) {
                Some(b) => {
                    let weight = weight.filter(|w| *w != b.weight);
                    let up = up.filter(|u| *u != b.up);
                    if weight.is_some() || up.is_some() {
                        b.weight = weight.unwrap_or(b.weight);
                        b.up = up.unwrap_or(b.up);
                        changes.push(Change::BackendSet {
                            key,
                            backend,
                            weight,
                            up,
                        });
                    }
                }
                None if create => {
                    if service.backends.len() >= uapi::RINGGATE_MAX_BACKENDS as usize {
                        return Err(format!(
                            "service {key} would have more than {} back-ends",
                            uapi::RINGGATE_MAX_BACKENDS
                        ));
                    }
                    service.backends.push(Backend {
                        addr: backend,
                        weight: weight.unwrap_or(DEFAULT_WEIGHT),
                        up: up.unwrap_or(true),
                        active_conns: 0,
                        inactive_conns: 0,
                        traffic: None,
                    });
                    changes.push(Change::BackendAdd {
                        key,
                        backend,
                        weight,
                        up,
                    });
                }
                None => {
                    return Err(format!(
                        "no back-end {backend} in service {key} in the namespace or earlier in the file"
                    ))
                }
            }
            Ok(changes)
        }
    }
}

fn no_vip(addr: std::net::Ipv4Addr) -> String {
    format!("no VIP {addr} in the pool or earlier in the file")
}

fn add_service(state: &mut State, key: ServiceKey, scheduler: Scheduler) -> Result<(), String> {
    if !state.vips.iter().any(|v| v.addr == key.vip) {
        return Err(format!(
            "VIP {} is neither in the pool nor added earlier in the file",
            key.vip
        ));
    }
    if state.services.len() >= uapi::RINGGATE_MAX_SERVICES as usize {
        return Err(format!(
            "the namespace would have more than {} services",
            uapi::RINGGATE_MAX_SERVICES
        ));
    }
    state.services.push(Service {
        key,
        scheduler,
        backends: Vec::new(),
    });
    Ok(())
}

/// The settings of `want` that differ from the state's, as one change.
fn config(state: &mut State, want: &ConfigChange) -> Vec<Change> {
    fn differing<T: PartialEq + Copy>(want: Option<T>, have: &mut T) -> Option<T> {
        let change = want.filter(|w| w != have);
        if let Some(value) = change {
            *have = value;
        }
        change
    }
    let c = &mut state.config;
    let change = ConfigChange {
        node_id: differing(want.node_id, &mut c.node_id),
        max_sessions: differing(want.max_sessions, &mut c.max_sessions),
        timeout_syn: differing(want.timeout_syn, &mut c.timeout_syn),
        timeout_established: differing(want.timeout_established, &mut c.timeout_established),
        timeout_closing: differing(want.timeout_closing, &mut c.timeout_closing),
        timeout_udp: differing(want.timeout_udp, &mut c.timeout_udp),
        down_policy: differing(want.down_policy, &mut c.down_policy),
        conntrack: differing(want.conntrack, &mut c.conntrack),
    };
    if change == ConfigChange::default() {
        vec![]
    } else {
        vec![Change::Config(change)]
    }
}
