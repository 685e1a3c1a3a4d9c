//! `host`: a host declaration (server/omapi.c `dhcp_host_*`).
//!
//! Lookup keys, each of which must find the same host: `handle`, `dhcp-client-identifier`,
//! `hardware-address` (+ `hardware-type`, default Ethernet), `ip-address` (finds the lease
//! with that address, then the host with the lease's hardware address), `name`. Deleted
//! hosts are not found. omshell's `create` sends `create` + `exclusive`; the new host is
//! entered (and written to the lease file as `host NAME { dynamic; ... }`) once its values
//! are set, and must have a `hardware-address` or a `dhcp-client-identifier`
//! (`DHCP_R_INVALIDARG` otherwise); a host without `name` gets `nh<time><address>`.
//! `remove` deletes it (`delete_host`, written to the lease file as `deleted;`).

use super::{bytes_key, handle_key, Hardware, HARDWARE_ADDR_LEN};
use crate::result::IscResult;
use crate::wire::{Attributes, Value};

/// What a `host` open or refresh reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostObject {
    /// `ip-address`: the `fixed-address` list evaluated, 4 bytes per address; omitted when
    /// the host has none.
    pub ip_address: Option<Vec<u8>>,
    /// `dhcp-client-identifier`: bytes; omitted when none.
    pub client_identifier: Option<Vec<u8>>,
    /// `name`: text; omitted when none.
    pub name: Option<String>,
    /// `hardware-address` (bytes) then `hardware-type` (4-byte integer); omitted when none.
    pub hardware: Option<Hardware>,
}

impl HostObject {
    /// The values in `dhcp_host_stuff_values`' order. (`statements` and `group` are never
    /// sent back.)
    pub fn to_values(&self) -> Attributes {
        let mut v = Attributes::new();
        if let Some(ip) = &self.ip_address {
            v.push("ip-address", Value::data(ip.clone()));
        }
        if let Some(id) = &self.client_identifier {
            v.push("dhcp-client-identifier", Value::data(id.clone()));
        }
        if let Some(n) = &self.name {
            v.push("name", Value::string(n));
        }
        if let Some(hw) = &self.hardware {
            hw.push_values(&mut v);
        }
        v
    }
}

/// Lookup keys of an open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostKey {
    pub handle: Option<u32>,
    pub client_identifier: Option<Vec<u8>>,
    pub hardware: Option<Hardware>,
    pub ip_address: Option<Vec<u8>>,
    pub name: Option<Vec<u8>>,
}

impl HostKey {
    /// `DHCP_R_NOKEYS` when no key is given.
    pub fn from_values(values: &Attributes) -> Result<HostKey, IscResult> {
        let key = HostKey {
            handle: handle_key(values)?,
            client_identifier: bytes_key(values, "dhcp-client-identifier"),
            hardware: Hardware::lookup_key(values)?,
            ip_address: bytes_key(values, "ip-address"),
            name: bytes_key(values, "name"),
        };
        if key == HostKey::default() {
            return Err(IscResult::NOKEYS);
        }
        Ok(key)
    }
}

/// Values set on a host by a create or an update (`dhcp_host_set_value`).
///
/// ISC refuses to change what is already set: a second `name`, `hardware-address` or
/// `dhcp-client-identifier` → `ISC_R_EXISTS`, and `statements` on a host that has its own
/// → `ISC_R_EXISTS`. Those checks need the host, so they are the application's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostChange {
    /// `name`.
    pub name: Option<String>,
    /// `group`: name of a group object (unknown or deleted → `ISC_R_NOTFOUND`).
    pub group: Option<String>,
    /// `hardware-address`: at most 20 bytes.
    pub hardware_address: Option<Vec<u8>>,
    /// `hardware-type`: 4-byte integer (ISC keeps its low byte).
    pub hardware_type: Option<u8>,
    /// `dhcp-client-identifier`.
    pub client_identifier: Option<Vec<u8>>,
    /// `ip-address`: `Some(None)` for the null value, which removes the fixed address.
    pub ip_address: Option<Option<Vec<u8>>>,
    /// `statements`: dhcpd.conf statements for the host's scope (a parse failure is
    /// `DHCP_R_BADPARSE`).
    pub statements: Option<String>,
}

