//! The explicit binary encoding shared by every message and snapshot of the
//! cluster layer: big-endian integers, lists as a `u16` count followed by
//! their items, strings as a `u16` length and UTF-8 bytes.
//!
//! Everything read here comes from the wire or from disk, so the reader
//! never panics: every shortfall, bad tag or impossible count is an error,
//! and a list's count is checked against the bytes left before anything is
//! allocated, so a forged count cannot make a node reserve gigabytes.

use std::net::Ipv4Addr;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: needed {needed} more bytes at offset {at}")]
    Truncated { at: usize, needed: usize },
    #[error("unsupported format version {0}")]
    Version(u8),
    #[error("unknown {what} tag {tag}")]
    UnknownTag { what: &'static str, tag: u8 },
    #[error("{0} trailing bytes after the value")]
    Trailing(usize),
    #[error("list of {count} items cannot fit in the {left} bytes left")]
    Count { count: usize, left: usize },
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

/// Appends encoded values to a buffer.
#[derive(Debug, Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    pub fn ip(&mut self, v: Ipv4Addr) -> &mut Self {
        self.0.extend_from_slice(&v.octets());
        self
    }
    /// A list's item count. Lists longer than a `u16` cannot be encoded;
    /// the limits of the configuration keep every list far below that, so
    /// the count saturates rather than panics, and the reader then refuses
    /// the value as trailing bytes.
    pub fn count(&mut self, n: usize) -> &mut Self {
        self.u16(u16::try_from(n).unwrap_or(u16::MAX))
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.count(s.len());
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    /// A byte string of up to 4 GiB (the ring limits messages to 64 KiB).
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
        self
    }
    /// Bytes whose length the reader knows from what it read before.
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Reads encoded values from a byte slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let slice =
            self.bytes
                .get(self.at..self.at.saturating_add(n))
                .ok_or(DecodeError::Truncated {
                    at: self.at,
                    needed: n - self.bytes.len().saturating_sub(self.at).min(n),
                })?;
        self.at += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::UnknownTag { what: "bool", tag }),
        }
    }
    pub fn ip(&mut self) -> Result<Ipv4Addr, DecodeError> {
        Ok(Ipv4Addr::from(self.array::<4>()?))
    }

    /// A list's item count, refused when even items of `min_item_len`
    /// bytes each could not fit in what is left.
    pub fn count(&mut self, min_item_len: usize) -> Result<usize, DecodeError> {
        let count = usize::from(self.u16()?);
        let left = self.bytes.len() - self.at;
        if count.saturating_mul(min_item_len.max(1)) > left {
            return Err(DecodeError::Count { count, left });
        }
        Ok(count)
    }

    /// `len` bytes written by `Writer::raw`.
    pub fn raw(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        self.take(len)
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.u32()? as usize;
        Ok(self.take(len)?.to_vec())
    }

    pub fn str(&mut self) -> Result<String, DecodeError> {
        let len = self.count(1)?;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| DecodeError::Invalid("UTF-8"))
    }

    /// Succeeds only if every byte was read: a value followed by garbage is
    /// as suspect as a truncated one.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            left => Err(DecodeError::Trailing(left)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_short_input_is_an_error() {
        let mut w = Writer::default();
        w.u8(7).u16(300).u32(70_000).u64(1 << 40).bool(true);
        w.ip(Ipv4Addr::new(10, 0, 0, 1)).str("rr");
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u16(), Ok(300));
        assert_eq!(r.u32(), Ok(70_000));
        assert_eq!(r.u64(), Ok(1 << 40));
        assert_eq!(r.bool(), Ok(true));
        assert_eq!(r.ip(), Ok(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.str().as_deref(), Ok("rr"));
        assert_eq!(r.finish(), Ok(()));
        for cut in 0..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            let all = (|| {
                r.u8()?;
                r.u16()?;
                r.u32()?;
                r.u64()?;
                r.bool()?;
                r.ip()?;
                r.str()
            })();
            assert!(all.is_err(), "cut at {cut} decoded");
        }
    }

    #[test]
    fn a_forged_count_is_refused_before_allocating() {
        let bytes = [0xff, 0xff, 1, 2];
        assert_eq!(
            Reader::new(&bytes).count(8),
            Err(DecodeError::Count {
                count: 65535,
                left: 2
            })
        );
        assert!(Reader::new(&[2]).bool().is_err());
        assert_eq!(Reader::new(&[1, 2]).finish(), Err(DecodeError::Trailing(2)));
    }
}
