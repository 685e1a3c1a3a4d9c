//! Named scenarios of the failover pair, each checked by the same
//! invariants as the random runs, plus controls that prove the checker
//! fires: servers that do not coordinate, that ACK before writing, or that
//! forget their lease file must each be caught.

use std::net::Ipv4Addr;
use std::sync::Arc;

use tandem_config::Config;
use tandem_lease::{FailoverState, Lease, LeaseDb, Record};
use tandem_node::{Effect, Input, Interface, Listen, Node, Now};
use tandem_sim::client::ClientState;
use tandem_sim::lone::LoneEngine;
use tandem_sim::{Failure, Fault, Params, Rule, SimServer, World, P, S};

use FailoverState::*;

const MCLT_MS: u64 = 300_000;

fn world(seed: u64, name: &str) -> World<Node> {
    let mut w = World::new(seed, name, Params::default()).unwrap_or_else(|f| panic!("{f}"));
    w.set_repro(format!(
        "cargo test --release -p tandem-sim --test scenarios {name} -- --nocapture"
    ));
    w.keep_logs = true;
    w
}

fn ok<T>(r: Result<T, Box<Failure>>) -> T {
    r.unwrap_or_else(|f| panic!("{f}"))
}

fn both_normal(w: &World<Node>) -> bool {
    w.state(P) == Some(Normal) && w.state(S) == Some(Normal)
}

/// Power client `c` on and run until it holds a lease (or fail).
fn bind(w: &mut World<Node>, c: usize, within: u64) {
    w.power_on(c);
    let limit = w.now + within;
    let bound = ok(w.run_until_cond(limit, |w| w.holding(c).is_some()));
    assert!(bound, "client {c} got no lease in {within} ms");
}

#[test]
fn fresh_pair_reaches_normal_and_serves() {
    let mut w = world(1, "fresh_pair_reaches_normal_and_serves");
    ok(w.run_for(5_000));
    assert!(
        both_normal(&w),
        "{} / {}",
        w.servers[P].state_history(),
        w.servers[S].state_history()
    );
    let cs: Vec<usize> = (0..10).map(|_| w.add_client(false)).collect();
    for &c in &cs {
        bind(&mut w, c, 30_000);
    }
    // Load balancing (split 128) gives some clients to each server.
    let from_s = cs
        .iter()
        .filter(|c| {
            w.holding(**c)
                .is_some_and(|b| b.server_id == Ipv4Addr::new(10, 0, 0, 20))
        })
        .count();
    assert!(
        from_s > 0 && from_s < cs.len(),
        "{from_s} of {} from the secondary",
        cs.len()
    );
    // The first lease is MCLT long; the renewal gets the full time.
    let b = w.holding(cs[0]).cloned().unwrap_or_else(|| panic!("bound"));
    assert_eq!(b.lease_secs, 300);
    ok(w.run_until(b.t1 + 5_000));
    assert_eq!(w.holding(cs[0]).map(|b| b.lease_secs), Some(900));
    ok(w.converge(60_000));
}

#[test]
fn partition_during_dora() {
    let mut w = world(2, "partition_during_dora");
    ok(w.run_for(5_000));
    let c = w.add_client(true);
    w.power_on(c);
    // Cut the servers apart between the OFFER and the ACK.
    let requesting = ok(w.run_until_cond(w.now + 30_000, |w| {
        w.clients[c].state == ClientState::Requesting
    }));
    assert!(requesting);
    ok(w.apply(Fault::Partition { silent: false }));
    let bound = ok(w.run_until_cond(w.now + 30_000, |w| w.holding(c).is_some()));
    assert!(bound, "the lease is granted without the peer");
    ok(w.run_for(60_000));
    assert_eq!(w.state(P), Some(CommunicationsInterrupted));
    ok(w.apply(Fault::Heal));
    ok(w.run_for(30_000));
    assert!(both_normal(&w));
    // The binding reached the peer after the heal.
    let b = w
        .holding(c)
        .cloned()
        .unwrap_or_else(|| panic!("still bound"));
    for k in [P, S] {
        let l = w.node(k).and_then(|n| n.lease(b.addr)).cloned();
        assert_eq!(
            l.map(|l| l.binding_state),
            Some(tandem_lease::BindingState::Active),
            "server {k}"
        );
    }
    ok(w.converge(60_000));
}

