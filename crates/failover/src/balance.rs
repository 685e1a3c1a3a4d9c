//! Pool balancing math (§3.9, `dhcp_failover_pool_dobalance` `fo.c:2503-2680`,
//! `dhcp_failover_pool_check` `fo.c:2704-2795`).
//!
//! The primary gives FREE leases to the secondary (as BACKUP) and the secondary
//! gives BACKUP leases back (as FREE) until each holds about half:
//!
//! ```text
//! total  = free + backup
//! thresh = round(total * max-lease-misbalance / 100)
//! hold   = round(total * max-lease-ownership / 100)
//! primary:   lts = (free - backup) / 2
//! secondary: lts = (backup - free) / 2
//! pass 1: give leases whose client hashes to the peer, until lts <= -hold
//! pass 2: give the oldest leases; stop at lts <= 0 (never used, ends == 0)
//!         or lts <= hold (used)
//! ```
//! Balancing runs only in normal. The engine calls [`plan_balance`] per pool,
//! moves each lease of [`BalancePlan::give_away`] to the peer's free state
//! with `tstp = starts = now` and hands it to the peer as a changed lease.
//!
//! **Tandem extension, hot standby**: the secondary answers nobody while the
//! primary is up, so the secondary needs only a reserve of BACKUP leases for
//! when the primary fails: the target for the secondary is `hold` leases
//! (max-lease-ownership %) instead of half the pool. Both Tandems must have
//! `hot-standby` for this; an ISC primary always balances to halves.

use std::net::Ipv4Addr;

use tandem_lease::{Lease, Time};

use crate::hash::{peer_wants_lease, Hba};
use crate::Role;

/// Balancing parameters from `failover peer` (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceParams {
    pub role: Role,
    /// `max-lease-misbalance` percent (default 15).
    pub max_lease_misbalance: u32,
    /// `max-lease-ownership` percent (default 10).
    pub max_lease_ownership: u32,
    /// Tandem `hot-standby` (module docs).
    pub hot_standby: bool,
}

/// The result of one balancing run over one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancePlan {
    /// Leases to hand to the peer, in order.
    pub give_away: Vec<Ipv4Addr>,
    pub total: i64,
    pub free: i64,
    pub backup: i64,
    /// Leases to send before the moves (negative: we need leases).
    pub lts_before: i64,
    pub lts_after: i64,
    pub thresh: i64,
    pub hold: i64,
    /// Send a POOLREQ (only when the run was timer-driven, `fo.c:2553-2565`).
    pub request_peer: bool,
}

impl BalancePlan {
    /// True when `lts` stayed above the misbalance threshold (ISC logs
    /// "IMBALANCED" at error level then).
    pub fn imbalanced(&self) -> bool {
        self.lts_after > self.thresh
    }

    /// ISC's two log lines (`fo.c:2567-2573`, `fo.c:2655-2667`), with the
    /// pool's name where ISC prints a pointer.
    pub fn log_lines(&self, pool: &str) -> [String; 2] {
        let req = if self.request_peer {
            "  (requesting peer rebalance!)"
        } else {
            ""
        };
        [
            format!(
                "balancing pool {pool}  total {}  free {}  backup {}  lts {}  max-own (+/-){}{req}",
                self.total, self.free, self.backup, self.lts_before, self.hold
            ),
            format!(
                "{} pool {pool}  total {}  free {}  backup {}  lts {}  max-misbal {}",
                if self.imbalanced() {
                    "IMBALANCED"
                } else {
                    "balanced"
                },
                self.total,
                self.free,
                self.backup,
                self.lts_after,
                self.thresh
            ),
        ]
    }
}

/// `(total * pct + 50) / 100`, ISC's rounding.
fn pct(total: i64, pct: u32) -> i64 {
    (total * i64::from(pct) + 50) / 100
}

