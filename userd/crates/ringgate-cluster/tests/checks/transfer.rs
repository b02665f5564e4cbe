//! State transfer: a node that joins a ring without its state applies
//! nothing and takes no VIP before the donor's snapshot; its state right
//! after the snapshot equals the donor group's (checked by `agreement`,
//! which compares both at the start of the ring).

use crate::support::sim::Transfer;

pub fn check(transfers: &[Transfer]) -> Result<(), String> {
    for t in transfers {
        if t.applied_before_snapshot > 0 || t.took_before_snapshot > 0 {
            return Err(format!(
                "node {} (process {}) in ring {:?} changed state {} times and took {} VIPs before its snapshot",
                t.node, t.incarnation, t.ring, t.applied_before_snapshot, t.took_before_snapshot
            ));
        }
    }
    Ok(())
}
