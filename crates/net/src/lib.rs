//! Sockets: the DHCP receive and send paths, and interface discovery.
//!
//! - [`udp::DhcpSocket`]: one UDP socket on 0.0.0.0:67 with IP_PKTINFO
//!   (receiving interface and destination address in, outgoing interface
//!   and source address out).
//! - [`packet::PacketSocket`] + [`frame`]: unicast to a client's hardware
//!   address and `yiaddr` without ARP.
//! - [`deliver`]: RFC 2131 §4.1 delivery of the engine's `Destination`.
//! - [`driver::AsyncDhcpSocket`]: the socket registered with tokio.
//! - [`iface::discover`]: interfaces, their IPv4 addresses and MACs.

pub mod deliver;
pub mod driver;
pub mod frame;
pub mod iface;
pub mod packet;
pub mod peerlink;
pub mod udp;

use std::io;
use std::net::SocketAddrV4;

pub use deliver::{Ports, Sent, Transmitter, TxStats};
pub use driver::{AsyncDhcpSocket, ReadyGuard};
pub use iface::{discover, LinkFlags, LinkInfo};
pub use packet::PacketSocket;
pub use udp::{DhcpSocket, Received};

/// Socket and interface errors.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("can't bind UDP socket to {addr}: {source}")]
    Bind {
        addr: SocketAddrV4,
        #[source]
        source: io::Error,
    },
    #[error("can't send to {to}: {source}")]
    Send {
        to: SocketAddrV4,
        #[source]
        source: io::Error,
    },
    #[error("error getting interface information: {0}")]
    Discovery(#[source] nix::Error),
}
