//! The constants of the ringgate generic netlink family.
//!
//! Every constant here is generated at build time from
//! `include/uapi/linux/ringgate.h` (itself generated from the YAML spec), so
//! the kernel module, the kernel's own YNL client and this crate all read the
//! same numbers.

#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/uapi.rs"));

// The parser build.rs uses, compiled again here so its unit tests run; the
// rendering half is only build.rs's business.
#[cfg(test)]
#[allow(dead_code)]
#[path = "header.rs"]
mod header;

#[cfg(test)]
mod tests {
    use super::header::{parse, Value};
    use super::*;

    const SAMPLE: &str = r#"
/* SPDX-License-Identifier: x */
#ifndef _UAPI_LINUX_X_H
#define _UAPI_LINUX_X_H
#define X_FAMILY_NAME	"x"
#define X_FAMILY_VERSION	1
/**
 * enum x_hook - doc
 */
enum x_hook {
	X_HOOK_A,
	X_HOOK_B,
};
enum {
	X_A_ONE = 1,
	X_A_TWO,

	__X_A_MAX,
	X_A_MAX = (__X_A_MAX - 1)
};
#endif
"#;

    #[test]
    fn parses_what_ynl_gen_c_writes() {
        let h = parse(SAMPLE).unwrap();
        assert_eq!(
            h.defines[0],
            ("X_FAMILY_NAME".into(), Value::Str("x".into()))
        );
        assert_eq!(h.defines[1], ("X_FAMILY_VERSION".into(), Value::Int(1)));
        assert_eq!(h.enums[0].name.as_deref(), Some("x_hook"));
        assert_eq!(
            h.enums[0].entries,
            vec![("X_HOOK_A".into(), 0), ("X_HOOK_B".into(), 1)]
        );
        let anon = &h.enums[1];
        assert_eq!(anon.name, None);
        assert_eq!(
            anon.entries,
            vec![
                ("X_A_ONE".into(), 1),
                ("X_A_TWO".into(), 2),
                ("__X_A_MAX".into(), 3),
                ("X_A_MAX".into(), 2)
            ]
        );
    }

    #[test]
    fn refuses_an_unclosed_enum() {
        assert!(parse("enum {\n A,\n").is_err());
    }

    /// The generated constants agree with the header text itself, checked by
    /// reading the header independently of build.rs.
    #[test]
    fn generated_constants_match_the_header() {
        let text = include_str!("../../../../include/uapi/linux/ringgate.h");
        assert!(text.contains(&format!(
            "#define RINGGATE_FAMILY_NAME\t\"{RINGGATE_FAMILY_NAME}\""
        )));
        assert!(text.contains(&format!(
            "RINGGATE_A_STATUS_VERSION = {RINGGATE_A_STATUS_VERSION},"
        )));
        assert!(text.contains(&format!(
            "RINGGATE_CMD_STATUS_GET = {RINGGATE_CMD_STATUS_GET},"
        )));
        assert!(text.contains(&format!(
            "#define RINGGATE_MCGRP_EVENTS\t\"{RINGGATE_MCGRP_EVENTS}\""
        )));
        let names: Vec<&str> = RINGGATE_HOOK_NAMES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "pre-routing",
                "local-in",
                "forward",
                "local-out",
                "post-routing",
                "arp-in",
                "arp-out"
            ]
        );
        assert_eq!(RINGGATE_HOOK_ARP_OUT, 6);
    }

    /// Each attribute set gets a name table, and every name in it is an
    /// attribute name of the YAML spec.
    #[test]
    fn attribute_sets_have_name_tables_from_the_spec() {
        assert_eq!(
            RINGGATE_A_VIP_NAMES,
            &[("addr", 1), ("owned", 2), ("garp-count", 3)]
        );
        assert_eq!(RINGGATE_A_HOOK_STATS_NAMES[0], ("hook", 1));
        assert_eq!(RINGGATE_A_SERVICE_NAMES[4], ("backend", 5));
        assert_eq!(RINGGATE_CMD_NAMES[0], ("status-get", 1));
        let spec = include_str!("../../../../include/netlink/ringgate.yaml");
        for table in [
            RINGGATE_A_HOOK_STATS_NAMES,
            RINGGATE_A_STATUS_NAMES,
            RINGGATE_A_VIP_NAMES,
            RINGGATE_A_BACKEND_NAMES,
            RINGGATE_A_SERVICE_NAMES,
            RINGGATE_A_CONFIG_NAMES,
            RINGGATE_A_SESSION_NAMES,
        ] {
            for (name, _) in table {
                assert!(
                    spec.contains(&format!("name: {name}\n")),
                    "{name} not in the spec"
                );
            }
        }
    }

    /// The hook names in the header are the ones the YAML spec lists.
    #[test]
    fn hook_names_match_the_yaml_spec() {
        let spec = include_str!("../../../../include/netlink/ringgate.yaml");
        for (name, _) in RINGGATE_HOOK_NAMES {
            assert!(
                spec.contains(&format!("      - {name}\n")),
                "{name} not in the spec"
            );
        }
    }
}
