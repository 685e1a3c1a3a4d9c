//! `lease`: one IPv4 lease (server/omapi.c `dhcp_lease_*`).
//!
//! Lookup keys, each of which must find the same lease: `handle`, `ip-address` (4 bytes),
//! `dhcp-client-identifier` (several leases with it → `DHCP_R_MULTIPLE`),
//! `hardware-address` with optional `hardware-type` (default Ethernet; several leases →
//! `DHCP_R_MULTIPLE`). Leases cannot be created or removed (`ISC_R_NOTIMPLEMENTED`).

use std::net::Ipv4Addr;

use super::{bytes_key, handle_key, Hardware};
use crate::result::IscResult;
use crate::wire::{Attributes, Value};

/// `FTS_LAST`: binding states run 1 (free) to 7 (backup).
pub const BINDING_STATE_MAX: u32 = 7;

/// Lease flags a client may see and set (`EPHEMERAL_FLAGS`: BOOTP_LEASE 2,
/// RESERVED_LEASE 4, MS_NULL_TERMINATION 8, UNICAST_BROADCAST_HACK 64).
pub const EPHEMERAL_FLAGS: u8 = 2 | 4 | 8 | 64;

/// A variable of the lease's binding scope (`set name = value;` in the lease file), as
/// `binding_scope_stuff_values` writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeValue {
    /// 4-byte integer 0/1.
    Boolean(bool),
    /// Its bytes.
    Data(Vec<u8>),
    /// 4-byte integer (low 32 bits).
    Numeric(i64),
}

/// What a `lease` open or refresh reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseObject {
    /// `state`: binding state, 4-byte integer (1 free, 2 active, 3 expired, 4 released,
    /// 5 abandoned, 6 reset, 7 backup).
    pub state: u32,
    /// `ip-address`: 4 bytes.
    pub ip_address: Ipv4Addr,
    /// `dhcp-client-identifier`: the client id bytes; omitted when empty.
    pub client_identifier: Vec<u8>,
    /// `client-hostname`: text; omitted when none.
    pub client_hostname: Option<String>,
    /// `host`: handle of the host declaration the lease belongs to; omitted when none.
    pub host: Option<u32>,
    /// `subnet`: handle of the subnet object (0 when none).
    pub subnet: u32,
    /// `pool`: handle of the pool object (0 when none).
    pub pool: u32,
    /// `billing-class`: handle of the billing class; omitted when none.
    pub billing_class: Option<u32>,
    /// `hardware-address` (bytes) then `hardware-type` (4-byte integer); omitted when none.
    pub hardware: Option<Hardware>,
    /// `ends`: 4-byte time (seconds since 1970, low 32 bits).
    pub ends: i64,
    /// `starts`: 4-byte time.
    pub starts: i64,
    /// `tstp`: time sent to the peer, 4-byte time.
    pub tstp: i64,
    /// `tsfp`: time the peer was told, 4-byte time.
    pub tsfp: i64,
    /// `atsfp`: time the peer acknowledged, 4-byte time.
    pub atsfp: i64,
    /// `cltt`: client's last transaction time, 4-byte time.
    pub cltt: i64,
    /// `flags`: ONE byte, masked with [`EPHEMERAL_FLAGS`].
    pub flags: u8,
    /// Then the binding scope's variables, in order.
    pub variables: Vec<(String, ScopeValue)>,
}

impl LeaseObject {
    /// The values in `dhcp_lease_stuff_values`' order.
    pub fn to_values(&self) -> Attributes {
        let mut v = Attributes::new()
            .with("state", Value::int(self.state))
            .with("ip-address", Value::ipv4(self.ip_address));
        if !self.client_identifier.is_empty() {
            v.push(
                "dhcp-client-identifier",
                Value::data(self.client_identifier.clone()),
            );
        }
        if let Some(h) = &self.client_hostname {
            v.push("client-hostname", Value::string(h));
        }
        if let Some(h) = self.host {
            v.push("host", Value::int(h));
        }
        v.push("subnet", Value::int(self.subnet));
        v.push("pool", Value::int(self.pool));
        if let Some(b) = self.billing_class {
            v.push("billing-class", Value::int(b));
        }
        if let Some(hw) = &self.hardware {
            hw.push_values(&mut v);
        }
        for (name, t) in [
            ("ends", self.ends),
            ("starts", self.starts),
            ("tstp", self.tstp),
            ("tsfp", self.tsfp),
            ("atsfp", self.atsfp),
            ("cltt", self.cltt),
        ] {
            v.push(name, Value::time(t));
        }
        v.push("flags", Value::data(vec![self.flags & EPHEMERAL_FLAGS]));
        for (name, value) in &self.variables {
            let value = match value {
                ScopeValue::Boolean(b) => Value::boolean(*b),
                ScopeValue::Data(d) => Value::data(d.clone()),
                ScopeValue::Numeric(n) => Value::int(*n as u32),
            };
            v.push(name.clone(), value);
        }
        v
    }
}