/// Plans one balancing run for one pool.
///
/// * `free`, `backup`: the pool's FREE and BACKUP counts.
/// * `own_queue`: our own free leases (FREE for the primary, BACKUP for the
///   secondary) in ISC's queue order, oldest first (never-used leases,
///   `ends == 0`, come first).
/// * `hba`: the primary's HBA, for pass 1.
/// * `allow_poolreq`: true for a timer-driven run (not on entering normal, not
///   when answering a POOLREQ: "Do not permit a POOLREQ to send back a POOLREQ").
pub fn plan_balance(
    params: &BalanceParams,
    free: u32,
    backup: u32,
    own_queue: &[&Lease],
    hba: Option<&Hba>,
    allow_poolreq: bool,
) -> BalancePlan {
    let (free, backup) = (i64::from(free), i64::from(backup));
    let total = free + backup;
    let thresh = pct(total, params.max_lease_misbalance);
    let hold = pct(total, params.max_lease_ownership);
    // C integer division truncates toward zero, as Rust's does.
    let lts_before = match (params.role, params.hot_standby) {
        (Role::Primary, false) => (free - backup) / 2,
        (Role::Secondary, false) => (backup - free) / 2,
        // Hot standby: the secondary should hold `hold` leases.
        (Role::Primary, true) => hold - backup,
        (Role::Secondary, true) => backup - hold,
    };
    // "panic and send poolreq" (`fo.c:2545-2558`).
    let panic = match thresh * -2 {
        0 => -1,
        p => p,
    };
    let request_peer = allow_poolreq && lts_before < panic;

    let mut lts = lts_before;
    let mut give_away = Vec::new();
    let mut given = vec![false; own_queue.len()];
    if params.hot_standby {
        // Only the oldest leases, down to the target.
        for lease in own_queue {
            if lts <= 0 {
                break;
            }
            lts -= 1;
            give_away.push(lease.addr);
        }
    } else {
        // Pass 1: leases whose last client the peer would serve.
        let mut stopped = false;
        for (i, lease) in own_queue.iter().enumerate() {
            if lts <= -hold {
                stopped = true;
                break;
            }
            if peer_wants_lease(hba, params.role, lease) {
                lts -= 1;
                give_away.push(lease.addr);
                given[i] = true;
            }
        }
        // Pass 2: the oldest of what is left (a pass-1 stop ends the run).
        if !stopped {
            for (i, lease) in own_queue.iter().enumerate() {
                if given[i] {
                    continue;
                }
                let stop = if lease.ends != 0 {
                    lts <= hold
                } else {
                    lts <= 0
                };
                if stop {
                    break;
                }
                lts -= 1;
                give_away.push(lease.addr);
            }
        }
    }
    BalancePlan {
        give_away,
        total,
        free,
        backup,
        lts_before,
        lts_after: lts,
        thresh,
        hold,
        request_peer,
    }
}

/// `secondary_not_hoarding` (`fo.c:5507-5528`): whether the primary may move
/// a lease to BACKUP for MAC affinity.
pub fn secondary_not_hoarding(free: u32, backup: u32, max_lease_ownership: u32) -> bool {
    let (free, backup) = (i64::from(free), i64::from(backup));
    let hold = pct(free + backup, max_lease_ownership);
    let lts = (free - backup) / 2;
    lts > -hold
}

/// When to run the next timer-driven rebalance (`dhcp_failover_pool_check`
/// `fo.c:2704-2795`), without ISC's 0-4 s random delay (pass `jitter`).
///
/// * `oldest_free_ends` / `oldest_backup_ends`: `ends` of the first lease of
///   the pool's FREE and BACKUP queues.
/// * `last_balance`: when balancing last ran (None: never).
pub struct RebalanceTiming {
    pub role: Role,
    pub max_lease_misbalance: u32,
    /// `min-balance` (default 60).
    pub min_balance: u32,
    /// `max-balance` (default 3600).
    pub max_balance: u32,
}

