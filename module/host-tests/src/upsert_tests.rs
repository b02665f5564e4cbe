// SPDX-License-Identifier: GPL-2.0

//! NLM_F_CREATE and NLM_F_EXCL, as rtnetlink reads them.

use crate::upsert::{Action, Conflict, Upsert};

const fn flags(create: bool, exclusive: bool) -> Upsert {
    Upsert { create, exclusive }
}

#[test]
fn create_makes_a_missing_object() {
    assert_eq!(flags(true, false).action(false), Ok(Action::Create));
    assert_eq!(flags(true, true).action(false), Ok(Action::Create));
}

#[test]
fn without_create_a_missing_object_is_refused() {
    assert_eq!(flags(false, false).action(false), Err(Conflict::Missing));
    assert_eq!(flags(false, true).action(false), Err(Conflict::Missing));
}

#[test]
fn exclusive_refuses_an_existing_object() {
    assert_eq!(flags(true, true).action(true), Err(Conflict::Exists));
    assert_eq!(flags(false, true).action(true), Err(Conflict::Exists));
}

#[test]
fn otherwise_an_existing_object_is_changed() {
    assert_eq!(flags(true, false).action(true), Ok(Action::Change));
    assert_eq!(flags(false, false).action(true), Ok(Action::Change));
}
