//! Reply delivery: turns the engine's [`Destination`] into a concrete send
//! (RFC 2131 §4.1), and carries it out on the UDP or the packet socket.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

use tandem_engine::Destination;

use crate::frame::build_ipv4_udp;
use crate::packet::PacketSocket;
use crate::udp::DhcpSocket;
use crate::NetError;

/// ARP hardware type of Ethernet (RFC 1700 "Hardware Type").
pub const HTYPE_ETHERNET: u8 = 1;

/// The well-known ports (RFC 2131 §4.1). The engine names these in its
/// destinations; the driver reads them as roles ("the server port", "the
/// client port") and substitutes its own [`Ports`].
pub const WELL_KNOWN_SERVER_PORT: u16 = 67;
pub const WELL_KNOWN_CLIENT_PORT: u16 = 68;

/// The server's ports: `server` is where it listens (67, or `-p PORT`) and
/// the port relays listen on; `client` is `server + 1` as in dhcpd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub server: u16,
    pub client: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            server: 67,
            client: 68,
        }
    }
}

/// How one reply will leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Through the UDP socket. `ifindex` 0 lets routing choose.
    Udp {
        to: SocketAddrV4,
        ifindex: u32,
        src: Ipv4Addr,
    },
    /// Through the packet socket to `mac`, as an IP datagram to `ip`.
    Link {
        ifindex: u32,
        mac: [u8; 6],
        ip: Ipv4Addr,
        port: u16,
        src: Ipv4Addr,
    },
}

/// Chooses the route for a reply. Pure.
///
/// - Relay: "If the 'giaddr' field ... is nonzero, the server sends any
///   return messages to the 'DHCP server' port on the BOOTP relay agent
///   whose address appears in 'giaddr'" — routed, from `src`.
/// - Unicast (to ciaddr): routed, from `src`.
/// - Broadcast: 255.255.255.255 out of the given interface.
/// - Hardware: unicast to chaddr/yiaddr through the packet socket when the
///   hardware is Ethernet and the packet socket is available; otherwise the
///   broadcast fallback, as dhcpd does when it cannot unicast.
pub fn plan(to: &Destination, src: Ipv4Addr, ports: Ports, link_available: bool) -> Route {
    match to {
        Destination::Relay { giaddr, port } => Route::Udp {
            to: SocketAddrV4::new(*giaddr, role(*port, ports)),
            ifindex: 0,
            src,
        },
        Destination::Unicast { addr, port } => Route::Udp {
            to: SocketAddrV4::new(*addr, role(*port, ports)),
            ifindex: 0,
            src,
        },
        Destination::Broadcast { ifindex } => broadcast(*ifindex, src, ports),
        Destination::Hardware {
            ifindex,
            addr,
            chaddr,
            htype,
        } => match <[u8; 6]>::try_from(chaddr.as_slice()) {
            Ok(mac) if link_available && *htype == HTYPE_ETHERNET => Route::Link {
                ifindex: *ifindex,
                mac,
                ip: *addr,
                port: ports.client,
                src,
            },
            _ => broadcast(*ifindex, src, ports),
        },
    }
}

/// dhcpd with `-p PORT` answers relays on PORT and clients on PORT+1: map
/// the engine's well-known ports to ours; any other port is kept.
fn role(port: u16, ports: Ports) -> u16 {
    match port {
        WELL_KNOWN_SERVER_PORT => ports.server,
        WELL_KNOWN_CLIENT_PORT => ports.client,
        other => other,
    }
}

fn broadcast(ifindex: u32, src: Ipv4Addr, ports: Ports) -> Route {
    Route::Udp {
        to: SocketAddrV4::new(Ipv4Addr::BROADCAST, ports.client),
        ifindex,
        src,
    }
}

/// Which way a reply actually left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Udp,
    Link,
    /// The packet socket failed; the reply was broadcast instead.
    BroadcastFallback,
}

/// Counters of the send path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxStats {
    pub sent_udp: u64,
    pub sent_link: u64,
    pub link_fallbacks: u64,
    pub errors: u64,
}

/// Sends replies. Owns the packet socket (if it could be opened) and a
/// scratch buffer reused for every frame built for it.
#[derive(Debug)]
pub struct Transmitter {
    packet: Option<PacketSocket>,
    ports: Ports,
    scratch: Vec<u8>,
    pub stats: TxStats,
}

