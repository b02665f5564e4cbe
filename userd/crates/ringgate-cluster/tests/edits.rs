//! Configuration edits (`ringgatectl vip|service|backend` on a gateway)
//! are agreed as edits: each is applied to the configuration in force
//! where the ring orders it, so whether its object exists is the
//! cluster's answer, not the asking node's, and an operator told "ok" finds
//! the asking node's module already changed.

#[allow(dead_code)]
mod support {
    pub mod bus;
}

use std::net::SocketAddrV4;

use ringgate_cluster::config::{ConfigEdit, ServiceRef, Settings};
use ringgate_cluster::state::CommandError;
use ringgate_cluster::{Command, ModuleAction, Output};
use support::bus::{config, vip, Bus};

fn done(bus: &Bus, node: u16, request: u64) -> Option<Result<(), CommandError>> {
    bus.outputs[&node].iter().find_map(|o| match o {
        Output::CommandDone { request: r, result } if *r == request => Some(result.clone()),
        _ => None,
    })
}

#[test]
fn edits_from_two_nodes_at_once_both_apply_in_agreed_order() {
    let c = config(&[(1, 100), (2, 100), (3, 100)], 2, Settings::default());
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2, 3]]);
    let base = bus.nodes[&1].state().config.version;
    let http = ServiceRef {
        vip: vip(9),
        proto: 6,
        port: 80,
    };
    let be: SocketAddrV4 = "10.8.0.2:8080".parse().unwrap();
    let now = bus.now;
    // Node 3 asks for a back-end of a VIP that exists nowhere yet, after
    // node 1 asked for the VIP and before anyone delivered it: as
    // configuration replacements against a version, the second would be
    // refused; as edits, the ring orders them and both apply.
    let add_vip = bus
        .node(1)
        .command(now, Command::EditConfig(ConfigEdit::AddVip(vip(9))));
    let add_backend = bus.node(3).command(
        now,
        Command::EditConfig(ConfigEdit::AddBackend(http, be, Some(4))),
    );
    bus.settle();
    assert_eq!(done(&bus, 1, add_vip), Some(Ok(())));
    assert_eq!(done(&bus, 3, add_backend), Some(Ok(())));
    for id in [1, 2, 3] {
        let config = &bus.nodes[&id].state().config;
        assert_eq!(config.version, base + 2, "node {id}: one version per edit");
        let added = config.vips.iter().find(|v| v.addr == vip(9)).unwrap();
        assert_eq!(added.services[0].backends[0].weight, 4, "node {id}");
    }
    // The same back-end again is refused by the cluster, with the reason.
    let now = bus.now;
    let again = bus.node(2).command(
        now,
        Command::EditConfig(ConfigEdit::AddBackend(http, be, None)),
    );
    bus.settle();
    let refused = done(&bus, 2, again).unwrap().unwrap_err().to_string();
    assert!(refused.contains("already in"), "{refused}");
    assert_eq!(bus.nodes[&2].state().config.version, base + 2);
}

/// Three nodes in one ring; node 1 is asked for `command` (made from the
/// configuration version before it), and its answer must come after the
/// module change to the next version.
fn answered_after_the_module_change(command: impl FnOnce(u64, &Bus) -> Command) {
    let c = config(&[(1, 100), (2, 100), (3, 100)], 2, Settings::default());
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2, 3]]);
    let base = bus.nodes[&1].state().config.version;
    let command = command(base, &bus);
    let now = bus.now;
    let request = bus.node(1).command(now, command);
    bus.settle();
    let outputs = &bus.outputs[&1];
    let answered = outputs
        .iter()
        .position(|o| matches!(o, Output::CommandDone { request: r, .. } if *r == request))
        .expect("answered");
    let applied = outputs
        .iter()
        .position(
            |o| matches!(o, Output::Module(ModuleAction::ApplyConfig(c)) if c.version == base + 1),
        )
        .expect("applied to the module");
    assert!(
        applied < answered,
        "the answer (output {answered}) came before the module change (output {applied})"
    );
}

#[test]
fn an_edit_is_answered_after_the_asking_nodes_module_applied_it() {
    answered_after_the_module_change(|_, _| Command::EditConfig(ConfigEdit::AddVip(vip(9))));
}

#[test]
fn a_whole_configuration_change_is_answered_after_the_module_applied_it_too() {
    answered_after_the_module_change(|base, bus| {
        let mut next = bus.nodes[&1].state().config.clone();
        next.vips.truncate(1);
        Command::ChangeConfig {
            base_version: base,
            config: next,
        }
    });
}
