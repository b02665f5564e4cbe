//! The generated constants against the C header and the spec, and the
//! generator against small specs.

use super::header::{parse, Value};
use super::*;

const HEADER: &str = include_str!("../../../../include/uapi/linux/ringgate.h");
const SPEC: &str = include_str!("../../../../include/netlink/ringgate.yaml");

/// Every number the C header defines (enum entries and `#define`s, the
/// private `__..._MAX` markers aside) is generated with the same name and
/// value, and nothing numeric is generated that the header lacks: the two
/// generators read the same spec the same way.
#[test]
fn every_number_of_the_c_header_is_generated_the_same() {
    let header = parse(HEADER).unwrap();
    let mut from_header: Vec<(String, i64)> = header
        .defines
        .iter()
        .filter_map(|(name, value)| match value {
            Value::Int(n) => Some((name.clone(), *n)),
            Value::Str(_) => None,
        })
        .collect();
    for e in &header.enums {
        from_header.extend(
            e.entries
                .iter()
                .filter(|(n, _)| !n.starts_with("__"))
                .cloned(),
        );
    }
    let mut generated: Vec<(String, i64)> = ALL_NUMBERS
        .iter()
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
    from_header.sort();
    generated.sort();
    assert_eq!(generated, from_header);
}

#[test]
fn strings_of_the_c_header_are_generated_the_same() {
    assert!(HEADER.contains(&format!(
        "#define RINGGATE_FAMILY_NAME\t\"{RINGGATE_FAMILY_NAME}\""
    )));
    assert!(HEADER.contains(&format!(
        "#define RINGGATE_MCGRP_EVENTS\t\"{RINGGATE_MCGRP_EVENTS}\""
    )));
}

#[test]
fn value_enums_have_name_tables() {
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
    assert_eq!(RINGGATE_SCHEDULER_NAMES[2], ("lc", 2));
    // Entry docs come as one line each, for help texts.
    let (name, doc) = RINGGATE_SCHEDULER_DOCS[0];
    assert_eq!(
        (name, doc),
        (
            "wrr",
            "Weighted round-robin over the back-ends that are up."
        )
    );
    assert!(RINGGATE_SCHEDULER_DOCS[1]
        .1
        .starts_with("Consistent hashing of the client address (Maglev): a client"));
}

#[test]
fn attribute_sets_have_name_tables_from_the_spec() {
    assert_eq!(
        RINGGATE_A_VIP_NAMES,
        &[
            ("addr", 1),
            ("owned", 2),
            ("garp-count", 3),
            ("owner-node", 4)
        ]
    );
    assert_eq!(RINGGATE_A_SERVICE_NAMES[4], ("backend", 5));
    assert_eq!(RINGGATE_CMD_NAMES[0], ("status-get", 1));
}

/// What the header cannot say: types, byte order, multi-attr, nesting,
/// value enums and bounds (a bound naming a constant resolved).
#[test]
fn attributes_carry_their_type_byte_order_and_nesting() {
    let addr = RINGGATE_SET_VIP.attr(RINGGATE_A_VIP_ADDR).unwrap();
    assert_eq!(
        (addr.ty, addr.byte_order, addr.ipv4),
        (AttrType::U32, ByteOrder::BigEndian, true)
    );
    let garp = RINGGATE_SET_VIP.attr(RINGGATE_A_VIP_GARP_COUNT).unwrap();
    assert_eq!(
        (garp.min, garp.max),
        (Some(1), Some(i64::from(RINGGATE_MAX_GARP_COUNT)))
    );
    let backends = RINGGATE_SET_SERVICE
        .attr(RINGGATE_A_SERVICE_BACKENDS)
        .unwrap();
    assert!(backends.multi_attr);
    assert_eq!(backends.ty, AttrType::Nest);
    assert_eq!(backends.nested, Some(&RINGGATE_SET_BACKEND));
    let backend = RINGGATE_SET_SERVICE
        .attr(RINGGATE_A_SERVICE_BACKEND)
        .unwrap();
    assert!(!backend.multi_attr);
    let scheduler = RINGGATE_SET_SERVICE
        .attr(RINGGATE_A_SERVICE_SCHEDULER)
        .unwrap();
    assert_eq!(scheduler.enumeration, Some(RINGGATE_SCHEDULER_NAMES));
    let packets = RINGGATE_SET_HOOK_STATS
        .attr(RINGGATE_A_HOOK_STATS_PACKETS)
        .unwrap();
    assert_eq!(
        (packets.ty, packets.byte_order),
        (AttrType::Uint, ByteOrder::Host)
    );
}

#[test]
fn operations_name_their_attribute_set_and_group() {
    let set = op(RINGGATE_CMD_BACKEND_SET).unwrap();
    assert_eq!((set.name, set.set.name), ("backend-set", "service"));
    let ntf = op(RINGGATE_CMD_VIP_OWNER_NTF).unwrap();
    assert_eq!(ntf.mcgrp, Some(RINGGATE_MCGRP_EVENTS));
    assert_eq!(op(0), None);
    assert_eq!(OPS.len(), usize::from(RINGGATE_CMD_MAX));
}

