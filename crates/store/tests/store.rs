//! The lease file on disk: create, append, reopen, torn tails, rewrite,
//! locking, group commit.

use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_lease::{
    parse, parse_bytes, print_record, BindingState, FailoverState, FailoverStateRecord, Hardware,
    HostRecord, Lease, PeerStateEntry, Record,
};
use tandem_store::{
    check_file, open, FileStore, GroupCommitter, LeaseStore, StoreError, SyncPolicy,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tandem-store-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn file(&self) -> PathBuf {
        self.0.join("dhcpd.leases")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const T0: u64 = 1_795_310_945;

fn lease(last: u8, state: BindingState) -> Record {
    let mut l = Lease::new(Ipv4Addr::new(10, 0, 0, last), state);
    l.starts = T0;
    l.ends = T0 + 3600;
    l.cltt = T0;
    l.hardware = Some(Hardware {
        htype: 1,
        addr: vec![2, 0, 0, 0, 1, last],
    });
    l.uid = Some(vec![1, 2, 0, 0, 0, 1, last]);
    l.client_hostname = Some(format!("client-{last}"));
    Record::Lease(l)
}

fn lease_state(db: &tandem_lease::LeaseDb, last: u8) -> Option<BindingState> {
    db.leases
        .get(&Ipv4Addr::new(10, 0, 0, last))
        .map(|l| l.binding_state)
}

fn text(records: &[Record]) -> String {
    let mut s = String::new();
    for r in records {
        print_record(r, &mut s);
    }
    s
}

#[test]
fn open_creates_a_missing_file_with_a_header() {
    let dir = TempDir::new("create");
    let path = dir.file();
    let (journal, outcome) = open(&path).expect("open");
    assert!(outcome.created);
    assert_eq!(outcome.records, 0);
    drop(journal);
    let content = fs::read_to_string(&path).expect("read");
    assert!(content.starts_with("# The format of this file is documented"));
    let parsed = parse(&content);
    assert_eq!(
        parsed.records,
        vec![Record::Other("authoring-byte-order little-endian;".into())]
    );
    // The second time it exists.
    let (_, again) = open(&path).expect("reopen");
    assert!(!again.created);
}

#[test]
fn appended_records_come_back_on_reopen() {
    let dir = TempDir::new("append");
    let path = dir.file();
    let (mut journal, _) = open(&path).expect("open");
    let failover = Record::FailoverState(FailoverStateRecord {
        peer: "peer-a".into(),
        me: Some(PeerStateEntry {
            state: FailoverState::Normal,
            stos: T0,
        }),
        partner: Some(PeerStateEntry {
            state: FailoverState::Normal,
            stos: T0 + 1,
        }),
        mclt: None,
    });
    let host = Record::Host(HostRecord {
        name: "printer".into(),
        deleted: false,
        hardware: Some(Hardware {
            htype: 1,
            addr: vec![2, 0, 0, 0, 9, 9],
        }),
        uid: None,
        fixed_address: Some(Ipv4Addr::new(10, 0, 1, 9)),
        statements: vec![],
    });
    journal
        .append(&[
            lease(1, BindingState::Active),
            lease(2, BindingState::Active),
        ])
        .expect("append");
    journal
        .append(&[failover.clone(), host, lease(1, BindingState::Released)])
        .expect("append");
    let stats = journal.stats().snapshot();
    assert_eq!((stats.batches, stats.records, stats.fsyncs), (2, 5, 2));
    assert_eq!(stats.last_batch_records, 3);
    drop(journal);

    let (_, outcome) = open(&path).expect("reopen");
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    assert_eq!(outcome.records, 6); // byte order line + 5
    assert_eq!(lease_state(&outcome.db, 1), Some(BindingState::Released));
    assert_eq!(lease_state(&outcome.db, 2), Some(BindingState::Active));
    assert_eq!(
        outcome
            .db
            .failover
            .get("peer-a")
            .map(|f| Record::FailoverState(f.clone())),
        Some(failover)
    );
    assert!(outcome.db.hosts.contains_key("printer"));
}

#[test]
fn a_torn_last_record_is_cut_off_and_saved_at_every_offset() {
    let prefix_records = [
        Record::Other("authoring-byte-order little-endian;".into()),
        lease(1, BindingState::Active),
        lease(2, BindingState::Free),
    ];
    let prefix = text(&prefix_records);
    let mut last = lease(3, BindingState::Active);
    if let Record::Lease(l) = &mut last {
        l.vars.push(("note".into(), "\"a;b}\\\"c\"".into()));
    }
    let last_text = text(std::slice::from_ref(&last));
    for k in 0..=last_text.len() {
        let dir = TempDir::new("torn");
        let path = dir.file();
        let cut = &last_text[..k];
        fs::write(&path, format!("{prefix}{cut}")).expect("write");

        let (mut journal, outcome) = open(&path).expect("open");
        assert_eq!(lease_state(&outcome.db, 1), Some(BindingState::Active));
        assert_eq!(lease_state(&outcome.db, 2), Some(BindingState::Free));
        assert!(
            outcome.warnings.is_empty(),
            "cut {k}: {:?}",
            outcome.warnings
        );
        // Only the closing brace (and newline) makes the record complete.
        let complete = k + 1 >= last_text.len();
        assert_eq!(lease_state(&outcome.db, 3).is_some(), complete, "cut {k}");
        match (&outcome.torn, k) {
            (None, 0) => {}
            (None, _) => assert!(complete, "cut {k}: no torn tail reported"),
            (Some(torn), _) => {
                assert!(!complete);
                assert_eq!(torn.tail.offset, prefix.len());
                assert_eq!(torn.tail.len, k);
                assert_eq!(fs::read(&torn.saved_to).expect("side file"), cut.as_bytes());
                assert_eq!(fs::read_to_string(&path).expect("read"), prefix);
            }
        }
        // The file is parseable.
        let back = parse_bytes(&fs::read(&path).expect("read"));
        assert_eq!(back.torn_tail, None, "cut {k}");
        assert!(back.warnings.is_empty(), "cut {k}: {:?}", back.warnings);
        // Appends after the cut read back (checked at some offsets only, to
        // keep the test fast: each one costs several fsyncs).
        if k % 8 == 0 || complete {
            journal
                .append(&[lease(4, BindingState::Active)])
                .expect("append");
            drop(journal);
            let (_, again) = open(&path).expect("reopen");
            assert!(again.warnings.is_empty() && again.torn.is_none(), "cut {k}");
            assert_eq!(lease_state(&again.db, 4), Some(BindingState::Active));
            assert_eq!(lease_state(&again.db, 3).is_some(), complete);
        }
    }
}

#[test]
fn rewrite_keeps_the_previous_file_as_backup() {
    let dir = TempDir::new("rewrite");
    let path = dir.file();
    let (mut journal, _) = open(&path).expect("open");
    journal
        .append(&[
            lease(1, BindingState::Active),
            lease(2, BindingState::Active),
        ])
        .expect("append");
    let before = fs::read(&path).expect("read");

    let snapshot = vec![lease(2, BindingState::Expired)];
    journal.rewrite(&snapshot).expect("rewrite");
    journal
        .append(&[lease(3, BindingState::Active)])
        .expect("append after rewrite");

    let mut backup = path.clone().into_os_string();
    backup.push("~");
    assert_eq!(fs::read(PathBuf::from(backup)).expect("backup"), before);
    assert!(!dir.0.join("dhcpd.leases.new").exists());
    let now = fs::read_to_string(&path).expect("read");
    assert!(now.starts_with("# The format of this file"));
    assert_eq!(journal.stats().snapshot().rewrites, 1);
    drop(journal);

    let (_, outcome) = open(&path).expect("reopen");
    assert_eq!(lease_state(&outcome.db, 1), None);
    assert_eq!(lease_state(&outcome.db, 2), Some(BindingState::Expired));
    assert_eq!(lease_state(&outcome.db, 3), Some(BindingState::Active));
}

#[test]
fn a_second_opener_is_refused_while_the_file_is_locked() {
    let dir = TempDir::new("lock");
    let path = dir.file();
    let (mut journal, _) = open(&path).expect("open");
    assert!(matches!(open(&path), Err(StoreError::Locked { .. })));
    // The lock follows the file through a rewrite.
    journal.rewrite(&[]).expect("rewrite");
    assert!(matches!(open(&path), Err(StoreError::Locked { .. })));
    drop(journal);
    open(&path).expect("open after release");
}

const ISC_FILE: &str = "# The format of this file is documented in the dhcpd.leases(5) manual page.
# This lease file was written by isc-dhcp-4.4.3

# authoring-byte-order entry is generated, DO NOT DELETE
authoring-byte-order little-endian;


failover peer \"dhcp-failover\" state {
  my state normal at 0 2026/11/22 01:20:00;
  partner state normal at 0 2026/11/22 01:20:03;
}
lease 10.0.0.10 {
  starts 0 2026/11/22 01:29:05;
  ends 0 2026/11/22 13:29:05;
  tstp 0 2026/11/22 19:29:05;
  cltt 0 2026/11/22 01:29:05;
  binding state active;
  next binding state expired;
  hardware ethernet 02:00:00:00:01:01;
  uid \"\\001\\002\\000\\000\\000\\001\\001\";
  client-hostname \"laptop\";
}
lease 10.0.0.11 {
  starts 0 2026/11/22 01:30:00;
  ends 0 2026/11/22 13:30:00;
  tstp 0 2026/11/22 19:30:00;
  cltt 0 2026/11/22 01:30:00;
  binding state active;
  next binding state expired;
  hardware ethernet 02:00:00:00:01:02;
  uid \"\\001\\002\\000\\000\\000\\001\\002\";
}
";

#[test]
fn an_isc_written_file_loads_unchanged() {
    let dir = TempDir::new("isc");
    let path = dir.file();
    fs::write(&path, ISC_FILE).expect("write");
    let (_, outcome) = open(&path).expect("open");
    assert!(!outcome.created);
    assert!(outcome.warnings.is_empty());
    assert_eq!(outcome.torn, None);
    assert_eq!(outcome.db.leases.len(), 2);
    assert_eq!(lease_state(&outcome.db, 10), Some(BindingState::Active));
    let fo = &outcome.db.failover["dhcp-failover"];
    assert_eq!(fo.me.map(|m| m.state), Some(FailoverState::Normal));
    assert_eq!(fs::read_to_string(&path).expect("read"), ISC_FILE);
    let report = check_file(&path).expect("check");
    assert_eq!(
        (report.records, report.leases, report.failover_peers),
        (4, 2, 1)
    );
}

#[test]
fn check_file_refuses_malformed_records_and_missing_files() {
    let dir = TempDir::new("check");
    let path = dir.file();
    assert!(matches!(check_file(&path), Err(StoreError::Io { .. })));
    fs::write(
        &path,
        "lease 10.0.0.1 {\n  binding state nonsense;\n}\nlease 10.0.0.2 {\n  binding state free;\n}\n",
    )
    .expect("write");
    match check_file(&path) {
        Err(StoreError::Malformed { count, first, .. }) => {
            assert_eq!(count, 1);
            assert_eq!(first.line, 1);
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    // A torn tail alone is reported, not refused.
    fs::write(
        &path,
        "lease 10.0.0.2 {\n  binding state free;\n}\nlease 10.0.0.3 {\n  bin",
    )
    .expect("write");
    let report = check_file(&path).expect("check");
    assert_eq!(report.leases, 1);
    assert_eq!(report.torn_tail.map(|t| t.line), Some(4));
}

/// A sync that takes a while, counts, and publishes how much of the file it
/// made durable.
struct SlowSync {
    calls: Arc<AtomicU64>,
    durable_len: Arc<AtomicU64>,
}

impl SyncPolicy for SlowSync {
    fn sync_data(&mut self, file: &fs::File) -> io::Result<()> {
        let len = file.metadata()?.len();
        std::thread::sleep(Duration::from_millis(20));
        file.sync_data()?;
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.durable_len.store(len, Ordering::SeqCst);
        Ok(())
    }
}

/// Whether lease 10.0.0.`last` is within the first `len` bytes of the file.
fn durable_has(path: &Path, len: u64, last: u8) -> bool {
    let bytes = fs::read(path).unwrap_or_default();
    let end = usize::try_from(len).unwrap_or(usize::MAX).min(bytes.len());
    let parsed = parse_bytes(&bytes[..end]);
    parsed
        .records
        .iter()
        .any(|r| matches!(r, Record::Lease(l) if l.addr == Ipv4Addr::new(10, 0, 0, last)))
}

#[test]
fn commits_issued_together_share_fsyncs_and_complete_after_them() {
    let dir = TempDir::new("group");
    let path = dir.file();
    let (mut journal, _) = open(&path).expect("open");
    let calls = Arc::new(AtomicU64::new(0));
    let durable_len = Arc::new(AtomicU64::new(0));
    journal.set_sync_policy(Box::new(SlowSync {
        calls: Arc::clone(&calls),
        durable_len: Arc::clone(&durable_len),
    }));
    let handle = GroupCommitter::try_spawn(journal).expect("spawn");

    const N: u8 = 60;
    let (tx, rx) = mpsc::channel();
    let order = Arc::new(Mutex::new(Vec::new()));
    // Several threads commit at once.
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let handle = handle.clone();
            let tx = tx.clone();
            let order = Arc::clone(&order);
            let path = path.clone();
            let durable_len = Arc::clone(&durable_len);
            std::thread::spawn(move || {
                for i in 0..N / 4 {
                    let last = t * (N / 4) + i + 1;
                    let tx = tx.clone();
                    let order = Arc::clone(&order);
                    let path = path.clone();
                    let durable_len = Arc::clone(&durable_len);
                    handle.commit(
                        vec![lease(last, BindingState::Active)],
                        Box::new(move |result| {
                            let covered =
                                durable_has(&path, durable_len.load(Ordering::SeqCst), last);
                            if let Ok(mut o) = order.lock() {
                                o.push(last);
                            }
                            let _ = tx.send((last, result.is_ok(), covered));
                        }),
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("committer thread");
    }
    drop(tx);
    let results: Vec<_> = rx.iter().collect();
    assert_eq!(results.len(), usize::from(N));
    for (last, ok, covered) in &results {
        assert!(ok, "commit {last} failed");
        assert!(covered, "done for {last} ran before a sync covered it");
    }
    let fsyncs = calls.load(Ordering::SeqCst);
    assert!(fsyncs < u64::from(N), "{fsyncs} fsyncs for {N} commits");
    let stats = handle.stats().snapshot();
    assert_eq!(stats.commits, u64::from(N));
    assert_eq!(stats.records, u64::from(N));
    assert_eq!(stats.fsyncs, fsyncs);
    assert!(stats.batches < u64::from(N));
    // Each thread's commits complete in the order that thread issued them.
    let order = order.lock().map(|o| o.clone()).unwrap_or_default();
    for t in 0..4u8 {
        let mine: Vec<_> = order
            .iter()
            .filter(|&&l| (l - 1) / (N / 4) == t)
            .copied()
            .collect();
        let mut sorted = mine.clone();
        sorted.sort_unstable();
        assert_eq!(mine, sorted);
    }
    handle.shutdown();
}

fn wait(store_result: mpsc::Receiver<Result<(), StoreError>>) -> Result<(), StoreError> {
    store_result
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or(Err(StoreError::Closed))
}

fn done_channel() -> (tandem_store::Done, mpsc::Receiver<Result<(), StoreError>>) {
    let (tx, rx) = mpsc::channel();
    (
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
        rx,
    )
}

#[test]
fn file_store_orders_rewrites_with_commits_and_shuts_down() {
    let dir = TempDir::new("filestore");
    let path = dir.file();
    let store = FileStore::open(&path).expect("open");
    let loaded = store.load().expect("load");
    assert!(loaded.created);

    let (d1, r1) = done_channel();
    store.commit(vec![lease(1, BindingState::Active)], d1);
    let (d2, r2) = done_channel();
    store.rewrite(vec![lease(2, BindingState::Active)], d2);
    let (d3, r3) = done_channel();
    store.commit(vec![lease(3, BindingState::Active)], d3);
    wait(r1).expect("commit 1");
    wait(r2).expect("rewrite");
    wait(r3).expect("commit 3");

    // Lease 1 went to the old file only; lease 3 was appended after the snapshot.
    let again = store.load().expect("load again");
    assert_eq!(lease_state(&again.db, 1), None);
    assert_eq!(lease_state(&again.db, 2), Some(BindingState::Active));
    assert_eq!(lease_state(&again.db, 3), Some(BindingState::Active));

    store.shutdown().expect("shutdown");
    let (d4, r4) = done_channel();
    store.commit(vec![lease(4, BindingState::Active)], d4);
    assert!(matches!(wait(r4), Err(StoreError::Closed)));
    // The lock is released with the writer.
    open(&path).expect("open after shutdown");
}

/// A sync that fails once.
struct FailingSync(bool);

impl SyncPolicy for FailingSync {
    fn sync_data(&mut self, file: &fs::File) -> io::Result<()> {
        if std::mem::take(&mut self.0) {
            return Err(io::Error::other("injected EIO"));
        }
        file.sync_data()
    }
}

#[test]
fn a_failed_sync_fails_the_batch_until_a_rewrite() {
    let dir = TempDir::new("failsync");
    let path = dir.file();
    let (mut journal, _) = open(&path).expect("open");
    journal.set_sync_policy(Box::new(FailingSync(true)));
    let handle = GroupCommitter::try_spawn(journal).expect("spawn");

    let (d1, r1) = done_channel();
    handle.commit(vec![lease(1, BindingState::Active)], d1);
    assert!(matches!(wait(r1), Err(StoreError::Io { .. })));
    let (d2, r2) = done_channel();
    handle.commit(vec![lease(2, BindingState::Active)], d2);
    assert!(matches!(wait(r2), Err(StoreError::NeedsRewrite { .. })));
    let (d3, r3) = done_channel();
    handle.rewrite(vec![lease(2, BindingState::Active)], d3);
    wait(r3).expect("rewrite");
    let (d4, r4) = done_channel();
    handle.commit(vec![lease(4, BindingState::Active)], d4);
    wait(r4).expect("commit after rewrite");
    handle.shutdown();
    assert_eq!(handle.stats().snapshot().errors, 2); // the sync and the refused append
}
