//! Interface discovery through `getifaddrs(3)`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::{if_nametoindex, InterfaceFlags};
use tandem_engine::Interface;

use crate::NetError;

/// The flags that decide whether dhcpd would listen on an interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkFlags {
    pub up: bool,
    pub loopback: bool,
    pub broadcast: bool,
    pub point_to_point: bool,
}

/// One interface as the kernel reports it.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    pub interface: Interface,
    pub flags: LinkFlags,
    /// ARP hardware type of the link (1 = Ethernet), if the kernel said.
    pub hardware_type: Option<u16>,
}

/// Every interface with its IPv4 addresses (in the kernel's order, the
/// primary first), MAC address and flags, ordered by interface index.
///
/// Address labels such as `eth0:1` are folded into their interface `eth0`.
pub fn discover() -> Result<Vec<LinkInfo>, NetError> {
    let mut by_name: BTreeMap<String, LinkInfo> = BTreeMap::new();
    for ifa in getifaddrs().map_err(NetError::Discovery)? {
        // An alias label "eth0:1" names an address of "eth0".
        let name = ifa
            .interface_name
            .split(':')
            .next()
            .unwrap_or(&ifa.interface_name)
            .to_string();
        let entry = by_name.entry(name.clone()).or_insert_with(|| LinkInfo {
            interface: Interface {
                index: 0,
                name,
                addrs: Vec::new(),
                mac: Vec::new(),
            },
            flags: LinkFlags::default(),
            hardware_type: None,
        });
        if ifa.interface_name == entry.interface.name {
            entry.flags = flags_of(ifa.flags);
        }
        let Some(address) = ifa.address else { continue };
        if let Some(sin) = address.as_sockaddr_in() {
            let prefix = ifa
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in())
                .map(|m| prefix_len(m.ip()))
                .unwrap_or(32);
            entry.interface.addrs.push((sin.ip(), prefix));
        } else if let Some(link) = address.as_link_addr() {
            if let Ok(index) = u32::try_from(link.ifindex()) {
                entry.interface.index = index;
            }
            let len = link.halen().min(6);
            if let Some(mac) = link.addr() {
                entry.interface.mac = mac[..len].to_vec();
            }
            entry.hardware_type = Some(link.hatype());
        }
    }
    let mut links: Vec<LinkInfo> = by_name
        .into_values()
        .filter_map(|mut l| {
            if l.interface.index == 0 {
                // No AF_PACKET entry (rare: some tunnels); ask by name.
                l.interface.index = if_nametoindex(l.interface.name.as_str()).ok()?;
            }
            Some(l)
        })
        .collect();
    links.sort_by_key(|l| l.interface.index);
    Ok(links)
}

fn flags_of(f: InterfaceFlags) -> LinkFlags {
    LinkFlags {
        up: f.contains(InterfaceFlags::IFF_UP),
        loopback: f.contains(InterfaceFlags::IFF_LOOPBACK),
        broadcast: f.contains(InterfaceFlags::IFF_BROADCAST),
        point_to_point: f.contains(InterfaceFlags::IFF_POINTOPOINT),
    }
}

/// Prefix length of a netmask (count of leading one bits).
pub fn prefix_len(mask: Ipv4Addr) -> u8 {
    u32::from(mask).leading_ones() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_discovered() {
        let links = discover().unwrap();
        let lo = links
            .iter()
            .find(|l| l.flags.loopback)
            .expect("a loopback interface");
        assert!(lo.interface.index > 0);
        assert!(lo
            .interface
            .addrs
            .iter()
            .any(|&(a, p)| a == Ipv4Addr::LOCALHOST && p == 8));
        assert!(lo.flags.up);
    }

    #[test]
    fn prefix_lengths() {
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 255, 0)), 24);
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 0, 0)), 16);
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 255, 255)), 32);
        assert_eq!(prefix_len(Ipv4Addr::UNSPECIFIED), 0);
    }
}
