//! The envelope of every application message the ring carries (membership,
//! VIP assignments, load, sessions, configuration), designed so that nodes of
//! different versions can share a ring during a rolling upgrade.
//!
//! Encoding, integers big-endian:
//!
//! ```text
//!   kind      u16   what the body is (see `Kind`)
//!   version   u8    the body's schema version within its kind
//!   flags     u8    bit 0 CRITICAL: a node that does not know `kind` must
//!                   not silently skip this message
//!   body_len  u32
//!   body      body_len bytes: a list of fields
//! ```
//!
//! A body is a list of fields `type u16, len u16, value`. A reader takes the
//! fields it knows and skips the rest, so a newer version may add fields
//! without breaking older readers; a change old readers must not misread gets
//! a new kind instead.

/// The largest body an envelope may carry.
pub const MAX_BODY_LEN: usize = 60 * 1024;
/// Bytes before the body.
pub const HEADER_LEN: usize = 8;

const FLAG_CRITICAL: u8 = 0x01;
const KNOWN_FLAGS: u8 = FLAG_CRITICAL;

/// The kinds of message this version knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
    Membership = 1,
    VipAssignment = 2,
    Load = 3,
    Session = 4,
    Config = 5,
    /// Opaque bytes from the application (tests and benchmarks use it).
    Application = 0x100,
}

impl Kind {
    fn from_wire(raw: u16) -> Option<Kind> {
        [
            Kind::Membership,
            Kind::VipAssignment,
            Kind::Load,
            Kind::Session,
            Kind::Config,
            Kind::Application,
        ]
        .into_iter()
        .find(|k| *k as u16 == raw)
    }
}

/// Why bytes are not an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope truncated: {0} bytes")]
    Truncated(usize),
    #[error("envelope body of {0} bytes exceeds the {MAX_BODY_LEN}-byte limit")]
    Oversized(usize),
    #[error("envelope body length {declared} does not match the {actual} bytes present")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("unknown envelope flags {0:#04x}")]
    UnknownFlags(u8),
    #[error("field list malformed at byte {0}")]
    BadField(usize),
}

/// A decoded envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `Some` for kinds this version knows.
    pub kind: Option<Kind>,
    pub raw_kind: u16,
    pub version: u8,
    pub critical: bool,
    pub body: Vec<u8>,
}

impl Envelope {
    /// An envelope of a known kind.
    pub fn new(kind: Kind, version: u8, body: Vec<u8>) -> Envelope {
        Envelope {
            kind: Some(kind),
            raw_kind: kind as u16,
            version,
            critical: false,
            body,
        }
    }

    /// Encodes the envelope; `None` if the body exceeds `MAX_BODY_LEN`.
    pub fn encode(&self) -> Option<Vec<u8>> {
        if self.body.len() > MAX_BODY_LEN {
            return None;
        }
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(&self.raw_kind.to_be_bytes());
        out.push(self.version);
        out.push(if self.critical { FLAG_CRITICAL } else { 0 });
        out.extend_from_slice(&(self.body.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.body);
        Some(out)
    }

    /// Decodes exactly one envelope from `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let header: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(EnvelopeError::Truncated(bytes.len()))?;
        let raw_kind = u16::from_be_bytes([header[0], header[1]]);
        let flags = header[3];
        if flags & !KNOWN_FLAGS != 0 {
            return Err(EnvelopeError::UnknownFlags(flags));
        }
        let declared = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if declared > MAX_BODY_LEN {
            return Err(EnvelopeError::Oversized(declared));
        }
        let body = &bytes[HEADER_LEN..];
        if body.len() != declared {
            return Err(EnvelopeError::LengthMismatch {
                declared,
                actual: body.len(),
            });
        }
        Ok(Envelope {
            kind: Kind::from_wire(raw_kind),
            raw_kind,
            version: header[2],
            critical: flags & FLAG_CRITICAL != 0,
            body: body.to_vec(),
        })
    }
}

