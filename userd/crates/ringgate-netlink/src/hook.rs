//! The hook points, named and numbered as the UAPI header defines them.

use std::{fmt, str::FromStr};

use ringgate_uapi as uapi;

use crate::decode::{name_in, name_or_number};

/// A netfilter hook point of the module, identified by its UAPI number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hook(u32);

impl Hook {
    /// Every hook, in UAPI order.
    pub fn all() -> impl Iterator<Item = Hook> {
        uapi::RINGGATE_HOOK_NAMES.iter().map(|(_, n)| Hook(*n))
    }

    /// The hook with UAPI number `n`, if the header defines one.
    pub fn from_uapi(n: u32) -> Option<Hook> {
        Hook::all().find(|h| h.0 == n)
    }

    /// The hook with UAPI number `n`, known to this build or not: a newer
    /// module may have hooks this tool has no name for.
    pub fn from_number(n: u32) -> Hook {
        Hook(n)
    }

    /// The UAPI number.
    pub fn uapi(self) -> u32 {
        self.0
    }

    /// The spec name, e.g. `pre-routing`; `None` for a hook of a newer module.
    pub fn name(self) -> Option<&'static str> {
        name_in(uapi::RINGGATE_HOOK_NAMES, self.0)
    }
}

/// The spec name, or the number of a hook this build does not know.
impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.pad(name),
            None => f.pad(&self.0.to_string()),
        }
    }
}

impl serde::Serialize for Hook {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        name_or_number(self.name(), self.0, s)
    }
}

/// A hook name that is not one of the module's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hook {given:?}; the hooks are: {}", uapi::RINGGATE_HOOK_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))]
pub struct UnknownHook {
    pub given: String,
}

impl FromStr for Hook {
    type Err = UnknownHook;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uapi::RINGGATE_HOOK_NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, n)| Hook(*n))
            .ok_or_else(|| UnknownHook {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for hook in Hook::all() {
            assert_eq!(hook.to_string().parse::<Hook>().unwrap(), hook);
        }
        assert_eq!(
            "local-in".parse::<Hook>().unwrap().uapi(),
            uapi::RINGGATE_HOOK_LOCAL_IN
        );
    }

    /// A hook of a newer module keeps its number and prints it.
    #[test]
    fn unknown_hooks_print_their_number() {
        let hook = Hook::from_number(40);
        assert_eq!(hook.name(), None);
        assert_eq!(hook.to_string(), "40");
        assert_eq!(serde_json::to_string(&hook).unwrap(), "40");
        assert_eq!(
            serde_json::to_string(&Hook::from_number(1)).unwrap(),
            "\"local-in\""
        );
    }

    #[test]
    fn unknown_names_are_refused_with_the_list() {
        let err = "prerouting".parse::<Hook>().unwrap_err();
        assert!(err.to_string().contains("pre-routing, local-in"), "{err}");
    }
}
