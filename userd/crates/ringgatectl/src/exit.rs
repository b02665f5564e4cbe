//! Why `ringgatectl` failed, and the exit code each reason gets, so that a
//! script can tell "the module is not loaded" from "no such VIP" from "bad
//! input" without reading the message.

use std::fmt;
use std::process::ExitCode;

use ringgate_netlink::Error;

/// `ringgatectl`'s exit codes; README.md and `--help` list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Status {
    /// Any failure without a code of its own (permission, socket, ...).
    Failure = 1,
    /// The command line or a restore file is wrong, or the kernel refused
    /// a value. clap also exits 2 on a usage error, so the two agree.
    BadInput = 2,
    /// The ringgate module is not loaded (its family is not registered).
    ModuleNotLoaded = 3,
    /// What the command names (VIP, service, back-end) does not exist.
    NotFound = 4,
}

/// The text of `--help` listing the exit codes.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit status:
  0  success
  1  failure (permission, socket, ...)
  2  bad input: usage error (a -n naming no namespace too), a bad line in a restore file,
     or a value the kernel refused
  3  the ringgate kernel module is not loaded
  4  not found: no such VIP, service or back-end";

/// Why a command failed: its message for the operator and its exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: Status,
    pub message: String,
}

impl Failure {
    pub(crate) fn bad_input(message: impl Into<String>) -> Failure {
        Failure {
            status: Status::BadInput,
            message: message.into(),
        }
    }

    pub(crate) fn other(message: impl Into<String>) -> Failure {
        Failure {
            status: Status::Failure,
            message: message.into(),
        }
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.status as u8)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

const ENOENT: i32 = 2;
const EINVAL: i32 = 22;
const ERANGE: i32 = 34;

/// The exit code of a client error: by its kind where the client typed
/// it, and by the kernel's errno where the kernel refused.
pub(crate) fn status_of(error: &Error) -> Status {
    match error {
        Error::ModuleNotLoaded => Status::ModuleNotLoaded,
        Error::NoSuchVip(_) | Error::NoSuchService(_) | Error::NoSuchBackend(..) => {
            Status::NotFound
        }
        Error::VipNotInPool(_) => Status::NotFound,
        Error::NotUnicast(_) => Status::BadInput,
        Error::Kernel(k) => match k.errno {
            ENOENT => Status::NotFound,
            EINVAL | ERANGE => Status::BadInput,
            _ => Status::Failure,
        },
        _ => Status::Failure,
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            status: status_of(&error),
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_netlink::KernelError;
    use std::net::Ipv4Addr;

    fn kernel(errno: i32) -> Error {
        Error::Kernel(KernelError {
            op: "backend-set",
            errno,
            message: None,
            culprit: None,
        })
    }

    #[test]
    fn each_kind_of_failure_has_its_code() {
        let addr = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(status_of(&Error::ModuleNotLoaded), Status::ModuleNotLoaded);
        assert_eq!(status_of(&Error::NoSuchVip(addr)), Status::NotFound);
        assert_eq!(status_of(&Error::VipNotInPool(addr)), Status::NotFound);
        assert_eq!(status_of(&kernel(ENOENT)), Status::NotFound);
        assert_eq!(status_of(&Error::NotUnicast(addr)), Status::BadInput);
        assert_eq!(status_of(&kernel(EINVAL)), Status::BadInput);
        assert_eq!(status_of(&kernel(ERANGE)), Status::BadInput);
        assert_eq!(status_of(&kernel(1)), Status::Failure);
        assert_eq!(
            status_of(&Error::PermissionDenied("vip-add")),
            Status::Failure
        );
    }

    /// The codes the help text promises are the ones used.
    #[test]
    fn the_help_text_lists_every_code() {
        for status in [
            Status::Failure,
            Status::BadInput,
            Status::ModuleNotLoaded,
            Status::NotFound,
        ] {
            let line = format!("\n  {}  ", status as u8);
            assert!(EXIT_CODES_HELP.contains(&line), "{status:?}");
        }
    }
}
