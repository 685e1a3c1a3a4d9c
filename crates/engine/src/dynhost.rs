//! Hosts and groups declared while the server runs (OMAPI `host` and `group` objects), and
//! the lease-file records that keep them across restarts.
//!
//! ISC keeps one host table for both kinds (server/mdb.c `enter_host`): a host created over
//! OMAPI is matched exactly like a `host` statement of dhcpd.conf, from the next packet on.
//! It is written to the lease file as `host NAME { dynamic; hardware ...; uid ...;
//! fixed-address ...; STATEMENTS }` and its removal as `host NAME { dynamic; deleted; }`
//! (server/db.c `write_host`). Rules kept here:
//! * "There must be a client identifier of some sort" (`dhcp_host_signal_handler`): a host
//!   needs a hardware address or a client identifier.
//! * Names are unique among live hosts; a dynamic host with the name of a dhcpd.conf host
//!   replaces it (ISC `enter_host` deletes the old one), and deleting a dhcpd.conf host over
//!   OMAPI leaves a tombstone that hides it on later starts too.
//! * Lookups by client identifier or hardware address find dhcpd.conf hosts first, then
//!   dynamic ones (ISC appends a new host to the end of the hash chain).
//! * A host's statements run after everything else; a named group's statements run just
//!   before the host's (the group is the host group's parent).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;

use tandem_config::{Host, HostAddr, Span, Stmt};
use tandem_lease::{Hardware, HostRecord, Lease};
use thiserror::Error;

use crate::table::hw_key;
use crate::Engine;

/// Engine host indices at and above this name dynamic hosts (index - base = slot); below it,
/// `Config::hosts`.
pub(crate) const DYNAMIC_BASE: usize = usize::MAX / 2;

/// A host declared at run time: what OMAPI sets and the lease file keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSpec {
    pub name: String,
    pub hardware: Option<Hardware>,
    /// The client identifier (option 61 value, type byte included).
    pub client_id: Option<Vec<u8>>,
    pub fixed_addresses: Vec<Ipv4Addr>,
    /// dhcpd.conf statements for the host's scope, as text (OMAPI `statements`).
    pub statements: Vec<String>,
    /// A named group created over OMAPI whose statements apply before the host's.
    pub group: Option<String>,
}

/// Where a host was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostOrigin {
    /// A `host` statement of dhcpd.conf.
    Config,
    /// Created over OMAPI (or restored from the lease file).
    Dynamic,
}

/// A host as lookups report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    pub spec: HostSpec,
    pub origin: HostOrigin,
}

/// How to find a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostQuery<'a> {
    Name(&'a str),
    ClientId(&'a [u8]),
    Hardware { htype: u8, addr: &'a [u8] },
}

/// A group created over OMAPI: a name and statements that hosts can join.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSpec {
    pub name: String,
    pub statements: Vec<String>,
}

/// What a host or group change was refused for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostError {
    /// ISC: "There must be a client identifier of some sort."
    #[error("host {0}: a host needs a hardware address or a client identifier")]
    NoIdentifier(String),
    #[error("a host or group needs a name")]
    NoName,
    #[error("a host named {0} exists")]
    Exists(String),
    #[error("no host named {0}")]
    NotFound(String),
    #[error("a group named {0} exists")]
    GroupExists(String),
    #[error("no group named {0}")]
    UnknownGroup(String),
    #[error("{name}: statements do not parse: {reason}")]
    BadStatements { name: String, reason: String },
}

/// The state of one host name, to undo a change whose lease-file write failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    name: String,
    dynamic: Option<HostSpec>,
    deleted: bool,
}

/// The state of one group name, for the same purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    name: String,
    group: Option<GroupSpec>,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct DynEntry {
    spec: HostSpec,
    /// The host in the configuration model's shape, for the engine's host code.
    decl: Host,
    statements: Vec<Stmt>,
}

#[derive(Debug, Clone)]
struct DynGroup {
    spec: GroupSpec,
    statements: Vec<Stmt>,
}

/// The run-time host table, consulted beside the configuration's hosts.
#[derive(Debug, Clone, Default)]
pub(crate) struct DynamicHosts {
    slots: Vec<Option<DynEntry>>,
    free: Vec<usize>,
    by_name: HashMap<String, usize>,
    /// Engine indices (DYNAMIC_BASE + slot), in the order the hosts were entered.
    by_uid: HashMap<Vec<u8>, Vec<usize>>,
    by_hw: HashMap<Vec<u8>, Vec<usize>>,
    /// Names deleted over OMAPI (tombstones): a dhcpd.conf host of that name stays hidden.
    deleted: HashSet<String>,
    groups: BTreeMap<String, DynGroup>,
    deleted_groups: BTreeSet<String>,
}

impl DynamicHosts {
    /// True when a dhcpd.conf host of this name must not match: deleted over OMAPI, or
    /// replaced by a dynamic host.
    pub fn hides(&self, name: &str) -> bool {
        (!self.deleted.is_empty() && self.deleted.contains(name))
            || (!self.by_name.is_empty() && self.by_name.contains_key(name))
    }

