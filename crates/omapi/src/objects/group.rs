//! `group`: a named group of statements that hosts can join (common/comapi.c
//! `dhcp_group_*`).
//!
//! Lookup by `handle` or `name`; deleted groups are not found. A created group needs
//! `statements` (`DHCP_R_INVALIDARG` otherwise) and gets `ng<time><address>` when it has
//! no name; it is written to the lease file (`group NAME { ... }`). Removing marks it
//! deleted.

use super::{bytes_key, handle_key};
use crate::result::IscResult;
use crate::wire::{Attributes, Value};

/// What a `group` open or refresh reports: only `name` (text). The statements are never
/// sent back (omshell shows them only because it keeps what it set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupObject {
    pub name: String,
}

impl GroupObject {
    pub fn to_values(&self) -> Attributes {
        Attributes::new().with("name", Value::string(&self.name))
    }
}

/// Lookup keys of an open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupKey {
    pub handle: Option<u32>,
    pub name: Option<Vec<u8>>,
}

impl GroupKey {
    /// `DHCP_R_NOKEYS` when neither `handle` nor `name` is given.
    pub fn from_values(values: &Attributes) -> Result<GroupKey, IscResult> {
        let key = GroupKey {
            handle: handle_key(values)?,
            name: bytes_key(values, "name"),
        };
        if key == GroupKey::default() {
            return Err(IscResult::NOKEYS);
        }
        Ok(key)
    }
}

/// Values set by a create or an update (`dhcp_group_set_value`). A second `name` or
/// `statements` on a group that has them is `ISC_R_EXISTS` (the application's check).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupChange {
    pub name: Option<String>,
    /// dhcpd.conf statements (a parse failure is `DHCP_R_BADPARSE`).
    pub statements: Option<String>,
}

impl GroupChange {
    /// Non-text values → `DHCP_R_INVALIDARG`; other names → `ISC_R_NOTFOUND`.
    pub fn from_values(values: &Attributes) -> Result<GroupChange, IscResult> {
        let mut c = GroupChange::default();
        for (name, value) in values.iter() {
            let text = value
                .as_str()
                .filter(|_| !value.is_null())
                .map(str::to_string)
                .ok_or(IscResult::INVALIDARG);
            match name {
                "name" => c.name = Some(text?),
                "statements" => c.statements = Some(text?),
                _ => return Err(IscResult::NOTFOUND),
            }
        }
        Ok(c)
    }
}

/// The name ISC gives a group created without one.
pub fn generated_name(now: i64, unique: u64) -> String {
    format!("ng{:08x}{:08x}", now as u64, unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_rules() {
        let c = GroupChange::from_values(
            &Attributes::new()
                .with("name", Value::string("g1"))
                .with("statements", Value::string("default-lease-time 300;")),
        )
        .unwrap();
        assert_eq!(c.name.as_deref(), Some("g1"));
        assert_eq!(
            GroupChange::from_values(&Attributes::new().with("x", Value::int(1))),
            Err(IscResult::NOTFOUND)
        );
        assert_eq!(
            GroupKey::from_values(&Attributes::new()),
            Err(IscResult::NOKEYS)
        );
        assert_eq!(
            GroupObject { name: "g1".into() }.to_values(),
            Attributes::new().with("name", Value::string("g1"))
        );
    }
}
