//! A service's back-end health check: what every node probes, how often,
//! and how many results in a row change its verdict. It is part of the
//! replicated configuration, so every node checks the same way and their
//! votes (see `crate::health`) are comparable.

use crate::codec::{DecodeError, Reader, Writer};

/// The limits of a check's settings, checked by `ClusterConfig::validate`.
pub const MIN_INTERVAL_MS: u32 = 100;
pub const MAX_INTERVAL_MS: u32 = 3_600_000;
pub const MAX_RISE_FALL: u8 = 100;
pub const MAX_PATH_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub kind: CheckKind,
    /// How often each back-end is probed.
    pub interval_ms: u32,
    /// How long one probe may take before it counts as failed.
    pub timeout_ms: u32,
    /// Consecutive passes that bring a down back-end up again.
    pub rise: u8,
    /// Consecutive failures that take an up back-end down.
    pub fall: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// The back-end passes when it accepts a TCP connection.
    Tcp,
    /// The back-end passes when `GET path` answers with `expect_status`.
    Http { path: String, expect_status: u16 },
}

/// What is wrong with a health check; `ConfigError::Health` says which
/// service it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthProblem {
    #[error("interval_ms {0} is outside {MIN_INTERVAL_MS}..={MAX_INTERVAL_MS}")]
    Interval(u32),
    #[error("timeout_ms {timeout_ms} must be at least 1 and less than interval_ms {interval_ms}")]
    Timeout { timeout_ms: u32, interval_ms: u32 },
    #[error("rise {0} is outside 1..={MAX_RISE_FALL}")]
    Rise(u8),
    #[error("fall {0} is outside 1..={MAX_RISE_FALL}")]
    Fall(u8),
    #[error("path must start with '/'")]
    PathStart,
    #[error("path is {0} bytes long, more than {MAX_PATH_LEN}")]
    PathLength(usize),
    #[error("path holds {0:?}; only printable ASCII without spaces is allowed")]
    PathCharacter(char),
    #[error("expect_status {0} is not an HTTP status (100..=599)")]
    ExpectStatus(u16),
}

impl HealthProblem {
    /// The setting at fault, as the configuration file names it.
    pub fn field(&self) -> &'static str {
        match self {
            HealthProblem::Interval(_) => "interval_ms",
            HealthProblem::Timeout { .. } => "timeout_ms",
            HealthProblem::Rise(_) => "rise",
            HealthProblem::Fall(_) => "fall",
            HealthProblem::PathStart
            | HealthProblem::PathLength(_)
            | HealthProblem::PathCharacter(_) => "path",
            HealthProblem::ExpectStatus(_) => "expect_status",
        }
    }
}

const TAG_TCP: u8 = 0;
const TAG_HTTP: u8 = 1;

impl HealthCheck {
    /// The first thing wrong with the check, if any.
    pub fn problem(&self) -> Option<HealthProblem> {
        let (interval_ms, timeout_ms) = (self.interval_ms, self.timeout_ms);
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&interval_ms) {
            return Some(HealthProblem::Interval(interval_ms));
        }
        // A probe that may outlast the interval would overlap the next one.
        if timeout_ms == 0 || timeout_ms >= interval_ms {
            return Some(HealthProblem::Timeout {
                timeout_ms,
                interval_ms,
            });
        }
        if !(1..=MAX_RISE_FALL).contains(&self.rise) {
            return Some(HealthProblem::Rise(self.rise));
        }
        if !(1..=MAX_RISE_FALL).contains(&self.fall) {
            return Some(HealthProblem::Fall(self.fall));
        }
        match &self.kind {
            CheckKind::Tcp => None,
            CheckKind::Http {
                path,
                expect_status,
            } => path_problem(path).or_else(|| {
                (!(100..=599).contains(expect_status))
                    .then_some(HealthProblem::ExpectStatus(*expect_status))
            }),
        }
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        match &self.kind {
            CheckKind::Tcp => {
                w.u8(TAG_TCP);
            }
            CheckKind::Http {
                path,
                expect_status,
            } => {
                w.u8(TAG_HTTP).str(path).u16(*expect_status);
            }
        }
        w.u32(self.interval_ms)
            .u32(self.timeout_ms)
            .u8(self.rise)
            .u8(self.fall);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let kind = match r.u8()? {
            TAG_TCP => CheckKind::Tcp,
            TAG_HTTP => CheckKind::Http {
                path: r.str()?,
                expect_status: r.u16()?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "health check",
                    tag,
                })
            }
        };
        Ok(HealthCheck {
            kind,
            interval_ms: r.u32()?,
            timeout_ms: r.u32()?,
            rise: r.u8()?,
            fall: r.u8()?,
        })
    }
}

