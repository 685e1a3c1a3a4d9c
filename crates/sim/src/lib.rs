//! Deterministic simulation of a Tandem failover pair (level 2 of the test
//! plan): two `tandem_node::Node`s, their disks, the TCP link between them,
//! DHCP clients and the LAN, in one process with a virtual clock, driven
//! through partitions, crashes, restarts, clean shutdowns, operator
//! partner-down, message loss and delay, and clock skew. After every event
//! the invariants of [`check`] are verified: no address held by two clients
//! (rule 1), every DHCPACK backed by a durable lease and kept across
//! restarts (rule 2), and, once the faults heal, both servers back in
//! normal and agreeing (rule 3).
//!
//! A run is a pure function of its seed. On failure the report has the
//! seed, the last events, the servers' last log lines and a command line
//! that replays it.
//!
//! Tests: `tests/seeds.rs` (random runs; `SIM_SEEDS=N`, `SIM_SEED=S`,
//! `SIM_STRICT=1`, `SIM_TRACE=1`), `tests/scenarios.rs` (named scenarios
//! and controls that the checker must catch), `tests/findings.rs`
//! (`#[ignore]`d reproductions of what the simulation found in the node).
//!
//! ```ignore
//! let summary = tandem_sim::random_run(42)?;          // Err(Failure) on a violation
//! let mut w: World<Node> = World::new(7, "mine", Params::default())?;
//! w.add_clients(10, 30_000);
//! w.run_for(60_000)?;
//! w.apply(Fault::Crash { server: P, power_loss: false })?;
//! ```
//!
//! Modules: [`world`] (event queue, clocks, disk, TCP, LAN), [`client`]
//! (DHCP client state machine), [`check`] (invariants), `chaos` (the
//! scenario generator), [`server`] (the node contract as a trait),
//! [`lone`] (a control without failover that the checker must catch),
//! [`config`] (the mission's pair configuration), [`rng`].

mod chaos;
pub mod check;
pub mod client;
pub mod config;
pub mod lone;
pub mod rng;
pub mod server;
pub mod world;

pub use check::{Allowances, Failure, KnownIssue, Rule, Violation};
pub use server::SimServer;
pub use world::{ChaosParams, Fault, Params, Stats, World, P, S};

/// Virtual time, ms since the start of a run.
pub type Ms = u64;

/// How long a random run lasts.
#[derive(Debug, Clone)]
pub struct RunShape {
    /// Clients (min, max).
    pub clients: (u64, u64),
    /// Faults are injected during this long, ms.
    pub chaos_for: Ms,
    /// Then everything heals and this much time passes before rule 3, ms.
    pub settle: Ms,
    /// Which known issues the checker excuses (default: `SIM_STRICT`).
    pub allow: Allowances,
}

impl Default for RunShape {
    fn default() -> Self {
        RunShape {
            clients: (8, 45),
            chaos_for: 30 * 60_000,
            settle: 10 * 60_000,
            allow: Allowances::from_env(),
        }
    }
}

/// One random run of the real node: the seed decides everything.
pub fn random_run(seed: u64, shape: &RunShape) -> Result<Stats, Box<Failure>> {
    random_run_of::<tandem_node::Node>(seed, shape)
}

/// [`random_run`] for any server (the control in [`lone`] uses it).
pub fn random_run_of<N: SimServer>(seed: u64, shape: &RunShape) -> Result<Stats, Box<Failure>> {
    let mut w: World<N> = World::new(seed, "random", Params::default())?;
    w.checker.allow = shape.allow;
    let n = w.rng.between(shape.clients.0, shape.clients.1) as usize;
    w.add_clients(n, 120_000);
    w.enable_chaos(ChaosParams {
        until: shape.chaos_for,
        gap: (5_000, 90_000),
        client_life: true,
    });
    w.run_until(shape.chaos_for)?;
    w.converge(shape.settle)?;
    Ok(w.summary())
}