#[test]
fn crash_between_persist_and_ack() {
    let mut w = world(3, "crash_between_persist_and_ack");
    ok(w.run_for(5_000));
    let c = w.add_client(false);
    w.power_on(c);
    // Run until a server has the ACK waiting for its disk, then kill it.
    let waiting = ok(w.run_until_cond(w.now + 30_000, |w| {
        w.reply_waits_for_disk(P) || w.reply_waits_for_disk(S)
    }));
    assert!(waiting);
    let k = if w.reply_waits_for_disk(P) { P } else { S };
    ok(w.apply(Fault::Crash {
        server: k,
        power_loss: false,
    }));
    // The ACK never left and the write never happened.
    assert!(w.holding(c).is_none());
    let on_disk = w.servers[k].disk.db.leases.values().any(|l| {
        l.hardware
            .as_ref()
            .is_some_and(|h| h.addr == w.clients[c].mac)
    });
    assert!(!on_disk, "the unsynced write was lost with the crash");
    // The client retries and the other server serves it.
    let bound = ok(w.run_until_cond(w.now + 120_000, |w| w.holding(c).is_some()));
    assert!(bound);
    ok(w.run_for(20_000));
    ok(w.apply(Fault::Restart { server: k }));
    ok(w.converge(MCLT_MS + 60_000));
}

#[test]
fn primary_crash_partner_down_then_recovery() {
    let mut w = world(4, "primary_crash_partner_down_then_recovery");
    ok(w.run_for(5_000));
    let cs: Vec<usize> = (0..12).map(|i| w.add_client(i % 2 == 0)).collect();
    for &c in &cs {
        bind(&mut w, c, 60_000);
    }
    ok(w.run_for(100_000));
    ok(w.apply(Fault::Crash {
        server: P,
        power_loss: false,
    }));
    let ci = ok(w.run_until_cond(w.now + 60_000, |w| {
        w.state(S) == Some(CommunicationsInterrupted)
    }));
    assert!(ci);
    // The operator waits the MCLT, then declares the primary down.
    ok(w.run_for(MCLT_MS));
    ok(w.apply(Fault::PartnerDown { server: S }));
    assert_eq!(w.state(S), Some(PartnerDown));
    // The secondary serves everyone alone, past the MCLT.
    ok(w.run_for(MCLT_MS + 120_000));
    assert!(
        cs.iter().all(|c| w.holding(*c).is_some()),
        "everyone is still served"
    );
    assert_eq!(w.state(S), Some(PartnerDown));
    let back = w.now;
    ok(w.apply(Fault::Restart { server: P }));
    let normal = ok(w.run_until_cond(w.now + 2 * MCLT_MS, both_normal));
    assert!(
        normal,
        "{} / {}",
        w.servers[P].state_history(),
        w.servers[S].state_history()
    );
    // The primary recovered from the secondary (UPDREQALL) before serving.
    assert!(
        w.servers[P].went_through(back, &[Startup, Recover, RecoverDone, Normal])
            || w.servers[P]
                .went_through(back, &[Startup, Recover, RecoverWait, RecoverDone, Normal]),
        "{}",
        w.servers[P].state_history()
    );
    assert!(w.servers[S].went_through(back, &[Normal]));
    eprintln!("primary: {}", w.servers[P].state_history());
    ok(w.converge(60_000));
}

#[test]
fn secondary_loses_its_disk_and_waits_the_mclt() {
    // A server that comes back with no lease file starts in recover with
    // STOS = now, so it must sit in recover-wait for the MCLT (ISC
    // `dhcp_failover_recover_done`).
    let mut w = world(5, "secondary_loses_its_disk_and_waits_the_mclt");
    ok(w.run_for(5_000));
    let cs: Vec<usize> = (0..6).map(|_| w.add_client(false)).collect();
    for &c in &cs {
        bind(&mut w, c, 60_000);
    }
    ok(w.apply(Fault::Crash {
        server: S,
        power_loss: true,
    }));
    ok(w.run_for(40_000));
    ok(w.apply(Fault::PartnerDown { server: P }));
    ok(w.run_for(30_000));
    w.servers[S].disk = Default::default();
    w.checker.acked_by.retain(|_, k| *k != S);
    let back = w.now;
    ok(w.apply(Fault::Restart { server: S }));
    ok(w.run_for(30_000));
    assert_eq!(
        w.state(S),
        Some(RecoverWait),
        "{}",
        w.servers[S].state_history()
    );
    let normal = ok(w.run_until_cond(w.now + MCLT_MS + 60_000, both_normal));
    assert!(normal, "{}", w.servers[S].state_history());
    assert!(w.servers[S].went_through(back, &[Recover, RecoverWait, RecoverDone, Normal]));
    ok(w.converge(60_000));
}

