//! The objects behind OMAPI requests, answered from the engine: pure, no I/O.
//!
//! [`Dispatcher::handle`] turns one [`Operation`] into an [`Outcome`]: an answer at once,
//! an answer that must wait until lease-file records are on disk (host and group changes:
//! ISC writes the host and commits the lease file before it answers), or an answer followed
//! by a shutdown (`control` `state = 2`). The open flow is ISC's `omapi_message_process`
//! (omapip/message.c): look the object up; not found and no `create` → "no object matches
//! specification"; found with `create` + `exclusive` → "specified object already exists";
//! not found with `create` → make it; with `create` or `update` → set the values; answer
//! with the object.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use tandem_engine::{
    Engine, GroupSnapshot, GroupSpec, HostError, HostInfo, HostQuery, HostSnapshot, HostSpec,
};
use tandem_lease::{Hardware, Lease, Record};
use tandem_omapi::objects::control::{shutdown_requested, ControlObject, ControlState};
use tandem_omapi::objects::failover_state::{FailoverStateChange, FailoverStateKey, PeerState};
use tandem_omapi::objects::group::{self, GroupChange, GroupKey, GroupObject};
use tandem_omapi::objects::host::{self, HostChange, HostKey, HostObject};
use tandem_omapi::objects::lease::{LeaseChange, LeaseKey, LeaseObject, ScopeValue};
use tandem_omapi::objects::{self, resolve, Found, HTYPE_ETHER};
use tandem_omapi::{Attributes, Failure, IscResult, ObjectReply, ObjectType, Operation};

use super::FailoverView;

/// An object a handle stands for. Handles are the server's, stable for the object's life,
/// shared by every connection (ISC's handle table is global too).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ObjectRef {
    Lease(Ipv4Addr),
    Host(String),
    Group(String),
    Control,
    Failover(String),
}

/// What the driver does with a request's outcome.
#[derive(Debug)]
pub enum Outcome {
    /// Answer now.
    Reply(ObjectReply),
    /// Write `records` to the lease file, then answer `reply`; if the write fails, give
    /// `undo` to [`Dispatcher::undo`] and answer with an I/O error instead.
    Persist {
        records: Vec<Record>,
        undo: Undo,
        reply: ObjectReply,
        /// A line for the log once the change is on disk.
        log: String,
    },
    /// Answer, then shut the server down (the SIGTERM path).
    Shutdown(ObjectReply),
}

/// How to take back a change whose lease-file write failed.
#[derive(Debug)]
pub enum Undo {
    Host(Vec<HostSnapshot>),
    Group(GroupSnapshot),
}

/// Maps handles to objects and answers requests.
#[derive(Debug)]
pub struct Dispatcher {
    next_handle: u32,
    by_ref: HashMap<ObjectRef, u32>,
    by_handle: HashMap<u32, ObjectRef>,
    /// For the names ISC gives unnamed hosts and groups.
    unique: u64,
}

/// The failure ISC reports for a change the object refused.
fn cant_update(r: IscResult) -> ObjectReply {
    ObjectReply::Failed(Failure::cant_update(r))
}

fn failed(f: Failure) -> ObjectReply {
    ObjectReply::Failed(f)
}

/// ISC result for an engine refusal.
fn host_result(e: &HostError) -> IscResult {
    match e {
        HostError::NoIdentifier(_) | HostError::NoName => IscResult::INVALIDARG,
        HostError::Exists(_) | HostError::GroupExists(_) => IscResult::EXISTS,
        HostError::NotFound(_) | HostError::UnknownGroup(_) => IscResult::NOTFOUND,
        HostError::BadStatements { .. } => IscResult::BADPARSE,
    }
}

/// The state Tandem moves to for `set local-state = N`: 4 is partner-down in ISC 4.x, and
/// 1 (startup in 4.x) meant partner-down in ISC 3.0, whose scripts still circulate; nobody
/// sets startup on purpose, so both mean partner-down. Other numbers pass through.
pub fn requested_local_state(asked: PeerState) -> PeerState {
    match asked {
        PeerState::Startup => PeerState::PartnerDown,
        other => other,
    }
}

