//! Folding the records of a lease file into the state they describe.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::{FailoverStateRecord, HostRecord, Lease, Record};

/// The state a lease file describes once every record is applied in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaseDb {
    /// The last record for each address.
    pub leases: BTreeMap<Ipv4Addr, Lease>,
    /// The failover state per peer name.
    pub failover: BTreeMap<String, FailoverStateRecord>,
    /// Live hosts created over OMAPI, by name.
    pub hosts: BTreeMap<String, HostRecord>,
    /// Names whose last host record was a deletion. ISC keeps these
    /// tombstones for hosts declared in dhcpd.conf (a deletion over OMAPI must
    /// survive a restart); whoever rewrites the file decides which to keep.
    pub deleted_hosts: BTreeSet<String>,
    /// Other top-level statements kept verbatim (`server-duid`, dynamic
    /// classes, DHCPv6 `ia-*` blocks), in file order. The byte-order line is
    /// not kept: the header of every rewritten file carries it.
    pub other: Vec<String>,
}

impl LeaseDb {
    /// Apply one record, with ISC's rules for reading the file in order.
    pub fn apply(&mut self, r: Record) {
        match r {
            Record::Lease(mut l) => {
                // parse_lease_declaration: "if (!(seenmask & 65536)) lease->tstp = lease->ends;"
                if l.tstp == 0 {
                    l.tstp = l.ends;
                }
                self.leases.insert(l.addr, l);
            }
            Record::FailoverState(f) => {
                // Each block sets only the fields it has (ISC parses them into
                // the peer's state one by one).
                let slot =
                    self.failover
                        .entry(f.peer.clone())
                        .or_insert_with(|| FailoverStateRecord {
                            peer: f.peer.clone(),
                            me: None,
                            partner: None,
                            mclt: None,
                        });
                if f.me.is_some() {
                    slot.me = f.me;
                }
                if f.partner.is_some() {
                    slot.partner = f.partner;
                }
                if f.mclt.is_some() {
                    slot.mclt = f.mclt;
                }
            }
            Record::Host(h) => {
                if h.deleted {
                    self.hosts.remove(&h.name);
                    self.deleted_hosts.insert(h.name);
                } else {
                    self.deleted_hosts.remove(&h.name);
                    self.hosts.insert(h.name.clone(), h);
                }
            }
            Record::Other(text) => {
                if !text.starts_with("authoring-byte-order") {
                    self.other.push(text);
                }
            }
        }
    }

    /// Everything but the leases, as records for a rewrite: other
    /// statements, failover states, hosts and host tombstones.
    pub fn extra_records(&self) -> Vec<Record> {
        let mut v = Vec::with_capacity(
            self.other.len() + self.failover.len() + self.hosts.len() + self.deleted_hosts.len(),
        );
        v.extend(self.other.iter().cloned().map(Record::Other));
        v.extend(self.failover.values().cloned().map(Record::FailoverState));
        v.extend(self.hosts.values().cloned().map(Record::Host));
        v.extend(self.deleted_hosts.iter().map(|name| {
            Record::Host(HostRecord {
                name: name.clone(),
                deleted: true,
                hardware: None,
                uid: None,
                fixed_address: None,
                statements: Vec::new(),
            })
        }));
        v
    }

    /// Everything as records, in the order a rewrite writes them: the
    /// [`extra_records`](Self::extra_records), then the leases.
    pub fn to_records(&self) -> Vec<Record> {
        let mut v = self.extra_records();
        v.extend(self.leases.values().cloned().map(Record::Lease));
        v
    }
}

/// Fold records in file order: the last record for an address wins, the
/// last failover block per peer wins (field by field), hosts by name with
/// `deleted` removing.
pub fn fold(records: impl IntoIterator<Item = Record>) -> LeaseDb {
    let mut db = LeaseDb::default();
    for r in records {
        db.apply(r);
    }
    db
}
