//! Which interfaces to serve: dhcpd's `discover_interfaces` rules. Pure.

use std::net::Ipv4Addr;

use tandem_engine::Interface;
use tandem_net::LinkInfo;

/// A declared subnet (network and mask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetDecl {
    pub network: Ipv4Addr,
    pub netmask: Ipv4Addr,
}

impl SubnetDecl {
    fn contains(&self, a: Ipv4Addr) -> bool {
        let m = u32::from(self.netmask);
        u32::from(a) & m == u32::from(self.network) & m
    }
}

/// The outcome: the interfaces to serve, and what to log about the rest.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub listen: Vec<Interface>,
    /// Lines to log as errors (dhcpd logs these with log_error and goes on).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    /// dhcpd: `log_fatal("%s: not found", name)`.
    #[error("{0}: not found")]
    NotFound(String),
    #[error("Not configured to listen on any interfaces!")]
    NoInterfaces,
}

/// Chooses the interfaces to listen on.
///
/// - With names given, exactly those (an unknown name is fatal).
/// - With none, every interface that is up, broadcast-capable, and neither
///   loopback nor point-to-point (dhcpd skips those unless named), ignoring
///   127/8 addresses.
///
/// Either way an interface none of whose IPv4 addresses falls inside a
/// declared subnet is ignored with dhcpd's warning ("No subnet declaration
/// for eth1 (10.1.2.3)." and the "** Ignoring requests on eth1" block).
pub fn select(
    links: &[LinkInfo],
    requested: &[String],
    subnets: &[SubnetDecl],
) -> Result<Selection, ListenError> {
    let mut sel = Selection::default();
    let candidates: Vec<&LinkInfo> = if requested.is_empty() {
        links
            .iter()
            .filter(|l| {
                l.flags.up && l.flags.broadcast && !l.flags.loopback && !l.flags.point_to_point
            })
            .filter(|l| l.interface.addrs.iter().any(|(a, _)| !a.is_loopback()))
            .collect()
    } else {
        let mut v = Vec::with_capacity(requested.len());
        for name in requested {
            let link = links
                .iter()
                .find(|l| &l.interface.name == name)
                .ok_or_else(|| ListenError::NotFound(name.clone()))?;
            if !v
                .iter()
                .any(|l: &&LinkInfo| l.interface.index == link.interface.index)
            {
                v.push(link);
            }
        }
        v
    };

    for link in candidates {
        let mut iface = link.interface.clone();
        if requested.is_empty() {
            iface.addrs.retain(|(a, _)| !a.is_loopback());
        }
        let served = iface
            .addrs
            .iter()
            .any(|&(a, _)| subnets.iter().any(|s| s.contains(a)));
        if served {
            sel.listen.push(iface);
        } else {
            let shown = iface
                .addrs
                .first()
                .map(|(a, _)| a.to_string())
                .unwrap_or_else(|| "no IPv4 addresses".to_string());
            let name = &iface.name;
            sel.warnings.extend([
                String::new(),
                format!("No subnet declaration for {name} ({shown})."),
                format!("** Ignoring requests on {name}.  If this is not what"),
                "   you want, please write a subnet declaration".to_string(),
                "   in your dhcpd.conf file for the network segment".to_string(),
                format!("   to which interface {name} is attached. **"),
                String::new(),
            ]);
        }
    }
    if sel.listen.is_empty() {
        return Err(ListenError::NoInterfaces);
    }
    Ok(sel)
}

