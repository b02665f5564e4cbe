//! What the proxy keeps about a response in flight so that another back-end
//! can finish it, and the checks a resumed response must pass before a
//! single byte of it reaches the client. Pure: no I/O, no clock.
//!
//! A transfer is resumable when the request was a `GET`, the response is a
//! `200` or a single-part `206`, and it carries a validator the proxy may put
//! in `If-Range` (a strong `ETag`, or `Last-Modified` when there is no tag
//! at all; RFC 9110 section 13.1.5 forbids weak tags there). The resumed
//! request asks for the bytes
//! after the last one delivered; only a `206` for exactly those bytes of the
//! same representation (same validator, same complete length, same content
//! coding) may be spliced in. Everything else ends the client's response
//! short, which HTTP defines as a truncated (failed) response.

use http::header::{
    CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::range::{parse_content_range, parse_range, ContentRange};

/// Why a response cannot be resumed at all (decided when it starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotResumable {
    #[error("the request is not a GET")]
    Method,
    #[error("the status is neither 200 nor 206")]
    Status,
    #[error("the response has no strong ETag and no Last-Modified")]
    NoValidator,
    #[error("the client asked for several ranges or an unparseable one")]
    ClientRange,
    #[error("the 206 has several parts or no usable Content-Range")]
    Partial,
}

/// Why a back-end's answer to a resume request was not spliced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the back-end answered {0} instead of 206")]
    NotPartial(StatusCode),
    #[error("the 206 has several parts or no usable Content-Range")]
    BadContentRange,
    #[error("the 206 starts or ends at other bytes than were asked for")]
    RangeMismatch,
    #[error("the representation's complete length differs")]
    LengthMismatch,
    #[error("the validator differs: another version of the resource")]
    ValidatorMismatch,
    #[error("the content coding differs")]
    EncodingMismatch,
}

/// The validator the transfer is pinned to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Validator {
    StrongTag(HeaderValue),
    LastModified(HeaderValue),
}

impl Validator {
    fn of(headers: &HeaderMap) -> Option<Validator> {
        match headers.get(ETAG) {
            // A weak tag (`W/"..."`) may not appear in If-Range, and it says
            // the bytes may differ between equal tags: RFC 9110 section
            // 13.1.5 then forbids a date in If-Range as well.
            Some(tag) if tag.as_bytes().starts_with(b"W/") => None,
            Some(tag) => Some(Validator::StrongTag(tag.clone())),
            None => headers
                .get(LAST_MODIFIED)
                .map(|date| Validator::LastModified(date.clone())),
        }
    }

    fn header(&self) -> &HeaderValue {
        match self {
            Validator::StrongTag(value) | Validator::LastModified(value) => value,
        }
    }

    /// Strong comparison: the same bytes in the same header.
    fn matches(&self, headers: &HeaderMap) -> bool {
        match self {
            Validator::StrongTag(tag) => headers.get(ETAG) == Some(tag),
            Validator::LastModified(date) => headers.get(LAST_MODIFIED) == Some(date),
        }
    }
}

/// The request a resume sends: these two headers replace the client's
/// `Range` and any conditional headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeAsk {
    pub range: String,
    pub if_range: HeaderValue,
}

/// A response in flight and how far it got.
#[derive(Debug, Clone)]
pub struct Transfer {
    validator: Validator,
    /// Offset in the representation of the first byte of the client's body.
    first: u64,
    /// Offset just past its last byte, when known (a length or a bounded
    /// range).
    end: Option<u64>,
    /// The representation's complete length, when known.
    complete: Option<u64>,
    content_encoding: Option<HeaderValue>,
    delivered: u64,
}