/// Lookup keys of an open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseKey {
    pub handle: Option<u32>,
    /// `ip-address` bytes as sent (omshell: `set ip-address = 10.0.0.100` sends 4 bytes).
    pub ip_address: Option<Vec<u8>>,
    pub client_identifier: Option<Vec<u8>>,
    pub hardware: Option<Hardware>,
}

impl LeaseKey {
    /// `DHCP_R_NOKEYS` when no key is given; `DHCP_R_INVALIDARG` for a malformed
    /// `hardware-type` or `handle`.
    pub fn from_values(values: &Attributes) -> Result<LeaseKey, IscResult> {
        let key = LeaseKey {
            handle: handle_key(values)?,
            ip_address: bytes_key(values, "ip-address"),
            client_identifier: bytes_key(values, "dhcp-client-identifier"),
            hardware: Hardware::lookup_key(values)?,
        };
        if key == LeaseKey::default() {
            return Err(IscResult::NOKEYS);
        }
        Ok(key)
    }

    /// The address, when `ip-address` is 4 bytes.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        let b: [u8; 4] = self.ip_address.as_deref()?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    }
}

/// What an update asks (`dhcp_lease_set_value`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseChange {
    /// `state`: move to this binding state (1..=7); the same state is "unchanged", which
    /// ISC counts as success.
    pub state: Option<u32>,
    /// `ends`: new end time.
    pub ends: Option<u32>,
    /// `flags`: new ephemeral flags (others are kept).
    pub flags: Option<u8>,
    /// Any other name: a binding-scope variable to set (and write to the lease file).
    pub variables: Attributes,
}

impl LeaseChange {
    /// ISC's verdicts: `ip-address`, `starts` and `pool` → `ISC_R_NOPERM`; `subnet` →
    /// `DHCP_R_INVALIDARG`; `dhcp-client-identifier`, `hostname`, `client-hostname`,
    /// `host`, `billing-class`, `hardware-address`, `hardware-type` → accepted, ignored;
    /// `state` outside 1..=7 or not 4 bytes → `DHCP_R_INVALIDARG`; `flags` as 1 byte (what
    /// the server sends) or a 4-byte integer (what omshell sends).
    pub fn from_values(values: &Attributes) -> Result<LeaseChange, IscResult> {
        let mut change = LeaseChange::default();
        for (name, value) in values.iter() {
            match name {
                "state" => {
                    let s = value.as_u32().ok_or(IscResult::INVALIDARG)?;
                    if !(1..=BINDING_STATE_MAX).contains(&s) {
                        return Err(IscResult::INVALIDARG);
                    }
                    change.state = Some(s);
                }
                "ends" => change.ends = Some(value.as_u32().ok_or(IscResult::INVALIDARG)?),
                "flags" => {
                    let f = match value.as_bytes() {
                        [b] => *b,
                        _ => value.as_u32().ok_or(IscResult::INVALIDARG)? as u8,
                    };
                    change.flags = Some(f & EPHEMERAL_FLAGS);
                }
                "ip-address" | "starts" | "pool" => return Err(IscResult::NOPERM),
                "subnet" => return Err(IscResult::INVALIDARG),
                "dhcp-client-identifier"
                | "hostname"
                | "client-hostname"
                | "host"
                | "billing-class"
                | "hardware-address"
                | "hardware-type" => {}
                other => change.variables.set(other, value.clone()),
            }
        }
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_change_rules() {
        assert_eq!(
            LeaseKey::from_values(&Attributes::new()),
            Err(IscResult::NOKEYS)
        );
        let k = LeaseKey::from_values(
            &Attributes::new().with("ip-address", Value::ipv4(Ipv4Addr::new(10, 0, 0, 100))),
        )
        .unwrap();
        assert_eq!(k.ipv4(), Some(Ipv4Addr::new(10, 0, 0, 100)));
        let c = LeaseChange::from_values(
            &Attributes::new()
                .with("state", Value::int(3))
                .with("flags", Value::int(0xff))
                .with("client-hostname", Value::string("x"))
                .with("my-var", Value::string("v")),
        )
        .unwrap();
        assert_eq!(c.state, Some(3));
        assert_eq!(c.flags, Some(EPHEMERAL_FLAGS));
        assert_eq!(c.variables.get("my-var"), Some(&Value::string("v")));
        for (name, err) in [
            ("ip-address", IscResult::NOPERM),
            ("starts", IscResult::NOPERM),
            ("subnet", IscResult::INVALIDARG),
        ] {
            assert_eq!(
                LeaseChange::from_values(&Attributes::new().with(name, Value::int(1))),
                Err(err)
            );
        }
        assert_eq!(
            LeaseChange::from_values(&Attributes::new().with("state", Value::int(8))),
            Err(IscResult::INVALIDARG)
        );
    }
}
