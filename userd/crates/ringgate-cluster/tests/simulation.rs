//! Seeded simulations of the cluster state machine on real ring nodes (see
//! `support/sim.rs`), with every checker of `checks/` run on each seed:
//! - agreement: members of one ring that applied the same inputs hold the
//!   same state (so the same VIP assignment);
//! - ownership: no VIP held by two modules at overlapping times; once the
//!   ring is stable, exactly one holder per VIP on the quorate side;
//! - convergence: no VIP balanced twice within its hold time, at most the
//!   allowed moves per period, and no balancing once loads stand still;
//! - transfer: a joining node applies the snapshot before anything else.
//!
//! `RINGGATE_CLUSTER_SEEDS=n` runs n seeds (default 12); the fault mix of
//! the seeds is printed (visible with `--nocapture`, as `make test-userd`
//! runs it). `RINGGATE_CLUSTER_SEED=s` reruns one, printing its scenario
//! and the final view of every node; `RINGGATE_CLUSTER_TRACE=1` adds every
//! membership event, module action and move as it happens.

mod support {
    pub mod sim;
}
mod checks {
    pub mod agreement;
    pub mod convergence;
    pub mod ownership;
    pub mod transfer;
}

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ringgate_cluster::config::{ClusterConfig, ConfigEdit, NodeConfig, Settings, VipConfig};
use ringgate_cluster::model::{Micros, NodeId};
use ringgate_cluster::Command;
use ringgate_ring::node::Config;
use support::sim::{Fault, Rng, Sim};

const MS: Micros = 1_000;
/// Faults and load changes happen before this; then everything heals.
const FAULTS_END: Micros = 3_000 * MS;
/// Loads stand still from FAULTS_END; the balancer must be done by then.
const QUIET_FROM: Micros = 7_000 * MS;
const END: Micros = 9_000 * MS;

struct Scenario {
    nodes: usize,
    vips: usize,
    loss_percent: u64,
    dup_percent: u64,
    max_delay_us: u64,
    late_percent: u64,
    late: Vec<usize>,
    faults: Vec<(Micros, Fault)>,
    config: ClusterConfig,
    ring_config: Config,
}