impl Dispatcher {
    /// Handles start above the key handles (`KeyRing::reserved_handles`).
    pub fn new(reserved_handles: u32) -> Dispatcher {
        Dispatcher {
            next_handle: reserved_handles.saturating_add(1),
            by_ref: HashMap::new(),
            by_handle: HashMap::new(),
            unique: 0,
        }
    }

    fn handle_of(&mut self, r: ObjectRef) -> u32 {
        if let Some(h) = self.by_ref.get(&r) {
            return *h;
        }
        let h = self.next_handle;
        // 2^32 distinct objects in one process's life: wrap past the key handles.
        self.next_handle = self.next_handle.checked_add(1).unwrap_or(1 << 16);
        self.by_ref.insert(r.clone(), h);
        self.by_handle.insert(h, r);
        h
    }

    /// A host kept its handle under a new name.
    fn rename_host(&mut self, old: &str, new: &str) {
        if old == new {
            return;
        }
        if let Some(h) = self.by_ref.remove(&ObjectRef::Host(old.to_string())) {
            self.by_handle.insert(h, ObjectRef::Host(new.to_string()));
            self.by_ref.insert(ObjectRef::Host(new.to_string()), h);
        }
    }

    /// Answers one request. `now` is the wall clock (seconds), for generated names.
    pub fn handle(
        &mut self,
        engine: &mut Engine,
        failover: Option<&mut dyn FailoverView>,
        operation: &Operation,
        now: u64,
    ) -> Outcome {
        match operation {
            Operation::Open {
                object_type,
                values,
                create,
                update,
                exclusive,
            } => self.open(
                engine,
                failover,
                *object_type,
                values,
                Flags {
                    create: *create,
                    update: *update,
                    exclusive: *exclusive,
                },
                now,
            ),
            Operation::Refresh { handle, .. } => match self.by_handle.get(handle).cloned() {
                Some(r) => match self.values(engine, failover.as_deref(), &r) {
                    Some(values) => Outcome::Reply(ObjectReply::Object {
                        handle: *handle,
                        values,
                    }),
                    None => Outcome::Reply(failed(Failure::no_handle())),
                },
                None => Outcome::Reply(failed(Failure::no_handle())),
            },
            Operation::Update { handle, values, .. } => match self.by_handle.get(handle).cloned() {
                Some(r) => self.update(engine, failover, &r, values, ObjectReply::Done),
                None => Outcome::Reply(failed(Failure::no_handle())),
            },
            Operation::Delete { handle, .. } => match self.by_handle.get(handle).cloned() {
                Some(r) => self.delete(engine, &r),
                None => Outcome::Reply(failed(Failure::no_handle())),
            },
        }
    }

    /// Takes back a change whose write failed.
    pub fn undo(&mut self, engine: &mut Engine, undo: Undo) {
        match undo {
            Undo::Host(snaps) => {
                for s in snaps.into_iter().rev() {
                    engine.restore_host_snapshot(s);
                }
            }
            Undo::Group(s) => engine.restore_group_snapshot(s),
        }
    }

    fn open(
        &mut self,
        engine: &mut Engine,
        mut failover: Option<&mut dyn FailoverView>,
        object_type: ObjectType,
        values: &Attributes,
        flags: Flags,
        now: u64,
    ) -> Outcome {
        let found = self.lookup(engine, failover.as_deref(), object_type, values);
        let found = match found {
            Ok(r) => Some(r),
            // ISC goes on to create for NOKEYS too; without `create` it is "not found".
            Err(IscResult::NOTFOUND) | Err(IscResult::NOKEYS) => None,
            Err(e) => return Outcome::Reply(failed(Failure::lookup_failed(e))),
        };
        match found {
            None if !flags.create => Outcome::Reply(failed(Failure::no_match())),
            Some(_) if flags.create && flags.exclusive => Outcome::Reply(failed(Failure::exists())),
            None => self.create(engine, object_type, values, now),
            Some(r) => {
                let handle = self.handle_of(r.clone());
                if flags.create || flags.update {
                    // The answer carries the object as it is after the change.
                    let placeholder = ObjectReply::Object {
                        handle,
                        values: Attributes::new(),
                    };
                    let outcome =
                        self.update(engine, reborrow(&mut failover), &r, values, placeholder);
                    return self.fill_object(engine, failover.as_deref(), outcome);
                }
                match self.values(engine, failover.as_deref(), &r) {
                    Some(values) => Outcome::Reply(ObjectReply::Object { handle, values }),
                    None => Outcome::Reply(failed(Failure::no_match())),
                }
            }
        }
    }

