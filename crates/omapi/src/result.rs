//! ISC result codes as they travel in the `result` value of an OMAPI status message.
//!
//! ISC's `isc_result_t` is a 32-bit number: the libisc codes are small integers
//! (`ISC_R_NOTFOUND` = 23), and the DHCP codes live in result class 6
//! (`ISC_RESULTCLASS_DHCP` = 6 << 16, so `DHCP_R_NOKEYS` = 0x0006_0009). omshell prints
//! `isc_result_totext(result)` ("can't open object: not found"), so a reply must carry the
//! very number dhcpd would send for omshell to print the same words. Captured: an open of a
//! missing lease answers `result = 00000017` (23), a message without a key on a keyed
//! server `00060009`, a bad signature `0006000b`.

use std::fmt;

/// Start of the DHCP result class: `ISC_RESULTCLASS_FROMNUM(6)`.
const DHCP_CLASS: u32 = 6 << 16;

/// An ISC result code (`isc_result_t`), as carried on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IscResult(pub u32);

impl IscResult {
    pub const SUCCESS: Self = Self(0);
    pub const NOMEMORY: Self = Self(1);
    pub const NOPERM: Self = Self(6);
    pub const EXISTS: Self = Self(18);
    pub const NOTFOUND: Self = Self(23);
    pub const FAILURE: Self = Self(25);
    pub const IOERROR: Self = Self(26);
    pub const NOTIMPLEMENTED: Self = Self(27);
    pub const UNEXPECTED: Self = Self(34);
    pub const NOTCONNECTED: Self = Self(40);

    pub const HOSTUNKNOWN: Self = Self(DHCP_CLASS);
    pub const VERSIONMISMATCH: Self = Self(DHCP_CLASS + 1);
    pub const PROTOCOLERROR: Self = Self(DHCP_CLASS + 2);
    pub const INVALIDARG: Self = Self(DHCP_CLASS + 3);
    pub const NOTYET: Self = Self(DHCP_CLASS + 4);
    pub const UNCHANGED: Self = Self(DHCP_CLASS + 5);
    pub const MULTIPLE: Self = Self(DHCP_CLASS + 6);
    pub const KEYCONFLICT: Self = Self(DHCP_CLASS + 7);
    pub const BADPARSE: Self = Self(DHCP_CLASS + 8);
    pub const NOKEYS: Self = Self(DHCP_CLASS + 9);
    pub const KEY_UNKNOWN: Self = Self(DHCP_CLASS + 10);
    pub const INVALIDKEY: Self = Self(DHCP_CLASS + 11);
    pub const INCOMPLETE: Self = Self(DHCP_CLASS + 12);
    pub const CONNRESET: Self = Self(DHCP_CLASS + 31);
    pub const UNKNOWNATTRIBUTE: Self = Self(DHCP_CLASS + 32);

    /// True for `ISC_R_SUCCESS`.
    pub fn is_success(self) -> bool {
        self == Self::SUCCESS
    }

    /// The text `isc_result_totext` gives (what omshell prints after "can't open object: "),
    /// for the codes an OMAPI server sends; `None` for others.
    pub fn text(self) -> Option<&'static str> {
        Some(match self {
            Self::SUCCESS => "success",
            Self::NOMEMORY => "out of memory",
            Self::NOPERM => "permission denied",
            Self::EXISTS => "already exists",
            Self::NOTFOUND => "not found",
            Self::FAILURE => "failure",
            Self::IOERROR => "I/O error",
            Self::NOTIMPLEMENTED => "not implemented",
            Self::UNEXPECTED => "unexpected error",
            Self::NOTCONNECTED => "socket is not connected",
            Self::HOSTUNKNOWN => "host unknown",
            Self::VERSIONMISMATCH => "protocol version mismatch",
            Self::PROTOCOLERROR => "protocol error",
            Self::INVALIDARG => "invalid argument",
            Self::NOTYET => "data not yet available",
            Self::UNCHANGED => "object unchanged",
            Self::MULTIPLE => "more than one object matches key",
            Self::KEYCONFLICT => "key conflict",
            Self::BADPARSE => "parse error(s) occurred",
            Self::NOKEYS => "no key specified",
            Self::KEY_UNKNOWN => "zone TSIG key not known",
            Self::INVALIDKEY => "invalid TSIG key",
            Self::INCOMPLETE => "operation in progress",
            Self::CONNRESET => "connection reset by peer",
            Self::UNKNOWNATTRIBUTE => "unknown attribute",
            _ => return None,
        })
    }
}

impl fmt::Display for IscResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.text() {
            Some(t) => write!(f, "{t} ({})", self.0),
            None => write!(f, "result {:#x}", self.0),
        }
    }
}

/// The `message` texts ISC's `omapi_message_process` (omapip/message.c) puts beside a
/// failing result. omshell does not print them, but other dhcpctl clients may log them.
pub mod text {
    /// Open: the lookup found nothing and `create` was not asked.
    pub const NO_MATCH: &str = "no object matches specification";
    /// Open: the lookup itself failed (anything but found / not found / no keys).
    pub const LOOKUP_FAILED: &str = "object lookup failed";
    /// Open with `create` and `exclusive`: the object already exists.
    pub const EXISTS: &str = "specified object already exists";
    /// Open with `create`: the object could not be made.
    pub const CANT_CREATE: &str = "can't create new object";
    /// Open with `create`/`update`, or an update message: setting the values failed.
    pub const CANT_UPDATE: &str = "can't update object";
    /// Refresh, update or delete of a handle nobody holds.
    pub const NO_HANDLE: &str = "no matching handle";
    /// Delete of an object type that cannot be removed.
    pub const NO_REMOVE: &str = "no remove method for object";
    /// Open of a type that has no lookup (ISC's internal types).
    pub const UNSEARCHABLE: &str = "unsearchable object type";
    /// Open with `create` but no `type`.
    pub const TYPE_REQUIRED: &str = "type required on create";
    /// A keyed server got a message with no authenticator.
    pub const NO_AUTHENTICATOR: &str = "No authenticator on message";
    /// Notify messages are not implemented by ISC either.
    pub const NOTIFY: &str = "notify not implemented yet";
    /// An authenticator other than the server's `omapi-key`.
    pub const CANT_SELECT_AUTH: &str = "can't select authenticator";
    /// An update message aimed at an authenticator.
    pub const CANT_UPDATE_AUTH: &str = "cannot update authenticator";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_captures() {
        assert_eq!(IscResult::NOTFOUND.0, 0x17);
        assert_eq!(IscResult::NOKEYS.0, 0x0006_0009);
        assert_eq!(IscResult::INVALIDKEY.0, 0x0006_000b);
        assert_eq!(IscResult::UNKNOWNATTRIBUTE.0, 393_248);
        assert_eq!(IscResult::NOKEYS.text(), Some("no key specified"));
        assert!(IscResult(0x1234_5678).text().is_none());
        assert_eq!(IscResult::NOTFOUND.to_string(), "not found (23)");
    }
}