    pub fn by_uid(&self, uid: &[u8]) -> &[usize] {
        self.by_uid.get(uid).map_or(&[], Vec::as_slice)
    }

    pub fn by_hw(&self, htype: u8, addr: &[u8]) -> &[usize] {
        if self.by_hw.is_empty() {
            return &[];
        }
        self.by_hw
            .get(&hw_key(htype, addr))
            .map_or(&[], Vec::as_slice)
    }

    fn entry(&self, index: usize) -> Option<&DynEntry> {
        let slot = index.checked_sub(DYNAMIC_BASE)?;
        self.slots.get(slot)?.as_ref()
    }

    /// The host behind an engine index at or above [`DYNAMIC_BASE`].
    pub fn decl(&self, index: usize) -> Option<&Host> {
        self.entry(index).map(|e| &e.decl)
    }

    /// Statement lists to run for a dynamic host, outermost first (its group's, its own).
    pub fn bodies(&self, index: usize) -> Vec<&[Stmt]> {
        let Some(e) = self.entry(index) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(2);
        if let Some(g) = e.spec.group.as_ref().and_then(|g| self.groups.get(g)) {
            out.push(g.statements.as_slice());
        }
        out.push(e.statements.as_slice());
        out
    }

    fn insert(&mut self, spec: HostSpec, statements: Vec<Stmt>) {
        let decl = Host {
            name: spec.name.clone(),
            scope: 0,
            hardware: spec.hardware.clone(),
            client_id: spec.client_id.clone(),
            host_identifier: None,
            fixed_addresses: spec
                .fixed_addresses
                .iter()
                .copied()
                .map(HostAddr::Ip)
                .collect(),
            span: Span::default(),
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let index = DYNAMIC_BASE + slot;
        if let Some(uid) = &spec.client_id {
            self.by_uid.entry(uid.clone()).or_default().push(index);
        }
        if let Some(hw) = &spec.hardware {
            self.by_hw
                .entry(hw_key(hw.htype, &hw.addr))
                .or_default()
                .push(index);
        }
        self.by_name.insert(spec.name.clone(), slot);
        self.deleted.remove(&spec.name);
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(DynEntry {
                spec,
                decl,
                statements,
            });
        }
    }

    /// Takes the dynamic host `name` out of the indexes; no tombstone.
    fn take(&mut self, name: &str) -> Option<HostSpec> {
        let slot = self.by_name.remove(name)?;
        let entry = self.slots.get_mut(slot)?.take()?;
        let index = DYNAMIC_BASE + slot;
        let unlink = |map: &mut HashMap<Vec<u8>, Vec<usize>>, key: Vec<u8>| {
            if let Some(v) = map.get_mut(&key) {
                v.retain(|&i| i != index);
                if v.is_empty() {
                    map.remove(&key);
                }
            }
        };
        if let Some(uid) = &entry.spec.client_id {
            unlink(&mut self.by_uid, uid.clone());
        }
        if let Some(hw) = &entry.spec.hardware {
            unlink(&mut self.by_hw, hw_key(hw.htype, &hw.addr));
        }
        self.free.push(slot);
        Some(entry.spec)
    }

    fn spec(&self, name: &str) -> Option<&HostSpec> {
        let slot = *self.by_name.get(name)?;
        self.slots.get(slot)?.as_ref().map(|e| &e.spec)
    }
}

/// Parses dhcpd.conf statements for a host or group scope (ISC's `statements` value goes
/// through `parse_executable_statements`). Only executable statements are accepted: text
/// that would close the scope, declare something, or give the host an identity or address
/// is refused. Include statements are not followed.
pub fn parse_statements(text: &str) -> Result<Vec<Stmt>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    check_nesting(text)?;
    let wrapped = format!("host omapi-statements {{\n{text}\n}}\n");
    let cfg = tandem_config::parse_bytes_without_includes(wrapped.as_bytes())
        .map_err(|e| e.message.clone())?;
    let host = match cfg.hosts.as_slice() {
        [h] => h,
        _ => return Err("statements may not declare hosts".into()),
    };
    if host.hardware.is_some()
        || host.client_id.is_some()
        || host.host_identifier.is_some()
        || !host.fixed_addresses.is_empty()
    {
        return Err("hardware, uid and fixed-address are host attributes, not statements".into());
    }
    let global_clean = cfg.scopes.first().is_some_and(|s| s.statements.is_empty());
    if cfg.scopes.len() != 2 || !global_clean || !cfg.subnets.is_empty() || !cfg.keys.is_empty() {
        return Err("only statements for this scope are allowed".into());
    }
    cfg.scopes
        .get(host.scope)
        .map(|s| s.statements.clone())
        .ok_or_else(|| "statements were lost".into())
}

/// Refuses text whose braces would close the enclosing block: every `}` must close a `{`
/// of the text itself (strings and `#` comments skipped, as ISC's lexer does).
fn check_nesting(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some('\\') => {
                        chars.next();
                    }
                    Some('"') => break,
                    Some(_) => {}
                }
            },
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '{' => depth += 1,
            '}' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "unbalanced '}'".to_string())?;
            }
            _ => {}
        }
    }
    if depth == 0 {
        Ok(())
    } else {
        Err("unbalanced '{'".into())
    }
}

