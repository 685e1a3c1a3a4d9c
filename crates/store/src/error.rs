use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tandem_lease::ParseWarning;
use thiserror::Error;

/// The file operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    Open,
    Create,
    Lock,
    Read,
    Write,
    Sync,
    Truncate,
    Link,
    Rename,
    Remove,
    SyncDir,
    SpawnWriter,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoOp::Open => "open",
            IoOp::Create => "create",
            IoOp::Lock => "lock",
            IoOp::Read => "read",
            IoOp::Write => "write to",
            IoOp::Sync => "sync",
            IoOp::Truncate => "truncate",
            IoOp::Link => "link",
            IoOp::Rename => "rename",
            IoOp::Remove => "remove",
            IoOp::SyncDir => "sync the directory of",
            IoOp::SpawnWriter => "start the writer thread for",
        })
    }
}

/// Errors of the lease store. Cloneable, so one failed batch can be reported
/// to every commit in it.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: IoOp,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// Another process holds the lock on the lease file.
    #[error("{} is locked by another process (is another server using this lease file?)", path.display())]
    Locked { path: PathBuf },
    /// `check_file`: records in the middle of the file cannot be read.
    #[error("{}: {count} record(s) or statement(s) cannot be read; first: {first}", path.display())]
    Malformed {
        path: PathBuf,
        count: usize,
        first: ParseWarning,
    },
    /// An earlier write or sync failed, so what is on disk is uncertain;
    /// appending resumes after a successful rewrite.
    #[error("{}: an earlier write failed; the lease file must be rewritten before more appends", path.display())]
    NeedsRewrite { path: PathBuf },
    /// The writer has stopped (shut down, or it failed).
    #[error("the lease store writer has stopped")]
    Closed,
}

impl StoreError {
    pub(crate) fn io(op: IoOp, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
