//! The socket under a [`crate::Client`]: sends a request's bytes and
//! receives datagrams, nothing more, so that the tests can put scripted
//! datagrams in its place.

use std::io;
use std::os::fd::AsFd;

use netlink_sys::{protocols::NETLINK_GENERIC, Socket};

/// Sends requests and receives the kernel's datagrams.
pub(crate) trait Transport: Send {
    /// The port (netlink address) replies are sent to.
    fn port(&self) -> u32;
    fn send(&mut self, request: &[u8]) -> io::Result<()>;
    /// One whole datagram, however large.
    fn recv(&mut self) -> io::Result<Vec<u8>>;
    /// Joins a multicast group, to receive its notifications.
    fn join(&mut self, group: u32) -> io::Result<()>;
    /// Waits up to `timeout` for a datagram; whether one is there. A
    /// transport that cannot wait says yes.
    fn wait_readable(&mut self, _timeout: std::time::Duration) -> io::Result<bool> {
        Ok(true)
    }
}

/// A generic netlink socket of the caller's network namespace.
pub(crate) struct NetlinkSocket {
    socket: Socket,
    port: u32,
}

impl NetlinkSocket {
    pub(crate) fn open() -> io::Result<NetlinkSocket> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        let addr = socket.bind_auto()?;
        // Ask for the kernel's explanations (extack) with refusals and dump
        // ends, and for refusals that echo only the request's header.
        socket.set_ext_ack(true)?;
        socket.set_cap_ack(true)?;
        Ok(NetlinkSocket {
            socket,
            port: addr.port_number(),
        })
    }
}

impl NetlinkSocket {
    /// Makes the kernel tell a multicast sender when this socket had no
    /// room for a message (NETLINK_BROADCAST_ERROR), rather than report it
    /// as a socket that does not listen.
    pub(crate) fn set_broadcast_error(&self) -> io::Result<()> {
        self.socket.set_broadcast_error(true)
    }

    /// Sets the receive buffer to `bytes`, beyond the system's limit if
    /// the caller may (CAP_NET_ADMIN), else as far as that limit allows.
    pub(crate) fn set_receive_buffer(&self, bytes: usize) -> io::Result<()> {
        let fd = self.socket.as_fd();
        rustix::net::sockopt::set_socket_recv_buffer_size_force(fd, bytes)
            .or_else(|_| rustix::net::sockopt::set_socket_recv_buffer_size(fd, bytes))
            .map_err(io::Error::from)
    }
}

impl Transport for NetlinkSocket {
    fn port(&self) -> u32 {
        self.port
    }

    fn send(&mut self, request: &[u8]) -> io::Result<()> {
        let sent = self.socket.send(request, 0)?;
        if sent != request.len() {
            return Err(io::Error::other(format!(
                "sent {sent} of {} bytes",
                request.len()
            )));
        }
        Ok(())
    }

    fn join(&mut self, group: u32) -> io::Result<()> {
        self.socket.add_membership(group)
    }

    fn wait_readable(&mut self, timeout: std::time::Duration) -> io::Result<bool> {
        use rustix::event::{poll, PollFd, PollFlags};
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let mut fds = [PollFd::new(&self.socket, PollFlags::IN)];
        loop {
            match poll(&mut fds, ms) {
                Ok(ready) => return Ok(ready > 0),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match self.socket.recv_from_full() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map(|(datagram, _)| datagram),
            }
        }
    }
}
