//! The `dhcpd.leases` journal: read at start, appended to as leases change,
//! rewritten now and then through a temporary file and a rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use tandem_lease::{
    fold, parse_bytes, print_header, print_record, LeaseDb, ParseWarning, Record, TornTail,
};

use crate::error::{IoOp, StoreError};
use crate::stats::Stats;

/// How appended data is made durable. The default is [`Fdatasync`]; tests
/// substitute a slow or counting one.
pub trait SyncPolicy: Send {
    /// Make everything written to `file` so far durable.
    fn sync_data(&mut self, file: &File) -> io::Result<()>;
}

/// `fdatasync(2)`: the data and the file size, not the timestamps.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fdatasync;

impl SyncPolicy for Fdatasync {
    fn sync_data(&mut self, file: &File) -> io::Result<()> {
        file.sync_data()
    }
}

/// What was found when the lease file was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOutcome {
    /// The folded content.
    pub db: LeaseDb,
    /// How many records the file held.
    pub records: usize,
    /// Problems found while reading (skipped records and statements, ...).
    pub warnings: Vec<ParseWarning>,
    /// An incomplete last record that was cut off and saved aside.
    pub torn: Option<TornReport>,
    /// The file did not exist and was created (ISC dhcpd refuses to start).
    pub created: bool,
}

/// The torn last record found at open: removed from the lease file so that
/// appends keep it parseable, and kept in `saved_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornReport {
    pub tail: TornTail,
    pub saved_to: PathBuf,
}

/// The open, locked lease file.
pub struct Journal {
    path: PathBuf,
    file: Flock<File>,
    /// Length of what was written successfully; a failed write is cut back to it.
    len: u64,
    sync: Box<dyn SyncPolicy>,
    stats: Arc<Stats>,
    /// A write or sync failed: on-disk state is uncertain until a rewrite.
    needs_rewrite: bool,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("needs_rewrite", &self.needs_rewrite)
            .finish_non_exhaustive()
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsync the directory holding `path`, so a created or renamed entry is durable.
fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(IoOp::SyncDir, path, e))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Take the exclusive advisory lock, without waiting.
fn lock(path: &Path, file: File) -> Result<Flock<File>, StoreError> {
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == Errno::EWOULDBLOCK {
            StoreError::Locked {
                path: path.to_owned(),
            }
        } else {
            StoreError::io(IoOp::Lock, path, io::Error::from(errno))
        }
    })
}

/// Open (creating it if missing) and lock the file at `path`.
fn open_locked(path: &Path) -> Result<(Flock<File>, bool), StoreError> {
    // A rewrite by the previous holder can replace the file between our open
    // and our lock; we then hold a lock on the old inode and must try again.
    for _ in 0..16 {
        let (file, created) = match OpenOptions::new().read(true).append(true).open(path) {
            Ok(f) => (f, false),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                match OpenOptions::new()
                    .read(true)
                    .append(true)
                    .create_new(true)
                    .open(path)
                {
                    Ok(f) => (f, true),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(StoreError::io(IoOp::Create, path, e)),
                }
            }
            Err(e) => return Err(StoreError::io(IoOp::Open, path, e)),
        };
        let file = lock(path, file)?;
        let ours = file
            .metadata()
            .map_err(|e| StoreError::io(IoOp::Open, path, e))?;
        match fs::metadata(path) {
            Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => {
                return Ok((file, created))
            }
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io(IoOp::Open, path, e)),
        }
    }
    Err(StoreError::Locked {
        path: path.to_owned(),
    })
}

/// Keep the torn bytes in `<path>.torn-<unix time>` (durably) before they are
/// cut from the lease file.
fn save_torn(path: &Path, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let base = with_suffix(path, &format!(".torn-{}", unix_now()));
    let mut n = 0u32;
    loop {
        let side = if n == 0 {
            base.clone()
        } else {
            with_suffix(&base, &format!("-{n}"))
        };
        match OpenOptions::new().write(true).create_new(true).open(&side) {
            Ok(mut f) => {
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| StoreError::io(IoOp::Write, &side, e))?;
                sync_dir(&side)?;
                return Ok(side);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(StoreError::io(IoOp::Create, &side, e)),
        }
    }
}

/// Open the lease file: create it if missing (and say so), lock it, read and
/// fold it, and cut off a torn last record (saved aside first).
pub fn open(path: &Path) -> Result<(Journal, LoadOutcome), StoreError> {
    let (file, created) = open_locked(path)?;
    let mut bytes = Vec::new();
    (&*file)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(IoOp::Read, path, e))?;
    let parsed = parse_bytes(&bytes);
    let mut len = bytes.len();

    let torn = match parsed.torn_tail {
        Some(tail) => {
            let torn_bytes = bytes.get(tail.offset..).unwrap_or_default();
            let saved_to = save_torn(path, torn_bytes)?;
            file.set_len(tail.offset as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| StoreError::io(IoOp::Truncate, path, e))?;
            len = tail.offset;
            Some(TornReport { tail, saved_to })
        }
        None => None,
    };

    // A fresh (or emptied) file starts with ISC's header; a file whose last
    // line is unfinished gets its newline before we append.
    let mut prefix = String::new();
    if len == 0 {
        print_header(&mut prefix);
    } else if bytes.get(len - 1) != Some(&b'\n') {
        prefix.push('\n');
    }
    if !prefix.is_empty() {
        (&*file)
            .write_all(prefix.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| StoreError::io(IoOp::Write, path, e))?;
        len += prefix.len();
    }
    if created {
        sync_dir(path)?;
    }

    let records = parsed.records.len();
    let outcome = LoadOutcome {
        db: fold(parsed.records),
        records,
        warnings: parsed.warnings,
        torn,
        created,
    };
    let journal = Journal {
        path: path.to_owned(),
        file,
        len: len as u64,
        sync: Box::new(Fdatasync),
        stats: Arc::new(Stats::default()),
        needs_rewrite: false,
    };
    Ok((journal, outcome))
}

