//! Replicated state machine: members of one ring that applied the same
//! inputs in the same order hold the same state, whatever their history.
//! (Receivers of a state transfer are compared at the start of the ring,
//! where the donor's snapshot was taken.)

use std::collections::BTreeMap;

use crate::support::sim::Digest;

pub fn check(digests: &[Digest]) -> Result<(), String> {
    let mut seen: BTreeMap<(String, u64, u64), &Digest> = BTreeMap::new();
    for d in digests {
        let key = (format!("{:?}", d.ring), d.prefix, d.count);
        match seen.get(&key) {
            Some(first) if first.state != d.state => {
                return Err(format!(
                    "members of ring {:?} disagree after {} inputs: node {} (process {}) and node {} (process {}, snapshot {})",
                    d.ring, d.count, first.node, first.incarnation, d.node, d.incarnation, d.via_snapshot
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(key, d);
            }
        }
    }
    Ok(())
}