    /// Replaces the values of an `Object` answer by the object's current ones.
    fn fill_object(
        &mut self,
        engine: &Engine,
        failover: Option<&dyn FailoverView>,
        outcome: Outcome,
    ) -> Outcome {
        let fill = |this: &Self, reply: ObjectReply| match reply {
            ObjectReply::Object { handle, .. } => {
                match this
                    .by_handle
                    .get(&handle)
                    .and_then(|r| this.values(engine, failover, r))
                {
                    Some(values) => ObjectReply::Object { handle, values },
                    None => failed(Failure::no_handle()),
                }
            }
            other => other,
        };
        match outcome {
            Outcome::Reply(r) => Outcome::Reply(fill(self, r)),
            Outcome::Shutdown(r) => Outcome::Shutdown(fill(self, r)),
            Outcome::Persist {
                records,
                undo,
                reply,
                log,
            } => Outcome::Persist {
                records,
                undo,
                reply: fill(self, reply),
                log,
            },
        }
    }

    fn lookup(
        &mut self,
        engine: &Engine,
        failover: Option<&dyn FailoverView>,
        object_type: ObjectType,
        values: &Attributes,
    ) -> Result<ObjectRef, IscResult> {
        match object_type {
            // dhcp_control_lookup: there is one control object, found by anything.
            ObjectType::Control => Ok(ObjectRef::Control),
            ObjectType::Lease => self.lookup_lease(engine, values),
            ObjectType::Host => self.lookup_host(engine, values),
            ObjectType::Group => {
                let key = GroupKey::from_values(values)?;
                let by_handle = match key.handle {
                    None => Found::NotGiven,
                    Some(h) => match self.by_handle.get(&h) {
                        Some(ObjectRef::Group(n)) if engine.find_group(n).is_some() => {
                            Found::One(n.clone())
                        }
                        Some(ObjectRef::Group(_)) => Found::Missing,
                        Some(_) => return Err(IscResult::INVALIDARG),
                        None => return Err(IscResult::NOTFOUND),
                    },
                };
                let by_name = match &key.name {
                    None => Found::NotGiven,
                    Some(n) => match std::str::from_utf8(n)
                        .ok()
                        .and_then(|n| engine.find_group(n))
                    {
                        Some(g) => Found::One(g.name),
                        None => Found::Missing,
                    },
                };
                resolve([by_handle, by_name]).map(ObjectRef::Group)
            }
            ObjectType::FailoverState => {
                let key = FailoverStateKey::from_values(values)?;
                // Until failover is wired in, there is no relationship to find.
                let view = failover.ok_or(IscResult::NOTFOUND)?;
                let by_handle = match key.handle {
                    None => Found::NotGiven,
                    Some(h) => match self.by_handle.get(&h) {
                        Some(ObjectRef::Failover(n)) => Found::One(n.clone()),
                        Some(_) => return Err(IscResult::INVALIDARG),
                        None => return Err(IscResult::NOTFOUND),
                    },
                };
                let by_name = match &key.name {
                    None => Found::NotGiven,
                    Some(n) => match view.state(n) {
                        Some(s) => Found::One(s.name),
                        None => Found::Missing,
                    },
                };
                resolve([by_handle, by_name]).map(ObjectRef::Failover)
            }
            // Registered by ISC, but Tandem has no such objects to offer.
            ObjectType::Pool
            | ObjectType::Class
            | ObjectType::Subclass
            | ObjectType::Subnet
            | ObjectType::SharedNetwork => Err(IscResult::NOTIMPLEMENTED),
        }
    }

