//! Authentication of ring datagrams with the shared cluster key.
//!
//! A datagram on the wire is `packet || HMAC-SHA256(key, packet)`. The tag is
//! checked (in constant time, by the `hmac` crate) before a single byte of the
//! packet is parsed, so a sender without the key can make a node do nothing
//! but compute one HMAC.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Length of the tag appended to every datagram.
pub const TAG_LEN: usize = 32;
/// The shortest key accepted: as long as the hash output, per RFC 2104's advice.
pub const MIN_KEY_LEN: usize = 32;
/// The longest key accepted; longer keys would be hashed down anyway.
pub const MAX_KEY_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the cluster key must be {MIN_KEY_LEN} to {MAX_KEY_LEN} bytes, written as twice as many hex digits; got {0} bytes")]
    Length(usize),
    #[error(
        "the cluster key file must hold only hex digits (and surrounding white space); found {0:?}"
    )]
    NotHex(char),
    #[error("the cluster key file holds an odd number of hex digits")]
    OddLength,
}

/// Why a datagram was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("datagram shorter than its authentication tag")]
    Truncated,
    #[error("authentication tag does not match (wrong key or altered datagram)")]
    BadTag,
}

/// The secret every member of a cluster shares.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey(Vec<u8>);

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret, not even in a debug log.
        f.write_str("ClusterKey(..)")
    }
}

impl ClusterKey {
    /// A key of raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&bytes.len()) {
            return Err(KeyError::Length(bytes.len()));
        }
        Ok(ClusterKey(bytes.to_vec()))
    }

    /// A key from the contents of a key file: hex digits, white space around
    /// them ignored (so `openssl rand -hex 32 > key` makes one).
    pub fn from_key_file(contents: &str) -> Result<Self, KeyError> {
        let hex = contents.trim();
        if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(KeyError::NotHex(bad));
        }
        if !hex.len().is_multiple_of(2) {
            return Err(KeyError::OddLength);
        }
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex digits"))
            .collect();
        ClusterKey::from_bytes(&bytes)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }

    /// Appends the authentication tag of `packet` to it, making a datagram.
    pub fn seal(&self, packet: &mut Vec<u8>) {
        let mut mac = self.mac();
        mac.update(packet);
        packet.extend_from_slice(&mac.finalize().into_bytes());
    }

    /// Checks a datagram's tag and returns the packet it authenticates.
    pub fn open<'a>(&self, datagram: &'a [u8]) -> Result<&'a [u8], AuthError> {
        let split = datagram
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(AuthError::Truncated)?;
        let (packet, tag) = datagram.split_at(split);
        let mut mac = self.mac();
        mac.update(packet);
        mac.verify_slice(tag).map_err(|_| AuthError::BadTag)?;
        Ok(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ClusterKey {
        ClusterKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_packet_opens_with_the_same_key_only() {
        let mut datagram = b"token".to_vec();
        key(1).seal(&mut datagram);
        assert_eq!(datagram.len(), 5 + TAG_LEN);
        assert_eq!(key(1).open(&datagram), Ok(&b"token"[..]));
        assert_eq!(key(2).open(&datagram), Err(AuthError::BadTag));
    }

    #[test]
    fn any_flipped_bit_is_refused() {
        let mut datagram = b"a reliable message".to_vec();
        key(7).seal(&mut datagram);
        for byte in 0..datagram.len() {
            let mut altered = datagram.clone();
            altered[byte] ^= 0x01;
            assert_eq!(key(7).open(&altered), Err(AuthError::BadTag), "byte {byte}");
        }
    }

    #[test]
    fn short_datagrams_are_refused() {
        assert_eq!(key(1).open(&[0; TAG_LEN - 1]), Err(AuthError::Truncated));
        // An empty packet with a wrong tag is well-formed but unauthenticated.
        assert_eq!(key(1).open(&[0; TAG_LEN]), Err(AuthError::BadTag));
    }

    #[test]
    fn key_files_hold_hex() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let from_file = ClusterKey::from_key_file(&format!("  {hex}\n")).unwrap();
        let mut expected = Vec::new();
        for i in 0..32u8 {
            expected.push((i % 16) * 0x11);
        }
        assert_eq!(from_file, ClusterKey::from_bytes(&expected).unwrap());
        assert_eq!(ClusterKey::from_key_file("abc"), Err(KeyError::OddLength));
        assert_eq!(ClusterKey::from_key_file("zz"), Err(KeyError::NotHex('z')));
        assert_eq!(ClusterKey::from_key_file("00ff"), Err(KeyError::Length(2)));
        assert_eq!(format!("{from_file:?}"), "ClusterKey(..)");
    }
}
