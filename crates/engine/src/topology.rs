//! The network topology compiled from the configuration model: subnets by
//! prefix, the allocation pools of each shared network, host declarations by
//! identity, and the facts that ISC fixes at parse time (`authoritative`).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use tandem_config::{Config, HostAddr, OptionCode, Param, ScopeId, Stmt, Value};

use crate::dynhost::{DynamicHosts, DYNAMIC_BASE};
use crate::error::EngineError;
use crate::Interface;

/// Upper bound on the addresses held as leases (a /10). ISC has no limit, but
/// a typo such as `range 10.0.0.1 10.255.255.254` should fail loudly, not
/// eat the machine's memory.
pub(crate) const MAX_ADDRESSES: u64 = 1 << 22;

/// The ranges of one config pool that share the `dynamic-bootp` flag. ISC
/// makes separate ad-hoc pools for dynamic-bootp ranges and for the others
/// (`confpars.c` `parse_address_range2`); we do the same so a BOOTP client
/// draws only from ranges that allow it.
#[derive(Debug, Clone)]
pub(crate) struct AllocPool {
    /// Index into `Config::pools`.
    pub config_pool: usize,
    pub dynamic_bootp: bool,
    /// `(first, last, subnet)` with `first <= last`, as u32 addresses.
    pub ranges: Vec<(u32, u32, usize)>,
}

/// A host declaration's fixed address that lies in a given shared network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FixedLease {
    pub host: usize,
    pub addr: Ipv4Addr,
    pub subnet: usize,
}

#[derive(Debug)]
pub(crate) struct Topology {
    pub config: Arc<Config>,
    /// Subnet indices, longest prefix first: ISC's `find_subnet` returns the
    /// innermost subnet containing an address.
    subnet_order: Vec<usize>,
    pub alloc_pools: Vec<AllocPool>,
    /// Allocation pools of each shared network, in configuration order.
    pub network_pools: Vec<Vec<usize>>,
    hosts_by_uid: HashMap<Vec<u8>, Vec<usize>>,
    hosts_by_hw: HashMap<(u8, Vec<u8>), Vec<usize>>,
    hosts_with_identifier: Vec<usize>,
    /// Every constant `server-identifier` / `option dhcp-server-identifier`.
    pub configured_server_ids: HashSet<Ipv4Addr>,
    /// `authoritative` as it applies to each subnet / shared network.
    subnet_authoritative: Vec<bool>,
    network_authoritative: Vec<bool>,
    /// Startup diagnostics (logged by the engine).
    pub warnings: Vec<String>,
    /// Hosts and groups declared over OMAPI; carried across reloads.
    pub dynamic: DynamicHosts,
}

