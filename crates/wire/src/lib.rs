//! DHCPv4 packets (RFC 2131 §2, RFC 2132, RFC 3396): validation first, then
//! decoding, and a reply encoder. No I/O.
//!
//! API contract (implemented in this crate):
//! - [`Packet::decode`] validates (length ≥ 236, op, magic cookie,
//!   hlen ≤ 16, well-formed options, option overload 52, RFC 3396
//!   concatenation of repeated options) and returns a [`Packet`] or a
//!   [`WireError`] naming what was wrong (used as a drop-counter label).
//! - [`Packet::encode`] writes a packet. For replies use
//!   [`Packet::encode_reply`], which puts 53 then 54 first, then the other
//!   options in the order given, fits the client's maximum size (option 57,
//!   never below 576), and uses option overload (52) into `file` then `sname`
//!   when the options field is full; options that still don't fit are dropped
//!   (and reported). [`Packet::encode_bootp_reply`] does the same for BOOTP
//!   clients, without overload, within ISC's BOOTP size.
//!
//! Decisions (see `decode.rs` for the rule beside each check):
//! - Fewer than 236 bytes (the fixed BOOTP header) is [`WireError::TooShort`].
//!   A packet whose vendor area does not start with the magic cookie is
//!   accepted only as a cookie-less BOOTP packet (`has_cookie == false`, no
//!   options) when that area is all zeros in its first four bytes (or absent,
//!   236-239 bytes); any other first four bytes are [`WireError::BadCookie`].
//!   ISC dhcpd would treat those as BOOTP with a foreign vendor format; we
//!   count and drop them instead.
//! - A missing END is tolerated (options run to the end of their area), as
//!   ISC's `parse_option_buffer` does; bytes after END are ignored.
//!   [`WireError::MissingEnd`] is therefore never produced by `decode`.
//! - Option 52 is consumed by the decoder (like PAD and END): it is not kept
//!   in [`Packet::options`]; `sname`/`file` are empty when they held options.
//! - A zero-length client identifier (61) is refused, as ISC's
//!   `validate_packet` does ([`WireError::EmptyClientId`]).
//! - `sname`/`file` text longer than its field (64/128) is truncated when
//!   encoding; the encoders never write options 0, 52 or 255 from `options`.

use std::fmt;
use std::net::Ipv4Addr;

mod decode;
mod encode;
mod options;
mod packet;
mod relay;

pub use relay::relay_suboptions;

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// RFC 2131 minimum a client must accept (and the floor for option 57).
pub const MIN_MESSAGE_SIZE: usize = 576;

pub const BOOTREQUEST: u8 = 1;
pub const BOOTREPLY: u8 = 2;
/// The broadcast bit of `flags` (RFC 2131 §2, figure 2).
pub const FLAG_BROADCAST: u16 = 0x8000;

/// Length of the fixed BOOTP header, op through file (ISC's
/// `DHCP_FIXED_NON_UDP`).
pub const FIXED_LEN: usize = 236;
/// IPv4 header (20, no options) plus UDP header (8).
pub const IP_UDP_OVERHEAD: usize = 28;
/// RFC 1542: BOOTP messages are at least 300 octets; every packet we
/// encode is zero-padded to this length (ISC's `BOOTP_MIN_LEN`).
pub const BOOTP_MIN_LEN: usize = 300;
/// RFC 951 vendor area size; the least room a BOOTP reply has for options.
pub const BOOTP_VENDOR_LEN: usize = 64;
/// Largest reply we build, IP and UDP headers included (ISC's
/// `DHCP_MTU_MAX`: a larger option 57 is honoured only up to this).
pub const MAX_REPLY_SIZE: usize = 1500;
/// Length of the `sname` field.
pub const SNAME_LEN: usize = 64;
/// Length of the `file` field.
pub const FILE_LEN: usize = 128;

/// Option codes used by name in the engine.
pub mod code {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTERS: u8 = 3;
    pub const DOMAIN_NAME_SERVERS: u8 = 6;
    pub const HOST_NAME: u8 = 12;
    pub const DOMAIN_NAME: u8 = 15;
    pub const BROADCAST_ADDRESS: u8 = 28;
    pub const REQUESTED_ADDRESS: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MESSAGE: u8 = 56;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const VENDOR_CLASS_ID: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const TFTP_SERVER_NAME: u8 = 66;
    pub const BOOTFILE_NAME: u8 = 67;
    pub const USER_CLASS: u8 = 77;
    pub const CLIENT_FQDN: u8 = 81;
    pub const RELAY_AGENT_INFO: u8 = 82;
    pub const CLIENT_ARCH: u8 = 93;
    pub const LINK_SELECTION: u8 = 118;
    pub const DOMAIN_SEARCH: u8 = 119;
    pub const CLASSLESS_ROUTES: u8 = 121;
    pub const END: u8 = 255;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

/// Why a packet was refused. `label()` gives a stable counter name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("packet too short ({0} bytes)")]
    TooShort(usize),
    #[error("bad magic cookie")]
    BadCookie,
    #[error("hardware address length {0} > 16")]
    BadHlen(u8),
    #[error("option {code} overruns the packet")]
    OptionOverrun { code: u8 },
    #[error("bad option overload value {0}")]
    BadOverload(u8),
    #[error("missing END option")]
    MissingEnd,
    #[error("bad op code {0}")]
    BadOp(u8),
    /// RFC 2132 §9.14 gives option 61 a minimum length of 2; ISC dhcpd
    /// drops a zero-length one (and accepts length 1).
    #[error("zero-length client identifier")]
    EmptyClientId,
}

/// Options in the order they arrived; a repeated code is concatenated into
/// one entry (RFC 3396).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub entries: Vec<(u8, Vec<u8>)>,
}

/// A decoded DHCP/BOOTP message. `sname` and `file` hold the fixed fields'
/// bytes up to the first NUL (empty when they carried overloaded options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    pub sname: Vec<u8>,
    pub file: Vec<u8>,
    /// False for a BOOTP packet (no cookie): then `options` is empty.
    pub has_cookie: bool,
    pub options: Options,
}

/// What `encode_reply` could not fit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodeReport {
    pub dropped: Vec<u8>,
    pub overloaded: bool,
}

impl MessageType {
    /// RFC 2132 §9.6 values 1-8; other values (lease query, bulk lease
    /// query, ...) are not DHCPv4 server messages we handle.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Discover,
            2 => Self::Offer,
            3 => Self::Request,
            4 => Self::Decline,
            5 => Self::Ack,
            6 => Self::Nak,
            7 => Self::Release,
            8 => Self::Inform,
            _ => return None,
        })
    }

    /// The name as ISC dhcpd writes it in its log lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discover => "DHCPDISCOVER",
            Self::Offer => "DHCPOFFER",
            Self::Request => "DHCPREQUEST",
            Self::Decline => "DHCPDECLINE",
            Self::Ack => "DHCPACK",
            Self::Nak => "DHCPNAK",
            Self::Release => "DHCPRELEASE",
            Self::Inform => "DHCPINFORM",
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl WireError {
    /// A stable label for drop counters (`tandem_dropped_total{reason=...}`).
    pub fn label(&self) -> &'static str {
        match self {
            Self::TooShort(_) => "too_short",
            Self::BadCookie => "bad_cookie",
            Self::BadHlen(_) => "bad_hlen",
            Self::OptionOverrun { .. } => "option_overrun",
            Self::BadOverload(_) => "bad_overload",
            Self::MissingEnd => "missing_end",
            Self::BadOp(_) => "bad_op",
            Self::EmptyClientId => "empty_client_id",
        }
    }
}

#[cfg(test)]
mod tests;
