//! A client of the `ringgate` generic netlink family, for the CLI and the daemon.
//!
//! Requests act on the network namespace of the calling process, as the
//! kernel module keeps its state per namespace.

mod hook;
mod status;

use neli::{
    consts::{nl::NlmF, socket::NlFamily},
    err::RouterError,
    genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder},
    nl::{NlPayload, Nlmsghdr},
    router::synchronous::NlRouter,
    types::{Buffer, GenlBuffer},
    utils::Groups,
};
use ringgate_uapi as uapi;

pub use hook::{Hook, UnknownHook};
pub use status::{HookStats, Status};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the ringgate kernel module is not loaded (load it with `modprobe ringgate` or `insmod ringgate.ko`)"
    )]
    ModuleNotLoaded,
    #[error("permission denied: {0} needs CAP_NET_ADMIN in this network namespace")]
    PermissionDenied(&'static str),
    #[error("the kernel refused {op}: {message} (errno {errno})")]
    Kernel {
        op: &'static str,
        errno: i32,
        message: String,
    },
    #[error("netlink socket: {0}")]
    Socket(String),
    #[error("malformed reply to {op}: {why}")]
    Malformed { op: &'static str, why: String },
}

/// A connection to the module's family in the caller's network namespace.
pub struct Client {
    router: NlRouter,
    family: u16,
}

type Attrs = GenlBuffer<u16, Buffer>;
type Reply = Nlmsghdr<u16, Genlmsghdr<u8, u16>>;

impl Client {
    /// Opens a generic netlink socket and resolves the `ringgate` family.
    pub fn connect() -> Result<Self, Error> {
        let (router, _multicast) = NlRouter::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| Error::Socket(e.to_string()))?;
        let family = router
            .resolve_genl_family(uapi::RINGGATE_FAMILY_NAME)
            .map_err(|e| match e {
                // The controller answers ENOENT for a family nobody registered.
                RouterError::Nlmsgerr(_) => Error::ModuleNotLoaded,
                RouterError::Msg(_) => Error::ModuleNotLoaded,
                other => Error::Socket(other.to_string()),
            })?;
        Ok(Client { router, family })
    }

    /// The module version and this namespace's hook counters (of one hook, or all).
    pub fn status(&self, hook: Option<Hook>) -> Result<Status, Error> {
        let replies = self.request(
            "status-get",
            uapi::RINGGATE_CMD_STATUS_GET,
            hook_attr(hook)?,
        )?;
        let reply = replies.first().ok_or_else(|| Error::Malformed {
            op: "status-get",
            why: "no reply message".into(),
        })?;
        Status::from_reply(reply)
    }

    /// Zeroes this namespace's counters (of one hook, or all).
    pub fn reset_counters(&self, hook: Option<Hook>) -> Result<(), Error> {
        self.request(
            "counters-reset",
            uapi::RINGGATE_CMD_COUNTERS_RESET,
            hook_attr(hook)?,
        )
        .map(|_| ())
    }

    fn request(
        &self,
        op: &'static str,
        cmd: u8,
        attrs: Attrs,
    ) -> Result<Vec<Genlmsghdr<u8, u16>>, Error> {
        let genl = GenlmsghdrBuilder::default()
            .cmd(cmd)
            .version(uapi::RINGGATE_FAMILY_VERSION)
            .attrs(attrs)
            .build()
            .map_err(|e| Error::Socket(e.to_string()))?;
        let replies = self
            .router
            .send::<u16, Genlmsghdr<u8, u16>, u16, Genlmsghdr<u8, u16>>(
                self.family,
                NlmF::ACK,
                NlPayload::Payload(genl),
            )
            .map_err(|e| kernel_error(op, e))?;
        let mut payloads = Vec::new();
        for reply in replies {
            let reply: Reply = reply.map_err(|e| kernel_error(op, e))?;
            if let NlPayload::Payload(p) = reply.nl_payload() {
                payloads.push(p.clone());
            }
        }
        Ok(payloads)
    }
}

fn hook_attr(hook: Option<Hook>) -> Result<Attrs, Error> {
    let mut attrs = Attrs::new();
    if let Some(hook) = hook {
        let attr = NlattrBuilder::default()
            .nla_type(
                AttrTypeBuilder::default()
                    .nla_type(uapi::RINGGATE_A_STATUS_HOOK)
                    .build()
                    .map_err(|e| Error::Socket(e.to_string()))?,
            )
            .nla_payload(hook.uapi())
            .build()
            .map_err(|e| Error::Socket(e.to_string()))?;
        attrs.push(attr);
    }
    Ok(attrs)
}

fn kernel_error<T: std::fmt::Debug, P: std::fmt::Debug>(
    op: &'static str,
    e: RouterError<T, P>,
) -> Error {
    match e {
        RouterError::Nlmsgerr(err) => {
            let errno = -*err.error();
            match errno {
                libc_errno::EPERM => Error::PermissionDenied(op),
                _ => Error::Kernel {
                    op,
                    errno,
                    message: std::io::Error::from_raw_os_error(errno).to_string(),
                },
            }
        }
        other => Error::Socket(format!("{other:?}")),
    }
}

mod libc_errno {
    pub const EPERM: i32 = 1;
}