impl Scenario {
    fn from_seed(seed: u64) -> Scenario {
        let mut rng = Rng(seed ^ 0x5EED);
        let nodes = 2 + rng.below(4) as usize;
        let vips = 2 + rng.below(7) as usize;
        let loss_percent = if rng.chance(50) { rng.below(11) } else { 0 };
        let dup_percent = rng.below(6);
        let max_delay_us = 50 + rng.below(2000);
        let late_percent = if rng.chance(25) { 1 + rng.below(5) } else { 0 };
        // Lossy networks need longer ring timeouts (as the ring's own
        // simulator and corosync's advice for lossy networks have it).
        let ring_config = if loss_percent > 5 {
            Config {
                token_loss_us: 100_000,
                token_loss_per_member_us: 20_000,
                gather_settle_us: 20_000,
                consensus_us: 50_000,
                merge_probe_us: 100_000,
                ..Config::default()
            }
        } else {
            Config::default()
        };
        // The takeover fence, counted from when the taking node noticed the
        // loss, must outlast the self fence, which a cut-off owner counts
        // from its last token, with a margin for packets in flight (see
        // ringgate_cluster::node::module): here up to 37 ms, as the
        // simulator delays some packets by up to 35 ms beyond the normal.
        let self_fence_us = 50 * MS;
        let settings = Settings {
            load_report_interval_us: 100 * MS,
            balance_interval_us: 100 * MS,
            hold_us: 500 * MS,
            move_period_us: 500 * MS,
            max_moves_per_period: 2,
            self_fence_us,
            takeover_fence_us: self_fence_us + 40 * MS,
            // The module's lease is the daemon's business; the simulated
            // nodes release through their outputs alone.
            owner_lease_us: 0,
            ..Settings::default()
        };
        let ids: Vec<NodeId> = (1..=nodes as NodeId).collect();
        let config = ClusterConfig {
            version: 1,
            nodes: ids
                .iter()
                .map(|&id| NodeConfig {
                    id,
                    weight: 50 + rng.below(251) as u32,
                })
                .collect(),
            vips: (1..=vips)
                .map(|n| VipConfig {
                    addr: Ipv4Addr::new(10, 0, 0, n as u8),
                    services: Vec::new(),
                })
                .collect(),
            settings,
            snat: None,
        };
        let mut faults = Vec::new();
        let random_loads = |rng: &mut Rng| -> Vec<u64> {
            (0..vips)
                .map(|_| if rng.chance(25) { 0 } else { rng.below(3000) })
                .collect()
        };
        faults.push((0, Fault::Load(random_loads(&mut rng))));
        for _ in 0..rng.below(4) {
            let at = rng.below(FAULTS_END);
            faults.push((at, Fault::Load(random_loads(&mut rng))));
        }
        let mut late = Vec::new();
        for _ in 0..rng.below(4) {
            let at = 300 * MS + rng.below(2_200 * MS);
            let node = rng.below(nodes as u64) as usize;
            match rng.below(5) {
                0 => {
                    let groups = (0..nodes).map(|_| rng.below(2) as u8).collect();
                    faults.push((at, Fault::Partition(groups)));
                    faults.push((at + 100 * MS + rng.below(700 * MS), Fault::Heal));
                }
                3 => {
                    let groups = (0..nodes).map(|_| rng.below(2) as u8).collect();
                    faults.push((at, Fault::OneWay(groups)));
                    faults.push((at + 100 * MS + rng.below(700 * MS), Fault::Heal));
                }
                1 => {
                    faults.push((at, Fault::Crash(node)));
                    if rng.chance(80) {
                        faults.push((at + 100 * MS + rng.below(600 * MS), Fault::Start(node)));
                    }
                }
                2 if !late.contains(&node) => {
                    late.push(node);
                    faults.push((at, Fault::Start(node)));
                }
                _ => {}
            }
        }
        if rng.chance(40) {
            let at = rng.below(FAULTS_END);
            let vip = Ipv4Addr::new(10, 0, 0, 1 + rng.below(vips as u64) as u8);
            let to = 1 + rng.below(nodes as u64) as NodeId;
            let from = rng.below(nodes as u64) as usize;
            faults.push((at, Fault::Command(from, Command::MoveVip { vip, to })));
        }
        if rng.chance(25) {
            let at = rng.below(FAULTS_END / 2);
            let node = 1 + rng.below(nodes as u64) as NodeId;
            let from = rng.below(nodes as u64) as usize;
            faults.push((
                at,
                Fault::Command(
                    from,
                    Command::Drain {
                        node,
                        drained: true,
                    },
                ),
            ));
            faults.push((
                at + rng.below(FAULTS_END / 2),
                Fault::Command(
                    from,
                    Command::Drain {
                        node,
                        drained: false,
                    },
                ),
            ));
        }
        if rng.chance(25) {
            // Edits from two nodes at random times: a VIP added, and one
            // of the configured VIPs removed (its owner must release it).
            let gone = Ipv4Addr::new(10, 0, 0, vips as u8);
            for edit in [
                ConfigEdit::AddVip(Ipv4Addr::new(10, 0, 2, 1)),
                ConfigEdit::DelVip(gone),
            ] {
                let from = rng.below(nodes as u64) as usize;
                faults.push((
                    rng.below(FAULTS_END),
                    Fault::Command(from, Command::EditConfig(edit)),
                ));
            }
        }
        if rng.chance(25) {
            let mut changed = config.clone();
            changed.vips.push(VipConfig {
                addr: Ipv4Addr::new(10, 0, 1, 1),
                services: Vec::new(),
            });
            let from = rng.below(nodes as u64) as usize;
            faults.push((
                rng.below(FAULTS_END),
                Fault::Command(
                    from,
                    Command::ChangeConfig {
                        base_version: 1,
                        config: changed,
                    },
                ),
            ));
        }
        faults.push((FAULTS_END, Fault::Heal));
        for n in 0..nodes {
            faults.push((FAULTS_END + 10 * MS, Fault::Start(n)));
        }
        faults.sort_by_key(|(t, _)| *t);
        Scenario {
            nodes,
            vips,
            loss_percent,
            dup_percent,
            max_delay_us,
            late_percent,
            late,
            faults,
            config,
            ring_config,
        }
    }

    /// The fault classes this seed exercises, for the report.
    fn classes(&self) -> Vec<&'static str> {
        let has = |f: fn(&Fault) -> bool| self.faults.iter().any(|(_, x)| f(x));
        [
            (self.loss_percent > 0, "loss"),
            (self.dup_percent > 0, "duplication"),
            (self.max_delay_us > 1000, "reordering"),
            (self.late_percent > 0, "stale packets"),
            (has(|f| matches!(f, Fault::Partition(_))), "partition"),
            (has(|f| matches!(f, Fault::OneWay(_))), "one-way partition"),
            (has(|f| matches!(f, Fault::Crash(_))), "crash"),
            (!self.late.is_empty(), "late join"),
            (
                has(|f| matches!(f, Fault::Command(_, Command::MoveVip { .. }))),
                "vip move",
            ),
            (
                has(|f| matches!(f, Fault::Command(_, Command::Drain { .. }))),
                "drain",
            ),
            (
                has(|f| matches!(f, Fault::Command(_, Command::ChangeConfig { .. }))),
                "config change",
            ),
            (
                has(|f| matches!(f, Fault::Command(_, Command::EditConfig(_)))),
                "config edit",
            ),
        ]
        .into_iter()
        .filter(|(present, _)| *present)
        .map(|(_, name)| name)
        .collect()
    }
}