impl Transfer {
    /// Decides from the client's request and the first back-end's response
    /// whether this response can be resumed, and pins what a resume must match.
    pub fn start(
        method: &Method,
        client_range: Option<&HeaderValue>,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Result<Transfer, NotResumable> {
        if method != Method::GET {
            return Err(NotResumable::Method);
        }
        let validator = Validator::of(headers).ok_or(NotResumable::NoValidator)?;
        let content_encoding = headers.get(CONTENT_ENCODING).cloned();
        let (first, end, complete) = match status {
            StatusCode::OK => {
                let length = content_length(headers);
                (0, length, length)
            }
            StatusCode::PARTIAL_CONTENT => {
                // A 200 to a ranged request is the whole representation; a
                // 206 must answer a single range the proxy understands.
                if let Some(value) = client_range {
                    value
                        .to_str()
                        .ok()
                        .and_then(parse_range)
                        .ok_or(NotResumable::ClientRange)?;
                }
                let range = single_part(headers).ok_or(NotResumable::Partial)?;
                (range.first, range.last.checked_add(1), range.complete)
            }
            _ => return Err(NotResumable::Status),
        };
        Ok(Transfer {
            validator,
            first,
            end,
            complete,
            content_encoding,
            delivered: 0,
        })
    }

    /// Records bytes handed to the client.
    pub fn delivered(&mut self, bytes: u64) {
        self.delivered = self.delivered.saturating_add(bytes);
    }

    pub fn delivered_so_far(&self) -> u64 {
        self.delivered
    }

    /// Bytes the client is still owed, when the end is known.
    pub fn remaining(&self) -> Option<u64> {
        Some(self.end?.saturating_sub(self.next_offset()))
    }

    fn next_offset(&self) -> u64 {
        self.first.saturating_add(self.delivered)
    }

    /// The headers of the request for the rest, or `None` when nothing is
    /// left to ask for.
    pub fn resume_request(&self) -> Option<ResumeAsk> {
        if self.remaining() == Some(0) {
            return None;
        }
        let next = self.next_offset();
        let range = match self.end {
            Some(end) => format!("bytes={next}-{}", end - 1),
            None => format!("bytes={next}-"),
        };
        Some(ResumeAsk {
            range,
            if_range: self.validator.header().clone(),
        })
    }

    /// Checks a back-end's answer to [`Transfer::resume_request`]; on success
    /// the transfer learns an end it did not know yet.
    pub fn accept_resumed(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Result<(), Refusal> {
        if status != StatusCode::PARTIAL_CONTENT {
            return Err(Refusal::NotPartial(status));
        }
        let range = single_part(headers).ok_or(Refusal::BadContentRange)?;
        if content_length(headers).is_some_and(|length| length != range.length()) {
            return Err(Refusal::BadContentRange);
        }
        let range_end = range.last.checked_add(1).ok_or(Refusal::BadContentRange)?;
        // The part must run to where the client's response ends; when that
        // end is unknown (a body without a length), to the representation's
        // own end, or a short part would end the client's response early.
        let ends_right = match self.end {
            Some(end) => end == range_end,
            None => range.complete == Some(range_end),
        };
        if range.first != self.next_offset() || !ends_right {
            return Err(Refusal::RangeMismatch);
        }
        if let (Some(ours), Some(theirs)) = (self.complete, range.complete) {
            if ours != theirs {
                return Err(Refusal::LengthMismatch);
            }
        }
        if !self.validator.matches(headers) {
            return Err(Refusal::ValidatorMismatch);
        }
        if headers.get(CONTENT_ENCODING) != self.content_encoding.as_ref() {
            return Err(Refusal::EncodingMismatch);
        }
        self.end = Some(range_end);
        self.complete = self.complete.or(range.complete);
        Ok(())
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The Content-Range of a single-part 206 (a multipart one has none).
fn single_part(headers: &HeaderMap) -> Option<ContentRange> {
    let multipart = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
    if multipart {
        return None;
    }
    parse_content_range(headers.get(CONTENT_RANGE)?.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn whole_file(length: u64) -> Transfer {
        Transfer::start(
            &Method::GET,
            None,
            StatusCode::OK,
            &headers(&[("etag", "\"v1\""), ("content-length", &length.to_string())]),
        )
        .unwrap()
    }

    #[test]
    fn a_200_resumes_after_the_last_delivered_byte_with_its_tag() {
        let mut transfer = whole_file(1000);
        transfer.delivered(400);
        let ask = transfer.resume_request().unwrap();
        assert_eq!(ask.range, "bytes=400-999");
        assert_eq!(ask.if_range, "\"v1\"");
        let answer = headers(&[
            ("etag", "\"v1\""),
            ("content-range", "bytes 400-999/1000"),
            ("content-length", "600"),
        ]);
        assert_eq!(
            transfer.accept_resumed(StatusCode::PARTIAL_CONTENT, &answer),
            Ok(())
        );
        assert_eq!(transfer.remaining(), Some(600));
    }

    #[test]
    fn a_clients_own_range_is_resumed_relative_to_where_it_started() {
        let range = HeaderValue::from_static("bytes=100-299");
        let mut transfer = Transfer::start(
            &Method::GET,
            Some(&range),
            StatusCode::PARTIAL_CONTENT,
            &headers(&[("etag", "\"v1\""), ("content-range", "bytes 100-299/1000")]),
        )
        .unwrap();
        transfer.delivered(50);
        assert_eq!(transfer.resume_request().unwrap().range, "bytes=150-299");
        assert_eq!(transfer.remaining(), Some(150));
    }

    #[test]
    fn a_length_learned_from_the_resumed_part_bounds_the_rest() {
        let mut transfer = Transfer::start(
            &Method::GET,
            None,
            StatusCode::OK,
            &headers(&[("last-modified", "Sat, 28 Nov 2026 10:00:00 GMT")]),
        )
        .unwrap();
        transfer.delivered(10);
        assert_eq!(transfer.remaining(), None);
        assert_eq!(transfer.resume_request().unwrap().range, "bytes=10-");
        let answer = headers(&[
            ("last-modified", "Sat, 28 Nov 2026 10:00:00 GMT"),
            ("content-range", "bytes 10-19/20"),
        ]);
        // A part that ends before the representation does would end the
        // client's response early: refused, as is one of unknown length.
        for short in ["bytes 10-19/100", "bytes 10-19/*"] {
            let answer = headers(&[
                ("last-modified", "Sat, 28 Nov 2026 10:00:00 GMT"),
                ("content-range", short),
            ]);
            assert_eq!(
                transfer
                    .clone()
                    .accept_resumed(StatusCode::PARTIAL_CONTENT, &answer),
                Err(Refusal::RangeMismatch)
            );
        }
        transfer
            .accept_resumed(StatusCode::PARTIAL_CONTENT, &answer)
            .unwrap();
        assert_eq!(transfer.remaining(), Some(10));
    }

    #[test]
    fn answers_that_are_not_the_same_bytes_are_refused() {
        let mut transfer = whole_file(1000);
        transfer.delivered(400);
        let transfer = transfer;
        let cases = [
            (
                StatusCode::OK,
                headers(&[("etag", "\"v1\""), ("content-length", "1000")]),
                Refusal::NotPartial(StatusCode::OK),
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                headers(&[("etag", "\"v2\""), ("content-range", "bytes 400-999/1000")]),
                Refusal::ValidatorMismatch,
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                headers(&[("content-range", "bytes 400-999/1000")]),
                Refusal::ValidatorMismatch,
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                headers(&[("etag", "\"v1\""), ("content-range", "bytes 0-999/1000")]),
                Refusal::RangeMismatch,
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                headers(&[("etag", "\"v1\""), ("content-range", "bytes 400-899/1000")]),
                Refusal::RangeMismatch,
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                headers(&[("etag", "\"v1\""), ("content-range", "bytes 400-999/2000")]),
                Refusal::LengthMismatch,
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                headers(&[
                    ("etag", "\"v1\""),
                    ("content-range", "bytes 400-999/1000"),
                    ("content-length", "10"),
                ]),
                Refusal::BadContentRange,
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                headers(&[
                    ("etag", "\"v1\""),
                    ("content-type", "multipart/byteranges; boundary=x"),
                    ("content-range", "bytes 400-999/1000"),
                ]),
                Refusal::BadContentRange,
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                headers(&[
                    ("etag", "\"v1\""),
                    ("content-range", "bytes 400-999/1000"),
                    ("content-encoding", "gzip"),
                ]),
                Refusal::EncodingMismatch,
            ),
        ];
        for (status, answer, refusal) in cases {
            let mut attempt = transfer.clone();
            assert_eq!(
                attempt.accept_resumed(status, &answer),
                Err(refusal),
                "{answer:?}"
            );
            // A refused answer teaches the transfer nothing.
            assert_eq!(attempt.resume_request(), transfer.resume_request());
        }
    }

    #[test]
    fn responses_without_a_usable_validator_or_shape_are_not_resumable() {
        let get = Method::GET;
        let weak = headers(&[("etag", "W/\"v1\""), ("content-length", "10")]);
        assert_eq!(
            Transfer::start(&get, None, StatusCode::OK, &weak).unwrap_err(),
            NotResumable::NoValidator
        );
        let weak_but_dated = headers(&[
            ("etag", "W/\"v1\""),
            ("last-modified", "Sat, 28 Nov 2026 10:00:00 GMT"),
        ]);
        assert_eq!(
            Transfer::start(&get, None, StatusCode::OK, &weak_but_dated).unwrap_err(),
            NotResumable::NoValidator
        );
        let dated = headers(&[("last-modified", "Sat, 28 Nov 2026 10:00:00 GMT")]);
        let transfer = Transfer::start(&get, None, StatusCode::OK, &dated).unwrap();
        assert_eq!(
            transfer.resume_request().unwrap().if_range,
            "Sat, 28 Nov 2026 10:00:00 GMT"
        );
        let tagged = headers(&[("etag", "\"v1\"")]);
        assert_eq!(
            Transfer::start(&Method::POST, None, StatusCode::OK, &tagged).unwrap_err(),
            NotResumable::Method
        );
        assert_eq!(
            Transfer::start(&get, None, StatusCode::NOT_FOUND, &tagged).unwrap_err(),
            NotResumable::Status
        );
        let two = HeaderValue::from_static("bytes=0-1,4-5");
        let part = headers(&[("etag", "\"v1\""), ("content-range", "bytes 0-1/10")]);
        assert_eq!(
            Transfer::start(&get, Some(&two), StatusCode::PARTIAL_CONTENT, &part).unwrap_err(),
            NotResumable::ClientRange
        );
        // The back-end ignored the ranges and sent everything: resumable.
        let whole = headers(&[("etag", "\"v1\""), ("content-length", "10")]);
        assert!(Transfer::start(&get, Some(&two), StatusCode::OK, &whole).is_ok());
        assert_eq!(
            Transfer::start(&get, None, StatusCode::PARTIAL_CONTENT, &tagged).unwrap_err(),
            NotResumable::Partial
        );
    }

    #[test]
    fn nothing_is_asked_for_once_everything_was_delivered() {
        let mut transfer = whole_file(10);
        transfer.delivered(10);
        assert_eq!(transfer.resume_request(), None);
        assert_eq!(whole_file(0).resume_request(), None);
    }
}
