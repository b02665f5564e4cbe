//! Turns include/uapi/linux/ringgate.h into Rust constants, so userspace never
//! types a netlink number by hand. The header is itself generated from the
//! YAML spec by the kernel's ynl-gen-c, whose output is regular: `#define`s of
//! one string or integer, and enums of `NAME` or `NAME = value` entries.

#[path = "src/header.rs"]
mod header;

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let path = manifest.join("../../../include/uapi/linux/ringgate.h");
    println!("cargo:rerun-if-changed={}", path.display());
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the UAPI header {}: {e}", path.display()));
    let parsed = header::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("uapi.rs");
    fs::write(&out, header::render(&parsed)).expect("OUT_DIR is writable");
}
