//! A control for the checker: a bare `tandem_engine::Engine` with no
//! failover (every `failover peer` is ignored, as in a pool without one).
//! Two of these serving the same range do not coordinate, so they hand the
//! same address to different clients: a run of the world with them must
//! fail rule 1. If it did not, the checker would be blind.

use std::net::Ipv4Addr;
use std::sync::Arc;

use tandem_config::Config;
use tandem_engine::{Engine, EngineError};
use tandem_lease::{FailoverState, Lease, LeaseDb, Record};
use tandem_node::{Effect, Input, Interface, Listen, Now};

use crate::server::SimServer;

/// One DHCP engine, no failover.
#[derive(Debug)]
pub struct LoneEngine {
    engine: Engine,
}

fn convert(effects: Vec<tandem_engine::Effect>) -> Vec<Effect> {
    effects
        .into_iter()
        .map(|e| match e {
            tandem_engine::Effect::Reply {
                bytes,
                to,
                ifindex,
                src,
            } => Effect::Reply {
                bytes,
                to,
                ifindex,
                src,
            },
            tandem_engine::Effect::Persist { records, then } => Effect::Persist {
                records,
                then: convert(then),
                notify: None,
            },
            tandem_engine::Effect::Log { level, message } => Effect::Log { level, message },
        })
        .collect()
}

impl SimServer for LoneEngine {
    type Error = EngineError;

    fn boot(
        config: Arc<Config>,
        interfaces: Vec<Interface>,
        db: LeaseDb,
        now: Now,
    ) -> Result<(Self, Vec<Effect>), Self::Error> {
        let mut engine = Engine::new(config, interfaces, db.leases.into_values().collect(), now)?;
        let effects = convert(engine.tick(now));
        Ok((LoneEngine { engine }, effects))
    }

    fn handle(&mut self, now: Now, input: Input) -> Vec<Effect> {
        match input {
            Input::Packet { rx, bytes } => convert(self.engine.handle_packet(now, &rx, &bytes)),
            Input::Tick => convert(self.engine.tick(now)),
            Input::Shutdown => vec![Effect::ShutdownComplete],
            _ => Vec::new(),
        }
    }

    fn next_timeout(&self) -> Option<u64> {
        None
    }

    fn listens(&self) -> Vec<Listen> {
        Vec::new()
    }

    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease> {
        self.engine.lease(addr)
    }

    fn failover_state(&self) -> Option<FailoverState> {
        None
    }

    fn connected(&self) -> bool {
        false
    }

    fn rewrite_records(&self) -> Vec<Record> {
        self.engine.leases().cloned().map(Record::Lease).collect()
    }
}
