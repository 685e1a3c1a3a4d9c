use std::sync::atomic::{AtomicU64, Ordering};

/// Counters for metrics, shared with the writer (`Arc<Stats>`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Batches appended (one write and one sync each).
    pub batches: AtomicU64,
    /// Records appended.
    pub records: AtomicU64,
    /// Commits (callers' `commit` calls) made durable.
    pub commits: AtomicU64,
    /// Syncs of appended data.
    pub fsyncs: AtomicU64,
    /// Bytes appended.
    pub bytes: AtomicU64,
    /// Records in the last batch.
    pub last_batch_records: AtomicU64,
    /// Commits in the last batch.
    pub last_batch_commits: AtomicU64,
    /// Completed rewrites.
    pub rewrites: AtomicU64,
    /// Failed appends or rewrites.
    pub errors: AtomicU64,
}

/// A plain copy of [`Stats`] at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub batches: u64,
    pub records: u64,
    pub commits: u64,
    pub fsyncs: u64,
    pub bytes: u64,
    pub last_batch_records: u64,
    pub last_batch_commits: u64,
    pub rewrites: u64,
    pub errors: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            batches: g(&self.batches),
            records: g(&self.records),
            commits: g(&self.commits),
            fsyncs: g(&self.fsyncs),
            bytes: g(&self.bytes),
            last_batch_records: g(&self.last_batch_records),
            last_batch_commits: g(&self.last_batch_commits),
            rewrites: g(&self.rewrites),
            errors: g(&self.errors),
        }
    }
}