/// dhcpd's "Listening on LPF/eth0/02:00:00:00:00:0a/10.0.0.0/24" line, with
/// "Socket" for our socket type.
pub fn describe(iface: &Interface, subnets: &[SubnetDecl]) -> String {
    let mac = iface
        .mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let net = iface
        .addrs
        .iter()
        .find_map(|&(a, _)| subnets.iter().find(|s| s.contains(a)))
        .map(|s| format!("{}/{}", s.network, u32::from(s.netmask).leading_ones()))
        .unwrap_or_else(|| "unattached".to_string());
    if mac.is_empty() {
        format!("Socket/{}/{net}", iface.name)
    } else {
        format!("Socket/{}/{mac}/{net}", iface.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_net::LinkFlags;

    fn link(index: u32, name: &str, addrs: &[(Ipv4Addr, u8)], flags: LinkFlags) -> LinkInfo {
        LinkInfo {
            interface: Interface {
                index,
                name: name.to_string(),
                addrs: addrs.to_vec(),
                mac: vec![2, 0, 0, 0, 0, index as u8],
            },
            flags,
            hardware_type: Some(1),
        }
    }

    const ETH: LinkFlags = LinkFlags {
        up: true,
        loopback: false,
        broadcast: true,
        point_to_point: false,
    };
    const LO: LinkFlags = LinkFlags {
        up: true,
        loopback: true,
        broadcast: false,
        point_to_point: false,
    };

    fn links() -> Vec<LinkInfo> {
        vec![
            link(1, "lo", &[(Ipv4Addr::LOCALHOST, 8)], LO),
            link(2, "eth0", &[(Ipv4Addr::new(10, 0, 0, 10), 24)], ETH),
            link(3, "eth1", &[(Ipv4Addr::new(10, 1, 2, 3), 24)], ETH),
            link(4, "eth2", &[], ETH),
            link(
                5,
                "eth3",
                &[(Ipv4Addr::new(192, 168, 1, 1), 24)],
                LinkFlags { up: false, ..ETH },
            ),
        ]
    }

    fn subnets() -> Vec<SubnetDecl> {
        vec![
            SubnetDecl {
                network: Ipv4Addr::new(10, 0, 0, 0),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
            },
            SubnetDecl {
                network: Ipv4Addr::new(192, 168, 1, 0),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
            },
        ]
    }

    fn names(s: &Selection) -> Vec<&str> {
        s.listen.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn automatic_takes_up_broadcast_interfaces_with_a_subnet() {
        let s = select(&links(), &[], &subnets()).unwrap();
        // lo: loopback; eth1: no subnet (warned); eth2: no address; eth3: down.
        assert_eq!(names(&s), vec!["eth0"]);
        assert!(s
            .warnings
            .contains(&"No subnet declaration for eth1 (10.1.2.3).".to_string()));
        assert!(s
            .warnings
            .contains(&"** Ignoring requests on eth1.  If this is not what".to_string()));
        assert!(!s.warnings.iter().any(|w| w.contains("eth2")));
    }

    #[test]
    fn named_interface_without_subnet_is_warned_and_ignored() {
        let s = select(&links(), &["eth0".into(), "eth1".into()], &subnets()).unwrap();
        assert_eq!(names(&s), vec!["eth0"]);
        assert_eq!(s.warnings[1], "No subnet declaration for eth1 (10.1.2.3).");
        let s = select(&links(), &["eth0".into(), "eth2".into()], &subnets()).unwrap();
        assert_eq!(
            s.warnings[1],
            "No subnet declaration for eth2 (no IPv4 addresses)."
        );
    }

    #[test]
    fn named_interfaces_may_be_loopback_or_down() {
        let mut subs = subnets();
        subs.push(SubnetDecl {
            network: Ipv4Addr::new(127, 0, 0, 0),
            netmask: Ipv4Addr::new(255, 0, 0, 0),
        });
        let s = select(&links(), &["lo".into(), "eth3".into()], &subs).unwrap();
        assert_eq!(names(&s), vec!["lo", "eth3"]);
        // Named twice: listed once.
        let s = select(&links(), &["eth0".into(), "eth0".into()], &subs).unwrap();
        assert_eq!(names(&s), vec!["eth0"]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            select(&links(), &["eth9".into()], &subnets()).unwrap_err(),
            ListenError::NotFound("eth9".into())
        );
        assert_eq!(
            select(&links(), &["eth1".into()], &subnets()).unwrap_err(),
            ListenError::NoInterfaces
        );
        assert_eq!(
            select(&links(), &[], &[]).unwrap_err(),
            ListenError::NoInterfaces
        );
    }

    #[test]
    fn listening_line() {
        let l = &links()[1].interface;
        assert_eq!(
            describe(l, &subnets()),
            "Socket/eth0/02:00:00:00:00:02/10.0.0.0/24"
        );
    }
}