/// The path goes verbatim into the request line, so anything that could
/// end or split that line (spaces, control characters, CR/LF) is refused.
fn path_problem(path: &str) -> Option<HealthProblem> {
    if !path.starts_with('/') {
        return Some(HealthProblem::PathStart);
    }
    if path.len() > MAX_PATH_LEN {
        return Some(HealthProblem::PathLength(path.len()));
    }
    path.chars()
        .find(|c| !c.is_ascii_graphic())
        .map(HealthProblem::PathCharacter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> HealthCheck {
        HealthCheck {
            kind: CheckKind::Http {
                path: "/healthz".into(),
                expect_status: 200,
            },
            interval_ms: 1000,
            timeout_ms: 500,
            rise: 2,
            fall: 3,
        }
    }

    fn with(change: impl FnOnce(&mut HealthCheck)) -> Option<HealthProblem> {
        let mut c = http();
        change(&mut c);
        c.problem()
    }

    fn path(p: &str) -> Option<HealthProblem> {
        with(|c| {
            c.kind = CheckKind::Http {
                path: p.into(),
                expect_status: 200,
            }
        })
    }

    #[test]
    fn both_kinds_round_trip_and_truncations_fail() {
        let tcp = HealthCheck {
            kind: CheckKind::Tcp,
            ..http()
        };
        for check in [http(), tcp] {
            let mut w = Writer::default();
            check.encode(&mut w);
            let bytes = w.finish();
            let mut r = Reader::new(&bytes);
            assert_eq!(HealthCheck::decode(&mut r), Ok(check));
            assert_eq!(r.finish(), Ok(()));
            for cut in 0..bytes.len() {
                assert!(HealthCheck::decode(&mut Reader::new(&bytes[..cut])).is_err());
            }
        }
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        let mut w = Writer::default();
        http().encode(&mut w);
        let mut bytes = w.finish();
        bytes[0] = 7;
        assert_eq!(
            HealthCheck::decode(&mut Reader::new(&bytes)),
            Err(DecodeError::UnknownTag {
                what: "health check",
                tag: 7
            })
        );
    }

    #[test]
    fn the_interval_is_bounded() {
        assert_eq!(http().problem(), None);
        assert_eq!(
            with(|c| {
                c.interval_ms = 100;
                c.timeout_ms = 99;
            }),
            None
        );
        assert_eq!(
            with(|c| c.interval_ms = 99),
            Some(HealthProblem::Interval(99))
        );
        assert_eq!(
            with(|c| c.interval_ms = 3_600_001),
            Some(HealthProblem::Interval(3_600_001))
        );
        assert_eq!(
            with(|c| {
                c.interval_ms = 3_600_000;
                c.timeout_ms = 1;
            }),
            None
        );
    }

    #[test]
    fn the_timeout_is_positive_and_shorter_than_the_interval() {
        let timeout = |t| HealthProblem::Timeout {
            timeout_ms: t,
            interval_ms: 1000,
        };
        assert_eq!(with(|c| c.timeout_ms = 0), Some(timeout(0)));
        assert_eq!(with(|c| c.timeout_ms = 1000), Some(timeout(1000)));
        assert_eq!(with(|c| c.timeout_ms = 999), None);
        assert_eq!(with(|c| c.timeout_ms = 1), None);
    }

    #[test]
    fn rise_and_fall_are_1_to_100() {
        assert_eq!(with(|c| c.rise = 0), Some(HealthProblem::Rise(0)));
        assert_eq!(with(|c| c.rise = 101), Some(HealthProblem::Rise(101)));
        assert_eq!(with(|c| c.fall = 0), Some(HealthProblem::Fall(0)));
        assert_eq!(with(|c| c.fall = 101), Some(HealthProblem::Fall(101)));
        assert_eq!(
            with(|c| {
                c.rise = 100;
                c.fall = 1;
            }),
            None
        );
    }

    #[test]
    fn the_path_starts_with_a_slash() {
        assert_eq!(path("healthz"), Some(HealthProblem::PathStart));
        assert_eq!(path(""), Some(HealthProblem::PathStart));
        assert_eq!(path("/"), None);
    }

    #[test]
    fn the_path_is_at_most_256_bytes() {
        let long = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
        assert_eq!(path(&long), None);
        let longer = format!("{long}a");
        assert_eq!(path(&longer), Some(HealthProblem::PathLength(257)));
    }

    #[test]
    fn the_path_is_printable_ascii_without_spaces() {
        assert_eq!(path("/a?b=c&d=%20~"), None);
        assert_eq!(path("/a b"), Some(HealthProblem::PathCharacter(' ')));
        assert_eq!(path("/a\r\nX: y"), Some(HealthProblem::PathCharacter('\r')));
        assert_eq!(
            path("/\u{7f}"),
            Some(HealthProblem::PathCharacter('\u{7f}'))
        );
        assert_eq!(path("/é"), Some(HealthProblem::PathCharacter('é')));
    }

    #[test]
    fn the_expected_status_is_an_http_status() {
        let status = |s| {
            with(|c| {
                c.kind = CheckKind::Http {
                    path: "/".into(),
                    expect_status: s,
                }
            })
        };
        assert_eq!(status(99), Some(HealthProblem::ExpectStatus(99)));
        assert_eq!(status(600), Some(HealthProblem::ExpectStatus(600)));
        assert_eq!(status(100), None);
        assert_eq!(status(599), None);
    }
}
