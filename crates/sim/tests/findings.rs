//! Violations the simulation found in tandem-node / tandem-failover (owned
//! by others; not fixed here). Each test asserts the correct behaviour, so
//! it fails today: it is `#[ignore]`d until the owner fixes the issue, then
//! the `#[ignore]` goes. They run with the strict checker (no known issue
//! excused). The random runs (`tests/seeds.rs`) excuse exactly these
//! classes (`tandem_sim::check`, "Known issues") and count them.
//!
//! Run one: `cargo test --release -p tandem-sim --test findings NAME -- --ignored --nocapture`.
//! The seed-based ones replay a random run; they depend on the generator
//! and on the node's exact behaviour, so if the node changes they may stop
//! reproducing without being fixed: the scripted ones do not.

use std::net::Ipv4Addr;

use tandem_lease::FailoverState;
use tandem_node::Node;
use tandem_sim::config::PairParams;
use tandem_sim::{random_run, Allowances, Failure, Fault, Params, RunShape, World, P, S};

fn strict_world(seed: u64, name: &str, pair: PairParams) -> World<Node> {
    let params = Params {
        pair,
        ..Params::default()
    };
    let mut w = World::new(seed, name, params).unwrap_or_else(|f| panic!("{f}"));
    w.checker.allow = Allowances::strict();
    w.keep_logs = true;
    w.set_repro(format!(
        "cargo test --release -p tandem-sim --test findings {name} -- --ignored --nocapture"
    ));
    w
}

/// A pool of one address: a second client can only get the first one's.
fn one_address() -> PairParams {
    PairParams {
        range: (Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 100)),
        ..PairParams::default()
    }
}

fn check(r: Result<(), Box<Failure>>) {
    if let Err(f) = r {
        panic!("{f}");
    }
}

fn bound(w: &mut World<Node>, c: usize, within: u64) -> Result<(), Box<Failure>> {
    w.power_on(c);
    let limit = w.now + within;
    if w.run_until_cond(limit, |w| w.holding(c).is_some())? {
        Ok(())
    } else {
        panic!("client {c} was not served in {within} ms (scenario setup)")
    }
}

fn seed_replay(seed: u64) {
    let shape = RunShape {
        allow: Allowances::strict(),
        ..RunShape::default()
    };
    if let Err(f) = random_run(seed, &shape) {
        panic!("{f}");
    }
}

/// F1 (release, then cache-threshold reuse). During a partition a client
/// releases its lease to the primary (RELEASED, update queued), then comes
/// back through the secondary, which answers with the unchanged lease
/// (`dhcp-cache-threshold`: no write, no BNDUPD). After the heal the
/// primary's queued RELEASED reaches the secondary, which accepts it (ISC's
/// table: ACTIVE accepts RELEASED in every state) and frees an address the
/// client holds for another ~13 minutes. Fix idea: a reuse-answered ACK
/// outside normal should commit and queue an update; or reject a RELEASED
/// whose CLTT is older than the local binding's last client transaction.
#[test]
fn released_during_partition_then_reused_elsewhere_is_freed_by_the_stale_release() {
    let mut w = strict_world(
        101,
        "released_during_partition_then_reused_elsewhere_is_freed_by_the_stale_release",
        PairParams::default(),
    );
    check((|| {
        w.run_for(5_000)?;
        let c = w.add_client(false);
        w.apply(Fault::ClientsCutOff {
            server: S,
            cut: true,
        })?;
        bound(&mut w, c, 30_000)?;
        w.run_for(3_000)?;
        w.apply(Fault::Partition { silent: false })?;
        w.run_for(5_000)?;
        w.release(c);
        w.run_for(2_000)?;
        w.apply(Fault::ClientsCutOff {
            server: S,
            cut: false,
        })?;
        w.apply(Fault::ClientsCutOff {
            server: P,
            cut: true,
        })?;
        bound(&mut w, c, 30_000)?;
        w.apply(Fault::ClientsCutOff {
            server: P,
            cut: false,
        })?;
        w.apply(Fault::Heal)?;
        w.run_for(60_000)?;
        w.converge(60_000)
    })());
}

