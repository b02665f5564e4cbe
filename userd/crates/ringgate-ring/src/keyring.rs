//! The keys a node accepts, for rotating the cluster key without stopping
//! the ring.
//!
//! A node sends with one key and accepts at most two. A rollover takes three
//! steps, each done on every node before the next starts: `add` the new
//! key (accepted from now on; the node still sends with the old one, which
//! every node can read), `use_newest` (send with the new key, which every
//! node accepts by now), and `retire` (accept only the key the node sends
//! with). A datagram under a retired key is refused like any other
//! unauthenticated one and changes nothing.

use crate::auth::{AuthError, ClusterKey};

/// Why a rotation step was refused; the keyring is left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("two keys are accepted already; retire one before adding another")]
    Full,
    #[error("that key is accepted already")]
    Known,
    #[error("no new key was added; nothing to switch to")]
    NothingNew,
    #[error("only one key is accepted; nothing to retire")]
    NothingToRetire,
}

/// What an operator may see of the keyring (never the keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KeyringStatus {
    /// Keys accepted: 1, or 2 during a rollover.
    pub accepted: usize,
    /// Whether the node sends with the newest key.
    pub sending_newest: bool,
}

/// The accepted keys, oldest first, and which one seals what is sent.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<ClusterKey>,
    sending: usize,
}

impl Keyring {
    /// A keyring of one key.
    pub fn new(key: ClusterKey) -> Keyring {
        Keyring {
            keys: vec![key],
            sending: 0,
        }
    }

    /// Accepts `key` too; sending goes on with the current key.
    pub fn add(&mut self, key: ClusterKey) -> Result<(), KeyringError> {
        if self.keys.contains(&key) {
            return Err(KeyringError::Known);
        }
        if self.keys.len() >= 2 {
            return Err(KeyringError::Full);
        }
        self.keys.push(key);
        Ok(())
    }

    /// Sends with the newest key from now on.
    pub fn use_newest(&mut self) -> Result<(), KeyringError> {
        if self.keys.len() < 2 {
            return Err(KeyringError::NothingNew);
        }
        self.sending = self.keys.len() - 1;
        Ok(())
    }

    /// Accepts only the key this node sends with (after `use_newest`, the
    /// old key; before it, the added key, which cancels the rollover).
    pub fn retire(&mut self) -> Result<(), KeyringError> {
        if self.keys.len() < 2 {
            return Err(KeyringError::NothingToRetire);
        }
        let sending = self.keys.swap_remove(self.sending);
        self.keys = vec![sending];
        self.sending = 0;
        Ok(())
    }

    pub fn status(&self) -> KeyringStatus {
        KeyringStatus {
            accepted: self.keys.len(),
            sending_newest: self.sending + 1 == self.keys.len(),
        }
    }

    /// Appends the tag of the sending key.
    pub fn seal(&self, packet: &mut Vec<u8>) {
        self.keys[self.sending].seal(packet);
    }

    /// Opens a datagram sealed with any accepted key, the sending key first
    /// (the one most datagrams use).
    pub fn open<'a>(&self, datagram: &'a [u8]) -> Result<&'a [u8], AuthError> {
        let mut result = self.keys[self.sending].open(datagram);
        for (i, key) in self.keys.iter().enumerate() {
            if result != Err(AuthError::BadTag) {
                break;
            }
            if i != self.sending {
                result = key.open(datagram);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ClusterKey {
        ClusterKey::from_bytes(&[byte; 32]).unwrap()
    }

    fn sealed(keyring: &Keyring) -> Vec<u8> {
        let mut datagram = b"packet".to_vec();
        keyring.seal(&mut datagram);
        datagram
    }

    #[test]
    fn a_rollover_accepts_both_keys_then_only_the_new_one() {
        let old = Keyring::new(key(1));
        let mut ring = old.clone();
        ring.add(key(2)).unwrap();
        assert_eq!(ring.open(&sealed(&old)), Ok(&b"packet"[..]), "old accepted");
        assert_eq!(sealed(&ring), sealed(&old), "still sends with the old key");
        ring.use_newest().unwrap();
        let new = Keyring::new(key(2));
        assert_eq!(sealed(&ring), sealed(&new));
        assert_eq!(ring.open(&sealed(&old)), Ok(&b"packet"[..]));
        ring.retire().unwrap();
        assert_eq!(ring.open(&sealed(&old)), Err(AuthError::BadTag), "retired");
        assert_eq!(ring.open(&sealed(&new)), Ok(&b"packet"[..]));
        assert_eq!(
            ring.status(),
            KeyringStatus {
                accepted: 1,
                sending_newest: true
            }
        );
    }

    #[test]
    fn refused_steps_change_nothing() {
        let mut ring = Keyring::new(key(1));
        assert_eq!(ring.use_newest(), Err(KeyringError::NothingNew));
        assert_eq!(ring.retire(), Err(KeyringError::NothingToRetire));
        assert_eq!(ring.add(key(1)), Err(KeyringError::Known));
        ring.add(key(2)).unwrap();
        assert_eq!(ring.add(key(3)), Err(KeyringError::Full));
        assert_eq!(ring.status().accepted, 2);
        // Retiring before switching cancels the new key.
        ring.retire().unwrap();
        assert_eq!(sealed(&ring), sealed(&Keyring::new(key(1))));
        assert_eq!(
            ring.open(&sealed(&Keyring::new(key(2)))),
            Err(AuthError::BadTag)
        );
    }
}
