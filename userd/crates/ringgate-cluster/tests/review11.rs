//! Review 11: defects found by an adversarial review, each shown by a test
//! that fails while the defect is there (marked #[ignore] until fixed).

mod support {
    pub mod bus;
}

use ringgate_cluster::config::Settings;
use ringgate_cluster::ClusterNode;
use support::bus::{config, Bus};

/// DEFECT: a state file from another cluster (another key, another
/// configuration) is restored without any check of whose it is
/// (`ClusterNode::restore`, called by ringgated `Gateway::start`), and when
/// its generation is higher than the cluster's, the node's `StateOffer`
/// makes every member adopt it: the foreign cluster's configuration (VIPs,
/// services, back-ends) replaces the real one cluster-wide. A state file
/// carries no cluster identity (e.g. a hash of the cluster key or a cluster
/// id) to refuse it with.
#[test]
#[ignore = "review11: a foreign state file replaces the whole cluster's configuration"]
fn a_state_file_from_another_cluster_does_not_replace_the_cluster_state() {
    // The real cluster: nodes 1, 2, 3, VIPs 10.0.0.1..=3.
    let ours = config(&[(1, 100), (2, 100), (3, 100)], 3, Settings::default());
    let mut bus = Bus::new(&ours);
    bus.form(&[&[1, 2, 3]]);
    // Another cluster with the same node ids (a lab, a copied image) that
    // has seen many more rings, and 8 VIPs.
    let theirs = config(&[(1, 100), (2, 100), (3, 100)], 8, Settings::default());
    let mut other = Bus::new(&theirs);
    for _ in 0..20 {
        other.form(&[&[1, 2], &[3]]);
        other.form(&[&[1, 2, 3]]);
    }
    let foreign = other.nodes[&3].persist();
    // Node 3 of the real cluster restarts with the foreign state file.
    bus.crash(3, &ours);
    bus.nodes.insert(3, ClusterNode::restore(3, &foreign).unwrap());
    bus.form(&[&[1, 2], &[3]]);
    bus.form(&[&[1, 2, 3]]);
    let vips = |id| bus.nodes[&id].state().config.vips.len();
    assert_eq!(
        (vips(1), vips(2)),
        (3, 3),
        "the cluster took the foreign state file's configuration"
    );
}