impl HostSpec {
    /// The record `write_host` gives: hardware, uid, the first fixed address (a list goes
    /// into a `fixed-address` statement), `group "NAME";`, then the statements.
    pub fn to_record(&self) -> HostRecord {
        let mut statements = Vec::new();
        let fixed_address = match self.fixed_addresses.as_slice() {
            [] => None,
            [one] => Some(*one),
            many => {
                let list: Vec<String> = many.iter().map(Ipv4Addr::to_string).collect();
                statements.push(format!("fixed-address {};", list.join(", ")));
                None
            }
        };
        if let Some(g) = &self.group {
            statements.push(format!("group {};", tandem_lease::quote(g.as_bytes())));
        }
        statements.extend(self.statements.iter().cloned());
        HostRecord {
            name: self.name.clone(),
            deleted: false,
            hardware: self.hardware.clone(),
            uid: self.client_id.clone(),
            fixed_address,
            statements,
        }
    }

    /// Back from a lease-file record (not a tombstone): `fixed-address` lists and the
    /// `group` line come out of the statements.
    pub fn from_record(r: &HostRecord) -> HostSpec {
        let mut spec = HostSpec {
            name: r.name.clone(),
            hardware: r.hardware.clone(),
            client_id: r.uid.clone(),
            fixed_addresses: r.fixed_address.into_iter().collect(),
            statements: Vec::new(),
            group: None,
        };
        for s in &r.statements {
            let t = s.trim();
            if let Some(list) = keyword_arg(t, "fixed-address") {
                let addrs: Option<Vec<Ipv4Addr>> =
                    list.split(',').map(|a| a.trim().parse().ok()).collect();
                if let Some(addrs) = addrs {
                    spec.fixed_addresses.extend(addrs);
                    continue;
                }
            }
            if let Some(g) = keyword_arg(t, "group") {
                spec.group = Some(unquote(g));
                continue;
            }
            spec.statements.push(s.clone());
        }
        spec
    }

    fn check(&self) -> Result<(), HostError> {
        if self.name.is_empty() {
            return Err(HostError::NoName);
        }
        let hw = self.hardware.as_ref().is_some_and(|h| !h.addr.is_empty());
        let id = self.client_id.as_ref().is_some_and(|i| !i.is_empty());
        if hw || id {
            Ok(())
        } else {
            Err(HostError::NoIdentifier(self.name.clone()))
        }
    }

    fn from_config(h: &Host) -> HostSpec {
        HostSpec {
            name: h.name.clone(),
            hardware: h.hardware.clone(),
            client_id: h.client_id.clone(),
            fixed_addresses: h
                .fixed_addresses
                .iter()
                .filter_map(|a| match a {
                    HostAddr::Ip(ip) => Some(*ip),
                    HostAddr::Name(_) => None,
                })
                .collect(),
            statements: Vec::new(),
            group: None,
        }
    }
}

impl GroupSpec {
    /// `group NAME { dynamic; STATEMENTS }` (server/db.c `write_group`), kept in the lease
    /// file among the records Tandem stores as text.
    pub fn to_record_text(&self) -> String {
        let mut out = format!(
            "group {} {{\n  dynamic;",
            tandem_lease::quote(self.name.as_bytes())
        );
        for s in &self.statements {
            out.push_str("\n        ");
            out.push_str(s);
        }
        out.push_str("\n}");
        out
    }

    /// The tombstone of a removed group.
    pub fn deleted_record_text(name: &str) -> String {
        format!(
            "group {} {{\n  dynamic;\n  deleted;\n}}",
            tandem_lease::quote(name.as_bytes())
        )
    }

    /// Reads a `group` record back: `Some((group, deleted))`, or `None` for text that is
    /// not a group record.
    pub fn from_record_text(text: &str) -> Option<(GroupSpec, bool)> {
        let rest = text.trim().strip_prefix("group")?;
        if !rest.starts_with(|c: char| c.is_whitespace()) {
            return None;
        }
        let rest = rest.trim_start();
        let (name, body) = if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"')?;
            (q.get(..end)?.to_string(), q.get(end + 1..)?)
        } else {
            let end = rest.find(|c: char| c.is_whitespace() || c == '{')?;
            (rest.get(..end)?.to_string(), rest.get(end..)?)
        };
        let body = body.trim().strip_prefix('{')?.strip_suffix('}')?;
        let mut deleted = false;
        let mut kept = String::new();
        for part in body.split_inclusive(';') {
            match part.trim() {
                "dynamic;" | "static;" => {}
                "deleted;" => deleted = true,
                _ => kept.push_str(part),
            }
        }
        let kept = kept.trim();
        let statements = if kept.is_empty() {
            Vec::new()
        } else {
            vec![kept.to_string()]
        };
        Some((GroupSpec { name, statements }, deleted))
    }
}

