// SPDX-License-Identifier: GPL-2.0

//! Whether a request that sets an object may create it or change it. The
//! family has separate commands for the two, as IPVS has new-dest and
//! set-dest: an add creates and refuses an object that exists, a set changes
//! and refuses one that is missing. A control plane that means "add" cannot
//! then silently change an object someone else made, and one that means
//! "change" cannot resurrect an object someone else removed. (rtnetlink's
//! `NLM_F_CREATE`/`NLM_F_EXCL` header flags say the same, but generic
//! netlink refuses them for new families: "ambiguous or reserved bits set in
//! nlmsg_flags".) Pure logic with no kernel dependency (`module/host-tests`
//! compiles it).

/// What a command may do to its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Upsert {
    /// A missing object is created.
    pub(crate) create: bool,
    /// An existing object is refused.
    pub(crate) exclusive: bool,
}

impl Upsert {
    /// An add command (`vip-add`, `service-add`, `backend-add`).
    pub(crate) const ADD: Upsert = Upsert {
        create: true,
        exclusive: true,
    };
    /// A set command (`vip-set`, `service-set`, `backend-set`).
    pub(crate) const CHANGE: Upsert = Upsert {
        create: false,
        exclusive: false,
    };
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
