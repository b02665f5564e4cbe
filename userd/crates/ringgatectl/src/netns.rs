//! `-n NAME`: run in a named network namespace, as `ip -n NAME` does.
//!
//! The module's state is per network namespace, and a gateway host may
//! run several. `ip netns exec NAME ringgatectl ...` reaches one too, but
//! it starts a second program and gives it a mount namespace of its own
//! with /sys mounted again, which `ringgatectl` does not need: it only
//! opens netlink sockets, which belong to the namespace of the thread that
//! opens them. So this enters the namespace, and nothing else, before any
//! socket is opened.

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::AsFd;

use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

use crate::exit::Failure;

/// Where `ip netns add NAME` puts the namespace's handle.
const NETNS_RUN_DIR: &str = "/run/netns";

/// Moves this thread, the only one so far, into the network namespace
/// `ip netns` calls `name`.
pub(crate) fn enter(name: &str) -> Result<(), Failure> {
    // iproute2 refuses these names too: each would name another file than
    // a namespace's handle in NETNS_RUN_DIR.
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Failure::bad_input(format!(
            "-n {name:?}: a network namespace name is what `ip netns list` shows: \
             not empty, no '/', not '.' or '..'"
        )));
    }
    let path = format!("{NETNS_RUN_DIR}/{name}");
    let handle = File::open(&path).map_err(|e| match e.kind() {
        // Bad input, not "not found": exit 4 tells a script that the VIP,
        // service or back-end it named is gone, and a mistyped namespace
        // must not read as that.
        ErrorKind::NotFound => Failure::bad_input(format!(
            "no network namespace {name} ({path} does not exist)"
        )),
        _ => Failure::other(format!("network namespace {name}: {path}: {e}")),
    })?;
    move_into_link_name_space(handle.as_fd(), Some(LinkNameSpaceType::Network))
    .map_err(|e| match e {
        // The file is there but is no network namespace's handle.
        rustix::io::Errno::INVAL => {
            Failure::bad_input(format!("{path} is not a network namespace"))
        }
        rustix::io::Errno::PERM => Failure::other(format!(
            "entering network namespace {name}: {e} (CAP_SYS_ADMIN is needed, as for `ip netns exec`)"
        )),
        _ => Failure::other(format!("entering network namespace {name}: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Status;

    #[test]
    fn names_that_would_leave_the_namespace_directory_are_bad_input() {
        for name in ["", ".", "..", "../../proc/1/ns/net", "a/b"] {
            let failure = enter(name).unwrap_err();
            assert_eq!(failure.status, Status::BadInput, "{name:?}: {failure}");
        }
    }

    #[test]
    fn a_namespace_nobody_added_is_bad_input_not_not_found() {
        let failure = enter("ringgate-test-no-such-namespace").unwrap_err();
        assert_eq!(failure.status, Status::BadInput, "{failure}");
        assert!(
            failure
                .message
                .contains("/run/netns/ringgate-test-no-such-namespace"),
            "{failure}"
        );
    }
}