    /// dhcp_lease_lookup: each key given must find the same lease.
    fn lookup_lease(&self, engine: &Engine, values: &Attributes) -> Result<ObjectRef, IscResult> {
        let key = LeaseKey::from_values(values)?;
        let by_handle = match key.handle {
            None => Found::NotGiven,
            Some(h) => match self.by_handle.get(&h) {
                Some(ObjectRef::Lease(a)) => Found::One(*a),
                Some(_) => return Err(IscResult::INVALIDARG),
                None => return Err(IscResult::NOTFOUND),
            },
        };
        let by_ip = match &key.ip_address {
            None => Found::NotGiven,
            Some(_) => match key.ipv4().and_then(|a| engine.lease(a)) {
                Some(l) => Found::One(l.addr),
                None => Found::Missing,
            },
        };
        let many = |leases: Vec<&Lease>| match leases.as_slice() {
            [] => Found::Missing,
            [one] => Found::One(one.addr),
            _ => Found::Multiple,
        };
        let by_uid = match &key.client_identifier {
            None => Found::NotGiven,
            Some(id) => many(engine.leases_by_client_id(id)),
        };
        let by_hw = match &key.hardware {
            None => Found::NotGiven,
            Some(hw) => many(engine.leases_by_hardware(hw.htype, &hw.address)),
        };
        resolve([by_handle, by_ip, by_uid, by_hw]).map(ObjectRef::Lease)
    }

    /// dhcp_host_lookup, key by key. `ip-address` is lenient as in ISC: it finds the lease
    /// with that address, then the host with the lease's hardware address, and only fails
    /// the lookup when no earlier key found a host.
    fn lookup_host(&self, engine: &Engine, values: &Attributes) -> Result<ObjectRef, IscResult> {
        let key = HostKey::from_values(values)?;
        let mut found: Option<String> = None;
        if let Some(h) = key.handle {
            match self.by_handle.get(&h) {
                Some(ObjectRef::Host(n)) => {
                    // A deleted host is dropped and the other keys decide.
                    if engine.find_host(HostQuery::Name(n)).is_some() {
                        found = Some(n.clone());
                    }
                }
                Some(_) => return Err(IscResult::INVALIDARG),
                None => return Err(IscResult::NOTFOUND),
            }
        }
        if let Some(id) = &key.client_identifier {
            strict(&mut found, engine.find_host(HostQuery::ClientId(id)))?;
        }
        if let Some(hw) = &key.hardware {
            let hit = engine.find_host(HostQuery::Hardware {
                htype: hw.htype,
                addr: &hw.address,
            });
            strict(&mut found, hit)?;
        }
        if let Some(ip) = &key.ip_address {
            let lease = <[u8; 4]>::try_from(ip.as_slice())
                .ok()
                .and_then(|a| engine.lease(Ipv4Addr::from(a)));
            match lease {
                None if found.is_none() => return Err(IscResult::NOTFOUND),
                None => {}
                Some(l) => {
                    let host = l.hardware.as_ref().and_then(|hw| {
                        engine.find_host(HostQuery::Hardware {
                            htype: hw.htype,
                            addr: &hw.addr,
                        })
                    });
                    match (host, &found) {
                        (Some(h), Some(f)) if h.spec.name != *f => {
                            return Err(IscResult::KEYCONFLICT)
                        }
                        (None, None) => return Err(IscResult::NOTFOUND),
                        (Some(h), None) => found = Some(h.spec.name),
                        _ => {}
                    }
                }
            }
        }
        if let Some(name) = &key.name {
            let hit = std::str::from_utf8(name)
                .ok()
                .and_then(|n| engine.find_host(HostQuery::Name(n)));
            strict(&mut found, hit)?;
        }
        found.map(ObjectRef::Host).ok_or(IscResult::NOKEYS)
    }