impl HostChange {
    /// Syntax-level verdicts: null or non-text values where text is needed and an over-long
    /// hardware address → `DHCP_R_INVALIDARG`; `known` is accepted and ignored; any other
    /// name → `DHCP_R_UNKNOWNATTRIBUTE`.
    pub fn from_values(values: &Attributes) -> Result<HostChange, IscResult> {
        let mut c = HostChange::default();
        for (name, value) in values.iter() {
            let text = || -> Result<String, IscResult> {
                if value.is_null() {
                    return Err(IscResult::INVALIDARG);
                }
                value
                    .as_str()
                    .map(str::to_string)
                    .ok_or(IscResult::INVALIDARG)
            };
            let bytes = || -> Result<Vec<u8>, IscResult> {
                if value.is_null() {
                    return Err(IscResult::INVALIDARG);
                }
                Ok(value.as_bytes().to_vec())
            };
            match name {
                "name" => c.name = Some(text()?),
                "group" => c.group = Some(text()?),
                "hardware-address" => {
                    let b = bytes()?;
                    if b.len() > HARDWARE_ADDR_LEN {
                        return Err(IscResult::INVALIDARG);
                    }
                    c.hardware_address = Some(b);
                }
                "hardware-type" => {
                    c.hardware_type = Some(value.as_u32().ok_or(IscResult::INVALIDARG)? as u8)
                }
                "dhcp-client-identifier" => c.client_identifier = Some(bytes()?),
                "ip-address" => {
                    c.ip_address = Some((!value.is_null()).then(|| value.as_bytes().to_vec()))
                }
                "statements" => c.statements = Some(text()?),
                "known" => {}
                _ => return Err(IscResult::UNKNOWNATTRIBUTE),
            }
        }
        Ok(c)
    }

    /// The check ISC makes when a host is entered ("There must be a client identifier of
    /// some sort"): `DHCP_R_INVALIDARG` without hardware address and client id.
    pub fn check_identified(&self) -> Result<(), IscResult> {
        let hw = self
            .hardware_address
            .as_ref()
            .is_some_and(|h| !h.is_empty());
        let id = self
            .client_identifier
            .as_ref()
            .is_some_and(|i| !i.is_empty());
        if hw || id {
            Ok(())
        } else {
            Err(IscResult::INVALIDARG)
        }
    }
}

/// The name ISC gives a host created without one: `nh` + time + a unique number, each as
/// at least 8 hex digits.
pub fn generated_name(now: i64, unique: u64) -> String {
    format!("nh{:08x}{:08x}", now as u64, unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_rules() {
        let v = Attributes::new()
            .with("name", Value::string("h1"))
            .with("hardware-address", Value::data(vec![2, 0, 0, 0, 3, 3]))
            .with("hardware-type", Value::int(1))
            .with("ip-address", Value::data(vec![10, 0, 0, 60]));
        let c = HostChange::from_values(&v).unwrap();
        assert_eq!(c.name.as_deref(), Some("h1"));
        assert_eq!(c.hardware_type, Some(1));
        assert_eq!(c.ip_address, Some(Some(vec![10, 0, 0, 60])));
        assert!(c.check_identified().is_ok());
        assert_eq!(
            HostChange::default().check_identified(),
            Err(IscResult::INVALIDARG)
        );
        assert_eq!(
            HostChange::from_values(&Attributes::new().with("ip-address", Value::null()))
                .map(|c| c.ip_address),
            Ok(Some(None))
        );
        assert_eq!(
            HostChange::from_values(&Attributes::new().with("frob", Value::int(1))),
            Err(IscResult::UNKNOWNATTRIBUTE)
        );
        assert_eq!(
            HostChange::from_values(
                &Attributes::new().with("hardware-address", Value::data(vec![0; 21]))
            ),
            Err(IscResult::INVALIDARG)
        );
        assert_eq!(generated_name(0x10, 0x20), "nh0000001000000020");
    }

    #[test]
    fn captured_host_reply_values() {
        // dhcpd's answer to `new host; set hardware-address = 02:00:00:00:02:02; open` for
        // `host fixed1 { hardware ethernet 02:00:00:00:02:02; fixed-address 10.0.0.50; }`.
        let h = HostObject {
            ip_address: Some(vec![10, 0, 0, 50]),
            client_identifier: None,
            name: Some("fixed1".into()),
            hardware: Some(Hardware {
                htype: 1,
                address: vec![2, 0, 0, 0, 2, 2],
            }),
        };
        let values = h.to_values();
        let names: Vec<&str> = values.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["ip-address", "name", "hardware-address", "hardware-type"]
        );
        assert_eq!(
            HostKey::from_values(&Attributes::new()),
            Err(IscResult::NOKEYS)
        );
    }
}
