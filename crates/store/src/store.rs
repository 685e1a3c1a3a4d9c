//! The store interface the server drives, and its `dhcpd.leases` implementation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tandem_lease::{fold, parse_bytes, Record};

use crate::error::{IoOp, StoreError};
use crate::group::{CommitHandle, Done, GroupCommitter};
use crate::journal::{open, LoadOutcome};
use crate::stats::Stats;

/// Where leases live. The embedded implementation is [`FileStore`]
/// (`dhcpd.leases`); a PostgreSQL store would be another.
pub trait LeaseStore: Send + Sync {
    /// The stored state. The first call returns what was read at open.
    fn load(&self) -> Result<LoadOutcome, StoreError>;
    /// Make `records` durable, then call `done`. Commits are grouped: many
    /// may share one sync. `done` runs in commit order.
    fn commit(&self, records: Vec<Record>, done: Done);
    /// Replace the stored state with `snapshot` (compaction), then call `done`.
    /// Ordered with commits: those queued later land after the snapshot.
    fn rewrite(&self, snapshot: Vec<Record>, done: Done);
    /// Flush what is queued and stop.
    fn shutdown(&self) -> Result<(), StoreError>;
    /// Counters for metrics.
    fn stats(&self) -> Arc<Stats>;
}

/// `dhcpd.leases` with a group-commit writer thread.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    handle: CommitHandle,
    loaded: Mutex<Option<LoadOutcome>>,
}

impl FileStore {
    /// Open (or create) and lock the file, read it, start the writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let (journal, outcome) = open(path)?;
        let handle = GroupCommitter::try_spawn(journal)?;
        Ok(FileStore {
            path: path.to_owned(),
            handle,
            loaded: Mutex::new(Some(outcome)),
        })
    }

    /// The writer handle, to share with tasks that commit.
    pub fn handle(&self) -> &CommitHandle {
        &self.handle
    }
}

impl LeaseStore for FileStore {
    fn load(&self) -> Result<LoadOutcome, StoreError> {
        let taken = match self.loaded.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(outcome) = taken {
            return Ok(outcome);
        }
        // Later calls read the file again (our own appends included; a batch
        // being written at this moment shows up as a torn tail and is skipped).
        let bytes =
            std::fs::read(&self.path).map_err(|e| StoreError::io(IoOp::Read, &self.path, e))?;
        let parsed = parse_bytes(&bytes);
        let records = parsed.records.len();
        Ok(LoadOutcome {
            db: fold(parsed.records),
            records,
            warnings: parsed.warnings,
            torn: None,
            created: false,
        })
    }

    fn commit(&self, records: Vec<Record>, done: Done) {
        self.handle.commit(records, done);
    }

    fn rewrite(&self, snapshot: Vec<Record>, done: Done) {
        self.handle.rewrite(snapshot, done);
    }

    fn shutdown(&self) -> Result<(), StoreError> {
        self.handle.shutdown_checked()
    }

    fn stats(&self) -> Arc<Stats> {
        self.handle.stats()
    }
}
