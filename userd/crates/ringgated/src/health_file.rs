//! A service's health check as the daemon's TOML file writes it:
//!
//! ```toml
//! [vips.services.health]
//! check = "http"          # or "tcp": the back-end accepts a connection
//! path = "/healthz"       # http only; default "/"
//! expect_status = 200     # http only; default 200
//! interval_ms = 1000      # these four are optional; these are the defaults
//! timeout_ms = 500
//! rise = 2                # passes in a row that bring a back-end up
//! fall = 3                # failures in a row that take it down
//! ```
//!
//! It becomes a `HealthCheck` of the cluster configuration, checked by the
//! same rules `ClusterConfig::validate` applies, so a mistake is reported
//! with the file's field name before the cluster ever sees it.

use ringgate_cluster::config::{CheckKind, HealthCheck};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckFile {
    check: String,
    path: Option<String>,
    expect_status: Option<u16>,
    interval_ms: Option<u32>,
    timeout_ms: Option<u32>,
    rise: Option<u8>,
    fall: Option<u8>,
}

impl HealthCheckFile {
    /// The check, or an error naming the field at fault; `field` is where
    /// this table sits in the file (e.g. `vips[0].services[1].health`).
    pub fn into_check(self, field: &str) -> Result<HealthCheck, String> {
        let kind = match self.check.as_str() {
            "http" => CheckKind::Http {
                path: self.path.unwrap_or_else(|| "/".into()),
                expect_status: self.expect_status.unwrap_or(200),
            },
            // Silently ignoring them would let an operator believe the
            // back-ends' answers were being checked.
            "tcp" if self.path.is_some() => {
                return Err(format!("{field}.path: a tcp check has no path"))
            }
            "tcp" if self.expect_status.is_some() => {
                return Err(format!("{field}.expect_status: a tcp check has no status"))
            }
            "tcp" => CheckKind::Tcp,
            other => {
                return Err(format!(
                    "{field}.check: {other:?} is neither \"tcp\" nor \"http\""
                ))
            }
        };
        let check = HealthCheck {
            kind,
            interval_ms: self.interval_ms.unwrap_or(1000),
            timeout_ms: self.timeout_ms.unwrap_or(500),
            rise: self.rise.unwrap_or(2),
            fall: self.fall.unwrap_or(3),
        };
        match check.problem() {
            Some(problem) => Err(format!("{field}.{}: {problem}", problem.field())),
            None => Ok(check),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELD: &str = "vips[0].services[1].health";

    fn parse(text: &str) -> Result<HealthCheck, String> {
        toml::from_str::<HealthCheckFile>(text)
            .map_err(|e| e.to_string())?
            .into_check(FIELD)
    }

    #[test]
    fn http_takes_its_defaults() {
        assert_eq!(
            parse(r#"check = "http""#),
            Ok(HealthCheck {
                kind: CheckKind::Http {
                    path: "/".into(),
                    expect_status: 200,
                },
                interval_ms: 1000,
                timeout_ms: 500,
                rise: 2,
                fall: 3,
            })
        );
    }

    #[test]
    fn every_field_can_be_set() {
        let text = r#"
            check = "http"
            path = "/healthz?deep=1"
            expect_status = 204
            interval_ms = 2000
            timeout_ms = 1500
            rise = 5
            fall = 1
        "#;
        assert_eq!(
            parse(text),
            Ok(HealthCheck {
                kind: CheckKind::Http {
                    path: "/healthz?deep=1".into(),
                    expect_status: 204,
                },
                interval_ms: 2000,
                timeout_ms: 1500,
                rise: 5,
                fall: 1,
            })
        );
    }

    #[test]
    fn tcp_takes_its_defaults_and_refuses_http_fields() {
        let tcp = parse(r#"check = "tcp""#);
        assert_eq!(tcp.map(|c| c.kind), Ok(CheckKind::Tcp));
        assert_eq!(
            parse("check = \"tcp\"\npath = \"/\""),
            Err(format!("{FIELD}.path: a tcp check has no path"))
        );
        assert_eq!(
            parse("check = \"tcp\"\nexpect_status = 200"),
            Err(format!("{FIELD}.expect_status: a tcp check has no status"))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                "check = \"icmp\"",
                "check: \"icmp\" is neither \"tcp\" nor \"http\"",
            ),
            (
                "check = \"tcp\"\ninterval_ms = 50",
                "interval_ms: interval_ms 50 is outside 100..=3600000",
            ),
            (
                "check = \"tcp\"\ninterval_ms = 400",
                "timeout_ms: timeout_ms 500 must be at least 1 and less than interval_ms 400",
            ),
            (
                "check = \"tcp\"\nrise = 0",
                "rise: rise 0 is outside 1..=100",
            ),
            (
                "check = \"tcp\"\nfall = 101",
                "fall: fall 101 is outside 1..=100",
            ),
            (
                "check = \"http\"\npath = \"healthz\"",
                "path: path must start with '/'",
            ),
            (
                "check = \"http\"\npath = \"/a b\"",
                "path: path holds ' '; only printable ASCII without spaces is allowed",
            ),
            (
                "check = \"http\"\nexpect_status = 42",
                "expect_status: expect_status 42 is not an HTTP status (100..=599)",
            ),
        ];
        for (text, error) in cases {
            assert_eq!(parse(text), Err(format!("{FIELD}.{error}")), "{text}");
        }
    }

    #[test]
    fn unknown_and_missing_fields_and_wrong_types_are_refused() {
        let unknown = parse("check = \"tcp\"\nport = 80");
        assert!(
            unknown.as_ref().is_err_and(|e| e.contains("port")),
            "{unknown:?}"
        );
        let missing = parse("interval_ms = 1000");
        assert!(
            missing.as_ref().is_err_and(|e| e.contains("check")),
            "{missing:?}"
        );
        let too_big = parse("check = \"tcp\"\nrise = 300");
        assert!(too_big.is_err(), "{too_big:?}");
    }
}