impl RebalanceTiming {
    pub fn next_check(
        &self,
        now: Time,
        oldest_free_ends: Option<Time>,
        oldest_backup_ends: Option<Time>,
        last_balance: Option<Time>,
        jitter: u32,
    ) -> Time {
        let age = |ends: Option<Time>| match ends {
            Some(e) if e < now => now - e,
            _ => 0,
        };
        let scale = |est: Time| (est * Time::from(self.max_lease_misbalance) + 50) / 100;
        let mut est1 = scale(age(oldest_free_ends));
        let mut est2 = scale(age(oldest_backup_ends));
        // "Guess when the local system will begin issuing POOLREQ panic attacks."
        match self.role {
            Role::Primary => est1 *= 2,
            Role::Secondary => est2 *= 2,
        }
        let mut at = est1.min(est2).min(Time::from(self.max_balance)) + now;
        if let Some(last) = last_balance {
            at = at.max(last + Time::from(self.min_balance));
        }
        at + Time::from(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tandem_lease::{BindingState, Hardware};

    fn params(role: Role) -> BalanceParams {
        BalanceParams {
            role,
            max_lease_misbalance: 15,
            max_lease_ownership: 10,
            hot_standby: false,
        }
    }

    fn leases(n: usize, state: BindingState) -> Vec<Lease> {
        (0..n)
            .map(|i| {
                let mut l = Lease::new(Ipv4Addr::from(0x0a00_0000 + i as u32), state);
                l.hardware = Some(Hardware {
                    htype: 1,
                    addr: vec![0, 1, 2, 3, 4, i as u8],
                });
                l
            })
            .collect()
    }

    #[test]
    fn fresh_pool_splits_in_half() {
        // 100 never-used FREE leases on the primary: give away 50.
        let ls = leases(100, BindingState::Free);
        let q: Vec<&Lease> = ls.iter().collect();
        let hba = Hba::from_split(128).unwrap();
        let p = plan_balance(&params(Role::Primary), 100, 0, &q, Some(&hba), false);
        assert_eq!(p.lts_before, 50);
        assert_eq!(p.hold, 10);
        assert_eq!(p.thresh, 15);
        // Pass 1 gives the secondary's clients (about half), pass 2 tops up
        // never-used leases to an even split.
        assert!(p.lts_after <= 0 && p.lts_after >= -10, "{}", p.lts_after);
        assert_eq!(p.give_away.len() as i64, 50 - p.lts_after);
        assert!(!p.imbalanced());
        assert!(p.log_lines("net1")[1].starts_with("balanced pool net1  total 100"));
    }

    #[test]
    fn pass_one_prefers_peer_clients_then_stops_at_minus_hold() {
        // Primary with 20 FREE / 20 BACKUP: lts 0; pass 1 moves peer-hashed
        // leases until lts <= -hold (-4), pass 2 never runs.
        let mut ls = leases(20, BindingState::Free);
        for l in &mut ls {
            l.ends = 1000;
        }
        let q: Vec<&Lease> = ls.iter().collect();
        let hba = Hba::from_split(0).unwrap(); // every client hashes to the secondary
        let p = plan_balance(&params(Role::Primary), 20, 20, &q, Some(&hba), false);
        assert_eq!(p.hold, 4);
        assert_eq!(p.give_away.len(), 4);
        assert_eq!(p.lts_after, -4);
    }

    #[test]
    fn used_leases_stop_at_hold() {
        let mut ls = leases(60, BindingState::Free);
        for l in &mut ls {
            l.ends = 1000;
        }
        let q: Vec<&Lease> = ls.iter().collect();
        // No HBA: pass 1 moves nothing.
        let p = plan_balance(&params(Role::Primary), 60, 40, &q, None, false);
        assert_eq!(p.lts_before, 10);
        assert_eq!(p.hold, 10);
        assert!(p.give_away.is_empty());
    }

    #[test]
    fn poolreq_when_short() {
        let p = plan_balance(&params(Role::Secondary), 100, 0, &[], None, true);
        assert_eq!(p.lts_before, -50);
        assert!(p.request_peer);
        assert!(p.log_lines("x")[0].ends_with("(requesting peer rebalance!)"));
        let p = plan_balance(&params(Role::Secondary), 100, 0, &[], None, false);
        assert!(!p.request_peer);
        // Tiny pool: thresh 0 -> panic at -1 means lts -2 triggers.
        let p = plan_balance(&params(Role::Secondary), 4, 0, &[], None, true);
        assert_eq!((p.thresh, p.lts_before), (1, -2));
        assert!(!p.request_peer);
        let p = plan_balance(&params(Role::Secondary), 3, 0, &[], None, true);
        assert_eq!(p.thresh, 0);
        assert!(p.lts_before == -1 && !p.request_peer);
    }

    #[test]
    fn hot_standby_reserve() {
        let ls = leases(100, BindingState::Free);
        let q: Vec<&Lease> = ls.iter().collect();
        let mut pr = params(Role::Primary);
        pr.hot_standby = true;
        let p = plan_balance(&pr, 100, 0, &q, None, false);
        assert_eq!(p.give_away.len(), 10);
    }

    #[test]
    fn hoarding() {
        assert!(secondary_not_hoarding(50, 50, 10));
        assert!(!secondary_not_hoarding(40, 60, 10));
    }

    #[test]
    fn timing() {
        let t = RebalanceTiming {
            role: Role::Primary,
            max_lease_misbalance: 15,
            min_balance: 60,
            max_balance: 3600,
        };
        // Oldest free lease expired 1000 s ago: 150 s, doubled for our own pool: 300.
        // Backup queue empty: 0 -> now, but min-balance since last run.
        assert_eq!(t.next_check(10_000, Some(9_000), None, None, 0), 10_000);
        assert_eq!(
            t.next_check(10_000, Some(9_000), Some(9_000), None, 2),
            10_152
        );
        assert_eq!(t.next_check(10_000, None, None, Some(9_990), 0), 10_050);
        assert_eq!(t.next_check(100_000, Some(1), Some(1), None, 0), 103_600);
    }

    proptest! {
        /// Moves never exceed what we own nor what lts asked for, and the plan
        /// never gives away more than needed to pass the peer's fair share by hold.
        #[test]
        fn plan_bounds(free in 0u32..300, backup in 0u32..300, secondary in any::<bool>(),
                       used in proptest::collection::vec(any::<bool>(), 0..300), split in 0u16..=256) {
            let role = if secondary { Role::Secondary } else { Role::Primary };
            let own = if secondary { backup } else { free } as usize;
            let mut ls = leases(own.min(used.len()), BindingState::Free);
            for (l, u) in ls.iter_mut().zip(&used) { if *u { l.ends = 5; } }
            let q: Vec<&Lease> = ls.iter().collect();
            let hba = Hba::from_split(split).unwrap();
            let p = plan_balance(&params(role), free, backup, &q, Some(&hba), true);
            prop_assert!(p.give_away.len() <= q.len());
            prop_assert_eq!(p.lts_before - p.give_away.len() as i64, p.lts_after);
            prop_assert!(p.lts_after >= (-p.hold).min(p.lts_before));
            let mut uniq = p.give_away.clone();
            uniq.sort();
            uniq.dedup();
            prop_assert_eq!(uniq.len(), p.give_away.len());
        }
    }
}
