//! DHCPv4 packets (RFC 2131 §2, RFC 2132, RFC 3396): validation first, then
//! decoding, and a reply encoder. No I/O.
//!
//! API contract (implemented in this crate):
//! - [`Packet::decode`] validates (length ≥ 240 incl. cookie, magic cookie,
//!   hlen ≤ 16, well-formed options, option overload 52, RFC 3396
//!   concatenation of repeated options) and returns a [`Packet`] or a
//!   [`WireError`] naming what was wrong (used as a drop-counter label).
//! - [`Packet::encode`] writes a packet. For replies use
//!   [`Packet::encode_reply`], which puts 53 then 54 first, then the other
//!   options in the order given, fits the client's maximum size (option 57,
//!   never below 576), and uses option overload (52) into `file` then `sname`
//!   when the options field is full; options that still don't fit are dropped
//!   (and reported).

use std::net::Ipv4Addr;

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// RFC 2131 minimum a client must accept (and the floor for option 57).
pub const MIN_MESSAGE_SIZE: usize = 576;

pub const BOOTREQUEST: u8 = 1;
pub const BOOTREPLY: u8 = 2;
/// The broadcast bit of `flags` (RFC 2131 §2, figure 2).
pub const FLAG_BROADCAST: u16 = 0x8000;

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

// The implementation (Options::get/insert/remove/iter, Packet accessors such as
// message_type(), hw_addr(), client_id(), requested_address(), server_id(),
// parameter_request_list(), max_message_size(), relay_agent_info(),
// link_selection(), and decode/encode/encode_reply) is written in this crate.
