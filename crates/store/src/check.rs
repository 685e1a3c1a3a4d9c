//! `tandem -T`: check a lease file without touching it.

use std::path::Path;

use tandem_lease::{fold, parse_bytes, ParseWarning, TornTail};

use crate::error::{IoOp, StoreError};

/// What a lease file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Records read, in total.
    pub records: usize,
    /// Distinct addresses with a lease.
    pub leases: usize,
    /// Failover peers with a saved state.
    pub failover_peers: usize,
    /// Live hosts.
    pub hosts: usize,
    /// Remarks that lose nothing (duplicates, assumed binding states).
    pub warnings: Vec<ParseWarning>,
    /// An incomplete last record (cut off at the next start, not an error).
    pub torn_tail: Option<TornTail>,
}

/// Read and parse the lease file. `Err` if it cannot be read, or if any record
/// or statement in it cannot be understood (it would be dropped at start).
pub fn check_file(path: &Path) -> Result<CheckReport, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(IoOp::Read, path, e))?;
    let parsed = parse_bytes(&bytes);
    let (lost, warnings): (Vec<_>, Vec<_>) = parsed
        .warnings
        .into_iter()
        .partition(ParseWarning::loses_data);
    if let Some(first) = lost.first() {
        return Err(StoreError::Malformed {
            path: path.to_owned(),
            count: lost.len(),
            first: first.clone(),
        });
    }
    let records = parsed.records.len();
    let db = fold(parsed.records);
    Ok(CheckReport {
        records,
        leases: db.leases.len(),
        failover_peers: db.failover.len(),
        hosts: db.hosts.len(),
        warnings,
        torn_tail: parsed.torn_tail,
    })
}
