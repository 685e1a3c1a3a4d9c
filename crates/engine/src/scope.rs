//! Executing the statements of configuration scopes for one client, as ISC's
//! `execute_statements_in_scope` does: outermost scope first, each later
//! `option`/parameter replacing the earlier value, `default` only filling a
//! gap, `append`/`prepend` extending, `if` choosing a branch by evaluating
//! expressions against the client's packet.
//!
//! Also the class matcher (ISC `check_collection`): `match if`, `match` with
//! subclasses, and `spawn with`.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use tandem_config::eval::EvalContext;
use tandem_config::{
    AccessFlag, AllowMode, Config, LeaseEvent, LogPriority, OptionCode, OptionHow, Param, ScopeId,
    Stmt, Value,
};
use tandem_wire::{relay_suboptions, Packet};

use crate::expr;
use crate::{Effect, LogLevel};

/// What expressions can see of one client transaction.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Facts<'a> {
    /// The client's packet (absent for lease expiry events).
    pub packet: Option<&'a Packet>,
    /// The packet as received.
    pub raw: &'a [u8],
    /// Option 82 as the relay sent it, or as stashed from an earlier
    /// exchange for a unicast renewal (ISC `stash-agent-options`).
    pub agent: Option<&'a [u8]>,
    pub known: bool,
    pub host_name: Option<&'a str>,
    pub leased: Option<Ipv4Addr>,
    pub lease_time: Option<u32>,
}

impl Facts<'_> {
    /// A client option: space "dhcp" is the packet's options, "agent" the
    /// sub-options of option 82.
    pub fn option(&self, code: &OptionCode) -> Option<Vec<u8>> {
        let c = u8::try_from(code.code).ok()?;
        match code.space.as_str() {
            "dhcp" => self.packet?.options.get(c).map(<[u8]>::to_vec),
            "agent" => relay_suboptions(self.agent?)?
                .into_iter()
                .find(|(sub, _)| *sub == c)
                .map(|(_, v)| v.to_vec()),
            _ => None,
        }
    }

    fn hardware(&self) -> Vec<u8> {
        match self.packet {
            Some(p) => {
                let mut v = vec![p.htype];
                v.extend_from_slice(p.hw_addr());
                v
            }
            None => Vec::new(),
        }
    }
}

/// The options and server parameters a scope chain produced (ISC's
/// `state->options`, dhcp and server universes).
#[derive(Debug, Clone, Default)]
pub(crate) struct OptionState {
    /// DHCP options (space "dhcp"), in the order each was first set.
    pub options: Vec<(u8, Vec<u8>)>,
    /// Options of other spaces (kept for `config-option`; not sent).
    pub other: Vec<(OptionCode, Vec<u8>)>,
    pub params: HashMap<Param, Vec<u8>>,
    pub access: HashMap<AccessFlag, AllowMode>,
    /// `set NAME = ...` variables, in the order first set.
    pub vars: Vec<(String, Vec<u8>)>,
    /// Classes named by `add` statements.
    pub added_classes: Vec<String>,
    pub on_commit: Vec<Stmt>,
    pub on_release: Vec<Stmt>,
    pub on_expiry: Vec<Stmt>,
    /// `log` statements and notes about statements not carried out.
    pub logs: Vec<Effect>,
}