    /// The object's values as ISC sends them; `None` when it no longer exists.
    fn values(
        &self,
        engine: &Engine,
        failover: Option<&dyn FailoverView>,
        r: &ObjectRef,
    ) -> Option<Attributes> {
        match r {
            ObjectRef::Control => Some(
                // A running dhcpd answers state 0 (it never moves the value on).
                ControlObject {
                    state: ControlState::Startup,
                }
                .to_values(),
            ),
            ObjectRef::Lease(a) => engine.lease(*a).map(|l| lease_object(l).to_values()),
            ObjectRef::Host(n) => engine
                .find_host(HostQuery::Name(n))
                .map(|h| host_object(&h.spec).to_values()),
            ObjectRef::Group(n) => engine
                .find_group(n)
                .map(|g| GroupObject { name: g.name }.to_values()),
            ObjectRef::Failover(n) => failover?.state(n.as_bytes()).map(|s| s.to_values()),
        }
    }

    /// Sets `values` on an existing object; `ok` is the answer on success.
    fn update(
        &mut self,
        engine: &mut Engine,
        failover: Option<&mut dyn FailoverView>,
        r: &ObjectRef,
        values: &Attributes,
        ok: ObjectReply,
    ) -> Outcome {
        match r {
            ObjectRef::Control => match shutdown_requested(values) {
                Ok(true) => Outcome::Shutdown(ok),
                Ok(false) => Outcome::Reply(ok),
                Err(e) => Outcome::Reply(cant_update(e)),
            },
            ObjectRef::Lease(_) => match LeaseChange::from_values(values) {
                Err(e) => Outcome::Reply(cant_update(e)),
                Ok(c) if c == LeaseChange::default() => Outcome::Reply(ok),
                // Changing leases over OMAPI (state, ends, flags, variables) is not
                // implemented: the engine and the failover peer own lease changes.
                Ok(_) => Outcome::Reply(cant_update(IscResult::NOTIMPLEMENTED)),
            },
            ObjectRef::Failover(name) => {
                let change = match FailoverStateChange::from_values(values) {
                    Ok(c) => c,
                    Err(e) => return Outcome::Reply(cant_update(e)),
                };
                let Some(view) = failover else {
                    return Outcome::Reply(failed(Failure::no_handle()));
                };
                match change.local_state {
                    None => Outcome::Reply(ok),
                    Some(s) => match view.set_local_state(name, requested_local_state(s)) {
                        Ok(()) => Outcome::Reply(ok),
                        Err(e) => Outcome::Reply(cant_update(e)),
                    },
                }
            }
            ObjectRef::Group(name) => match GroupChange::from_values(values) {
                Err(e) => Outcome::Reply(cant_update(e)),
                Ok(c) => {
                    // dhcp_group_set_value: a group's name and statements are set once.
                    let Some(g) = engine.find_group(name) else {
                        return Outcome::Reply(failed(Failure::no_handle()));
                    };
                    let renames = c.name.as_ref().is_some_and(|n| *n != g.name);
                    let restates = c.statements.is_some() && !g.statements.is_empty();
                    if renames || restates {
                        Outcome::Reply(cant_update(IscResult::EXISTS))
                    } else if c.statements.is_none() {
                        Outcome::Reply(ok)
                    } else {
                        // A group created without statements cannot exist (create refuses).
                        Outcome::Reply(cant_update(IscResult::EXISTS))
                    }
                }
            },
            ObjectRef::Host(name) => self.update_host(engine, name, values, ok),
        }
    }

