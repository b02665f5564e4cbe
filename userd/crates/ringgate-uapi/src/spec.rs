//! The parts of a YNL family spec (`include/netlink/ringgate.yaml`) that
//! userspace needs, as serde reads them. Fields the generator has no use for
//! (docs, kernel policy hooks) are left out; serde skips them.

use serde::Deserialize;

/// A whole family spec.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Family {
    pub name: String,
    /// The family version ynl-gen-c writes as `..._FAMILY_VERSION` (1 unless given).
    #[serde(default = "one")]
    pub version: i64,
    #[serde(default)]
    pub definitions: Vec<Definition>,
    #[serde(default)]
    pub attribute_sets: Vec<AttrSet>,
    pub operations: Operations,
    #[serde(default)]
    pub mcast_groups: Option<McastGroups>,
}

fn one() -> i64 {
    1
}

/// An entry of `definitions`: an enum of named values, or a constant.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Definition {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default)]
    pub value_start: Option<i64>,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// An enum entry, written either as a bare name or as a map with a doc.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Name(String),
    Documented {
        name: String,
        #[serde(default)]
        doc: Option<String>,
    },
}

impl Entry {
    pub fn name(&self) -> &str {
        match self {
            Entry::Name(name) | Entry::Documented { name, .. } => name,
        }
    }

    /// The entry's doc as one line (the spec wraps it), if it has one.
    pub fn doc(&self) -> Option<String> {
        match self {
            Entry::Documented { doc: Some(doc), .. } => {
                Some(doc.split_whitespace().collect::<Vec<_>>().join(" "))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AttrSet {
    pub name: String,
    /// A subset shares another set's attributes and numbers (only their
    /// checks may differ): it has no constants of its own.
    #[serde(default)]
    pub subset_of: Option<String>,
    pub attributes: Vec<Attr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Attr {
    pub name: String,
    /// Empty in a subset, which takes its parent's.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// An explicit attribute number; the ones after it count on from it.
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default)]
    pub byte_order: Option<String>,
    #[serde(default)]
    pub display_hint: Option<String>,
    #[serde(default)]
    pub multi_attr: bool,
    #[serde(default)]
    pub nested_attributes: Option<String>,
    #[serde(rename = "enum", default)]
    pub enumeration: Option<String>,
    #[serde(default)]
    pub checks: Option<Checks>,
}

/// Bounds of an attribute's value: a number or the name of a constant.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Checks {
    #[serde(default)]
    pub min: Option<Bound>,
    #[serde(default)]
    pub max: Option<Bound>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    Number(i64),
    Constant(String),
}

#[derive(Debug, Deserialize)]
pub struct Operations {
    pub list: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Operation {
    pub name: String,
    #[serde(default)]
    pub value: Option<i64>,
    pub attribute_set: String,
    #[serde(default)]
    pub mcgrp: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct McastGroups {
    pub list: Vec<McastGroup>,
}

#[derive(Debug, Deserialize)]
pub struct McastGroup {
    pub name: String,
}

impl Family {
    /// Gives each attribute of a subset its parent's definition and number
    /// (keeping the subset's own checks, if it has any).
    pub fn resolve_subsets(&mut self) -> Result<(), String> {
        let mut resolved = Vec::new();
        for (i, set) in self.attribute_sets.iter().enumerate() {
            let Some(parent) = &set.subset_of else {
                continue;
            };
            let parent = self
                .attribute_sets
                .iter()
                .find(|s| &s.name == parent && s.subset_of.is_none())
                .ok_or_else(|| format!("set {} is a subset of unknown set {parent}", set.name))?;
            let mut attrs = Vec::new();
            for attr in &set.attributes {
                let mut value = 0;
                let mut found = None;
                for p in &parent.attributes {
                    value = p.value.unwrap_or(value + 1);
                    if p.name == attr.name {
                        found = Some((p, value));
                    }
                }
                let (p, value) = found.ok_or_else(|| {
                    format!("{}.{} is not in {}", set.name, attr.name, parent.name)
                })?;
                let mut full = p.clone();
                full.value = Some(value);
                if attr.checks.is_some() {
                    full.checks = attr.checks.clone();
                }
                attrs.push(full);
            }
            resolved.push((i, attrs));
        }
        for (i, attrs) in resolved {
            self.attribute_sets[i].attributes = attrs;
        }
        Ok(())
    }
}
