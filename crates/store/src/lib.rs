//! Lease store: the `dhcpd.leases` journal with group commit and rewrite.
//!
//! * [`open`] creates the file if missing, locks it (`flock`, so two servers
//!   cannot share it), reads and folds it, and cuts a torn last record off
//!   (keeping its bytes in `<path>.torn-<unix time>`).
//! * [`Journal::append`] writes a batch with one write and one `fdatasync`;
//!   [`Journal::rewrite`] compacts through `<path>.new`, keeps `<path>~` and
//!   renames, as ISC's `new_lease_file` does.
//! * [`GroupCommitter`] runs the journal on its own thread: commits queued
//!   while a sync runs share the next one, and each commit's `done` runs only
//!   after the sync that covered its records. Nothing may be acknowledged to
//!   a client before its `done` reports `Ok`.
//! * [`LeaseStore`] is the interface the server uses; [`FileStore`] is the
//!   `dhcpd.leases` implementation.

mod check;
mod error;
mod group;
mod journal;
mod stats;
mod store;

pub use check::{check_file, CheckReport};
pub use error::{IoOp, StoreError};
pub use group::{CommitHandle, Done, GroupCommitter};
pub use journal::{open, Fdatasync, Journal, LoadOutcome, SyncPolicy, TornReport};
pub use stats::{Stats, StatsSnapshot};
pub use store::{FileStore, LeaseStore};
/// The record types and folded table, re-exported for store users.
pub use tandem_lease::{LeaseDb, ParseWarning, Record, TornTail};