impl Topology {
    pub fn new(config: Arc<Config>) -> Result<Topology, EngineError> {
        let mut warnings = Vec::new();
        let mut subnet_order: Vec<usize> = (0..config.subnets.len()).collect();
        subnet_order
            .sort_by_key(|&i| std::cmp::Reverse(config.subnets.get(i).map_or(0, |s| s.prefix_len)));

        for (i, subnet) in config.subnets.iter().enumerate() {
            if config.shared_networks.get(subnet.shared_network).is_none() {
                return Err(EngineError::Model(format!(
                    "subnet {i} refers to shared network {}",
                    subnet.shared_network
                )));
            }
            if config.scopes.get(subnet.scope).is_none() {
                return Err(EngineError::Model(format!("subnet {i} has no scope")));
            }
        }

        let mut alloc_pools: Vec<AllocPool> = Vec::new();
        let mut network_pools = vec![Vec::new(); config.shared_networks.len()];
        let mut address_count: u64 = 0;
        for (pi, pool) in config.pools.iter().enumerate() {
            let network = config
                .shared_networks
                .get(pool.shared_network)
                .ok_or_else(|| {
                    EngineError::Model(format!(
                        "pool {pi} refers to shared network {}",
                        pool.shared_network
                    ))
                })?;
            if config.scopes.get(pool.scope).is_none() {
                return Err(EngineError::Model(format!("pool {pi} has no scope")));
            }
            let mut plain: Option<usize> = None;
            let mut dynamic: Option<usize> = None;
            for range in &pool.ranges {
                // ISC: "Allow range to be specified high-to-low as well as low-to-high."
                let (lo, hi) = {
                    let (a, b) = (u32::from(range.start), u32::from(range.end));
                    if a <= b {
                        (a, b)
                    } else {
                        (b, a)
                    }
                };
                let subnet = match pool.subnet {
                    Some(s) => {
                        let sn = config.subnets.get(s).ok_or_else(|| {
                            EngineError::Model(format!("pool {pi} refers to subnet {s}"))
                        })?;
                        for a in [lo, hi] {
                            if !sn.contains(Ipv4Addr::from(a)) {
                                return Err(EngineError::RangeOutsideSubnet {
                                    addr: Ipv4Addr::from(a),
                                    network: sn.network,
                                    prefix_len: sn.prefix_len,
                                });
                            }
                        }
                        s
                    }
                    None => network
                        .subnets
                        .iter()
                        .copied()
                        .find(|&s| {
                            config.subnets.get(s).is_some_and(|sn| {
                                sn.contains(Ipv4Addr::from(lo)) && sn.contains(Ipv4Addr::from(hi))
                            })
                        })
                        .ok_or_else(|| EngineError::RangeNotOnNetwork {
                            start: Ipv4Addr::from(lo),
                            end: Ipv4Addr::from(hi),
                            network: network.name.clone(),
                        })?,
                };
                address_count += u64::from(hi - lo) + 1;
                if address_count > MAX_ADDRESSES {
                    return Err(EngineError::TooManyAddresses {
                        count: address_count,
                        limit: MAX_ADDRESSES,
                    });
                }
                let slot = if range.dynamic_bootp {
                    &mut dynamic
                } else {
                    &mut plain
                };
                let ap = match *slot {
                    Some(ap) => ap,
                    None => {
                        alloc_pools.push(AllocPool {
                            config_pool: pi,
                            dynamic_bootp: range.dynamic_bootp,
                            ranges: Vec::new(),
                        });
                        let ap = alloc_pools.len() - 1;
                        if let Some(list) = network_pools.get_mut(pool.shared_network) {
                            list.push(ap);
                        }
                        *slot = Some(ap);
                        ap
                    }
                };
                if let Some(p) = alloc_pools.get_mut(ap) {
                    p.ranges.push((lo, hi, subnet));
                }
            }
            if let Some(peer) = &pool.failover_peer {
                warnings.push(format!(
                    "pool {pi} names failover peer \"{peer}\"; without a running failover \
                     link its addresses are served as a standalone pool"
                ));
            }
        }

        let mut hosts_by_uid: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        let mut hosts_by_hw: HashMap<(u8, Vec<u8>), Vec<usize>> = HashMap::new();
        let mut hosts_with_identifier = Vec::new();
        for (hi, host) in config.hosts.iter().enumerate() {
            if let Some(uid) = &host.client_id {
                hosts_by_uid.entry(uid.clone()).or_default().push(hi);
            }
            if let Some(hw) = &host.hardware {
                hosts_by_hw
                    .entry((hw.htype, hw.addr.clone()))
                    .or_default()
                    .push(hi);
            }
            if host.host_identifier.is_some() {
                hosts_with_identifier.push(hi);
            }
            for fixed in &host.fixed_addresses {
                if let HostAddr::Name(name) = fixed {
                    warnings.push(format!(
                        "host {}: fixed-address {name} is a DNS name; Tandem does not \
                         resolve names, the address is ignored",
                        host.name
                    ));
                }
            }
        }

        let mut configured_server_ids = HashSet::new();
        for scope in &config.scopes {
            collect_server_ids(&scope.statements, &mut configured_server_ids);
        }

        // ISC's group flag, computed by the config crate exactly as ISC does.
        let authoritative =
            |scope: ScopeId| config.scopes.get(scope).is_some_and(|s| s.authoritative);
        let subnet_authoritative = config
            .subnets
            .iter()
            .map(|s| authoritative(s.scope))
            .collect();
        let network_authoritative = config
            .shared_networks
            .iter()
            .map(|n| authoritative(n.scope))
            .collect();

        Ok(Topology {
            config,
            subnet_order,
            alloc_pools,
            network_pools,
            hosts_by_uid,
            hosts_by_hw,
            hosts_with_identifier,
            configured_server_ids,
            subnet_authoritative,
            network_authoritative,
            warnings,
            dynamic: DynamicHosts::default(),
        })
    }

    /// The innermost subnet containing `addr` (ISC `find_subnet`).
    pub fn find_subnet(&self, addr: Ipv4Addr) -> Option<usize> {
        self.subnet_order
            .iter()
            .copied()
            .find(|&i| self.config.subnets.get(i).is_some_and(|s| s.contains(addr)))
    }

    pub fn subnet_network(&self, subnet: usize) -> Option<usize> {
        self.config.subnets.get(subnet).map(|s| s.shared_network)
    }

    /// Whether `addr` is inside one of the subnets of shared network `net`
    /// (ISC `find_grouped_subnet`).
    pub fn network_subnet_for(&self, net: usize, addr: Ipv4Addr) -> Option<usize> {
        let subnets = &self.config.shared_networks.get(net)?.subnets;
        self.subnet_order.iter().copied().find(|i| {
            subnets.contains(i)
                && self
                    .config
                    .subnets
                    .get(*i)
                    .is_some_and(|s| s.contains(addr))
        })
    }

    pub fn network_name(&self, net: usize) -> &str {
        self.config
            .shared_networks
            .get(net)
            .map_or("?", |n| n.name.as_str())
    }

    pub fn subnet_authoritative(&self, subnet: usize) -> bool {
        self.subnet_authoritative
            .get(subnet)
            .copied()
            .unwrap_or(false)
    }

