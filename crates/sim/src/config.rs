//! The configurations the simulated pair runs: the mission's own failover
//! pair (`examples/mission/primary.conf`, `secondary.conf` and the
//! `master.conf` they include), inlined with the `include` replaced by the
//! master text, and with times and the range shortened so that a run covers
//! MCLT waits, renewals, expiry and address reuse within simulated minutes.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use tandem_config::{Config, ConfigError};

/// The primary's `address` (and its DHCP interface address).
pub const PRIMARY_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
/// The secondary's `address`.
pub const SECONDARY_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 20);

/// What the simulation shortens in the mission's configuration.
#[derive(Debug, Clone)]
pub struct PairParams {
    /// `mclt` (the mission: 1800).
    pub mclt: u32,
    /// `default-lease-time` and `max-lease-time` (the mission: 16200).
    pub lease_time: u32,
    /// The pool's `range` (the mission: 10.0.0.100 to 10.0.0.200). A small
    /// range makes clients compete for addresses, so that expired and
    /// released leases are handed out again.
    pub range: (Ipv4Addr, Ipv4Addr),
    /// `max-response-delay` (the mission: 30).
    pub max_response_delay: u32,
    /// `load balance max seconds` (the mission: 3).
    pub load_balance_max_seconds: u32,
}

impl Default for PairParams {
    /// MCLT 300 s rather than something shorter: ISC lets a server accept
    /// its peer's EXPIRED for an ACTIVE lease up to 65 s early
    /// (isc-failover.md §3.6, §7), and with an MCLT at or below that, every
    /// first (MCLT-long) lease would sit inside that allowance.
    fn default() -> Self {
        PairParams {
            mclt: 300,
            lease_time: 900,
            range: (Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 139)),
            max_response_delay: 30,
            load_balance_max_seconds: 3,
        }
    }
}

impl PairParams {
    /// Number of addresses in the range.
    pub fn pool_size(&self) -> u32 {
        u32::from(self.range.1)
            .saturating_sub(u32::from(self.range.0))
            .saturating_add(1)
    }
}

/// `master.conf`, with the lease times and range of `p`.
pub fn master_text(p: &PairParams) -> String {
    format!(
        "omapi-port 7911;

default-lease-time {lt};
max-lease-time {lt};

subnet 10.0.0.0 netmask 255.255.255.0
        {{
        option routers 10.0.0.1;

        pool
                {{
                failover peer \"foo\";
                deny dynamic bootp clients;

                range {first}  {last};
                }}
        }}
",
        lt = p.lease_time,
        first = p.range.0,
        last = p.range.1,
    )
}

/// `primary.conf` with the master inlined.
pub fn primary_text(p: &PairParams) -> String {
    format!(
        "failover peer \"foo\"
    {{
    primary;
    mclt {mclt};  # only specified in the primary
    split 128;  # only specified in the primary

    address 10.0.0.10;
    port 520;

    peer address 10.0.0.20;
    peer port 520;

    max-response-delay {mrd};
    max-unacked-updates 10;
    load balance max seconds {lbms};
    }}

option domain-name-servers 10.0.0.10, 10.0.0.20;

{master}",
        mclt = p.mclt,
        mrd = p.max_response_delay,
        lbms = p.load_balance_max_seconds,
        master = master_text(p),
    )
}

/// `secondary.conf` with the master inlined.
pub fn secondary_text(p: &PairParams) -> String {
    format!(
        "failover peer \"foo\"
    {{
    secondary;

    address 10.0.0.20;
    port 520;

    peer address 10.0.0.10;
    peer port 520;

    max-response-delay {mrd};
    max-unacked-updates 10;
    load balance max seconds {lbms};
    }}

option domain-name-servers 10.0.0.20, 10.0.0.10;

{master}",
        mrd = p.max_response_delay,
        lbms = p.load_balance_max_seconds,
        master = master_text(p),
    )
}

/// Both configurations, parsed as the server parses them.
pub fn pair(p: &PairParams) -> Result<[Arc<Config>; 2], Box<ConfigError>> {
    let primary = tandem_config::parse_str(Path::new("primary.conf"), &primary_text(p))?;
    let secondary = tandem_config::parse_str(Path::new("secondary.conf"), &secondary_text(p))?;
    Ok([Arc::new(primary), Arc::new(secondary)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mission_pair_parses() {
        let p = PairParams::default();
        assert_eq!(p.pool_size(), 40);
        let [a, b] = pair(&p).expect("the mission's configs parse");
        assert_eq!(a.failover_peers.len(), 1);
        assert_eq!(b.failover_peers.len(), 1);
    }
}