/// `KEYWORD ARG;` → `ARG`.
fn keyword_arg<'a>(s: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(keyword)?;
    if !rest.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    Some(rest.trim().strip_suffix(';')?.trim())
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

fn bad(name: &str, reason: String) -> HostError {
    HostError::BadStatements {
        name: name.to_string(),
        reason,
    }
}

fn parse_all(name: &str, texts: &[String]) -> Result<Vec<Stmt>, HostError> {
    let mut out = Vec::new();
    for t in texts {
        out.extend(parse_statements(t).map_err(|r| bad(name, r))?);
    }
    Ok(out)
}

impl Engine {
    /// Enters a dynamic host (ISC `enter_host` for an OMAPI host): it matches clients from
    /// the next packet on. Returns the lease-file record to persist.
    pub fn add_host(&mut self, spec: HostSpec) -> Result<HostRecord, HostError> {
        spec.check()?;
        if self.find_host(HostQuery::Name(&spec.name)).is_some() {
            return Err(HostError::Exists(spec.name));
        }
        self.enter(spec)
    }

    /// Replaces the host `name` (a dynamic one, or a dhcpd.conf one, which the dynamic host
    /// then hides, as ISC's `enter_host` does) with `spec`, which may carry a new name.
    pub fn replace_host(&mut self, name: &str, spec: HostSpec) -> Result<HostRecord, HostError> {
        spec.check()?;
        if self.find_host(HostQuery::Name(name)).is_none() {
            return Err(HostError::NotFound(name.to_string()));
        }
        if spec.name != name && self.find_host(HostQuery::Name(&spec.name)).is_some() {
            return Err(HostError::Exists(spec.name));
        }
        let statements = self.check_spec(&spec)?;
        let dynamic = &mut self.topo_mut().dynamic;
        dynamic.take(name);
        if spec.name != name {
            // The old name goes away for good (a dhcpd.conf host of that name too).
            dynamic.deleted.insert(name.to_string());
        }
        let record = spec.to_record();
        dynamic.insert(spec, statements);
        Ok(record)
    }

    fn check_spec(&self, spec: &HostSpec) -> Result<Vec<Stmt>, HostError> {
        if let Some(g) = &spec.group {
            if !self.topo().dynamic.groups.contains_key(g) {
                return Err(HostError::UnknownGroup(g.clone()));
            }
        }
        parse_all(&spec.name, &spec.statements)
    }

    fn enter(&mut self, spec: HostSpec) -> Result<HostRecord, HostError> {
        let statements = self.check_spec(&spec)?;
        let record = spec.to_record();
        self.topo_mut().dynamic.insert(spec, statements);
        Ok(record)
    }

    /// Deletes the host `name`, dynamic or from dhcpd.conf (ISC `delete_host`). Returns the
    /// tombstone record to persist.
    pub fn remove_host(&mut self, name: &str) -> Result<HostRecord, HostError> {
        if self.find_host(HostQuery::Name(name)).is_none() {
            return Err(HostError::NotFound(name.to_string()));
        }
        let dynamic = &mut self.topo_mut().dynamic;
        dynamic.take(name);
        dynamic.deleted.insert(name.to_string());
        Ok(HostRecord {
            name: name.to_string(),
            deleted: true,
            hardware: None,
            uid: None,
            fixed_address: None,
            statements: Vec::new(),
        })
    }

    /// The first live host matching `query`: dhcpd.conf hosts first, then dynamic ones.
    pub fn find_host(&self, query: HostQuery<'_>) -> Option<HostInfo> {
        let topo = self.topo();
        let dynamic = &topo.dynamic;
        let config_match = |h: &Host| match query {
            HostQuery::Name(n) => h.name == n,
            HostQuery::ClientId(id) => h.client_id.as_deref() == Some(id),
            HostQuery::Hardware { htype, addr } => h
                .hardware
                .as_ref()
                .is_some_and(|hw| hw.htype == htype && hw.addr == addr),
        };
        if let Some(h) = topo
            .config
            .hosts
            .iter()
            .find(|h| config_match(h) && !dynamic.hides(&h.name))
        {
            return Some(HostInfo {
                spec: HostSpec::from_config(h),
                origin: HostOrigin::Config,
            });
        }
        let spec = match query {
            HostQuery::Name(n) => dynamic.spec(n),
            HostQuery::ClientId(id) => dynamic
                .by_uid(id)
                .first()
                .and_then(|&i| dynamic.entry(i))
                .map(|e| &e.spec),
            HostQuery::Hardware { htype, addr } => dynamic
                .by_hw(htype, addr)
                .first()
                .and_then(|&i| dynamic.entry(i))
                .map(|e| &e.spec),
        }?;
        Some(HostInfo {
            spec: spec.clone(),
            origin: HostOrigin::Dynamic,
        })
    }

    /// Every dynamic host and every tombstone, as lease-file records (for rewrites).
    pub fn host_records(&self) -> Vec<HostRecord> {
        let dynamic = &self.topo().dynamic;
        let mut live: Vec<&DynEntry> = dynamic.slots.iter().flatten().collect();
        live.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        let mut out: Vec<HostRecord> = live.iter().map(|e| e.spec.to_record()).collect();
        let mut deleted: Vec<&String> = dynamic.deleted.iter().collect();
        deleted.sort();
        out.extend(deleted.into_iter().map(|name| HostRecord {
            name: name.clone(),
            deleted: true,
            hardware: None,
            uid: None,
            fixed_address: None,
            statements: Vec::new(),
        }));
        out
    }