#[test]
fn both_crash() {
    let mut w = world(6, "both_crash");
    ok(w.run_for(5_000));
    let cs: Vec<usize> = (0..15).map(|i| w.add_client(i % 2 == 0)).collect();
    for &c in &cs {
        bind(&mut w, c, 60_000);
    }
    ok(w.run_for(200_000));
    ok(w.apply(Fault::Crash {
        server: P,
        power_loss: true,
    }));
    ok(w.apply(Fault::Crash {
        server: S,
        power_loss: false,
    }));
    ok(w.run_for(20_000));
    // Restarting checks rule 2: every lease a client holds from a server is
    // in that server's rebuilt table.
    ok(w.apply(Fault::Restart { server: S }));
    ok(w.apply(Fault::Restart { server: P }));
    let normal = ok(w.run_until_cond(w.now + 60_000, both_normal));
    assert!(normal);
    ok(w.run_for(600_000));
    assert!(cs.iter().all(|c| w.holding(*c).is_some()));
    ok(w.converge(60_000));
}

#[test]
fn clean_shutdown_hands_over_and_skips_recover_wait() {
    let mut w = world(7, "clean_shutdown_hands_over_and_skips_recover_wait");
    ok(w.run_for(5_000));
    let cs: Vec<usize> = (0..6).map(|_| w.add_client(false)).collect();
    for &c in &cs {
        bind(&mut w, c, 60_000);
    }
    ok(w.apply(Fault::Shutdown {
        server: S,
        restart_after: None,
    }));
    let down = ok(w.run_until_cond(w.now + 30_000, |w| !w.is_up(S)));
    assert!(down, "clean shutdown completes");
    assert_eq!(
        w.state(P),
        Some(PartnerDown),
        "ISC: normal + peer shutdown -> partner-down"
    );
    ok(w.run_for(60_000));
    let back = w.now;
    ok(w.apply(Fault::Restart { server: S }));
    let normal = ok(w.run_until_cond(w.now + 30_000, both_normal));
    assert!(normal, "{}", w.servers[S].state_history());
    assert!(!w.servers[S].went_through(back, &[RecoverWait]));
    ok(w.converge(60_000));
}

#[test]
fn clock_skew_beyond_60s_refuses_connect_until_fixed() {
    let mut w = world(8, "clock_skew_beyond_60s_refuses_connect_until_fixed");
    ok(w.run_for(5_000));
    let c = w.add_client(false);
    bind(&mut w, c, 30_000);
    ok(w.apply(Fault::Partition { silent: false }));
    ok(w.apply(Fault::Skew {
        server: S,
        ms: 90_000,
    }));
    ok(w.run_for(5_000));
    ok(w.apply(Fault::Heal));
    ok(w.run_for(60_000));
    for k in [P, S] {
        assert!(
            !w.node(k).is_some_and(|n| n.connected()),
            "server {k} must not connect"
        );
        assert_eq!(w.state(k), Some(CommunicationsInterrupted));
    }
    assert!(
        w.servers.iter().any(|s| s.logged("time")),
        "a time-mismatch refusal is logged: {:?}",
        w.servers[S]
            .all_logs
            .iter()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
    );
    ok(w.apply(Fault::Skew {
        server: S,
        ms: 1_000,
    }));
    let normal = ok(w.run_until_cond(w.now + 30_000, both_normal));
    assert!(normal);
    ok(w.converge(60_000));
}

// ------------------------------------------------------------ controls

/// Two DHCP engines with no failover hand out the same addresses: rule 1
/// must catch it.
#[test]
fn control_uncoordinated_servers_are_caught() {
    let mut w: World<LoneEngine> =
        World::new(9, "control", Params::default()).unwrap_or_else(|f| panic!("{f}"));
    w.add_clients(30, 20_000);
    let r = w.run_for(600_000);
    let f = r
        .err()
        .unwrap_or_else(|| panic!("two uncoordinated servers were not caught"));
    assert!(
        matches!(f.violation.rule, Rule::Exclusive | Rule::TableExclusive),
        "{f}"
    );
}

/// A node whose DHCPACK leaves before its lease is written (the reply moved
/// out of `Persist::then`).
#[derive(Debug)]
struct AckFirst(Node);

