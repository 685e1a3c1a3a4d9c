//! Why the engine refused a configuration.

use std::net::Ipv4Addr;

/// A configuration the engine cannot serve (ISC dhcpd stops with a fatal
/// error on the same mistakes, e.g. "bad range, address X not in subnet Y").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// `mdb.c` `new_address_range`: "bad range, address X not in subnet Y".
    #[error("bad range, address {addr} not in subnet {network}/{prefix_len}")]
    RangeOutsideSubnet {
        addr: Ipv4Addr,
        network: Ipv4Addr,
        prefix_len: u8,
    },
    /// A pool in a shared-network whose range is in none of its subnets.
    #[error("range {start} - {end} is not on shared network {network}")]
    RangeNotOnNetwork {
        start: Ipv4Addr,
        end: Ipv4Addr,
        network: String,
    },
    /// The model refers to a subnet, shared network or scope that does not exist.
    #[error("inconsistent configuration model: {0}")]
    Model(String),
    /// Every address of every range is a lease in memory; this guards memory.
    #[error("ranges hold {count} addresses, more than the limit of {limit}")]
    TooManyAddresses { count: u64, limit: u64 },
}