    /// Every dynamic group and group tombstone, as the text of lease-file records.
    pub fn group_records(&self) -> Vec<String> {
        let dynamic = &self.topo().dynamic;
        let mut out: Vec<String> = dynamic
            .groups
            .values()
            .map(|g| g.spec.to_record_text())
            .collect();
        out.extend(
            dynamic
                .deleted_groups
                .iter()
                .map(|n| GroupSpec::deleted_record_text(n)),
        );
        out
    }

    /// Loads the hosts and groups of the lease file at startup (ISC reads them back with
    /// `enter_host`): groups first, then hosts; tombstones hide dhcpd.conf hosts. Records
    /// that cannot be entered are skipped and returned with the reason.
    pub fn restore_hosts<'a>(
        &mut self,
        hosts: impl IntoIterator<Item = &'a HostRecord>,
        groups: impl IntoIterator<Item = &'a str>,
    ) -> Vec<HostError> {
        let mut errors = Vec::new();
        for text in groups {
            let Some((spec, deleted)) = GroupSpec::from_record_text(text) else {
                continue;
            };
            let dynamic = &mut self.topo_mut().dynamic;
            if deleted {
                dynamic.groups.remove(&spec.name);
                dynamic.deleted_groups.insert(spec.name);
                continue;
            }
            match parse_all(&spec.name, &spec.statements) {
                Ok(statements) => {
                    dynamic.deleted_groups.remove(&spec.name);
                    dynamic
                        .groups
                        .insert(spec.name.clone(), DynGroup { spec, statements });
                }
                Err(e) => errors.push(e),
            }
        }
        for r in hosts {
            if r.deleted {
                let dynamic = &mut self.topo_mut().dynamic;
                dynamic.take(&r.name);
                dynamic.deleted.insert(r.name.clone());
                continue;
            }
            let spec = HostSpec::from_record(r);
            if let Err(e) = spec.check() {
                errors.push(e);
                continue;
            }
            // A later record for the same name replaces the earlier one (and a dhcpd.conf
            // host of that name), as ISC's `enter_host` does.
            self.topo_mut().dynamic.take(&spec.name);
            if let Err(e) = self.enter(spec) {
                errors.push(e);
            }
        }
        errors
    }

    /// The state of host `name`, to undo a change with [`Engine::restore_host_snapshot`].
    pub fn host_snapshot(&self, name: &str) -> HostSnapshot {
        let dynamic = &self.topo().dynamic;
        HostSnapshot {
            name: name.to_string(),
            dynamic: dynamic.spec(name).cloned(),
            deleted: dynamic.deleted.contains(name),
        }
    }

    /// Puts host `name` back as it was when the snapshot was taken.
    pub fn restore_host_snapshot(&mut self, snapshot: HostSnapshot) {
        let statements = snapshot
            .dynamic
            .as_ref()
            .and_then(|s| parse_all(&s.name, &s.statements).ok())
            .unwrap_or_default();
        let dynamic = &mut self.topo_mut().dynamic;
        dynamic.take(&snapshot.name);
        if let Some(spec) = snapshot.dynamic {
            dynamic.insert(spec, statements);
        }
        if snapshot.deleted {
            dynamic.deleted.insert(snapshot.name);
        } else {
            dynamic.deleted.remove(&snapshot.name);
        }
    }

    /// Creates a group (OMAPI `group` with `statements`). Returns the record text.
    pub fn add_group(&mut self, spec: GroupSpec) -> Result<String, HostError> {
        if spec.name.is_empty() {
            return Err(HostError::NoName);
        }
        if self.topo().dynamic.groups.contains_key(&spec.name) {
            return Err(HostError::GroupExists(spec.name));
        }
        let statements = parse_all(&spec.name, &spec.statements)?;
        let text = spec.to_record_text();
        let dynamic = &mut self.topo_mut().dynamic;
        dynamic.deleted_groups.remove(&spec.name);
        dynamic
            .groups
            .insert(spec.name.clone(), DynGroup { spec, statements });
        Ok(text)
    }

    /// Removes a group; hosts that named it keep their own statements only. Returns the
    /// tombstone's text.
    pub fn remove_group(&mut self, name: &str) -> Result<String, HostError> {
        let dynamic = &mut self.topo_mut().dynamic;
        if dynamic.groups.remove(name).is_none() {
            return Err(HostError::UnknownGroup(name.to_string()));
        }
        dynamic.deleted_groups.insert(name.to_string());
        Ok(GroupSpec::deleted_record_text(name))
    }

    pub fn find_group(&self, name: &str) -> Option<GroupSpec> {
        self.topo().dynamic.groups.get(name).map(|g| g.spec.clone())
    }

    /// The state of group `name`, to undo a change.
    pub fn group_snapshot(&self, name: &str) -> GroupSnapshot {
        let dynamic = &self.topo().dynamic;
        GroupSnapshot {
            name: name.to_string(),
            group: dynamic.groups.get(name).map(|g| g.spec.clone()),
            deleted: dynamic.deleted_groups.contains(name),
        }
    }

    pub fn restore_group_snapshot(&mut self, snapshot: GroupSnapshot) {
        let dynamic = &mut self.topo_mut().dynamic;
        dynamic.groups.remove(&snapshot.name);
        if let Some(spec) = snapshot.group {
            let statements = parse_all(&spec.name, &spec.statements).unwrap_or_default();
            dynamic
                .groups
                .insert(spec.name.clone(), DynGroup { spec, statements });
        }
        if snapshot.deleted {
            dynamic.deleted_groups.insert(snapshot.name);
        } else {
            dynamic.deleted_groups.remove(&snapshot.name);
        }
    }

    /// Leases with this client identifier (OMAPI lease lookup), in address order.
    pub fn leases_by_client_id(&self, uid: &[u8]) -> Vec<&Lease> {
        let table = self.table();
        table
            .by_uid(uid)
            .into_iter()
            .filter_map(|a| table.get(a).map(|e| &e.lease))
            .collect()
    }

    /// Leases with this hardware address, in address order.
    pub fn leases_by_hardware(&self, htype: u8, addr: &[u8]) -> Vec<&Lease> {
        let table = self.table();
        table
            .by_hw(&hw_key(htype, addr))
            .into_iter()
            .filter_map(|a| table.get(a).map(|e| &e.lease))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hw(last: u8) -> Hardware {
        Hardware {
            htype: 1,
            addr: vec![2, 0, 0, 0, 9, last],
        }
    }

    #[test]
    fn statements_parse_and_stay_inside_their_scope() {
        assert_eq!(parse_statements("  "), Ok(Vec::new()));
        let s = parse_statements("option domain-name \"x.test\"; default-lease-time 60;").unwrap();
        assert_eq!(s.len(), 2);
        for evil in [
            "} subnet 10.9.0.0 netmask 255.255.255.0 {",
            "option routers 10.0.0.1; }",
            "{",
            "hardware ethernet 02:00:00:00:00:01;",
            "fixed-address 10.0.0.9;",
            "\"unterminated",
            "option routers 10.0.0.1; # }",
        ] {
            // The comment case is harmless (the wrapper's brace is on its own line), and
            // must still parse; the others must be refused.
            let r = parse_statements(evil);
            if evil.contains('#') {
                assert!(r.is_ok(), "{evil}: {r:?}");
            } else {
                assert!(r.is_err(), "{evil} was accepted");
            }
        }
        assert!(
            parse_statements("if option host-name = \"a\" { option routers 10.0.0.1; }").is_ok()
        );
    }

    #[test]
    fn records_round_trip() {
        let spec = HostSpec {
            name: "h1".into(),
            hardware: Some(hw(1)),
            client_id: Some(vec![1, 2, 0, 0, 0, 9, 1]),
            fixed_addresses: vec![Ipv4Addr::new(10, 0, 0, 60), Ipv4Addr::new(10, 0, 1, 60)],
            statements: vec!["option domain-name \"a.test\";".into()],
            group: Some("g1".into()),
        };
        let r = spec.to_record();
        assert_eq!(r.fixed_address, None);
        assert_eq!(r.statements[0], "fixed-address 10.0.0.60, 10.0.1.60;");
        assert_eq!(r.statements[1], "group \"g1\";");
        assert_eq!(HostSpec::from_record(&r), spec);
        let single = HostSpec {
            fixed_addresses: vec![Ipv4Addr::new(10, 0, 0, 60)],
            group: None,
            ..spec
        };
        let r = single.to_record();
        assert_eq!(r.fixed_address, Some(Ipv4Addr::new(10, 0, 0, 60)));
        assert_eq!(HostSpec::from_record(&r), single);
    }

    #[test]
    fn group_records_round_trip() {
        let g = GroupSpec {
            name: "g 1".into(),
            statements: vec!["default-lease-time 60;".into()],
        };
        let text = g.to_record_text();
        assert_eq!(GroupSpec::from_record_text(&text), Some((g, false)));
        let t = GroupSpec::deleted_record_text("g2");
        assert_eq!(
            GroupSpec::from_record_text(&t).map(|(g, d)| (g.name, d)),
            Some(("g2".to_string(), true))
        );
        assert_eq!(GroupSpec::from_record_text("groupie x { }"), None);
        assert_eq!(GroupSpec::from_record_text("server-duid \"x\";"), None);
    }

    mod engine {
        use super::*;
        use crate::{Effect, Interface, Now, RxMeta};
        use std::net::SocketAddrV4;
        use std::sync::Arc;
        use tandem_wire::{Options, Packet};

        const CONF: &str = "
            ping-check false;
            default-lease-time 600;
            subnet 10.0.0.0 netmask 255.255.255.0 {
                range 10.0.0.100 10.0.0.110;
                option routers 10.0.0.1;
            }
            host fixed1 { hardware ethernet 02:00:00:00:09:05; fixed-address 10.0.0.50; }
        ";
        const NOW: Now = Now {
            wall: 1_700_000_000,
            mono_ms: 1_000,
        };

        fn engine() -> Engine {
            let cfg = tandem_config::parse_bytes_without_includes(CONF.as_bytes()).unwrap();
            let eth0 = Interface {
                index: 2,
                name: "eth0".into(),
                addrs: vec![(Ipv4Addr::new(10, 0, 0, 10), 24)],
                mac: vec![2, 0, 0, 0, 0, 0xfe],
            };
            let mut e = Engine::new(Arc::new(cfg), vec![eth0], Vec::new(), NOW).unwrap();
            let _ = e.tick(NOW);
            e
        }

        /// The address offered to a DHCPDISCOVER from `mac` (and the domain name option).
        fn offer(e: &mut Engine, mac: [u8; 6]) -> (Ipv4Addr, Option<Vec<u8>>) {
            let mut chaddr = [0u8; 16];
            chaddr[..6].copy_from_slice(&mac);
            let mut options = Options::default();
            options.insert(53, vec![1]);
            options.insert(55, vec![1, 3, 15]);
            let p = Packet {
                op: 1,
                htype: 1,
                hlen: 6,
                hops: 0,
                xid: 9,
                secs: 0,
                flags: 0,
                ciaddr: Ipv4Addr::UNSPECIFIED,
                yiaddr: Ipv4Addr::UNSPECIFIED,
                siaddr: Ipv4Addr::UNSPECIFIED,
                giaddr: Ipv4Addr::UNSPECIFIED,
                chaddr,
                sname: vec![],
                file: vec![],
                has_cookie: true,
                options,
            };
            let rx = RxMeta {
                ifindex: 2,
                src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
                dst: Ipv4Addr::BROADCAST,
            };
            let effects = e.handle_packet(NOW, &rx, &p.encode());
            let reply = effects
                .iter()
                .find_map(|x| match x {
                    Effect::Reply { bytes, .. } => Packet::decode(bytes).ok(),
                    _ => None,
                })
                .expect("an offer");
            (reply.yiaddr, reply.options.get(15).map(<[u8]>::to_vec))
        }

        fn spec(name: &str, last: u8, ip: Option<[u8; 4]>) -> HostSpec {
            HostSpec {
                name: name.into(),
                hardware: Some(hw(last)),
                fixed_addresses: ip.map(Ipv4Addr::from).into_iter().collect(),
                ..HostSpec::default()
            }
        }

        #[test]
        fn a_created_host_takes_effect_at_once_and_goes_away_on_removal() {
            let mut e = engine();
            let mac = [2, 0, 0, 0, 9, 1];
            let (before, _) = offer(&mut e, mac);
            assert!((100..=110).contains(&before.octets()[3]), "{before}");
            let mut s = spec("h1", 1, Some([10, 0, 0, 60]));
            s.statements = vec!["option domain-name \"h1.test\";".into()];
            let rec = e.add_host(s.clone()).unwrap();
            assert_eq!(rec.fixed_address, Some(Ipv4Addr::new(10, 0, 0, 60)));
            assert_eq!(
                offer(&mut e, mac),
                (Ipv4Addr::new(10, 0, 0, 60), Some(b"h1.test".to_vec()))
            );
            assert_eq!(e.add_host(s.clone()), Err(HostError::Exists("h1".into())));
            let found = e.find_host(HostQuery::Hardware {
                htype: 1,
                addr: &mac,
            });
            assert_eq!(
                found.map(|h| (h.spec, h.origin)),
                Some((s, HostOrigin::Dynamic))
            );
            let tomb = e.remove_host("h1").unwrap();
            assert!(tomb.deleted);
            assert_ne!(offer(&mut e, mac).0, Ipv4Addr::new(10, 0, 0, 60));
            assert_eq!(e.remove_host("h1"), Err(HostError::NotFound("h1".into())));
        }

        #[test]
        fn config_hosts_can_be_deleted_and_replaced_and_it_survives_restart() {
            let mut e = engine();
            let mac = [2, 0, 0, 0, 9, 5];
            assert_eq!(offer(&mut e, mac).0, Ipv4Addr::new(10, 0, 0, 50));
            assert_eq!(
                e.find_host(HostQuery::Name("fixed1")).map(|h| h.origin),
                Some(HostOrigin::Config)
            );
            // Deleting a dhcpd.conf host hides it.
            e.remove_host("fixed1").unwrap();
            assert_ne!(offer(&mut e, mac).0, Ipv4Addr::new(10, 0, 0, 50));
            // A dynamic host of that name comes back with another address.
            e.add_host(spec("fixed1", 5, Some([10, 0, 0, 51]))).unwrap();
            assert_eq!(offer(&mut e, mac).0, Ipv4Addr::new(10, 0, 0, 51));
            // Replace it, then restart from the records the engine would write.
            e.replace_host("fixed1", spec("fixed1", 5, Some([10, 0, 0, 52])))
                .unwrap();
            e.add_group(GroupSpec {
                name: "g".into(),
                statements: vec!["option domain-name \"g.test\";".into()],
            })
            .unwrap();
            let mut joined = spec("joined", 7, None);
            joined.group = Some("g".into());
            e.add_host(joined).unwrap();
            let records = e.host_records();
            let groups = e.group_records();
            let mut again = engine();
            let errors = again.restore_hosts(&records, groups.iter().map(String::as_str));
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(offer(&mut again, mac).0, Ipv4Addr::new(10, 0, 0, 52));
            let (addr, domain) = offer(&mut again, [2, 0, 0, 0, 9, 7]);
            assert!((100..=110).contains(&addr.octets()[3]));
            assert_eq!(domain, Some(b"g.test".to_vec()));
            // A tombstone alone hides the dhcpd.conf host on restart.
            again.remove_host("fixed1").unwrap();
            let mut third = engine();
            third.restore_hosts(&again.host_records(), std::iter::empty());
            assert!(third.find_host(HostQuery::Name("fixed1")).is_none());
            assert_ne!(offer(&mut third, mac).0, Ipv4Addr::new(10, 0, 0, 50));
        }

        #[test]
        fn dynamic_hosts_outlive_a_reload() {
            let mut e = engine();
            e.add_host(spec("h1", 1, Some([10, 0, 0, 60]))).unwrap();
            let cfg = tandem_config::parse_bytes_without_includes(CONF.as_bytes()).unwrap();
            e.reload(Arc::new(cfg), NOW).unwrap();
            assert_eq!(
                offer(&mut e, [2, 0, 0, 0, 9, 1]).0,
                Ipv4Addr::new(10, 0, 0, 60)
            );
        }

        #[test]
        fn refusals_and_snapshots() {
            let mut e = engine();
            let mut none = spec("x", 1, None);
            none.hardware = None;
            assert_eq!(e.add_host(none), Err(HostError::NoIdentifier("x".into())));
            let mut bad = spec("x", 1, None);
            bad.statements = vec!["} subnet 10.1.0.0 netmask 255.255.0.0 {".into()];
            assert!(matches!(
                e.add_host(bad),
                Err(HostError::BadStatements { .. })
            ));
            let mut orphan = spec("x", 1, None);
            orphan.group = Some("nope".into());
            assert_eq!(
                e.add_host(orphan),
                Err(HostError::UnknownGroup("nope".into()))
            );
            // Undo puts the previous state back exactly.
            let snap = e.host_snapshot("x");
            e.add_host(spec("x", 1, Some([10, 0, 0, 61]))).unwrap();
            e.restore_host_snapshot(snap);
            assert!(e.find_host(HostQuery::Name("x")).is_none());
            assert!(e.host_records().is_empty());
            let snap = e.host_snapshot("fixed1");
            e.remove_host("fixed1").unwrap();
            e.restore_host_snapshot(snap);
            assert_eq!(
                offer(&mut e, [2, 0, 0, 0, 9, 5]).0,
                Ipv4Addr::new(10, 0, 0, 50)
            );
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// OMAPI clients send any text as `statements`: parsing never panics, and text
            /// that is accepted never declares anything outside the host's scope.
            #[test]
            fn statement_text_stays_in_its_scope(
                parts in proptest::collection::vec(prop_oneof![
                    Just("{"), Just("}"), Just("\""), Just("#"), Just("\n"), Just(";"),
                    Just(" "), Just("option routers 10.0.0.1;"), Just("subnet 10.9.0.0 netmask 255.255.0.0"),
                    Just("host x"), Just("if true"), Just("default-lease-time 60;"), Just("\\"),
                ], 0..16)
            ) {
                let text: String = parts.concat();
                if parse_statements(&text).is_ok() {
                    prop_assert!(check_nesting(&text).is_ok());
                }
            }
        }
    }

    #[test]
    fn table_indexes_follow_inserts_and_removals() {
        let mut d = DynamicHosts::default();
        let a = HostSpec {
            name: "a".into(),
            hardware: Some(hw(1)),
            ..HostSpec::default()
        };
        let b = HostSpec {
            name: "b".into(),
            hardware: Some(hw(1)),
            client_id: Some(vec![7]),
            ..HostSpec::default()
        };
        d.insert(a, Vec::new());
        d.insert(b, Vec::new());
        let both = d.by_hw(1, &hw(1).addr).to_vec();
        assert_eq!(both.len(), 2);
        assert_eq!(d.decl(both[0]).map(|h| h.name.as_str()), Some("a"));
        assert_eq!(d.take("a").map(|s| s.name), Some("a".to_string()));
        assert_eq!(d.by_hw(1, &hw(1).addr).len(), 1);
        assert!(d.hides("b"));
        assert!(!d.hides("a"));
        assert_eq!(d.take("b").map(|s| s.name), Some("b".to_string()));
        assert!(d.by_uid(&[7]).is_empty());
        assert!(d.by_hw(1, &hw(1).addr).is_empty());
        assert!(d.decl(both[0]).is_none());
        assert!(d.decl(0).is_none());
    }
}