/// Builds a body out of fields.
#[derive(Debug, Default)]
pub struct FieldWriter(Vec<u8>);

impl FieldWriter {
    /// Appends a field; values longer than a u16 length are refused.
    pub fn put(&mut self, field: u16, value: &[u8]) -> Option<&mut Self> {
        let len = u16::try_from(value.len()).ok()?;
        self.0.extend_from_slice(&field.to_be_bytes());
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(value);
        Some(self)
    }

    /// The body.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Iterates over the fields of a body: `(type, value)`; checks every length.
pub fn fields(body: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), EnvelopeError>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at >= body.len() {
            return None;
        }
        let start = at;
        let item = body
            .get(at..at + 4)
            .and_then(|h| {
                let field = u16::from_be_bytes([h[0], h[1]]);
                let len = u16::from_be_bytes([h[2], h[3]]) as usize;
                let value = body.get(at + 4..at + 4 + len)?;
                at += 4 + len;
                Some((field, value))
            })
            .ok_or(EnvelopeError::BadField(start));
        if item.is_err() {
            at = body.len(); // Stop after the first malformed field.
        }
        Some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut body = FieldWriter::default();
        body.put(1, b"10.0.0.1")
            .unwrap()
            .put(2, &7u32.to_be_bytes())
            .unwrap();
        let env = Envelope::new(Kind::VipAssignment, 1, body.finish());
        let decoded = Envelope::decode(&env.encode().unwrap()).unwrap();
        assert_eq!(decoded, env);
        let got: Vec<_> = fields(&decoded.body).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![(1, &b"10.0.0.1"[..]), (2, &7u32.to_be_bytes()[..])]
        );
    }

    /// A message from a newer node: an unknown kind decodes (so it can be
    /// skipped or reported), and unknown fields of a known kind are just more
    /// fields for the reader to pass over.
    #[test]
    fn newer_messages_remain_readable() {
        let mut future = Envelope::new(Kind::Load, 9, Vec::new());
        future.raw_kind = 0x7777;
        future.kind = None;
        future.critical = true;
        let decoded = Envelope::decode(&future.encode().unwrap()).unwrap();
        assert_eq!(
            (decoded.kind, decoded.raw_kind, decoded.critical),
            (None, 0x7777, true)
        );

        let mut body = FieldWriter::default();
        body.put(1, b"known")
            .unwrap()
            .put(999, b"added later")
            .unwrap();
        let body = body.finish();
        let known: Vec<_> = fields(&body)
            .filter_map(Result::ok)
            .filter(|(t, _)| *t == 1)
            .collect();
        assert_eq!(known, vec![(1, &b"known"[..])]);
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        let good = Envelope::new(Kind::Config, 1, b"abc".to_vec())
            .encode()
            .unwrap();
        assert_eq!(
            Envelope::decode(&good[..7]),
            Err(EnvelopeError::Truncated(7))
        );
        assert!(matches!(
            Envelope::decode(&good[..10]),
            Err(EnvelopeError::LengthMismatch { .. })
        ));
        let mut flags = good.clone();
        flags[3] = 0x80;
        assert_eq!(
            Envelope::decode(&flags),
            Err(EnvelopeError::UnknownFlags(0x80))
        );
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            Envelope::decode(&huge),
            Err(EnvelopeError::Oversized(u32::MAX as usize))
        );
        assert!(Envelope::new(Kind::Config, 1, vec![0; MAX_BODY_LEN + 1])
            .encode()
            .is_none());
    }

    #[test]
    fn truncated_fields_stop_iteration_with_an_error() {
        let mut body = FieldWriter::default();
        body.put(1, b"value").unwrap();
        let mut body = body.finish();
        body.truncate(body.len() - 1);
        let items: Vec<_> = fields(&body).collect();
        assert_eq!(items, vec![Err(EnvelopeError::BadField(0))]);
    }
}