impl OptionState {
    pub fn get(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    pub fn set(&mut self, code: u8, value: Vec<u8>) {
        match self.options.iter_mut().find(|(c, _)| *c == code) {
            Some(slot) => slot.1 = value,
            None => self.options.push((code, value)),
        }
    }

    pub fn remove(&mut self, code: u8) {
        self.options.retain(|(c, _)| *c != code);
    }

    fn lookup(&self, code: &OptionCode) -> Option<Vec<u8>> {
        if code.space == "dhcp" {
            let c = u8::try_from(code.code).ok()?;
            return self.get(c).map(<[u8]>::to_vec);
        }
        self.other
            .iter()
            .find(|(k, _)| k == code)
            .map(|(_, v)| v.clone())
    }

    fn store(&mut self, code: &OptionCode, how: OptionHow, value: Vec<u8>) {
        let old = self.lookup(code);
        let new = match how {
            OptionHow::Set | OptionHow::Supersede => value,
            OptionHow::Default => match old {
                Some(_) => return,
                None => value,
            },
            OptionHow::Append => {
                let mut v = old.unwrap_or_default();
                v.extend_from_slice(&value);
                v
            }
            OptionHow::Prepend => {
                let mut v = value;
                v.extend_from_slice(&old.unwrap_or_default());
                v
            }
        };
        if code.space == "dhcp" {
            if let Ok(c) = u8::try_from(code.code) {
                self.set(c, new);
            }
            return;
        }
        match self.other.iter_mut().find(|(k, _)| k == code) {
            Some(slot) => slot.1 = new,
            None => self.other.push((code.clone(), new)),
        }
    }

    pub fn param(&self, p: Param) -> Option<&[u8]> {
        self.params.get(&p).map(Vec::as_slice)
    }

    /// A numeric parameter (4 octets, big-endian, as ISC's `getULong`).
    pub fn param_u32(&self, p: Param) -> Option<u32> {
        let v = self.params.get(&p)?;
        <[u8; 4]>::try_from(v.as_slice())
            .ok()
            .map(u32::from_be_bytes)
    }

    pub fn param_flag(&self, p: Param) -> Option<bool> {
        self.params.get(&p)?.first().map(|b| *b != 0)
    }

    pub fn param_addr(&self, p: Param) -> Option<Ipv4Addr> {
        let v = self.params.get(&p)?;
        let four: [u8; 4] = v.get(..4)?.try_into().ok()?;
        Some(Ipv4Addr::from(four))
    }

    /// `allow`/`deny`/`ignore` in effect for `what` (default allow).
    pub fn access(&self, what: AccessFlag) -> AllowMode {
        self.access.get(&what).copied().unwrap_or(AllowMode::Allow)
    }

    pub fn variable(&self, name: &str) -> Option<&[u8]> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// The [`EvalContext`] the config crate's evaluator sees.
pub(crate) struct Ctx<'a> {
    pub facts: &'a Facts<'a>,
    pub state: &'a OptionState,
}

impl EvalContext for Ctx<'_> {
    fn option(&self, code: &OptionCode) -> Option<Vec<u8>> {
        self.facts.option(code)
    }
    fn config_option(&self, code: &OptionCode) -> Option<Vec<u8>> {
        self.state.lookup(code)
    }
    fn hardware(&self) -> Vec<u8> {
        self.facts.hardware()
    }
    fn packet(&self) -> &[u8] {
        self.facts.raw
    }
    fn known(&self) -> bool {
        self.facts.known
    }
    fn leased_address(&self) -> Option<Ipv4Addr> {
        self.facts.leased
    }
    fn host_decl_name(&self) -> Option<String> {
        self.facts.host_name.map(str::to_owned)
    }
    fn variable(&self, name: &str) -> Option<Vec<u8>> {
        self.state.variable(name).map(<[u8]>::to_vec)
    }
    fn lease_time(&self) -> Option<u32> {
        self.facts.lease_time
    }
}

/// How a parameter's expression value is turned into bytes.
enum ParamKind {
    Number,
    Flag,
    Data,
}

fn param_kind(p: Param) -> ParamKind {
    use Param::*;
    match p {
        DefaultLeaseTime
        | MaxLeaseTime
        | MinLeaseTime
        | PingTimeout
        | DynamicBootpLeaseLength
        | DynamicBootpLeaseCutoff
        | MinSecs
        | AbandonLeaseTime
        | DhcpCacheThreshold => ParamKind::Number,
        Authoritative
        | GetLeaseHostnames
        | UseHostDeclNames
        | OneLeasePerClient
        | PingCheck
        | AlwaysBroadcast
        | AlwaysReplyRfc1048
        | BootUnknownClients
        | StashAgentOptions
        | UpdateConflictDetection => ParamKind::Flag,
        NextServer | Filename | ServerName | ServerIdentifier | LocalAddress
        | VendorOptionSpace | SiteOptionSpace | Other(_) => ParamKind::Data,
    }
}

/// A switch or case value: data, or a number when the expression is numeric.
#[derive(Debug, PartialEq, Eq)]
enum Switched {
    Data(Vec<u8>),
    Number(i64),
}

impl Switched {
    fn of(e: &tandem_config::Expr, ctx: &dyn EvalContext) -> Option<Switched> {
        expr::data(e, ctx)
            .map(Switched::Data)
            .or_else(|| expr::num(e, ctx).map(Switched::Number))
    }
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Break,
}

