//! `failover peer "NAME" { ... }` (tandem-config) into the failover crate's
//! `PeerConfig`, addresses resolved, and the saved state as ISC loads it.

use std::net::{Ipv4Addr, SocketAddrV4};

use tandem_config::{Config, FailoverPeer, HostAddr};
use tandem_failover::hash::Hba;
use tandem_failover::peer::pool_digest;
use tandem_failover::{PeerConfig, Role};
use tandem_lease::{FailoverStateRecord, LeaseDb, PeerStateEntry, Time};

use crate::NodeError;

/// Everything the node needs to start one relationship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelSpec {
    pub cfg: PeerConfig,
    /// `address`:`port`: where we listen; connections go out from `address`.
    pub local: SocketAddrV4,
    /// `peer address`:`peer port`.
    pub remote: SocketAddrV4,
}

fn resolve_addr(
    peer: &str,
    what: &'static str,
    addr: Option<&HostAddr>,
    resolve: &dyn Fn(&str) -> Option<Ipv4Addr>,
) -> Result<Ipv4Addr, NodeError> {
    match addr {
        Some(HostAddr::Ip(a)) => Ok(*a),
        Some(HostAddr::Name(n)) => resolve(n).ok_or_else(|| NodeError::Unresolved {
            peer: peer.to_owned(),
            what,
            name: n.clone(),
        }),
        // "address ... may not be omitted" (dhcpd.conf.5); ISC fails to
        // listen and `log_fatal`s "no local address" when connecting.
        None => Err(NodeError::MissingAddress {
            peer: peer.to_owned(),
            what,
        }),
    }
}

/// The ranges of the pools that name this relationship (`pool { failover
/// peer "NAME"; ... }`), for the pool-definition digest.
pub(crate) fn pool_ranges(config: &Config, name: &str) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    config
        .pools
        .iter()
        .filter(|p| p.failover_peer.as_deref() == Some(name))
        .flat_map(|p| p.ranges.iter().map(|r| (r.start, r.end)))
        .collect()
}

/// Converts one `failover peer` block (§5.1).
pub(crate) fn rel_spec(
    config: &Config,
    fp: &FailoverPeer,
    resolve: &dyn Fn(&str) -> Option<Ipv4Addr>,
) -> Result<RelSpec, NodeError> {
    let role = match fp.role {
        tandem_config::Role::Primary => Role::Primary,
        tandem_config::Role::Secondary => Role::Secondary,
    };
    let mut cfg = PeerConfig::new(fp.name.clone(), role);
    cfg.mclt = fp.mclt;
    // `hba` gives the bitmap; `split N` sets buckets 0..N (§4).
    cfg.hba = match (fp.hba, fp.split) {
        (Some(bytes), _) => Some(Hba(bytes)),
        (None, Some(n)) => Some(Hba::from_split(n).map_err(|error| NodeError::Hba {
            peer: fp.name.clone(),
            error,
        })?),
        (None, None) => None,
    };
    cfg.max_response_delay = fp.max_response_delay;
    cfg.max_unacked_updates = fp.max_unacked_updates;
    cfg.load_balance_max_seconds = fp.load_balance_max_seconds;
    cfg.auto_partner_down = fp.auto_partner_down;
    cfg.max_lease_misbalance = fp.max_lease_misbalance;
    cfg.max_lease_ownership = fp.max_lease_ownership;
    cfg.min_balance = fp.min_balance;
    cfg.max_balance = fp.max_balance;
    cfg.hot_standby = fp.extensions.hot_standby;
    cfg.safe_partner_down = fp.extensions.safe_partner_down;
    let ranges = pool_ranges(config, &fp.name);
    cfg.pool_digest = (!ranges.is_empty()).then(|| pool_digest(&ranges));
    let local = resolve_addr(&fp.name, "address", fp.address.as_ref(), resolve)?;
    let remote = resolve_addr(&fp.name, "peer address", fp.peer_address.as_ref(), resolve)?;
    Ok(RelSpec {
        cfg,
        local: SocketAddrV4::new(local, fp.port),
        remote: SocketAddrV4::new(remote, fp.peer_port),
    })
}

/// The saved state of relationship `name`: `failover peer "NAME" state`
/// declarations of dhcpd.conf first, then the lease file's last block, field
/// by field (the lease file is read after the config, so it wins, §5.3). A
/// state without `at DATE` starts now, as when ISC reads the file.
pub(crate) fn saved_state(
    config: &Config,
    db: &LeaseDb,
    name: &str,
    now: Time,
) -> Option<FailoverStateRecord> {
    let mut rec: Option<FailoverStateRecord> = None;
    let entry = |(state, at): (tandem_lease::FailoverState, Option<Time>)| PeerStateEntry {
        state,
        stos: at.unwrap_or(now),
    };
    for d in config.failover_states.iter().filter(|d| d.peer == name) {
        let r = rec.get_or_insert_with(|| empty(name));
        if let Some(e) = d.my_state {
            r.me = Some(entry(e));
        }
        if let Some(e) = d.partner_state {
            r.partner = Some(entry(e));
        }
        if d.mclt.is_some() {
            r.mclt = d.mclt;
        }
    }
    if let Some(f) = db.failover.get(name) {
        let r = rec.get_or_insert_with(|| empty(name));
        if f.me.is_some() {
            r.me = f.me;
        }
        if f.partner.is_some() {
            r.partner = f.partner;
        }
        if f.mclt.is_some() {
            r.mclt = f.mclt;
        }
    }
    if let Some(r) = &mut rec {
        for e in [&mut r.me, &mut r.partner].into_iter().flatten() {
            if e.stos == 0 {
                e.stos = now;
            }
        }
    }
    rec
}