impl Journal {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The counters this journal updates.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Replace how appends are synced (tests; `Fdatasync` by default).
    pub fn set_sync_policy(&mut self, sync: Box<dyn SyncPolicy>) {
        self.sync = sync;
    }

    /// Write all records with one write, then make them durable with one
    /// sync. On `Ok`, every record is on stable storage.
    pub fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        if self.needs_rewrite {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::NeedsRewrite {
                path: self.path.clone(),
            });
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for r in records {
            print_record(r, &mut text);
        }
        if let Err(e) = (&*self.file).write_all(text.as_bytes()) {
            // Cut a partial write back so the file stays parseable; if even
            // that fails, only a rewrite can restore a known state.
            if self.file.set_len(self.len).is_err() {
                self.needs_rewrite = true;
            }
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::io(IoOp::Write, &self.path, e));
        }
        self.len += text.len() as u64;
        if let Err(e) = self.sync.sync_data(&self.file) {
            // After a failed fsync the kernel may have dropped the dirty
            // pages: nothing written since the last good sync can be trusted.
            self.needs_rewrite = true;
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::io(IoOp::Sync, &self.path, e));
        }
        let s = &self.stats;
        s.batches.fetch_add(1, Ordering::Relaxed);
        s.records.fetch_add(records.len() as u64, Ordering::Relaxed);
        s.fsyncs.fetch_add(1, Ordering::Relaxed);
        s.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
        s.last_batch_records
            .store(records.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Replace the file with the header and `snapshot` (ISC's
    /// `new_lease_file`): write `<path>.new`, sync it, keep the current file
    /// as `<path>~` (a hard link, so `<path>` never goes missing), rename the
    /// new file into place, sync the directory. Appends continue in the new
    /// file. On error the current file stays in use.
    pub fn rewrite<'a>(
        &mut self,
        snapshot: impl IntoIterator<Item = &'a Record>,
    ) -> Result<(), StoreError> {
        let tmp = with_suffix(&self.path, ".new");
        let (file, len) = match self.write_new(&tmp, snapshot) {
            Ok(new) => new,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        // The new file is in place: appends go there from now on. The old
        // file's lock goes with its handle; the new one is already locked.
        self.file = file;
        self.len = len;
        match sync_dir(&self.path) {
            Ok(()) => {
                self.needs_rewrite = false;
                self.stats.rewrites.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                // Until the rename is durable, a crash could bring back the
                // old file without what we append to the new one.
                self.needs_rewrite = true;
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn write_new<'a>(
        &self,
        tmp: &Path,
        snapshot: impl IntoIterator<Item = &'a Record>,
    ) -> Result<(Flock<File>, u64), StoreError> {
        match fs::remove_file(tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(IoOp::Remove, tmp, e)),
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(tmp)
            .map_err(|e| StoreError::io(IoOp::Create, tmp, e))?;
        let file = lock(tmp, file)?;
        let write_err = |e| StoreError::io(IoOp::Write, tmp, e);

        // Written in chunks, so a large table does not need one huge string.
        const CHUNK: usize = 1 << 20;
        let mut buf = String::with_capacity(CHUNK + 4096);
        let mut len = 0u64;
        print_header(&mut buf);
        for r in snapshot {
            print_record(r, &mut buf);
            if buf.len() >= CHUNK {
                (&*file).write_all(buf.as_bytes()).map_err(write_err)?;
                len += buf.len() as u64;
                buf.clear();
            }
        }
        (&*file).write_all(buf.as_bytes()).map_err(write_err)?;
        len += buf.len() as u64;
        file.sync_all()
            .map_err(|e| StoreError::io(IoOp::Sync, tmp, e))?;

        // Keep the previous file as `<path>~`, as ISC does.
        let backup = with_suffix(&self.path, "~");
        match fs::remove_file(&backup) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(IoOp::Remove, &backup, e)),
        }
        if let Err(e) = fs::hard_link(&self.path, &backup) {
            // Some file systems have no hard links: copy instead.
            fs::copy(&self.path, &backup).map_err(|_| StoreError::io(IoOp::Link, &backup, e))?;
        }
        fs::rename(tmp, &self.path).map_err(|e| StoreError::io(IoOp::Rename, tmp, e))?;
        Ok((file, len))
    }
}