/// Runs scope statements for one client into an [`OptionState`].
pub(crate) struct Executor<'a> {
    config: &'a Config,
    facts: Facts<'a>,
    pub state: OptionState,
    done: Vec<ScopeId>,
}

impl<'a> Executor<'a> {
    pub fn new(config: &'a Config, facts: Facts<'a>) -> Self {
        Executor {
            config,
            facts,
            state: OptionState::default(),
            done: Vec::new(),
        }
    }

    /// Lets later statements see the lease being built (`leased-address`,
    /// `lease-time`).
    pub fn set_lease_facts(&mut self, leased: Option<Ipv4Addr>, lease_time: Option<u32>) {
        self.facts.leased = leased;
        self.facts.lease_time = lease_time;
    }

    /// Executes the scopes from the global scope down to `scope`, skipping
    /// those already executed for this client. ISC runs the subnet chain,
    /// then a pool, class or host group "limited" by the groups already run;
    /// skipping executed scopes is the same rule.
    pub fn run_chain(&mut self, scope: ScopeId) {
        for id in self.config.scope_chain(scope) {
            if self.done.contains(&id) {
                continue;
            }
            self.done.push(id);
            if let Some(s) = self.config.scopes.get(id) {
                self.run(&s.statements);
            }
        }
    }

    /// Executes a statement list outside any scope (`on commit` bodies).
    pub fn run_body(&mut self, stmts: &[Stmt]) {
        self.run(stmts);
    }

    fn eval_value(&self, value: &Value) -> Option<Vec<u8>> {
        match value {
            Value::Const(v) => Some(v.clone()),
            Value::Expr(e) => expr::data(
                e,
                &Ctx {
                    facts: &self.facts,
                    state: &self.state,
                },
            ),
        }
    }

    fn run(&mut self, stmts: &[Stmt]) -> Flow {
        for stmt in stmts {
            if self.exec(stmt) == Flow::Break {
                return Flow::Break;
            }
        }
        Flow::Continue
    }