/// F2 (partner-down reuse ignores potential expiration). The primary
/// renews a client during a silent partition (the BNDUPD is lost) and then
/// dies. The lease the secondary knows of ends (it expires it while
/// communications are interrupted); then the operator sets partner-down.
/// Entering partner-down sets `tsfp = STOS + MCLT` on expired leases (ISC
/// `failover.c:1972`), overwriting the potential expiration the primary had
/// sent, and the address is reused at STOS + 2·MCLT while the client still
/// holds the renewal. Draft-12 §7.1.5: in partner-down a server "must wait
/// the MCLT beyond the max(lease-expiration-time, sent-potential-
/// expiration-time, acked-potential-expiration-time, received-potential-
/// expiration-time)". It needs 2·MCLT < lease/2 (true of the mission's own
/// config: MCLT 1800 s, leases 16200 s); here MCLT 300 s, leases 3600 s.
#[test]
fn partner_down_reuses_a_lease_the_dead_peer_renewed() {
    let pair = PairParams {
        lease_time: 3600,
        ..one_address()
    };
    let mut w = strict_world(
        102,
        "partner_down_reuses_a_lease_the_dead_peer_renewed",
        pair,
    );
    check((|| {
        w.run_for(5_000)?;
        let c0 = w.add_client(false);
        let c1 = w.add_client(false);
        bound(&mut w, c0, 30_000)?;
        // First renewal (full lease, acknowledged by the secondary).
        let t1 = w.holding(c0).map_or(0, |b| b.t1);
        w.run_until(t1 + 5_000)?;
        let known_end = w.holding(c0).map_or(0, |b| b.expires);
        w.apply(Fault::Partition { silent: true })?;
        // Second renewal: granted by the primary alone.
        let t1 = w.holding(c0).map_or(0, |b| b.t1);
        w.run_until(t1 + 5_000)?;
        w.power_off(c0);
        w.apply(Fault::Crash {
            server: P,
            power_loss: true,
        })?;
        w.apply(Fault::Heal)?;
        // The secondary's copy of the lease ends; then partner-down.
        w.run_until(known_end + 60_000)?;
        w.apply(Fault::PartnerDown { server: S })?;
        w.power_on(c1);
        w.run_for(3_600_000)?;
        Ok(())
    })());
}

/// F3 (partner-down from startup keeps an old STOS). The primary hands out
/// an address while the secondary is down, then dies. The secondary comes
/// back and, still in startup (its first 15 s), the operator sets
/// partner-down. Leaving startup keeps the saved STOS (ISC
/// `dhcp_failover_set_state` does the same), so "STOS + MCLT" is long past
/// and the secondary takes the primary's free address at once, while the
/// first client holds it. Fix idea: entering partner-down always sets
/// STOS = now (the MCLT wait must start when we start assuming the peer is
/// down).
#[test]
fn partner_down_set_during_startup_skips_the_mclt_wait() {
    let mut w = strict_world(
        103,
        "partner_down_set_during_startup_skips_the_mclt_wait",
        one_address(),
    );
    check((|| {
        // In normal for longer than the MCLT: the saved STOS is old.
        w.run_for(400_000)?;
        let c0 = w.add_client(false);
        let c1 = w.add_client(false);
        w.apply(Fault::Crash {
            server: S,
            power_loss: false,
        })?;
        w.run_for(2_000)?;
        bound(&mut w, c0, 30_000)?;
        w.apply(Fault::Crash {
            server: P,
            power_loss: false,
        })?;
        w.run_for(30_000)?;
        w.apply(Fault::Restart { server: S })?;
        w.run_for(2_000)?;
        assert_eq!(w.state(S), Some(FailoverState::Startup));
        w.apply(Fault::PartnerDown { server: S })?;
        w.power_on(c1);
        w.run_for(120_000)?;
        Ok(())
    })());
}

/// F4 (stale potential-expiration lowers the peer's tsfp). After a heal
/// the secondary echoes a binding it learned from the primary with a stale
/// potential-expiration (option 18 = an old `ends`) and CLTT 0; the primary
/// accepts and lowers its tsfp for the lease to that value. On the
/// client's next request the primary's MCLT rule (tsfp in the past) grants
/// only the MCLT: the primary shortens a lease it granted itself to 300 s
/// while the client holds ~9 more minutes of it (if that DHCPACK is lost
/// the client keeps using the address past the server's `ends`).
#[test]
fn stale_potential_expiration_shortens_a_held_lease() {
    seed_replay(12);
}

/// F5 (older ACTIVE overwrites a newer grant). The client renews with the
/// secondary during a partition (ends T), later with the restarted primary
/// (ends T+88 s). After the heal the secondary's queued update (ends T,
/// older CLTT) reaches the primary before the primary has sent its own, and
/// the primary accepts it: its table now ends 88 s before the client's
/// lease. ISC compares CLTTs only when its own update is already in flight
/// (`fo.c:5222`); a queued, unsent local change loses.
#[test]
fn older_active_update_overwrites_a_newer_grant() {
    seed_replay(157);
}

/// F6 (balancing gives away bindings the partner made in partner-down). The
/// primary restarts from recover-wait, goes recover-done -> normal without a
/// new UPDREQALL, and balances its pool from a table that misses the
/// secondary's partner-down allocations: its BNDUPD(BACKUP, tstp=now)
/// crosses the secondary's BNDUPD(ACTIVE), and the secondary accepts BACKUP
/// over ACTIVE (ISC's normal-state rule: FREE/BACKUP accepted when option 18
/// <= now). Five held leases vanish from the secondary's table; one is
/// handed to another client 50 s later.
#[test]
fn balancing_after_recovery_overwrites_partner_down_allocations() {
    seed_replay(218);
}
