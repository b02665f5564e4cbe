//! Byte ranges as HTTP writes them (RFC 9110 section 14): the one range of a
//! client's `Range` header that the proxy can resume, and a `206`'s
//! `Content-Range`. Anything else (several ranges, other units, syntax the
//! RFC does not allow) parses to `None`, and the proxy then forwards the
//! request untouched and never resumes it.

/// One range a client asked for, as written in `Range: bytes=...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedRange {
    /// `bytes=first-` or `bytes=first-last`.
    From { first: u64, last: Option<u64> },
    /// `bytes=-length`: the last `length` bytes.
    Suffix { length: u64 },
}

/// A `Content-Range: bytes first-last/complete` of a single-part `206`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub first: u64,
    pub last: u64,
    /// `None` when the server wrote `*` (length unknown).
    pub complete: Option<u64>,
}

impl ContentRange {
    /// The number of bytes the part carries.
    pub fn length(&self) -> u64 {
        // The parser refuses `last == u64::MAX`, so this cannot overflow.
        self.last - self.first + 1
    }
}

fn number(text: &str) -> Option<u64> {
    // `u64::from_str` accepts a leading `+`, which HTTP does not.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses a `Range` header value; `None` unless it names exactly one
/// satisfiable-looking byte range.
pub fn parse_range(value: &str) -> Option<RequestedRange> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let length = number(last)?;
        return (length > 0).then_some(RequestedRange::Suffix { length });
    }
    let first = number(first)?;
    if last.is_empty() {
        return Some(RequestedRange::From { first, last: None });
    }
    let last = number(last)?;
    (last >= first).then_some(RequestedRange::From {
        first,
        last: Some(last),
    })
}

/// Parses a `Content-Range` header value of a single-part `206`.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes ")?.trim();
    let (span, complete) = rest.split_once('/')?;
    let complete = match complete.trim() {
        "*" => None,
        text => Some(number(text)?),
    };
    let (first, last) = span.trim().split_once('-')?;
    let (first, last) = (number(first.trim())?, number(last.trim())?);
    // A last byte at u64::MAX would overflow every length computed from it.
    if last < first || last == u64::MAX || complete.is_some_and(|complete| last >= complete) {
        return None;
    }
    Some(ContentRange {
        first,
        last,
        complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_range_of_each_form_parses() {
        assert_eq!(
            parse_range("bytes=0-"),
            Some(RequestedRange::From {
                first: 0,
                last: None
            })
        );
        assert_eq!(
            parse_range("bytes=100-199"),
            Some(RequestedRange::From {
                first: 100,
                last: Some(199)
            })
        );
        assert_eq!(
            parse_range(" bytes=-500 "),
            Some(RequestedRange::Suffix { length: 500 })
        );
    }

    #[test]
    fn ranges_the_proxy_cannot_resume_parse_to_none() {
        for value in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-4",
            "bytes=-0",
            "bytes=+1-2",
            "bytes=a-",
            "bytes=-",
            "bytes=18446744073709551616-",
            "",
        ] {
            assert_eq!(parse_range(value), None, "{value:?}");
        }
    }

    #[test]
    fn content_ranges_parse_and_nonsense_does_not() {
        assert_eq!(
            parse_content_range("bytes 10-19/100"),
            Some(ContentRange {
                first: 10,
                last: 19,
                complete: Some(100)
            })
        );
        assert_eq!(
            parse_content_range("bytes 10-19/*").map(|range| range.complete),
            Some(None)
        );
        assert_eq!(
            parse_content_range("bytes 10-19/*").map(|r| r.length()),
            Some(10)
        );
        for value in [
            "bytes 10-100/100",
            "bytes 20-19/100",
            "bytes */100",
            "items 0-1/2",
            "bytes 0-1",
            "bytes 0-18446744073709551615/*",
        ] {
            assert_eq!(parse_content_range(value), None, "{value:?}");
        }
    }
}