    fn update_host(
        &mut self,
        engine: &mut Engine,
        name: &str,
        values: &Attributes,
        ok: ObjectReply,
    ) -> Outcome {
        let change = match HostChange::from_values(values) {
            Ok(c) => c,
            Err(e) => return Outcome::Reply(cant_update(e)),
        };
        let Some(current) = engine.find_host(HostQuery::Name(name)) else {
            return Outcome::Reply(failed(Failure::no_handle()));
        };
        let mut spec = current.spec.clone();
        if let Err(e) = apply_host_change(&mut spec, &change, false) {
            return Outcome::Reply(cant_update(e));
        }
        if spec == current.spec {
            return Outcome::Reply(ok);
        }
        let mut snaps = vec![engine.host_snapshot(name)];
        if spec.name != name {
            snaps.push(engine.host_snapshot(&spec.name));
        }
        match engine.replace_host(name, spec.clone()) {
            Ok(record) => {
                self.rename_host(name, &spec.name);
                let mut records = Vec::new();
                if spec.name != name {
                    records.push(Record::Host(tombstone(name)));
                }
                records.push(Record::Host(record));
                Outcome::Persist {
                    records,
                    undo: Undo::Host(snaps),
                    reply: ok,
                    log: format!("OMAPI: host {} changed{}", spec.name, describe(&spec)),
                }
            }
            Err(e) => Outcome::Reply(cant_update(host_result(&e))),
        }
    }

    fn create(
        &mut self,
        engine: &mut Engine,
        object_type: ObjectType,
        values: &Attributes,
        now: u64,
    ) -> Outcome {
        match object_type {
            ObjectType::Host => {
                let change = match HostChange::from_values(values) {
                    Ok(c) => c,
                    Err(e) => return Outcome::Reply(cant_update(e)),
                };
                // "There must be a client identifier of some sort."
                if let Err(e) = change.check_identified() {
                    return Outcome::Reply(cant_update(e));
                }
                let mut spec = HostSpec::default();
                if let Err(e) = apply_host_change(&mut spec, &change, true) {
                    return Outcome::Reply(cant_update(e));
                }
                if spec.name.is_empty() {
                    self.unique += 1;
                    spec.name = host::generated_name(now as i64, self.unique);
                }
                let snap = engine.host_snapshot(&spec.name);
                match engine.add_host(spec.clone()) {
                    Ok(record) => {
                        let handle = self.handle_of(ObjectRef::Host(spec.name.clone()));
                        Outcome::Persist {
                            records: vec![Record::Host(record)],
                            undo: Undo::Host(vec![snap]),
                            reply: ObjectReply::Object {
                                handle,
                                values: host_object(&spec).to_values(),
                            },
                            log: format!("OMAPI: host {} created{}", spec.name, describe(&spec)),
                        }
                    }
                    Err(e) => Outcome::Reply(cant_update(host_result(&e))),
                }
            }
            ObjectType::Group => {
                let change = match GroupChange::from_values(values) {
                    Ok(c) => c,
                    Err(e) => return Outcome::Reply(cant_update(e)),
                };
                // dhcp_group_signal_handler: a new group needs statements.
                let Some(statements) = change.statements else {
                    return Outcome::Reply(cant_update(IscResult::INVALIDARG));
                };
                let name = change.name.unwrap_or_else(|| {
                    self.unique += 1;
                    group::generated_name(now as i64, self.unique)
                });
                let spec = GroupSpec {
                    name: name.clone(),
                    statements: vec![statements],
                };
                let snap = engine.group_snapshot(&name);
                match engine.add_group(spec) {
                    Ok(text) => {
                        let handle = self.handle_of(ObjectRef::Group(name.clone()));
                        Outcome::Persist {
                            records: vec![Record::Other(text)],
                            undo: Undo::Group(snap),
                            reply: ObjectReply::Object {
                                handle,
                                values: GroupObject { name: name.clone() }.to_values(),
                            },
                            log: format!("OMAPI: group {name} created"),
                        }
                    }
                    Err(e) => Outcome::Reply(cant_update(host_result(&e))),
                }
            }
            // Control and failover-state always exist or never do; leases come from
            // ranges: ISC has no create method for them.
            ObjectType::Control => Outcome::Reply(failed(Failure::cant_create(IscResult::NOPERM))),
            _ => Outcome::Reply(failed(Failure::cant_create(IscResult::NOTIMPLEMENTED))),
        }
    }