impl Transmitter {
    pub fn new(packet: Option<PacketSocket>, ports: Ports) -> Self {
        Transmitter {
            packet,
            ports,
            scratch: Vec::with_capacity(1600),
            stats: TxStats::default(),
        }
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// Sends `bytes` to `to`, from address `src`.
    pub fn send(
        &mut self,
        udp: &DhcpSocket,
        bytes: &[u8],
        to: &Destination,
        src: Ipv4Addr,
    ) -> Result<Sent, NetError> {
        let route = plan(to, src, self.ports, self.packet.is_some());
        let result = match route {
            Route::Udp { to, ifindex, src } => {
                send_udp(udp, bytes, to, ifindex, src).map(|_| Sent::Udp)
            }
            Route::Link {
                ifindex,
                mac,
                ip,
                port,
                src,
            } => match self.send_link(bytes, ifindex, mac, ip, port, src) {
                Ok(()) => Ok(Sent::Link),
                Err(_) => {
                    self.stats.link_fallbacks += 1;
                    let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, self.ports.client);
                    send_udp(udp, bytes, to, ifindex, src).map(|_| Sent::BroadcastFallback)
                }
            },
        };
        match &result {
            Ok(Sent::Link) => self.stats.sent_link += 1,
            Ok(_) => self.stats.sent_udp += 1,
            Err(_) => self.stats.errors += 1,
        }
        result
    }