fn empty(name: &str) -> FailoverStateRecord {
    FailoverStateRecord {
        peer: name.to_owned(),
        me: None,
        partner: None,
        mclt: None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tandem_lease::FailoverState;

    use super::*;

    fn conf(text: &str) -> Config {
        tandem_config::parse_str(Path::new("t.conf"), text).expect("parses")
    }

    const PRIMARY: &str = r#"
failover peer "foo" {
  primary; address 10.0.0.10; port 520; peer address dhcp2.example; peer port 521;
  mclt 1800; split 128; max-response-delay 30; max-unacked-updates 10;
  load balance max seconds 3;
}
subnet 10.0.0.0 netmask 255.255.255.0 {
  pool { failover peer "foo"; range 10.0.0.100 10.0.0.200; }
  pool { range 10.0.0.20 10.0.0.30; }
}
"#;

    #[test]
    fn block_converts_with_resolved_names() {
        let c = conf(PRIMARY);
        let fp = &c.failover_peers[0];
        let spec = rel_spec(&c, fp, &|n| {
            (n == "dhcp2.example").then_some(Ipv4Addr::new(10, 0, 0, 20))
        })
        .expect("converts");
        assert_eq!(spec.local, "10.0.0.10:520".parse().expect("addr"));
        assert_eq!(spec.remote, "10.0.0.20:521".parse().expect("addr"));
        assert_eq!(spec.cfg.role, Role::Primary);
        assert_eq!(spec.cfg.mclt, Some(1800));
        assert_eq!(spec.cfg.max_response_delay, 30);
        assert_eq!(spec.cfg.max_unacked_updates, 10);
        assert_eq!(spec.cfg.load_balance_max_seconds, 3);
        // split 128: ff x 16 then 00 x 16 (§4).
        let hba = spec.cfg.hba.expect("hba").0;
        assert!(hba[..16].iter().all(|b| *b == 0xff));
        assert!(hba[16..].iter().all(|b| *b == 0));
        // Only the failover pool's range goes into the digest.
        assert_eq!(
            pool_ranges(&c, "foo"),
            vec![(Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 200))]
        );
        assert_eq!(
            spec.cfg.pool_digest,
            Some(pool_digest(&[(
                Ipv4Addr::new(10, 0, 0, 100),
                Ipv4Addr::new(10, 0, 0, 200)
            )]))
        );
    }

    #[test]
    fn unresolvable_peer_address_is_an_error() {
        let c = conf(PRIMARY);
        let err = rel_spec(&c, &c.failover_peers[0], &|_| None).expect_err("no dns");
        assert!(matches!(
            err,
            NodeError::Unresolved {
                what: "peer address",
                ..
            }
        ));
    }

    #[test]
    fn lease_file_state_wins_over_config_field_by_field() {
        let c = conf(&format!(
            "{PRIMARY}\nfailover peer \"foo\" state {{ my state partner-down; \
             partner state communications-interrupted at 3 2024/01/10 12:00:00; }}\n"
        ));
        let now = 1_750_000_000;
        // Config only: my state from the config with stos = now.
        let r = saved_state(&c, &LeaseDb::default(), "foo", now).expect("state");
        assert_eq!(
            r.me,
            Some(PeerStateEntry {
                state: FailoverState::PartnerDown,
                stos: now
            })
        );
        assert_eq!(
            r.partner.map(|p| p.state),
            Some(FailoverState::CommunicationsInterrupted)
        );
        assert!(r.partner.is_some_and(|p| p.stos > 0 && p.stos < now));
        // The lease file's `my state` wins; its missing partner state keeps
        // the config's.
        let mut db = LeaseDb::default();
        db.apply(tandem_lease::Record::FailoverState(FailoverStateRecord {
            peer: "foo".into(),
            me: Some(PeerStateEntry {
                state: FailoverState::Normal,
                stos: 42,
            }),
            partner: None,
            mclt: None,
        }));
        let r = saved_state(&c, &db, "foo", now).expect("state");
        assert_eq!(
            r.me.map(|e| (e.state, e.stos)),
            Some((FailoverState::Normal, 42))
        );
        assert_eq!(
            r.partner.map(|p| p.state),
            Some(FailoverState::CommunicationsInterrupted)
        );
        // Another relationship has no saved state.
        assert_eq!(saved_state(&c, &db, "bar", now), None);
    }
}