fn run_seed(seed: u64) -> Result<(usize, usize), String> {
    let s = Scenario::from_seed(seed);
    let ids: Vec<NodeId> = (1..=s.nodes as NodeId).collect();
    let mut sim = Sim::new(
        ids,
        s.config.clone(),
        s.ring_config.clone(),
        seed,
        s.loss_percent,
        s.dup_percent,
        s.max_delay_us,
    );
    sim.late_percent = s.late_percent;
    for n in 0..s.nodes {
        if !s.late.contains(&n) {
            sim.start(n);
        }
    }
    sim.run(END, &s.faults);
    let records = &sim.records;
    checks::agreement::check(&records.digests)?;
    checks::ownership::no_two_holders(&records.intervals)?;
    checks::transfer::check(&records.transfers)?;
    checks::convergence::check(&records.moves, &s.config.settings, QUIET_FROM)?;
    if !sim.one_quorate_ring() {
        return Err("the running nodes did not settle in one quorate ring".into());
    }
    // Every configured VIP must have one holder, but a VIP an edit of this
    // seed removed only if the agreed configuration still has it; every
    // VIP the agreed configuration has (added ones too) must.
    let removed: Vec<Ipv4Addr> = s
        .faults
        .iter()
        .filter_map(|(_, f)| match f {
            Fault::Command(_, Command::EditConfig(ConfigEdit::DelVip(v))) => Some(*v),
            _ => None,
        })
        .collect();
    let agreed = sim.agreed_vips();
    let mut vips: Vec<Ipv4Addr> = s
        .config
        .vips
        .iter()
        .map(|v| v.addr)
        .filter(|v| !removed.contains(v) || agreed.contains(v))
        .collect();
    let added: Vec<Ipv4Addr> = agreed
        .iter()
        .filter(|v| !vips.contains(v))
        .copied()
        .collect();
    vips.extend(added);
    if std::env::var("RINGGATE_CLUSTER_SEED").is_ok() {
        sim.dump();
    }
    checks::ownership::one_holder_when_stable(&sim.holders(), &vips, true)?;
    checks::ownership::nobody_holds_the_unconfigured(&sim.holders(), &vips)?;
    Ok((records.intervals.len(), records.moves.len()))
}

/// Seeds beyond the default count that once broke a property, run every
/// time: 377 (a self-fenced owner served again on a late token of a ring
/// the others had left), 563 and 1955 (an owner's self fence counted from
/// its token-loss timeout, which its slow pace had stretched past the
/// peers' takeover fence), 458 (an edit delivered before the members'
/// configuration offers of a cold start replaced the configuration with
/// the one VIP it added).
const REGRESSION_SEEDS: [u64; 4] = [377, 458, 563, 1955];

#[test]
fn regression_seeds_keep_every_property() {
    for (seed, result) in ringgate_seeds::sweep(&REGRESSION_SEEDS, run_seed) {
        if let Err(e) = result {
            panic!("seed {seed}: {e}");
        }
    }
}

#[test]
fn seeded_clusters_keep_every_property() {
    let seeds: Vec<u64> = match std::env::var("RINGGATE_CLUSTER_SEED") {
        Ok(s) => vec![s.parse().expect("a seed number")],
        Err(_) => {
            let n = std::env::var("RINGGATE_CLUSTER_SEEDS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(12);
            (0..n).collect()
        }
    };
    let mut mix: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let (mut takes, mut moves) = (0, 0);
    for seed in &seeds {
        let s = Scenario::from_seed(*seed);
        for class in s.classes() {
            *mix.entry(class).or_default() += 1;
        }
        if seeds.len() == 1 {
            eprintln!(
                "seed {seed}: {} nodes, {} VIPs, loss {}%, dup {}%, delay {} us, late {}%, faults {:?}",
                s.nodes, s.vips, s.loss_percent, s.dup_percent, s.max_delay_us, s.late_percent, s.faults
            );
        }
    }
    for (seed, result) in ringgate_seeds::sweep(&seeds, run_seed) {
        match result {
            Ok((t, m)) => {
                takes += t;
                moves += m;
            }
            Err(e) => failures.push(format!(
                "seed {seed} ({}): {e}\n  rerun: RINGGATE_CLUSTER_SEED={seed} cargo test -p ringgate-cluster --test simulation -- --nocapture",
                Scenario::from_seed(seed).classes().join(", ")
            )),
        }
    }
    eprintln!(
        "{} seeds, {takes} VIP takes, {moves} moves; fault mix (seeds per class): {mix:?}",
        seeds.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
