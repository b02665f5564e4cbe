//! The ring-level messages a ring carries, by their first byte, and the
//! batch that packs several small application messages into one carriage
//! packet (as corosync packs several messages into one).
//!
//! A batch is `MSG_BATCH | (len u16 | payload)...`. Every member reads the
//! same bytes, so a malformed batch (only a key holder could send one) is
//! refused whole by every member alike: agreement holds, nothing panics.

use crate::limits::{MAX_BATCH, MAX_FRAGMENT};

/// An application message; applications see it without the byte.
pub(super) const MSG_APP: u8 = 0;
/// A carriage packet of the sender's previous ring, re-broadcast in recovery.
pub(super) const MSG_RECOVERED: u8 = 1;
/// The sender has re-broadcast everything it had of its previous ring,
/// which the marker names.
pub(super) const MSG_RECOVERY_DONE: u8 = 2;
/// Several application messages in one carriage packet.
pub(super) const MSG_BATCH: u8 = 3;
/// A state-transfer snapshot from the donor (see `transfer`).
pub(super) const MSG_SNAPSHOT: u8 = 4;
/// An application message for safe delivery: handed over only once every
/// member holds it, and everything after it waits behind it.
pub(super) const MSG_SAFE: u8 = 5;

/// Bytes a message spends on its length inside a batch.
const ENTRY_LEN: usize = 2;

/// Whether a batch of `batch_len` bytes has room for one more application
/// message `message` (kind byte first) within one carriage packet.
/// Only application messages are batched.
pub(super) fn fits(batch_len: usize, entries: usize, message: &[u8]) -> bool {
    message.first() == Some(&MSG_APP)
        && entries < MAX_BATCH
        && batch_len + ENTRY_LEN + message.len() - 1 <= MAX_FRAGMENT
}

/// Packs application messages (kind byte first) into one batch.
pub(super) fn batch(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![MSG_BATCH];
    for m in messages {
        let payload = m.get(1..).unwrap_or_default();
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// The application payloads of a batch (after its kind byte), or `None`
/// if it is malformed.
pub(super) fn unbatch(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]) as usize;
        let payload = bytes.get(ENTRY_LEN..ENTRY_LEN + len)?;
        out.push(payload.to_vec());
        bytes = &bytes[ENTRY_LEN + len..];
    }
    (!out.is_empty() && out.len() <= MAX_BATCH).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(payload: &[u8]) -> Vec<u8> {
        let mut m = vec![MSG_APP];
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn batches_round_trip_and_malformed_ones_are_refused() {
        let messages = [app(b"one"), app(b""), app(b"three")];
        let packed = batch(&messages);
        assert_eq!(packed[0], MSG_BATCH);
        assert_eq!(
            unbatch(&packed[1..]),
            Some(vec![b"one".to_vec(), vec![], b"three".to_vec()])
        );
        for cut in 1..packed.len() - 1 {
            let unpacked = unbatch(&packed[1..cut]);
            assert!(
                unpacked.is_none() || unpacked.as_ref().is_some_and(|u| u.len() < 3),
                "cut at {cut}: {unpacked:?}"
            );
        }
        assert_eq!(unbatch(&[]), None);
        assert_eq!(unbatch(&[0, 5, 1]), None);
    }

    #[test]
    fn a_batch_never_outgrows_a_carriage_packet() {
        let small = app(&[1; 100]);
        let mut len = 1;
        let mut entries = 0;
        while fits(len, entries, &small) {
            len += ENTRY_LEN + 100;
            entries += 1;
        }
        assert!(len <= MAX_FRAGMENT && entries > 1);
        assert!(!fits(1, 0, &app(&vec![0; MAX_FRAGMENT])));
    }
}
