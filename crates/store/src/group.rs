//! Group commit: one thread owns the journal; every commit queued while the
//! previous sync ran goes out in the next batch, with one write and one sync.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tandem_lease::Record;

use crate::error::{IoOp, StoreError};
use crate::journal::Journal;
use crate::stats::Stats;

/// Called once with the outcome of a commit or rewrite, on the writer thread.
/// Keep it short (hand the result to another task); it must not block on the
/// store.
pub type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send + 'static>;

/// A `Done` that is always called: if it is dropped unanswered (writer gone,
/// or a panic), it reports [`StoreError::Closed`].
struct Pending(Option<Done>);

impl Pending {
    fn finish(mut self, result: Result<(), StoreError>) {
        if let Some(done) = self.0.take() {
            // A panicking callback must not take the writer down with it.
            let _ = catch_unwind(AssertUnwindSafe(move || done(result)));
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            let _ = catch_unwind(AssertUnwindSafe(move || done(Err(StoreError::Closed))));
        }
    }
}

enum Msg {
    Commit(Vec<Record>, Pending),
    Rewrite(Vec<Record>, Pending),
    Shutdown,
}

/// Starts the writer thread; see [`CommitHandle`].
pub struct GroupCommitter;

impl GroupCommitter {
    /// Move the journal to a new writer thread. If the thread cannot be
    /// started, the handle answers every commit with [`StoreError::Closed`]
    /// (nothing is ever acknowledged without the disk); use [`Self::try_spawn`]
    /// to get the error instead.
    pub fn spawn(journal: Journal) -> CommitHandle {
        let stats = journal.stats();
        match Self::try_spawn(journal) {
            Ok(handle) => handle,
            Err(_) => {
                let (tx, _) = mpsc::channel();
                CommitHandle {
                    tx,
                    stats,
                    thread: Arc::new(Mutex::new(None)),
                }
            }
        }
    }

    /// Move the journal to a new writer thread.
    pub fn try_spawn(journal: Journal) -> Result<CommitHandle, StoreError> {
        let (tx, rx) = mpsc::channel();
        let stats = journal.stats();
        let path = journal.path().to_owned();
        let thread = std::thread::Builder::new()
            .name("lease-writer".into())
            .spawn(move || writer(journal, rx))
            .map_err(|e| StoreError::io(IoOp::SpawnWriter, path, e))?;
        Ok(CommitHandle {
            tx,
            stats,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }
}

/// Queue commits and rewrites for the writer thread. Cheap to clone.
///
/// Messages are handled in the order they were queued: a commit queued after
/// a rewrite is appended to the new file, and `done` callbacks run in order.
#[derive(Clone)]
pub struct CommitHandle {
    tx: Sender<Msg>,
    stats: Arc<Stats>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for CommitHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitHandle").finish_non_exhaustive()
    }
}

impl CommitHandle {
    /// Queue records; `done` runs once they are durable (or failed). Nothing
    /// that depends on them (the DHCPACK, the BNDUPD) may go out before.
    pub fn commit(&self, records: Vec<Record>, done: Done) {
        // If the writer is gone the message comes back and its Pending
        // reports Closed when dropped.
        let _ = self.tx.send(Msg::Commit(records, Pending(Some(done))));
    }

    /// Queue a rewrite of the whole file with `snapshot`.
    pub fn rewrite(&self, snapshot: Vec<Record>, done: Done) {
        let _ = self.tx.send(Msg::Rewrite(snapshot, Pending(Some(done))));
    }

    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Write everything queued before this call, stop the writer and wait
    /// for it. Commits queued afterwards report [`StoreError::Closed`].
    pub fn shutdown(&self) {
        let _ = self.shutdown_checked();
    }

    /// [`Self::shutdown`], telling whether the writer ended cleanly (`Err`
    /// if it panicked).
    pub fn shutdown_checked(&self) -> Result<(), StoreError> {
        let _ = self.tx.send(Msg::Shutdown);
        let thread = match self.thread.lock() {
            Ok(mut t) => t.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        match thread {
            // Called from a `done` callback: the writer stops after this batch.
            Some(t) if t.thread().id() == std::thread::current().id() => Ok(()),
            Some(t) => t.join().map_err(|_| StoreError::Closed),
            None => Ok(()),
        }
    }
}

/// Append a batch and answer every commit in it, in order.
fn flush(journal: &mut Journal, records: &mut Vec<Record>, waiting: &mut Vec<Pending>) {
    if waiting.is_empty() {
        return;
    }
    let result = journal.append(records);
    if result.is_ok() {
        let stats = journal.stats();
        stats
            .commits
            .fetch_add(waiting.len() as u64, Ordering::Relaxed);
        stats
            .last_batch_commits
            .store(waiting.len() as u64, Ordering::Relaxed);
    }
    records.clear();
    for p in waiting.drain(..) {
        p.finish(result.clone());
    }
}

/// Most commits in one batch.
const MAX_BATCH_COMMITS: usize = 4096;

fn writer(mut journal: Journal, rx: Receiver<Msg>) {
    let mut records = Vec::new();
    let mut waiting = Vec::new();
    // Block for the first message, then take everything else already queued:
    // those commits arrived while the previous sync ran and share the next one.
    while let Ok(first) = rx.recv() {
        let mut stop = false;
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Commit(rs, pending) => {
                    records.extend(rs);
                    waiting.push(pending);
                    // Bound the batch so a steady stream cannot delay it forever.
                    if waiting.len() >= MAX_BATCH_COMMITS {
                        flush(&mut journal, &mut records, &mut waiting);
                    }
                }
                Msg::Rewrite(snapshot, pending) => {
                    // Earlier commits go to the old file first (the snapshot
                    // already includes them, the `~` backup keeps them too).
                    flush(&mut journal, &mut records, &mut waiting);
                    let result = journal.rewrite(&snapshot);
                    pending.finish(result);
                }
                Msg::Shutdown => {
                    stop = true;
                    break;
                }
            }
        }
        flush(&mut journal, &mut records, &mut waiting);
        if stop {
            break;
        }
    }
    // Anything still queued is answered with Closed as it is dropped.
}
