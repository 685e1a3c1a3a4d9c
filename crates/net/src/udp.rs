//! The DHCP UDP socket: one socket bound to 0.0.0.0:PORT for every
//! interface, with IP_PKTINFO telling the receiving interface and the
//! destination address, and choosing the outgoing interface and source
//! address on send.
//!
//! Why one socket and not one per interface with SO_BINDTODEVICE: one fd is
//! one readiness source and one receive loop (no task per interface), and
//! IP_PKTINFO gives the same two facts SO_BINDTODEVICE would (which
//! interface, and a way to send a broadcast out of a given interface). The
//! server drops datagrams from interfaces it does not serve by their index.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};
use tandem_engine::RxMeta;

use crate::NetError;

/// Control-message buffer, aligned for `cmsghdr` and big enough for one
/// `in_pktinfo` (CMSG_SPACE(12) is 32 on 64-bit Linux) with room to spare.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// What one `recv` returned.
#[derive(Debug, Clone)]
pub struct Received {
    /// Bytes written into the caller's buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (MSG_TRUNC): it is cut.
    pub truncated: bool,
    pub meta: RxMeta,
}

/// The server's UDP socket (non-blocking).
#[derive(Debug)]
pub struct DhcpSocket {
    socket: Socket,
}

impl DhcpSocket {
    /// Binds 0.0.0.0:`port` with SO_REUSEADDR, SO_BROADCAST and IP_PKTINFO.
    pub fn bind(port: u16) -> Result<Self, NetError> {
        let addr = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
        let bind_err = |source| NetError::Bind { addr, source };
        let socket =
            Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(bind_err)?;
        socket.set_reuse_address(true).map_err(bind_err)?;
        // Needed to send to 255.255.255.255 (RFC 2131 §4.1 broadcast replies).
        socket.set_broadcast(true).map_err(bind_err)?;
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::Ipv4PacketInfo, &true)
            .map_err(|e| bind_err(io::Error::from(e)))?;
        socket.set_nonblocking(true).map_err(bind_err)?;
        socket.set_cloexec(true).map_err(bind_err)?;
        socket.bind(&addr.into()).map_err(bind_err)?;
        Ok(DhcpSocket { socket })
    }

    /// The local address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        self.socket
            .local_addr()?
            .as_socket_ipv4()
            .ok_or_else(|| io::Error::other("not an IPv4 socket"))
    }

    /// Sets the kernel receive buffer (SO_RCVBUF); a larger queue absorbs
    /// bursts, and overload sheds at this queue.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.socket.set_recv_buffer_size(bytes)
    }

    /// Receives one datagram without blocking. `WouldBlock` when the queue
    /// is empty. `meta.ifindex` is 0 and `meta.dst` unspecified if the kernel
    /// gave no IP_PKTINFO (it always does once the option is set).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        // SAFETY: all-zero is a valid sockaddr_in / msghdr.
        let mut src: libc::sockaddr_in = unsafe { zeroed() };
        let mut cbuf = CmsgBuf([0; 64]);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut src as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr().cast();
        msg.msg_controllen = cbuf.0.len() as _;

        // SAFETY: msg points at live buffers of the lengths given above.
        let n = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let len = n as usize;
        let mut meta = RxMeta {
            ifindex: 0,
            src: SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(src.sin_addr.s_addr)),
                u16::from_be(src.sin_port),
            ),
            dst: Ipv4Addr::UNSPECIFIED,
        };
        // SAFETY: the kernel filled msg_control/msg_controllen; the CMSG_*
        // macros walk only within it.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::IPPROTO_IP
                    && (*cmsg).cmsg_type == libc::IP_PKTINFO
                    && (*cmsg).cmsg_len as usize
                        >= libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as usize
                {
                    let info: libc::in_pktinfo =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    meta.ifindex = u32::try_from(info.ipi_ifindex).unwrap_or(0);
                    // ipi_addr is the destination address of the IP header
                    // (ipi_spec_dst would be the local address instead).
                    meta.dst = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok(Received {
            len: len.min(buf.len()),
            truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
            meta,
        })
    }

    /// Sends one datagram without blocking.
    ///
    /// `ifindex` (when not 0) forces the outgoing interface, which is how a
    /// broadcast leaves by the interface the request came in on; `src` (when
    /// not 0.0.0.0) is the source address (IP_PKTINFO `ipi_spec_dst`).
    pub fn send_to(
        &self,
        bytes: &[u8],
        dst: SocketAddrV4,
        ifindex: u32,
        src: Ipv4Addr,
    ) -> io::Result<usize> {
        // SAFETY: all-zero is a valid sockaddr_in / msghdr.
        let mut to: libc::sockaddr_in = unsafe { zeroed() };
        to.sin_family = libc::AF_INET as libc::sa_family_t;
        to.sin_port = dst.port().to_be();
        to.sin_addr.s_addr = u32::from(*dst.ip()).to_be();
        let mut iov = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        let mut cbuf = CmsgBuf([0; 64]);
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&mut to as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if ifindex != 0 || !src.is_unspecified() {
            let info = libc::in_pktinfo {
                ipi_ifindex: i32::try_from(ifindex).unwrap_or(0),
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(src).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            // SAFETY: CMSG_SPACE(12) = 32 <= 64 bytes of cbuf, which is
            // aligned for cmsghdr; we write one header and its data.
            unsafe {
                let space = libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as usize;
                msg.msg_control = cbuf.0.as_mut_ptr().cast();
                msg.msg_controllen = space as _;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::IPPROTO_IP;
                (*cmsg).cmsg_type = libc::IP_PKTINFO;
                (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
            }
        }
        // SAFETY: msg points at live buffers of the lengths given above.
        let n = unsafe { libc::sendmsg(self.socket.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl AsRawFd for DhcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl AsFd for DhcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over loopback: the receiver learns the interface (lo) and the
    /// destination address from IP_PKTINFO, and the reply's forced source
    /// address and interface are honoured.
    #[test]
    fn pktinfo_roundtrip_on_loopback() {
        let a = DhcpSocket::bind(0).unwrap();
        let b = DhcpSocket::bind(0).unwrap();
        let a_port = a.local_addr().unwrap().port();
        let b_port = b.local_addr().unwrap().port();
        let lo = nix::net::if_::if_nametoindex("lo").unwrap();

        b.send_to(
            b"hello",
            SocketAddrV4::new(Ipv4Addr::LOCALHOST, a_port),
            lo,
            Ipv4Addr::new(127, 0, 0, 1),
        )
        .unwrap();
        let mut buf = [0u8; 3];
        let got = recv_blocking(&a, &mut buf);
        assert_eq!(got.len, 3);
        assert!(got.truncated);
        assert_eq!(&buf, b"hel");
        assert_eq!(got.meta.ifindex, lo);
        assert_eq!(got.meta.dst, Ipv4Addr::LOCALHOST);
        assert_eq!(got.meta.src, SocketAddrV4::new(Ipv4Addr::LOCALHOST, b_port));

        // Without IP_PKTINFO on send, routing picks everything.
        a.send_to(
            b"x",
            SocketAddrV4::new(Ipv4Addr::LOCALHOST, b_port),
            0,
            Ipv4Addr::UNSPECIFIED,
        )
        .unwrap();
        let mut buf = [0u8; 16];
        let got = recv_blocking(&b, &mut buf);
        assert_eq!((got.len, got.truncated), (1, false));
    }

    #[test]
    fn empty_queue_would_block() {
        let a = DhcpSocket::bind(0).unwrap();
        let mut buf = [0u8; 16];
        let err = a.recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    fn recv_blocking(s: &DhcpSocket, buf: &mut [u8]) -> Received {
        for _ in 0..1000 {
            match s.recv(buf) {
                Ok(r) => return r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("recv: {e}"),
            }
        }
        panic!("nothing received on loopback");
    }
}