    fn exec(&mut self, stmt: &Stmt) -> Flow {
        match stmt {
            Stmt::Option { code, how, value } => {
                // ISC evaluates option expressions when the reply is built;
                // one that yields nothing is not sent.
                if let Some(v) = self.eval_value(value) {
                    self.state.store(code, *how, v);
                }
            }
            Stmt::Param { param, value } => {
                let bytes = match value {
                    Value::Const(v) => Some(v.clone()),
                    Value::Expr(e) => {
                        let ctx = Ctx {
                            facts: &self.facts,
                            state: &self.state,
                        };
                        match param_kind(*param) {
                            ParamKind::Number => expr::num(e, &ctx)
                                .and_then(|n| u32::try_from(n).ok())
                                .map(|n| n.to_be_bytes().to_vec()),
                            ParamKind::Flag => Some(vec![u8::from(expr::truth(e, &ctx))]),
                            ParamKind::Data => expr::data(e, &ctx),
                        }
                    }
                };
                if let Some(b) = bytes {
                    self.state.params.insert(*param, b);
                }
            }
            Stmt::If {
                branches,
                otherwise,
            } => {
                let mut chosen: Option<&[Stmt]> = None;
                for (cond, body) in branches {
                    let ctx = Ctx {
                        facts: &self.facts,
                        state: &self.state,
                    };
                    if expr::truth(cond, &ctx) {
                        chosen = Some(body);
                        break;
                    }
                }
                let body = chosen.unwrap_or(otherwise);
                return self.run(body);
            }
            Stmt::Log { priority, expr: e } => {
                let ctx = Ctx {
                    facts: &self.facts,
                    state: &self.state,
                };
                if let Some(text) = expr::data(e, &ctx) {
                    let level = match priority {
                        LogPriority::Fatal | LogPriority::Error => LogLevel::Error,
                        LogPriority::Info => LogLevel::Info,
                        LogPriority::Debug => LogLevel::Debug,
                    };
                    self.state.logs.push(Effect::Log {
                        level,
                        message: String::from_utf8_lossy(&text).into_owned(),
                    });
                }
            }
            Stmt::Execute { command, .. } => {
                self.state.logs.push(Effect::Log {
                    level: LogLevel::Info,
                    message: format!(
                        "execute: \"{command}\" not run (Tandem does not run commands)"
                    ),
                });
            }
            Stmt::SetVar { name, expr: e } => {
                let ctx = Ctx {
                    facts: &self.facts,
                    state: &self.state,
                };
                let value = expr::data(e, &ctx).unwrap_or_default();
                match self.state.vars.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value,
                    None => self.state.vars.push((name.clone(), value)),
                }
            }
            Stmt::UnsetVar { name } => self.state.vars.retain(|(n, _)| n != name),
            Stmt::On { events, body } => {
                for ev in events {
                    let slot = match ev {
                        LeaseEvent::Commit => &mut self.state.on_commit,
                        LeaseEvent::Release => &mut self.state.on_release,
                        LeaseEvent::Expiry => &mut self.state.on_expiry,
                    };
                    // ISC keeps one statement list per event: a later `on`
                    // replaces an earlier one.
                    *slot = body.clone();
                }
            }
            Stmt::AddClass(name) => {
                if !self.state.added_classes.contains(name) {
                    self.state.added_classes.push(name.clone());
                }
            }
            Stmt::Break => return Flow::Break,
            Stmt::AccessControl { what, allow } => {
                self.state.access.insert(*what, *allow);
            }
            Stmt::Ddns { .. } | Stmt::Eval(_) | Stmt::Case(_) | Stmt::DefaultCase => {}
            Stmt::Switch { expr: e, body } => self.switch(e, body),
        }
        Flow::Continue
    }

    /// ISC `switch`: run the body from the `case` whose value equals the
    /// switch value (else from `default:`) until `break;`, which ends the
    /// switch only.
    fn switch(&mut self, e: &tandem_config::Expr, body: &[Stmt]) {
        let value = {
            let ctx = Ctx {
                facts: &self.facts,
                state: &self.state,
            };
            Switched::of(e, &ctx)
        };
        let start = value.and_then(|v| {
            body.iter().position(|s| match s {
                Stmt::Case(c) => {
                    let ctx = Ctx {
                        facts: &self.facts,
                        state: &self.state,
                    };
                    Switched::of(c, &ctx).as_ref() == Some(&v)
                }
                _ => false,
            })
        });
        let start = start.or_else(|| body.iter().position(|s| matches!(s, Stmt::DefaultCase)));
        if let Some(from) = start {
            if let Some(rest) = body.get(from + 1..) {
                // The `Break` ends the switch, not the enclosing scope.
                let _ = self.run(rest);
            }
        }
    }
}

/// A class the client belongs to, with the scope whose statements apply
/// (the subclass's for a subclass match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub class: usize,
    pub name: String,
    pub scope: ScopeId,
}

/// ISC `check_collection`: every class in declaration order. A `match if`
/// that fails is final; one that holds makes the client a member unless the
/// class also has a `match` expression, whose value must then name a
/// subclass (or the class spawns one with `spawn with`).
pub(crate) fn classify(config: &Config, facts: &Facts<'_>) -> Vec<Membership> {
    let state = OptionState::default();
    let ctx = Ctx {
        facts,
        state: &state,
    };
    let mut out = Vec::new();
    for (ci, class) in config.classes.iter().enumerate() {
        if let Some(cond) = &class.match_if {
            if !expr::truth(cond, &ctx) {
                continue;
            }
            if class.match_value.is_none() && class.spawn_with.is_none() {
                out.push(Membership {
                    class: ci,
                    name: class.name.clone(),
                    scope: class.scope,
                });
                continue;
            }
        }
        let submatch = class.match_value.as_ref().or(class.spawn_with.as_ref());
        let Some(submatch) = submatch else {
            continue;
        };
        let Some(key) = expr::data(submatch, &ctx).filter(|k| !k.is_empty()) else {
            continue;
        };
        if let Some((_, scope)) = class.subclasses.iter().find(|(k, _)| *k == key) {
            out.push(Membership {
                class: ci,
                name: class.name.clone(),
                scope: *scope,
            });
        } else if class.spawn_with.is_some() {
            // A spawned subclass shares its class's statements.
            out.push(Membership {
                class: ci,
                name: class.name.clone(),
                scope: class.scope,
            });
        }
    }
    out
}