    fn send_link(
        &mut self,
        bytes: &[u8],
        ifindex: u32,
        mac: [u8; 6],
        ip: Ipv4Addr,
        port: u16,
        src: Ipv4Addr,
    ) -> io::Result<()> {
        let Some(packet) = &self.packet else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        build_ipv4_udp(&mut self.scratch, src, ip, self.ports.server, port, bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        packet.send_ipv4(ifindex, &mac, &self.scratch).map(|_| ())
    }
}

fn send_udp(
    udp: &DhcpSocket,
    bytes: &[u8],
    to: SocketAddrV4,
    ifindex: u32,
    src: Ipv4Addr,
) -> Result<(), NetError> {
    match udp.send_to(bytes, to, ifindex, src) {
        Ok(_) => Ok(()),
        // EINVAL: `src` is not (or no longer) a local address; let the
        // kernel choose the source rather than lose the reply.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) && !src.is_unspecified() => udp
            .send_to(bytes, to, ifindex, Ipv4Addr::UNSPECIFIED)
            .map(|_| ())
            .map_err(|source| NetError::Send { to, source }),
        Err(source) => Err(NetError::Send { to, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);

    #[test]
    fn relay_goes_to_giaddr_routed() {
        let r = plan(
            &Destination::Relay {
                giaddr: Ipv4Addr::new(10, 1, 0, 1),
                port: 67,
            },
            SRC,
            Ports::default(),
            true,
        );
        assert_eq!(
            r,
            Route::Udp {
                to: "10.1.0.1:67".parse().unwrap(),
                ifindex: 0,
                src: SRC
            }
        );
    }

    #[test]
    fn unicast_goes_to_ciaddr() {
        let r = plan(
            &Destination::Unicast {
                addr: Ipv4Addr::new(10, 0, 0, 150),
                port: 68,
            },
            SRC,
            Ports::default(),
            true,
        );
        assert_eq!(
            r,
            Route::Udp {
                to: "10.0.0.150:68".parse().unwrap(),
                ifindex: 0,
                src: SRC
            }
        );
    }

    #[test]
    fn custom_ports_replace_the_well_known_ones() {
        let ports = Ports {
            server: 6767,
            client: 6768,
        };
        let relay = Destination::Relay {
            giaddr: Ipv4Addr::new(10, 1, 0, 1),
            port: 67,
        };
        let unicast = Destination::Unicast {
            addr: Ipv4Addr::new(10, 0, 0, 150),
            port: 68,
        };
        let other = Destination::Unicast {
            addr: Ipv4Addr::new(10, 0, 0, 150),
            port: 9999,
        };
        let to = |d: &Destination| match plan(d, SRC, ports, true) {
            Route::Udp { to, .. } => to.port(),
            r => panic!("{r:?}"),
        };
        assert_eq!((to(&relay), to(&unicast), to(&other)), (6767, 6768, 9999));
    }

    #[test]
    fn broadcast_uses_client_port_and_interface() {
        let ports = Ports {
            server: 6767,
            client: 6768,
        };
        let r = plan(&Destination::Broadcast { ifindex: 3 }, SRC, ports, true);
        assert_eq!(
            r,
            Route::Udp {
                to: "255.255.255.255:6768".parse().unwrap(),
                ifindex: 3,
                src: SRC
            }
        );
    }

    fn hardware(htype: u8, chaddr: Vec<u8>) -> Destination {
        Destination::Hardware {
            ifindex: 2,
            addr: Ipv4Addr::new(10, 0, 0, 100),
            chaddr,
            htype,
        }
    }

    #[test]
    fn hardware_ethernet_uses_the_packet_socket() {
        let r = plan(
            &hardware(1, vec![2, 0, 0, 0, 1, 1]),
            SRC,
            Ports::default(),
            true,
        );
        assert_eq!(
            r,
            Route::Link {
                ifindex: 2,
                mac: [2, 0, 0, 0, 1, 1],
                ip: Ipv4Addr::new(10, 0, 0, 100),
                port: 68,
                src: SRC
            }
        );
    }

    #[test]
    fn hardware_falls_back_to_broadcast() {
        let bcast = Route::Udp {
            to: "255.255.255.255:68".parse().unwrap(),
            ifindex: 2,
            src: SRC,
        };
        // Not Ethernet (htype 6 = IEEE 802).
        assert_eq!(
            plan(
                &hardware(6, vec![2, 0, 0, 0, 1, 1]),
                SRC,
                Ports::default(),
                true
            ),
            bcast
        );
        // Ethernet type but not a 6-byte address.
        assert_eq!(
            plan(&hardware(1, vec![1, 2, 3]), SRC, Ports::default(), true),
            bcast
        );
        // No packet socket (no CAP_NET_RAW).
        assert_eq!(
            plan(
                &hardware(1, vec![2, 0, 0, 0, 1, 1]),
                SRC,
                Ports::default(),
                false
            ),
            bcast
        );
    }

    /// Through the packet socket on loopback: a second packet socket bound
    /// to `lo` must see our datagram leave with the headers we built. (The
    /// kernel would drop it on input as a martian 127/8 packet, since it
    /// did not come from the local output path, so a UDP socket can't be the
    /// receiver here; the namespace tests cover real delivery.) Skipped
    /// without CAP_NET_RAW.
    #[test]
    fn hardware_unicast_leaves_through_the_packet_socket() {
        let Ok(packet) = PacketSocket::open() else {
            eprintln!("skipped: no CAP_NET_RAW");
            return;
        };
        let lo = nix::net::if_::if_nametoindex("lo").unwrap();
        let sniffer = Sniffer::bind(lo);
        let tx = DhcpSocket::bind(0).unwrap();
        let ports = Ports {
            server: 4067,
            client: 4068,
        };
        let mut t = Transmitter::new(Some(packet), ports);
        let to = Destination::Hardware {
            ifindex: lo,
            addr: Ipv4Addr::new(127, 0, 0, 2),
            chaddr: vec![0; 6],
            htype: HTYPE_ETHERNET,
        };
        assert_eq!(
            t.send(&tx, b"offer", &to, Ipv4Addr::LOCALHOST).unwrap(),
            Sent::Link
        );
        assert_eq!(t.stats.sent_link, 1);

        let mut expected = Vec::new();
        build_ipv4_udp(
            &mut expected,
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::new(127, 0, 0, 2),
            4067,
            4068,
            b"offer",
        )
        .unwrap();
        let mut buf = [0u8; 2048];
        for _ in 0..2000 {
            match sniffer.recv(&mut buf) {
                Some(n) if buf[..n] == expected[..] => return,
                Some(_) => {}
                None => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        panic!("the datagram sent through the packet socket was not seen on lo");
    }

    /// A receiving AF_PACKET/SOCK_DGRAM socket for IPv4 on one interface.
    struct Sniffer(std::os::fd::OwnedFd);

    impl Sniffer {
        fn bind(ifindex: u32) -> Self {
            use std::os::fd::FromRawFd;
            let proto = 0x0800u16.to_be();
            // SAFETY: plain syscalls on a fresh descriptor.
            unsafe {
                let fd = libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_DGRAM | libc::SOCK_NONBLOCK,
                    i32::from(proto),
                );
                assert!(fd >= 0);
                let mut ll: libc::sockaddr_ll = std::mem::zeroed();
                ll.sll_family = libc::AF_PACKET as u16;
                ll.sll_protocol = proto;
                ll.sll_ifindex = ifindex as i32;
                let rc = libc::bind(
                    fd,
                    (&ll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                );
                assert_eq!(rc, 0);
                Sniffer(std::os::fd::OwnedFd::from_raw_fd(fd))
            }
        }

        fn recv(&self, buf: &mut [u8]) -> Option<usize> {
            use std::os::fd::AsRawFd;
            // SAFETY: buf is valid for its length.
            let n =
                unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            usize::try_from(n).ok()
        }
    }
}
