//! The dhcpd objects OMAPI exposes, encoded value for value as ISC dhcpd 4.4 sends them, and
//! the rules by which it reads what a client sends.
//!
//! Each object has:
//! * a struct holding what the server reports, whose `to_values` gives the object values in
//!   ISC's order and encodings (the `*_stuff_values` functions of server/omapi.c,
//!   server/failover.c and common/comapi.c), ready for [`crate::ObjectReply::Object`];
//! * a `*Key` parsed from an open's values: the lookup keys ISC's `*_lookup` accepts;
//! * a `*Change` parsed from an update's (or a create's) values, with ISC's `*_set_value`
//!   verdict for each attribute.
//!
//! Encodings common to all (omapip/buffer.c): integers and times are 4 bytes big-endian
//! (times truncated to 32 bits), addresses their 4 bytes, names and text their bytes with no
//! terminator, references to other objects (`subnet`, `pool`, `host`, ...) the 4-byte handle.
//! omshell prints every received value as hex or as a quoted string (it cannot know the
//! type), e.g. `local-state = 00:00:00:02`, `client-hostname = "c1"`.

pub mod control;
pub mod failover_state;
pub mod group;
pub mod host;
pub mod lease;

use crate::result::IscResult;
use crate::wire::{Attributes, Value};

/// ISC's `HTYPE_ETHER`, the hardware type assumed when a lookup gives none.
pub const HTYPE_ETHER: u8 = 1;
/// `HARDWARE_ADDR_LEN`: the longest hardware address ISC stores.
pub const HARDWARE_ADDR_LEN: usize = 20;

/// A hardware address with its type, as ISC keys hosts and leases.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hardware {
    /// ARP hardware type (1 = Ethernet).
    pub htype: u8,
    pub address: Vec<u8>,
}

impl Hardware {
    /// `hardware-address` (the address bytes) then `hardware-type` (4-byte integer).
    fn push_values(&self, values: &mut Attributes) {
        values.push("hardware-address", Value::data(self.address.clone()));
        values.push("hardware-type", Value::int(u32::from(self.htype)));
    }

    /// The lookup form: `hardware-address`, with `hardware-type` as a 4-byte value whose
    /// first three bytes are zero (else `DHCP_R_INVALIDARG`), defaulting to Ethernet.
    fn lookup_key(values: &Attributes) -> Result<Option<Hardware>, IscResult> {
        let Some(address) = values.get("hardware-address") else {
            return Ok(None);
        };
        let htype = match values.get("hardware-type") {
            None => HTYPE_ETHER,
            Some(v) => match v.as_bytes() {
                [0, 0, 0, t] => *t,
                _ => return Err(IscResult::INVALIDARG),
            },
        };
        Ok(Some(Hardware {
            htype,
            address: address.as_bytes().to_vec(),
        }))
    }
}

/// A `handle` lookup key: the 4-byte handle of an object the client already holds.
fn handle_key(values: &Attributes) -> Result<Option<u32>, IscResult> {
    match values.get("handle") {
        None => Ok(None),
        Some(v) => v.as_u32().map(Some).ok_or(IscResult::INVALIDARG),
    }
}

fn bytes_key(values: &Attributes, name: &str) -> Option<Vec<u8>> {
    values.get(name).map(|v| v.as_bytes().to_vec())
}

/// What one lookup key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found<T> {
    /// The client did not give this key.
    NotGiven,
    /// The key matches nothing.
    Missing,
    /// The key matches this object.
    One(T),
    /// The key matches several objects (a client id or hardware address shared by leases).
    Multiple,
}

/// Combine lookup keys the way every ISC `*_lookup` does, in the order given: a key that
/// finds nothing gives `ISC_R_NOTFOUND`, two keys that find different objects
/// `DHCP_R_KEYCONFLICT`, an ambiguous key `DHCP_R_MULTIPLE`, and no key at all
/// `DHCP_R_NOKEYS`. (On `NOKEYS`, ISC's open goes on to create a blank object even without
/// the `create` flag; answering [`crate::Failure::no_match`] is the sane reading.)
pub fn resolve<T: PartialEq>(found: impl IntoIterator<Item = Found<T>>) -> Result<T, IscResult> {
    let mut current: Option<T> = None;
    for f in found {
        match f {
            Found::NotGiven => {}
            Found::Missing => return Err(IscResult::NOTFOUND),
            Found::Multiple => return Err(IscResult::MULTIPLE),
            Found::One(t) => match &current {
                Some(c) if *c != t => return Err(IscResult::KEYCONFLICT),
                Some(_) => {}
                None => current = Some(t),
            },
        }
    }
    current.ok_or(IscResult::NOKEYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_rules() {
        assert_eq!(resolve::<u32>([]), Err(IscResult::NOKEYS));
        assert_eq!(resolve([Found::NotGiven, Found::One(3)]), Ok(3));
        assert_eq!(resolve([Found::One(3), Found::One(3)]), Ok(3));
        assert_eq!(
            resolve([Found::One(3), Found::One(4)]),
            Err(IscResult::KEYCONFLICT)
        );
        assert_eq!(
            resolve([Found::One(3), Found::Missing]),
            Err(IscResult::NOTFOUND)
        );
        assert_eq!(resolve::<u32>([Found::Multiple]), Err(IscResult::MULTIPLE));
    }

    #[test]
    fn hardware_lookup_key() {
        let v = Attributes::new().with("hardware-address", Value::data(vec![2, 0, 0, 0, 1, 1]));
        assert_eq!(
            Hardware::lookup_key(&v),
            Ok(Some(Hardware {
                htype: 1,
                address: vec![2, 0, 0, 0, 1, 1]
            }))
        );
        let v2 = v.clone().with("hardware-type", Value::int(6));
        assert_eq!(
            Hardware::lookup_key(&v2).map(|h| h.map(|h| h.htype)),
            Ok(Some(6))
        );
        let v3 = v.with("hardware-type", Value::int(0x100));
        assert_eq!(Hardware::lookup_key(&v3), Err(IscResult::INVALIDARG));
        assert_eq!(Hardware::lookup_key(&Attributes::new()), Ok(None));
    }
}
