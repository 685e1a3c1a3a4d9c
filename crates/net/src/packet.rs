//! An AF_PACKET/SOCK_DGRAM socket used only to send: the kernel builds the
//! Ethernet header from `sockaddr_ll`, we supply the IPv4 datagram. This is
//! how a reply reaches a client that has no address yet at its `yiaddr`
//! without an ARP exchange (RFC 2131 §4.1: "the server unicasts DHCPOFFER
//! and DHCPACK messages to the client's hardware address and 'yiaddr'").

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// EtherType of IPv4.
const ETH_P_IP: u16 = 0x0800;

/// A send-only packet socket (protocol 0: the kernel delivers nothing to it).
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    /// Opens the socket; needs CAP_NET_RAW.
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain syscall; the fd is checked and then owned.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        Ok(PacketSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Sends an IPv4 datagram (`ip_datagram` starts at the IP header) to
    /// link-layer address `mac` on interface `ifindex`.
    pub fn send_ipv4(&self, ifindex: u32, mac: &[u8], ip_datagram: &[u8]) -> io::Result<usize> {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut ll: libc::sockaddr_ll = unsafe { zeroed() };
        ll.sll_family = libc::AF_PACKET as u16;
        ll.sll_protocol = ETH_P_IP.to_be();
        ll.sll_ifindex =
            i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let len = mac.len().min(ll.sll_addr.len());
        ll.sll_halen = len as u8;
        ll.sll_addr[..len].copy_from_slice(&mac[..len]);
        // SAFETY: buffer and address are valid for the lengths given.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                ip_datagram.as_ptr().cast(),
                ip_datagram.len(),
                0,
                (&ll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}
