//! The scenario generator: every few simulated seconds it picks a fault
//! that fits the current situation, and it runs the clients' lives (power
//! on, release, power off, come back).
//!
//! It keeps the promises operators make (ISC's manual, and the mission:
//! "partner-down only when the other server is really down"): partner-down
//! is set only on a server whose peer has been down for a while, and until
//! both are back in normal the down server returns only when it can reach
//! its partner, with a clock within ISC's 60 s rule, and the partner is not
//! taken down meanwhile.

use crate::server::SimServer;
use crate::world::{ChaosParams, Episode, Event, Fault, World};

impl<N: SimServer> World<N> {
    /// Start the generator: first decision after a short quiet start.
    pub fn enable_chaos(&mut self, p: ChaosParams) {
        let first = self.now + self.rng.between(p.gap.0, p.gap.1);
        self.chaos = Some(p);
        self.schedule(first, Event::Chaos);
    }

    pub(crate) fn chaos_step(&mut self) {
        let Some(p) = self.chaos.clone() else { return };
        if self.now >= p.until {
            return;
        }
        let next = self.now + self.rng.between(p.gap.0, p.gap.1);
        self.schedule(next, Event::Chaos);
        if let Some(f) = self.pick_fault() {
            self.schedule(self.now, Event::Fault(f));
        }
    }

    fn down_for(&self, k: usize) -> Option<u64> {
        let s = self.servers.get(k)?;
        if s.node.is_some() {
            return None;
        }
        s.down_since.map(|t| self.now.saturating_sub(t))
    }

    fn pick_fault(&mut self) -> Option<Fault> {
        let up = [self.is_up(0), self.is_up(1)];
        let ep = self.episode;
        let mut options: Vec<(u32, Fault)> = Vec::new();
        if self.net.partitioned {
            options.push((6, Fault::Heal));
        } else if ep.is_none() {
            let silent = self.rng.chance(0.5);
            options.push((3, Fault::Partition { silent }));
        }
        for k in 0..2 {
            let other = 1 - k;
            if up[k] {
                let may_crash = match ep {
                    None => true,
                    // The survivor may fail too while its partner is still
                    // down (both down); the returning server may crash again.
                    Some(e) => (k == e.survivor && !up[e.down]) || k == e.down,
                };
                if may_crash {
                    let power_loss = self.rng.chance(0.3);
                    options.push((
                        2,
                        Fault::Crash {
                            server: k,
                            power_loss,
                        },
                    ));
                }
                if ep.is_none() && self.servers[k].shutdown_at.is_none() {
                    let after = self.rng.between(2_000, 200_000);
                    options.push((
                        1,
                        Fault::Shutdown {
                            server: k,
                            restart_after: Some(after),
                        },
                    ));
                }
                let peer_down_long = self.down_for(other).is_some_and(|d| d >= 20_000);
                // Not while this server is still starting: see
                // tests/findings.rs `partner_down_from_startup_keeps_old_stos`.
                let starting = self.state(k) == Some(tandem_lease::FailoverState::Startup);
                if ep.is_none()
                    && peer_down_long
                    && !starting
                    && !self.servers[other].restart_pending()
                {
                    options.push((3, Fault::PartnerDown { server: k }));
                }
            } else {
                let down_long = self.down_for(k).is_some_and(|d| d >= 3_000);
                let allowed = match ep {
                    None => true,
                    Some(e) if k == e.down => {
                        up[e.survivor]
                            && !self.net.partitioned
                            && (self.servers[k].skew_ms - self.servers[e.survivor].skew_ms).abs()
                                < 30_000
                    }
                    Some(_) => true,
                };
                if down_long && allowed && !self.servers[k].restart_pending() {
                    options.push((4, Fault::Restart { server: k }));
                }
            }
            // Clock skew: small (NTP-grade) mostly; now and then beyond
            // ISC's 60 s rule, which refuses the connection.
            let big = ep.is_none() && self.rng.chance(0.1);
            let ms = if big {
                let s = self.rng.between(61_000, 120_000) as i64;
                if self.rng.chance(0.5) {
                    s
                } else {
                    -s
                }
            } else {
                self.rng.between(0, 6_000) as i64 - 3_000
            };
            options.push((1, Fault::Skew { server: k, ms }));
            let cut = !self.servers[k].clients_cut && self.rng.chance(0.5);
            options.push((1, Fault::ClientsCutOff { server: k, cut }));
        }
        let loss = [0.0, 0.0, 0.05, 0.2, 0.5][self.rng.below(5) as usize];
        options.push((1, Fault::DhcpLoss(loss)));
        let weights: Vec<u32> = options.iter().map(|(w, _)| *w).collect();
        let i = self.rng.weighted(&weights);
        let f = options.into_iter().nth(i).map(|(_, f)| f)?;
        if let Fault::PartnerDown { server } = f {
            self.episode = Some(Episode {
                survivor: server,
                down: 1 - server,
            });
        }
        Some(f)
    }

    /// A client's next life event: power on when off; when on, sometimes
    /// release, sometimes power off.
    pub(crate) fn client_life(&mut self, c: usize) {
        if self.clients_frozen {
            return;
        }
        let Some(client) = self.clients.get(c) else {
            return;
        };
        let life = self.chaos.as_ref().is_some_and(|p| p.client_life);
        if !client.is_on() {
            self.power_on(c);
            if life {
                let at = self.now + self.rng.between(30_000, 600_000);
                self.schedule(at, Event::ClientLife { client: c });
            }
            return;
        }
        if !life {
            return;
        }
        let off_for = self.rng.between(5_000, 300_000);
        match self.rng.below(10) {
            0 | 1 => {
                self.release(c);
                self.schedule(self.now + off_for, Event::ClientLife { client: c });
            }
            2 | 3 => {
                self.power_off(c);
                self.schedule(self.now + off_for, Event::ClientLife { client: c });
            }
            _ => {
                let at = self.now + self.rng.between(30_000, 400_000);
                self.schedule(at, Event::ClientLife { client: c });
            }
        }
    }
}
