//! Turns the family's YAML spec (include/netlink/ringgate.yaml) into Rust:
//! the same constants ynl-gen-c writes into the C header, and what the header
//! cannot say (each attribute's type, byte order, nesting, value enum and
//! bounds), so userspace never types a netlink number or width by hand.

#[path = "src/render.rs"]
mod render;
#[path = "src/spec.rs"]
mod spec;

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let path = manifest.join("../../../include/netlink/ringgate.yaml");
    println!("cargo:rerun-if-changed={}", path.display());
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the spec {}: {e}", path.display()));
    let mut family: spec::Family =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    family
        .resolve_subsets()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rust = render::render(&family).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("uapi.rs");
    fs::write(&out, rust).expect("OUT_DIR is writable");
}