fn ack_first(effects: Vec<Effect>) -> Vec<Effect> {
    let mut out = Vec::new();
    for e in effects {
        match e {
            Effect::Persist {
                records,
                then,
                notify,
            } => {
                let (replies, rest): (Vec<Effect>, Vec<Effect>) = then
                    .into_iter()
                    .partition(|e| matches!(e, Effect::Reply { .. }));
                out.extend(replies);
                out.push(Effect::Persist {
                    records,
                    then: rest,
                    notify,
                });
            }
            e => out.push(e),
        }
    }
    out
}

impl SimServer for AckFirst {
    type Error = <Node as SimServer>::Error;
    fn boot(
        config: Arc<Config>,
        ifs: Vec<Interface>,
        db: LeaseDb,
        now: Now,
    ) -> Result<(Self, Vec<Effect>), Self::Error> {
        let (n, e) = <Node as SimServer>::boot(config, ifs, db, now)?;
        Ok((AckFirst(n), ack_first(e)))
    }
    fn handle(&mut self, now: Now, input: Input) -> Vec<Effect> {
        ack_first(SimServer::handle(&mut self.0, now, input))
    }
    fn next_timeout(&self) -> Option<u64> {
        SimServer::next_timeout(&self.0)
    }
    fn listens(&self) -> Vec<Listen> {
        SimServer::listens(&self.0)
    }
    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease> {
        SimServer::lease(&self.0, addr)
    }
    fn failover_state(&self) -> Option<FailoverState> {
        SimServer::failover_state(&self.0)
    }
    fn connected(&self) -> bool {
        SimServer::connected(&self.0)
    }
    fn rewrite_records(&self) -> Vec<Record> {
        SimServer::rewrite_records(&self.0)
    }
}

#[test]
fn control_ack_before_write_is_caught() {
    let mut w: World<AckFirst> =
        World::new(10, "control", Params::default()).unwrap_or_else(|f| panic!("{f}"));
    w.add_clients(5, 10_000);
    let f = w
        .run_for(120_000)
        .err()
        .unwrap_or_else(|| panic!("an ACK sent before its write was not caught"));
    assert_eq!(f.violation.rule, Rule::DurableBeforeAck, "{f}");
}

/// A node that loses its leases (but not its failover state) on restart.
#[derive(Debug)]
struct Amnesiac(Node);

impl SimServer for Amnesiac {
    type Error = <Node as SimServer>::Error;
    fn boot(
        config: Arc<Config>,
        ifs: Vec<Interface>,
        mut db: LeaseDb,
        now: Now,
    ) -> Result<(Self, Vec<Effect>), Self::Error> {
        db.leases.clear();
        let (n, e) = <Node as SimServer>::boot(config, ifs, db, now)?;
        Ok((Amnesiac(n), e))
    }
    fn handle(&mut self, now: Now, input: Input) -> Vec<Effect> {
        SimServer::handle(&mut self.0, now, input)
    }
    fn next_timeout(&self) -> Option<u64> {
        SimServer::next_timeout(&self.0)
    }
    fn listens(&self) -> Vec<Listen> {
        SimServer::listens(&self.0)
    }
    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease> {
        SimServer::lease(&self.0, addr)
    }
    fn failover_state(&self) -> Option<FailoverState> {
        SimServer::failover_state(&self.0)
    }
    fn connected(&self) -> bool {
        SimServer::connected(&self.0)
    }
    fn rewrite_records(&self) -> Vec<Record> {
        SimServer::rewrite_records(&self.0)
    }
}

#[test]
fn control_forgetting_leases_on_restart_is_caught() {
    let mut w: World<Amnesiac> =
        World::new(11, "control", Params::default()).unwrap_or_else(|f| panic!("{f}"));
    w.add_clients(10, 10_000);
    ok(w.run_for(60_000));
    ok(w.apply(Fault::Crash {
        server: P,
        power_loss: false,
    }));
    let f = w
        .apply(Fault::Restart { server: P })
        .err()
        .unwrap_or_else(|| panic!("a restart that lost leases was not caught"));
    assert_eq!(f.violation.rule, Rule::KeptAcrossRestart, "{f}");
}

#[test]
fn same_seed_same_run() {
    let a = tandem_sim::random_run(77, &tandem_sim::RunShape::default());
    let b = tandem_sim::random_run(77, &tandem_sim::RunShape::default());
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(a), Err(b)) => assert_eq!(a.trace, b.trace),
        (a, b) => panic!("runs of one seed differ: {:?} / {:?}", a.is_ok(), b.is_ok()),
    }
}