    fn delete(&mut self, engine: &mut Engine, r: &ObjectRef) -> Outcome {
        let refuse = |res| Outcome::Reply(failed(Failure::remove_failed(res)));
        match r {
            ObjectRef::Host(name) => {
                let snap = engine.host_snapshot(name);
                match engine.remove_host(name) {
                    Ok(record) => Outcome::Persist {
                        records: vec![Record::Host(record)],
                        undo: Undo::Host(vec![snap]),
                        reply: ObjectReply::Done,
                        log: format!("OMAPI: host {name} removed"),
                    },
                    Err(e) => refuse(host_result(&e)),
                }
            }
            ObjectRef::Group(name) => {
                let snap = engine.group_snapshot(name);
                match engine.remove_group(name) {
                    Ok(text) => Outcome::Persist {
                        records: vec![Record::Other(text)],
                        undo: Undo::Group(snap),
                        reply: ObjectReply::Done,
                        log: format!("OMAPI: group {name} removed"),
                    },
                    Err(e) => refuse(host_result(&e)),
                }
            }
            ObjectRef::Control => refuse(IscResult::NOPERM),
            ObjectRef::Lease(_) | ObjectRef::Failover(_) => refuse(IscResult::NOTIMPLEMENTED),
        }
    }
}

/// A key of dhcp_host_lookup that must find a host, the same as the keys before it.
fn strict(found: &mut Option<String>, hit: Option<HostInfo>) -> Result<(), IscResult> {
    match (hit, found.as_ref()) {
        (Some(h), Some(f)) if h.spec.name != *f => Err(IscResult::KEYCONFLICT),
        (None, _) => Err(IscResult::NOTFOUND),
        (Some(h), None) => {
            *found = Some(h.spec.name);
            Ok(())
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

/// A shorter-lived `Option<&mut dyn FailoverView>` from a longer one.
fn reborrow<'s>(f: &'s mut Option<&mut dyn FailoverView>) -> Option<&'s mut dyn FailoverView> {
    match f {
        Some(v) => Some(&mut **v),
        None => None,
    }
}

#[derive(Clone, Copy, Debug)]
struct Flags {
    create: bool,
    update: bool,
    exclusive: bool,
}

fn tombstone(name: &str) -> tandem_lease::HostRecord {
    tandem_lease::HostRecord {
        name: name.to_string(),
        deleted: true,
        hardware: None,
        uid: None,
        fixed_address: None,
        statements: Vec::new(),
    }
}

/// dhcp_host_set_value's rules on a host (`fresh`: being created): name, hardware address
/// and client identifier are set once (`ISC_R_EXISTS` for a different value later);
/// `statements` once too; `ip-address` replaces the fixed addresses (4 bytes each; the
/// null value removes them).
fn apply_host_change(spec: &mut HostSpec, c: &HostChange, fresh: bool) -> Result<(), IscResult> {
    if let Some(n) = &c.name {
        if !fresh && !spec.name.is_empty() && *n != spec.name {
            return Err(IscResult::EXISTS);
        }
        spec.name = n.clone();
    }
    if let Some(addr) = &c.hardware_address {
        let htype = c
            .hardware_type
            .or(spec.hardware.as_ref().map(|h| h.htype))
            .unwrap_or(HTYPE_ETHER);
        let hw = Hardware {
            htype,
            addr: addr.clone(),
        };
        if spec.hardware.as_ref().is_some_and(|h| *h != hw) {
            return Err(IscResult::EXISTS);
        }
        spec.hardware = Some(hw);
    } else if let Some(t) = c.hardware_type {
        if let Some(hw) = spec.hardware.as_mut() {
            hw.htype = t;
        }
    }
    if let Some(id) = &c.client_identifier {
        if spec.client_id.as_ref().is_some_and(|cur| cur != id) {
            return Err(IscResult::EXISTS);
        }
        spec.client_id = Some(id.clone());
    }
    if let Some(ip) = &c.ip_address {
        spec.fixed_addresses = match ip {
            None => Vec::new(),
            Some(bytes) => {
                if bytes.is_empty() || !bytes.chunks_exact(4).remainder().is_empty() {
                    return Err(IscResult::INVALIDARG);
                }
                bytes
                    .chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect()
            }
        };
    }
    if let Some(s) = &c.statements {
        if !spec.statements.is_empty() {
            return Err(IscResult::EXISTS);
        }
        spec.statements = vec![s.clone()];
    }
    if let Some(g) = &c.group {
        spec.group = Some(g.clone());
    }
    Ok(())
}

fn describe(spec: &HostSpec) -> String {
    let mut s = String::new();
    if let Some(hw) = &spec.hardware {
        let hex: Vec<String> = hw.addr.iter().map(|b| format!("{b:02x}")).collect();
        s.push_str(&format!(" hardware {}", hex.join(":")));
    }
    if let Some(id) = &spec.client_id {
        let hex: Vec<String> = id.iter().map(|b| format!("{b:02x}")).collect();
        s.push_str(&format!(" uid {}", hex.join(":")));
    }
    for a in &spec.fixed_addresses {
        s.push_str(&format!(" fixed-address {a}"));
    }
    s
}

/// A host as `dhcp_host_stuff_values` reports it.
pub fn host_object(spec: &HostSpec) -> HostObject {
    HostObject {
        ip_address: (!spec.fixed_addresses.is_empty()).then(|| {
            spec.fixed_addresses
                .iter()
                .flat_map(|a| a.octets())
                .collect()
        }),
        client_identifier: spec.client_id.clone(),
        name: Some(spec.name.clone()),
        hardware: spec.hardware.as_ref().map(|h| objects::Hardware {
            htype: h.htype,
            address: h.addr.clone(),
        }),
    }
}

/// A lease as `dhcp_lease_stuff_values` reports it. Tandem has no subnet or pool objects:
/// their handles are 0.
pub fn lease_object(l: &Lease) -> LeaseObject {
    let t = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    // ISC's flags: BOOTP_LEASE 2, RESERVED_LEASE 4.
    let flags = (u8::from(l.bootp) << 1) | (u8::from(l.reserved) << 2);
    LeaseObject {
        state: l.binding_state as u32,
        ip_address: l.addr,
        client_identifier: l.uid.clone().unwrap_or_default(),
        client_hostname: l.client_hostname.clone(),
        host: None,
        subnet: 0,
        pool: 0,
        billing_class: None,
        hardware: l.hardware.as_ref().map(|h| objects::Hardware {
            htype: h.htype,
            address: h.addr.clone(),
        }),
        ends: t(l.ends),
        starts: t(l.starts),
        tstp: t(l.tstp),
        tsfp: t(l.tsfp),
        atsfp: t(l.atsfp),
        cltt: t(l.cltt),
        flags,
        variables: l
            .vars
            .iter()
            .map(|(n, v)| (n.clone(), scope_value(v)))
            .collect(),
    }
}

/// A lease-file variable's source text (`"text"`, `%123`, `true`/`false`) as the value
/// ISC's binding scope holds.
fn scope_value(text: &str) -> ScopeValue {
    match text {
        "true" => return ScopeValue::Boolean(true),
        "false" => return ScopeValue::Boolean(false),
        _ => {}
    }
    if let Some(n) = text.strip_prefix('%').and_then(|n| n.parse::<i64>().ok()) {
        return ScopeValue::Numeric(n);
    }
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return ScopeValue::Data(unescape(inner));
    }
    // Colon-separated hex octets.
    let octets: Option<Vec<u8>> = text
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    ScopeValue::Data(octets.unwrap_or_else(|| text.as_bytes().to_vec()))
}

/// ISC's quoting: `\"`, `\\` and `\ooo` octal.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            let octal = b
                .get(i + 1..i + 4)
                .filter(|d| d.iter().all(|x| (b'0'..=b'7').contains(x)))
                .map(|d| d.iter().fold(0u32, |acc, x| acc * 8 + u32::from(x - b'0')));
            match (octal, b.get(i + 1)) {
                (Some(v), _) => {
                    out.push(v as u8);
                    i += 4;
                }
                (None, Some(&next)) => {
                    out.push(next);
                    i += 2;
                }
                (None, None) => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
