//! `-n NAME`: run in a named network namespace, as `ip -n NAME` does.
//!
//! The module's state is per network namespace, and a gateway host may
//! run several. `ip netns exec NAME ringgatectl ...` reaches one too, but
//! it starts a second program and gives it a mount namespace of its own
//! with /sys mounted again, which `ringgatectl` does not need: it only
//! opens netlink sockets, which belong to the namespace of the thread that
//! opens them. So this enters the namespace, and nothing else, before any
//! socket is opened.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

use crate::cli::{Command, VipAction};
use crate::exit::Failure;

/// Where `ip netns add NAME` puts the namespace's handle.
const NETNS_RUN_DIR: &str = "/run/netns";

/// Refuses `-n` with the commands that talk only to ringgated's control
/// socket (cluster, node, ring, vip move): a socket path is reachable from
/// every namespace, so `-n` would be ignored and the command would act on
/// whichever daemon listens there.
pub(crate) fn check_applies(name: &str, command: &Command) -> Result<(), Failure> {
    let daemon_only = matches!(
        command,
        Command::Cluster { .. }
            | Command::Node { .. }
            | Command::Ring { .. }
            | Command::Vip {
                action: VipAction::Move { .. }
            }
    );
    if daemon_only {
        return Err(Failure::bad_input(format!(
            "-n {name:?}: this command talks to the ringgated at --socket, whatever namespace \
             it serves, not to a namespace's module; name that daemon's socket with --socket"
        )));
    }
    Ok(())
}

/// Whether the command opens a socket in this namespace at all: the
/// completion script and the man page need no namespace, nor its
/// privilege.
pub(crate) fn uses_the_module(command: &Command) -> bool {
    !matches!(command, Command::Completions { .. } | Command::Man { .. })
}

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
    // Non-blocking: a FIFO put there would otherwise hang the open until a
    // writer came; setns then refuses it as no namespace.
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| match (e.kind(), e.raw_os_error()) {
            // Bad input, not "not found": exit 4 tells a script that the VIP,
            // service or back-end it named is gone, and a mistyped namespace
            // must not read as that. A name too long for a file cannot name
            // one either.
            (ErrorKind::NotFound, _) | (_, Some(libc::ENAMETOOLONG)) => Failure::bad_input(
                format!("no network namespace {name:?} ({path:?} does not exist)"),
            ),
            _ => Failure::other(format!("network namespace {name:?}: {path:?}: {e}")),
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

    fn command(line: &str) -> Command {
        use clap::Parser;
        crate::cli::Cli::try_parse_from(line.split_whitespace())
            .unwrap()
            .command
    }

    /// Found by review: these went to the daemon at --socket whatever `-n`
    /// said, and acted on its cluster.
    #[test]
    fn commands_for_the_daemon_alone_refuse_n() {
        for line in [
            "ringgatectl cluster status",
            "ringgatectl node drain 2",
            "ringgatectl ring",
            "ringgatectl vip move 10.9.0.100 2",
        ] {
            let failure = check_applies("gw1", &command(line)).unwrap_err();
            assert_eq!(failure.status, Status::BadInput, "{line}: {failure}");
        }
        for line in ["ringgatectl vip add 10.9.0.100", "ringgatectl status"] {
            assert!(check_applies("gw1", &command(line)).is_ok(), "{line}");
        }
    }

    #[test]
    fn completions_and_the_man_page_need_no_namespace() {
        assert!(!uses_the_module(&command("ringgatectl completions bash")));
        assert!(!uses_the_module(&command("ringgatectl man")));
        assert!(uses_the_module(&command("ringgatectl vip list")));
    }

    #[test]
    fn a_name_too_long_for_a_file_is_bad_input() {
        let failure = enter(&"a".repeat(300)).unwrap_err();
        assert_eq!(failure.status, Status::BadInput, "{failure}");
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
