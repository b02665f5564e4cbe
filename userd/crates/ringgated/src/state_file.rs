//! The cluster state file's envelope: the state the cluster node persists,
//! sealed with the cluster key.
//!
//! ```text
//!   "ringgate-state 1\n"  state bytes  HMAC-SHA256(key, everything before)
//! ```
//!
//! The state names no cluster, and a node that starts offers its restored
//! state to the ring, where the longest history wins: a file copied from
//! another cluster (a lab, a cloned image) would replace this cluster's
//! configuration on every member. Sealing with the cluster key makes such
//! a file, and a corrupted one, refusable before a byte of it is decoded.

use ringgate_ring::keyring::Keyring;

const MAGIC: &[u8] = b"ringgate-state 1\n";

/// The file's bytes for `state`, sealed with the key this node sends with.
pub fn seal(keys: &Keyring, state: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(MAGIC.len() + state.len() + 32);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(state);
    keys.seal(&mut bytes);
    bytes
}

/// The state inside a file's bytes, if a key this node accepts sealed it.
pub fn open<'a>(keys: &Keyring, bytes: &'a [u8]) -> Result<&'a [u8], String> {
    if !bytes.starts_with(MAGIC) {
        return Err("not a ringgate state file (or one from an older ringgated)".into());
    }
    let sealed = keys.open(bytes).map_err(|_| {
        "not sealed with this cluster's key: it comes from another cluster, was written \
         before a key rollover that this node's key file does not include, or is corrupted"
            .to_string()
    })?;
    Ok(&sealed[MAGIC.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_ring::auth::ClusterKey;

    fn keys(byte: u8) -> Keyring {
        Keyring::new(ClusterKey::from_bytes(&[byte; 32]).unwrap())
    }

    #[test]
    fn a_state_opens_only_under_a_key_that_sealed_it() {
        let file = seal(&keys(1), b"state");
        assert_eq!(open(&keys(1), &file), Ok(&b"state"[..]));
        assert!(open(&keys(2), &file)
            .unwrap_err()
            .contains("another cluster"));
        // During a rollover both keys open it.
        let mut both = keys(2);
        both.add(ClusterKey::from_bytes(&[1; 32]).unwrap()).unwrap();
        assert_eq!(open(&both, &file), Ok(&b"state"[..]));
    }

    #[test]
    fn an_altered_or_foreign_file_is_refused() {
        let file = seal(&keys(1), b"state");
        for i in 0..file.len() {
            let mut altered = file.clone();
            altered[i] ^= 1;
            assert!(open(&keys(1), &altered).is_err(), "byte {i}");
        }
        assert!(open(&keys(1), b"\x02raw state of format 2")
            .unwrap_err()
            .contains("not a ringgate state file"));
    }
}