    pub fn network_authoritative(&self, net: usize) -> bool {
        self.network_authoritative
            .get(net)
            .copied()
            .unwrap_or(false)
    }

    /// The shared network served on an interface: the one naming it with an
    /// `interface` statement, else the one holding a subnet that contains one
    /// of its addresses (ISC matches interface addresses against subnets at
    /// startup).
    pub fn network_for_interface(&self, iface: &Interface) -> Option<usize> {
        if let Some(n) = self
            .config
            .shared_networks
            .iter()
            .position(|n| n.interface.as_deref() == Some(iface.name.as_str()))
        {
            return Some(n);
        }
        if let Some(s) = self
            .config
            .subnets
            .iter()
            .find(|s| s.interface.as_deref() == Some(iface.name.as_str()))
        {
            return Some(s.shared_network);
        }
        iface
            .addrs
            .iter()
            .find_map(|(a, _)| self.find_subnet(*a))
            .and_then(|s| self.subnet_network(s))
    }

    /// Host declarations matching a client, by ISC's precedence
    /// (`find_lease`): client identifier first, then hardware address, then
    /// `host-identifier option`. The first method that finds any host wins.
    pub fn find_hosts(
        &self,
        uid: Option<&[u8]>,
        htype: u8,
        hw: &[u8],
        option: &dyn Fn(&OptionCode) -> Option<Vec<u8>>,
    ) -> Vec<usize> {
        // OMAPI hosts join the same lookups, after the dhcpd.conf hosts (ISC chains a new
        // host at the end); a dhcpd.conf host deleted or replaced over OMAPI is skipped.
        let visible = |h: &usize| {
            self.config
                .hosts
                .get(*h)
                .is_some_and(|host| !self.dynamic.hides(&host.name))
        };
        if let Some(uid) = uid {
            let mut hosts: Vec<usize> = self
                .hosts_by_uid
                .get(uid)
                .into_iter()
                .flatten()
                .copied()
                .filter(visible)
                .collect();
            hosts.extend_from_slice(self.dynamic.by_uid(uid));
            if !hosts.is_empty() {
                return hosts;
            }
        }
        let mut hosts: Vec<usize> = self
            .hosts_by_hw
            .get(&(htype, hw.to_vec()))
            .into_iter()
            .flatten()
            .copied()
            .filter(visible)
            .collect();
        hosts.extend_from_slice(self.dynamic.by_hw(htype, hw));
        if !hosts.is_empty() {
            return hosts;
        }
        self.hosts_with_identifier
            .iter()
            .copied()
            .filter(visible)
            .filter(|&h| {
                self.config
                    .hosts
                    .get(h)
                    .and_then(|host| host.host_identifier.as_ref())
                    .is_some_and(|(code, value)| option(code).as_deref() == Some(value.as_slice()))
            })
            .collect()
    }

    /// The host behind an index from [`Topology::find_hosts`]: a dhcpd.conf host, or one
    /// declared over OMAPI.
    pub fn host(&self, h: usize) -> Option<&tandem_config::Host> {
        if h >= DYNAMIC_BASE {
            self.dynamic.decl(h)
        } else {
            self.config.hosts.get(h)
        }
    }

    /// The first fixed address of `hosts` that lies in shared network `net`
    /// (ISC `find_host_for_network`).
    pub fn fixed_lease_in(&self, hosts: &[usize], net: usize) -> Option<FixedLease> {
        hosts.iter().find_map(|&h| {
            let host = self.host(h)?;
            host.fixed_addresses.iter().find_map(|fa| match fa {
                HostAddr::Ip(addr) => {
                    let subnet = self.network_subnet_for(net, *addr)?;
                    Some(FixedLease {
                        host: h,
                        addr: *addr,
                        subnet,
                    })
                }
                HostAddr::Name(_) => None,
            })
        })
    }

    pub fn host_scope(&self, host: usize) -> Option<ScopeId> {
        self.config.hosts.get(host).map(|h| h.scope)
    }
}

fn collect_server_ids(stmts: &[Stmt], out: &mut HashSet<Ipv4Addr>) {
    for stmt in stmts {
        match stmt {
            Stmt::Param {
                param: Param::ServerIdentifier,
                value: Value::Const(v),
            } => {
                if let Ok(a) = <[u8; 4]>::try_from(v.as_slice()) {
                    out.insert(Ipv4Addr::from(a));
                }
            }
            Stmt::Option {
                code,
                value: Value::Const(v),
                ..
            } if code.space == "dhcp" && code.code == 54 => {
                if let Ok(a) = <[u8; 4]>::try_from(v.as_slice()) {
                    out.insert(Ipv4Addr::from(a));
                }
            }
            Stmt::If {
                branches,
                otherwise,
            } => {
                for (_, body) in branches {
                    collect_server_ids(body, out);
                }
                collect_server_ids(otherwise, out);
            }
            _ => {}
        }
    }
}
