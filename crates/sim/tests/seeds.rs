//! Random runs of the real node: each seed is half an hour of simulated
//! faults (partitions, crashes, power losses, restarts, clean shutdowns,
//! operator partner-down, DHCP loss, clock skew) with 8 to 45 clients, then
//! ten minutes of healing, with the invariants checked after every event.
//!
//! `SIM_SEEDS=N` runs seeds 0..N (default 300 in release builds, 20 in debug
//! builds), `SIM_SEED=S` only seed S, `SIM_STRICT=1` excuses no known issue
//! (see `tandem_sim::check`), `SIM_TRACE=1` prints every event.

use std::sync::Mutex;

use tandem_sim::{random_run, RunShape, Stats};

fn seeds() -> Vec<u64> {
    if let Some(s) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![s];
    }
    let n = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 20 } else { 300 });
    (0..n).collect()
}

fn add(total: &mut Stats, st: &Stats) {
    total.events += st.events;
    total.acks += st.acks;
    total.naks += st.naks;
    total.releases += st.releases;
    total.expiries += st.expiries;
    total.crashes += st.crashes;
    total.restarts += st.restarts;
    total.shutdowns += st.shutdowns;
    total.partitions += st.partitions;
    total.partner_downs += st.partner_downs;
    total.skews += st.skews;
    total.rewrites += st.rewrites;
    total.excused_peer_update_overwrite += st.excused_peer_update_overwrite;
    total.excused_partner_down_reuse += st.excused_partner_down_reuse;
    total.excused_shortened_renewal += st.excused_shortened_renewal;
}

#[test]
fn random_seeds() {
    let shape = RunShape::default();
    let seeds = seeds();
    let failures = Mutex::new(Vec::new());
    let total = Mutex::new(Stats::default());
    // Two workers: the machine has two cores; runs share nothing.
    std::thread::scope(|scope| {
        for worker in 0..2usize {
            let (seeds, shape, failures, total) = (&seeds, &shape, &failures, &total);
            scope.spawn(move || {
                for seed in seeds.iter().skip(worker).step_by(2) {
                    match random_run(*seed, shape) {
                        Ok(st) => {
                            if st.acks == 0 {
                                eprintln!("seed {seed}: no client was ever served: {st:?}");
                                failures
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .push(*seed);
                            }
                            add(&mut total.lock().unwrap_or_else(|e| e.into_inner()), &st);
                        }
                        Err(f) => {
                            eprintln!("{f}\n");
                            failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(f.seed);
                        }
                    }
                }
            });
        }
    });
    let total = total.into_inner().unwrap_or_else(|e| e.into_inner());
    eprintln!("{} seeds; totals: {total:?}", seeds.len());
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_unstable();
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    if seeds.len() >= 100 {
        // The generator really exercises what it claims to.
        assert!(total.crashes > 0 && total.partitions > 0 && total.partner_downs > 0);
        assert!(total.shutdowns > 0 && total.skews > 0 && total.expiries > 0);
    }
}
