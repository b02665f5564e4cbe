// SPDX-License-Identifier: GPL-2.0

//! Whether a request that sets an object may create it or change it, as
//! rtnetlink reads a request's header flags: `NLM_F_CREATE` lets a missing
//! object be created, `NLM_F_EXCL` refuses one that exists, and without
//! `NLM_F_CREATE` only an existing object is changed. A control plane that
//! means "add" cannot then silently change an object someone else made, and
//! one that means "change" cannot resurrect an object someone else removed.
//! Pure logic with no kernel dependency (`module/host-tests` compiles it).

/// A request's header flags, as far as creating is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Upsert {
    /// `NLM_F_CREATE`: a missing object is created.
    pub(crate) create: bool,
    /// `NLM_F_EXCL`: an existing object is refused.
    pub(crate) exclusive: bool,
}

/// What a request does to its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// The object is new, with defaults for what the request leaves out.
    Create,
    /// The object exists; what the request leaves out stays as it is.
    Change,
}

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conflict {
    /// The object exists, and the request is exclusive (`EEXIST`).
    Exists,
    /// The object does not exist, and the request may not create it (`ENOENT`).
    Missing,
}

impl Upsert {
    /// What the request does to an object that `exists` or not.
    pub(crate) fn action(self, exists: bool) -> Result<Action, Conflict> {
        match (exists, self.create, self.exclusive) {
            (true, _, true) => Err(Conflict::Exists),
            (true, _, false) => Ok(Action::Change),
            (false, true, _) => Ok(Action::Create),
            (false, false, _) => Err(Conflict::Missing),
        }
    }
}