/// The spec the tables come from is the one in the repository (a
/// stand-in spec would pass the tests above only by chance).
#[test]
fn every_attribute_name_is_in_the_spec() {
    for op in OPS {
        for attr in op.set.attrs {
            assert!(
                SPEC.contains(&format!("name: {}\n", attr.name)),
                "{}",
                attr.name
            );
        }
    }
}

mod generator {
    use crate::render::render;
    use crate::spec::Family;

    fn generate(yaml: &str) -> Result<String, String> {
        let mut family: Family = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
        family.resolve_subsets()?;
        render(&family)
    }

    const SMALL: &str = "
name: x
definitions:
  - { type: enum, name: color, value-start: 2, entries: [red, { name: dark-blue, doc: d }] }
  - { type: const, name: max-things, value: 4 }
attribute-sets:
  - name: thing
    attributes:
      - { name: id, type: u16 }
      - { name: addr, type: u32, byte-order: big-endian, display-hint: ipv4, value: 5 }
      - { name: color, type: u32, enum: color, checks: { min: 1, max: max-things } }
operations:
  list:
    - { name: thing-get, attribute-set: thing }
    - { name: thing-ntf, attribute-set: thing, mcgrp: watch, value: 9 }
mcast-groups:
  list:
    - { name: watch }
";

    /// Numbering as ynl-gen-c's: enums from value-start, attributes and
    /// commands from 1, an explicit value restarting the count.
    #[test]
    fn numbers_follow_ynl_gen_c() {
        let rust = generate(SMALL).unwrap();
        for line in [
            "pub const X_FAMILY_VERSION: u8 = 1;",
            "pub const X_COLOR_RED: u32 = 2;",
            "pub const X_COLOR_DARK_BLUE: u32 = 3;",
            "pub const X_MAX_THINGS: u32 = 4;",
            "pub const X_A_THING_ID: u16 = 1;",
            "pub const X_A_THING_ADDR: u16 = 5;",
            "pub const X_A_THING_COLOR: u16 = 6;",
            "pub const X_A_THING_MAX: u16 = 6;",
            "pub const X_CMD_THING_GET: u8 = 1;",
            "pub const X_CMD_THING_NTF: u8 = 9;",
            "pub const X_MCGRP_WATCH: &str = \"watch\";",
        ] {
            assert!(rust.contains(line), "{line} not in:\n{rust}");
        }
        assert!(rust.contains("ty: AttrType::U32, byte_order: ByteOrder::BigEndian, ipv4: true"));
        assert!(rust.contains("enumeration: Some(X_COLOR_NAMES), min: Some(1), max: Some(4)"));
        assert!(
            rust.contains(
                "pub const X_COLOR_DOCS: &[(&str, &str)] = &[\n    (\"dark-blue\", \"d\"),\n];"
            ),
            "{rust}"
        );
    }

    #[test]
    fn unknown_references_are_refused() {
        let bad_set = SMALL.replace("attribute-set: thing }", "attribute-set: nothing }");
        assert!(generate(&bad_set)
            .unwrap_err()
            .contains("unknown set nothing"));
        let bad_enum = SMALL.replace("enum: color", "enum: colour");
        assert!(generate(&bad_enum)
            .unwrap_err()
            .contains("unknown enum colour"));
        let bad_type = SMALL.replace("type: u16", "type: s17");
        assert!(generate(&bad_type).unwrap_err().contains("type s17"));
    }

    /// A subset takes its parent's numbers and types, with its own checks,
    /// and has no constants of its own (ynl-gen-c writes none).
    #[test]
    fn a_subset_shares_its_parents_numbers() {
        let yaml = SMALL.replace(
            "operations:",
            "  - name: part\n    subset-of: thing\n    attributes:\n      - { name: color, checks: { min: 2 } }\n      - { name: addr }\noperations:",
        );
        let rust = generate(&yaml).unwrap();
        assert!(!rust.contains("X_A_PART_"), "{rust}");
        assert!(rust.contains(
            "pub static X_SET_PART_ATTRS: [AttrSpec; 2] = [\n    AttrSpec { name: \"color\", value: 6, ty: AttrType::U32"
        ), "{rust}");
        assert!(
            rust.contains("enumeration: Some(X_COLOR_NAMES), min: Some(2), max: None"),
            "{rust}"
        );
        assert!(rust.contains("AttrSpec { name: \"addr\", value: 5, ty: AttrType::U32, byte_order: ByteOrder::BigEndian"), "{rust}");
        let bad = yaml.replace("{ name: addr }", "{ name: address }");
        assert!(generate(&bad)
            .unwrap_err()
            .contains("part.address is not in thing"));
    }
}
