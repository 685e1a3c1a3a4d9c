//! The failover wire format as ISC dhcpd 4.4 speaks it (isc-failover.md §1.2-§1.6).
//!
//! A message is a 12-byte header followed by TLV options:
//!
//! ```text
//! off size field
//!  0   2   length of the whole message, including these 2 bytes (12..=2048)
//!  2   1   message type (1..=12)
//!  3   1   payload offset: always 12 when we send (the draft's "8" is wrong, §1.2)
//!  4   4   sender's time, seconds since 1970
//!  8   4   xid
//! 12  ..   options: u16 code, u16 length, data (big-endian)
//! ```
//!
//! Messages are typed ([`Body`]): each message type has a struct holding the
//! options ISC keeps for it (`fto_allowed[]`, `stables.c:108-133`). Options a
//! message type does not use are skipped on receipt, as ISC does.
//!
//! # Decoding rules (§1.3; `do_a_failover_option` `fo.c:645-893`)
//!
//! 1. Length outside 12..=2048 → error (the connection must be dropped), `fo.c:454`.
//! 2. Type > 12 *with* options → error (`fo.c:661`); type 0, or an unknown type
//!    without options → [`Body::Unknown`], which the peer ignores.
//! 3. An option overrunning the message → error.
//! 4. Unknown option codes (0, > 29) are skipped.
//! 5. An option not used by this message type is skipped silently (before any
//!    size or duplicate check, as in ISC).
//! 6. The same (used) option twice → error (`fo.c:716`). This is why one BNDUPD
//!    carries exactly one binding.
//! 7. A fixed-size option of the wrong size → error (`fo.c:739-756`): u8 = 1,
//!    u16 = 2 (IP-flags), u32/IP = 4.
//! 8. Payload offset: ISC skips `payoff - 12` bytes. An offset below 12 (ISC's
//!    arithmetic goes negative, `fo.c:507`) or beyond the message → error.
//!
//! **DDNS (option 9), our decision.** ISC declares it fixed-size with size 0,
//! so any DDNS option in a BNDUPD/BNDACK kills the link (§1.3 rule 7: a
//! non-zero length fails the size check, and even a zero length fails as
//! "bad type"). We never send it. As a receiver we are lenient: option 9 is
//! skipped in every message type (the binding itself does not depend on it,
//! and DNS updates are not coordinated over failover by ISC either). The ISC
//! behaviour is kept as [`Dialect::Isc`], which the tests use to prove that
//! everything we encode is acceptable to ISC.
//!
//! **Vendor-specific options (29)** are ignored by ISC in every message. We
//! additionally read them in CONNECT and CONNECTACK (Tandem's pool digest,
//! see `peer.rs`); ISC skips them there, so sending them is harmless.
//!
//! # Encoding
//!
//! Options are written in the order ISC sends them (§1.6, `fo.c:4431-4871`);
//! options that ISC never sends but a message may carry come after them.

use std::net::Ipv4Addr;

use thiserror::Error;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 12;
/// Smallest message ISC accepts (`DHCP_FAILOVER_MIN_MESSAGE_SIZE`, `fo.h:191`).
pub const MIN_MESSAGE_LEN: usize = 12;
/// Largest message ISC accepts (`DHCP_FAILOVER_MAX_MESSAGE_SIZE`, `fo.h:192`).
pub const MAX_MESSAGE_LEN: usize = 2048;
/// The payload offset we always send (§1.2).
pub const PAYLOAD_OFFSET: u8 = 12;
/// Protocol version ISC sends in option 20 (`DHCP_FAILOVER_VERSION`, `fo.h:397`).
pub const PROTOCOL_VERSION: u8 = 1;
/// Server-flags bit: the sender is in STARTUP (`FTF_SERVER_STARTUP`, `fo.h:195`).
pub const FLAG_STARTUP: u8 = 0x01;
/// IP-flags bit RESERVE (`FTF_IP_FLAG_RESERVE`, `fo.h:204`).
pub const IP_FLAG_RESERVE: u16 = 0x0001;
/// IP-flags bit BOOTP (`FTF_IP_FLAG_BOOTP`, `fo.h:205`).
pub const IP_FLAG_BOOTP: u16 = 0x0002;

/// Message type codes (`fo.h:150-164`; draft §6.1). Note 7 = UPDREQALL and
/// 9 = UPDREQ (Wireshark has them swapped, §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    PoolReq = 1,
    PoolResp = 2,
    BndUpd = 3,
    BndAck = 4,
    Connect = 5,
    ConnectAck = 6,
    UpdReqAll = 7,
    UpdDone = 8,
    UpdReq = 9,
    State = 10,
    Contact = 11,
    Disconnect = 12,
}

impl MessageType {
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => MessageType::PoolReq,
            2 => MessageType::PoolResp,
            3 => MessageType::BndUpd,
            4 => MessageType::BndAck,
            5 => MessageType::Connect,
            6 => MessageType::ConnectAck,
            7 => MessageType::UpdReqAll,
            8 => MessageType::UpdDone,
            9 => MessageType::UpdReq,
            10 => MessageType::State,
            11 => MessageType::Contact,
            12 => MessageType::Disconnect,
            _ => return None,
        })
    }
    pub fn code(self) -> u8 {
        self as u8
    }
    /// ISC's name for the message (`dhcp_failover_message_name`, `fo.c:3833`).
    pub fn name(self) -> &'static str {
        match self {
            MessageType::PoolReq => "pool-request",
            MessageType::PoolResp => "pool-response",
            MessageType::BndUpd => "bind-update",
            MessageType::BndAck => "bind-ack",
            MessageType::Connect => "connect",
            MessageType::ConnectAck => "connect-ack",
            MessageType::UpdReqAll => "update-request-all",
            MessageType::UpdDone => "update-done",
            MessageType::UpdReq => "update-request",
            MessageType::State => "state",
            MessageType::Contact => "contact",
            MessageType::Disconnect => "disconnect",
        }
    }
}

/// Option codes (`fo.h:88-148`; draft §12).
pub mod opt {
    pub const ADDRESSES_TRANSFERRED: u16 = 1;
    pub const ASSIGNED_IP_ADDRESS: u16 = 2;
    pub const BINDING_STATUS: u16 = 3;
    pub const CLIENT_IDENTIFIER: u16 = 4;
    pub const CHADDR: u16 = 5;
    pub const CLTT: u16 = 6;
    pub const REPLY_OPTIONS: u16 = 7;
    pub const REQUEST_OPTIONS: u16 = 8;
    pub const DDNS: u16 = 9;
    pub const DELAYED_SERVICE: u16 = 10;
    pub const HBA: u16 = 11;
    pub const IP_FLAGS: u16 = 12;
    pub const LEASE_EXPIRY: u16 = 13;
    pub const MAX_UNACKED: u16 = 14;
    pub const MCLT: u16 = 15;
    pub const MESSAGE: u16 = 16;
    pub const MESSAGE_DIGEST: u16 = 17;
    pub const POTENTIAL_EXPIRY: u16 = 18;
    pub const RECEIVE_TIMER: u16 = 19;
    pub const PROTOCOL_VERSION: u16 = 20;
    pub const REJECT_REASON: u16 = 21;
    pub const RELATIONSHIP_NAME: u16 = 22;
    pub const SERVER_FLAGS: u16 = 23;
    pub const SERVER_STATE: u16 = 24;
    pub const STOS: u16 = 25;
    pub const TLS_REPLY: u16 = 26;
    pub const TLS_REQUEST: u16 = 27;
    pub const VENDOR_CLASS: u16 = 28;
    pub const VENDOR_OPTIONS: u16 = 29;
    /// Highest known code (`FTO_MAX`).
    pub const MAX: u16 = 29;
}

/// Wire form of an option (`ft_options[]`, `stables.c:41-100`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    U8,
    U16,
    U32,
    Ip,
    Bytes,
    /// ISC's broken FT_DDNS (fixed size 0, §1.3 rule 7).
    Ddns,
}

const fn kind_of(code: u16) -> Kind {
    match code {
        opt::ADDRESSES_TRANSFERRED => Kind::U32,
        opt::ASSIGNED_IP_ADDRESS => Kind::Ip,
        opt::BINDING_STATUS => Kind::U8,
        opt::CLTT => Kind::U32,
        opt::DDNS => Kind::Ddns,
        opt::DELAYED_SERVICE => Kind::U8,
        opt::IP_FLAGS => Kind::U16,
        opt::LEASE_EXPIRY => Kind::U32,
        opt::MAX_UNACKED => Kind::U32,
        opt::MCLT => Kind::U32,
        opt::POTENTIAL_EXPIRY => Kind::U32,
        opt::RECEIVE_TIMER => Kind::U32,
        opt::PROTOCOL_VERSION => Kind::U8,
        opt::REJECT_REASON => Kind::U8,
        opt::SERVER_FLAGS => Kind::U8,
        opt::SERVER_STATE => Kind::U8,
        opt::STOS => Kind::U32,
        opt::TLS_REPLY => Kind::U8,
        opt::TLS_REQUEST => Kind::U8,
        // 4, 5, 7, 8, 11, 16, 17, 22, 28, 29
        _ => Kind::Bytes,
    }
}

/// ISC's option name (`ft_options[].name`), for logs and errors.
pub fn option_name(code: u16) -> &'static str {
    match code {
        opt::ADDRESSES_TRANSFERRED => "addresses-transferred",
        opt::ASSIGNED_IP_ADDRESS => "assigned-IP-address",
        opt::BINDING_STATUS => "binding-status",
        opt::CLIENT_IDENTIFIER => "client-identifier",
        opt::CHADDR => "client-hardware-address",
        opt::CLTT => "client-last-transaction-time",
        opt::REPLY_OPTIONS => "client-reply-options",
        opt::REQUEST_OPTIONS => "client-request-options",
        opt::DDNS => "DDNS",
        opt::DELAYED_SERVICE => "delayed-service",
        opt::HBA => "hash-bucket-assignment",
        opt::IP_FLAGS => "IP-flags",
        opt::LEASE_EXPIRY => "lease-expiration-time",
        opt::MAX_UNACKED => "max-unacked-bndupd",
        opt::MCLT => "MCLT",
        opt::MESSAGE => "message",
        opt::MESSAGE_DIGEST => "message-digest",
        opt::POTENTIAL_EXPIRY => "potential-expiration-time",
        opt::RECEIVE_TIMER => "receive-timer",
        opt::PROTOCOL_VERSION => "protocol-version",
        opt::REJECT_REASON => "reject-reason",
        opt::RELATIONSHIP_NAME => "relationship-name",
        opt::SERVER_FLAGS => "server-flags",
        opt::SERVER_STATE => "server-state",
        opt::STOS => "start-time-of-state",
        opt::TLS_REPLY => "TLS-reply",
        opt::TLS_REQUEST => "TLS-request",
        opt::VENDOR_CLASS => "vendor-class-identifier",
        opt::VENDOR_OPTIONS => "vendor-specific-options",
        _ => "unknown",
    }
}

const fn bits(codes: &[u16]) -> u32 {
    let mut m = 0u32;
    let mut i = 0;
    while i < codes.len() {
        m |= 1 << codes[i];
        i += 1;
    }
    m
}

const BNDUPD_COMMON: &[u16] = &[
    opt::ASSIGNED_IP_ADDRESS,
    opt::BINDING_STATUS,
    opt::CLIENT_IDENTIFIER,
    opt::CHADDR,
    opt::IP_FLAGS,
    opt::LEASE_EXPIRY,
    opt::POTENTIAL_EXPIRY,
    opt::STOS,
    opt::CLTT,
    opt::REQUEST_OPTIONS,
    opt::REPLY_OPTIONS,
];
const CONNECT_COMMON: &[u16] = &[
    opt::RELATIONSHIP_NAME,
    opt::MAX_UNACKED,
    opt::RECEIVE_TIMER,
    opt::VENDOR_CLASS,
    opt::PROTOCOL_VERSION,
];

/// Reject reasons (option 21; `fo.h:166-188`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    IllegalIpAddr = 1,
    FatalConflict = 2,
    MissingBindInfo = 3,
    TimeMismatch = 4,
    InvalidMclt = 5,
    MiscReject = 6,
    DuplicateConnection = 7,
    InvalidPartner = 8,
    TlsUnsupported = 9,
    TlsUnconfigured = 10,
    TlsRequired = 11,
    DigestUnsupported = 12,
    DigestUnconfigured = 13,
    VersionMismatch = 14,
    OutdatedBindInfo = 15,
    LessCriticalBindInfo = 16,
    NoTraffic = 17,
    HbaConflict = 18,
    IpNotReserved = 19,
    IpDigestFailure = 20,
    IpMissingDigest = 21,
    Unknown = 254,
}

impl RejectReason {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// ISC's text for a reject reason (`dhcp_failover_reject_reason_print`
/// `fo.c:3704-3783`).
pub fn reject_reason_text(code: u8) -> String {
    let s = match code {
        1 => "Illegal IP address (not part of any address pool).",
        2 => "Fatal conflict exists: address in use by other client.",
        3 => "Missing binding information.",
        4 => "Connection rejected, time mismatch too great.",
        5 => "Connection rejected, invalid MCLT.",
        6 => "Connection rejected, unknown reason.",
        7 => "Connection rejected, duplicate connection.",
        8 => "Connection rejected, invalid failover partner.",
        9 => "TLS not supported.",
        10 => "TLS supported but not configured.",
        11 => "TLS required but not supported by partner.",
        12 => "Message digest not supported.",
        13 => "Message digest not configured.",
        14 => "Protocol version mismatch.",
        15 => "Outdated binding information.",
        16 => "Less critical binding information.",
        17 => "No traffic within sufficient time.",
        18 => "Hash bucket assignment conflict.",
        19 => "IP not reserved on this server.",
        20 => "Message digest failed to compare.",
        21 => "Missing message digest.",
        254 => "Unknown Error.",
        n => {
            return format!(
                "Undefined-{n}: This reason code is not defined in the protocol standard."
            )
        }
    };
    s.to_string()
}

/// Which decoder rules to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Tandem as a receiver: DDNS skipped everywhere, option 29 read in
    /// CONNECT/CONNECTACK. Everything else as ISC.
    Tandem,
    /// Exactly ISC 4.4.3's `fto_allowed[]` and its DDNS failure; used to check
    /// that what we send would pass ISC's decoder.
    Isc,
}

/// `fto_allowed[]` (`stables.c:108-133`) as bit masks (bit = 1 << code).
fn allowed(dialect: Dialect, msg_type: u8) -> u32 {
    let bndupd = bits(BNDUPD_COMMON);
    let bndack = bndupd | bits(&[opt::REJECT_REASON, opt::MESSAGE]);
    let connect = bits(CONNECT_COMMON) | bits(&[opt::TLS_REQUEST, opt::MCLT, opt::HBA]);
    let connectack =
        bits(CONNECT_COMMON) | bits(&[opt::TLS_REPLY, opt::REJECT_REASON, opt::MESSAGE]);
    let (ddns, vendor) = match dialect {
        Dialect::Isc => (1u32 << opt::DDNS, 0),
        Dialect::Tandem => (0, 1u32 << opt::VENDOR_OPTIONS),
    };
    match msg_type {
        2 => bits(&[opt::ADDRESSES_TRANSFERRED]),
        3 => bndupd | ddns,
        4 => bndack | ddns,
        5 => connect | vendor,
        6 => connectack | vendor,
        10 => bits(&[opt::SERVER_STATE, opt::SERVER_FLAGS, opt::STOS]),
        12 => bits(&[opt::REJECT_REASON, opt::MESSAGE]),
        // 0, 1 POOLREQ, 7, 8, 9, 11 and unknown types use no options.
        _ => 0,
    }
}

/// Why a message could not be decoded. Every one of these makes ISC drop the
/// TCP connection, and so should we.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    #[error("failover message length {0} outside 12..=2048")]
    BadLength(usize),
    #[error("failover message payload offset {offset} invalid for length {length}")]
    BadPayloadOffset { offset: u8, length: usize },
    #[error("failover message type {0} is unknown and carries options")]
    OptionsOnUnknownType(u8),
    #[error("failover message overflow at option {0}")]
    Overrun(&'static str),
    #[error("failover duplicate option {}", option_name(*.0))]
    DuplicateOption(u16),
    #[error("failover option size ({len}:{expected}), option {}", option_name(*.code))]
    BadOptionSize {
        code: u16,
        len: usize,
        expected: usize,
    },
    #[error("failover DDNS option in a binding message (ISC cannot parse it)")]
    DdnsOption,
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("failover message would be {0} bytes, more than 2048")]
    TooLong(usize),
    #[error("option {} is {len} bytes, more than 65535", option_name(*.code))]
    OptionTooLong { code: u16, len: usize },
    #[error("message type {0} is a known type and cannot be sent as an unknown one")]
    KnownTypeAsUnknown(u8),
}

/// One binding, as carried by BNDUPD (and, optionally, BNDACK).
/// Fields are `None` when the option is absent. Times are the raw wire values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingUpdate {
    /// Option 2. ISC requires it (reason 3 otherwise, §3.6 rule 1).
    pub assigned_addr: Option<Ipv4Addr>,
    /// Option 3: raw binding status (1..=7 are valid, §3.1).
    pub binding_status: Option<u8>,
    /// Option 4: DHCP option 61 value, type byte included.
    pub client_id: Option<Vec<u8>>,
    /// Option 5: htype byte followed by the hardware address.
    pub chaddr: Option<Vec<u8>>,
    /// Option 13: lease end (`ends`).
    pub lease_expiry: Option<u32>,
    /// Option 18: the sender's TSTP.
    pub potential_expiry: Option<u32>,
    /// Option 25: in a BNDUPD, ISC puts `lease->starts` here.
    pub stos: Option<u32>,
    /// Option 6: client last transaction time.
    pub cltt: Option<u32>,
    /// Option 12: IP-flags (u16: RESERVE 1, BOOTP 2).
    pub ip_flags: Option<u16>,
    /// Option 8: never sent by ISC; kept if received.
    pub request_options: Option<Vec<u8>>,
    /// Option 7: never sent by ISC; kept if received.
    pub reply_options: Option<Vec<u8>>,
}

/// BNDACK. We send option 2 only (plus 21/16 when rejecting), as ISC does:
/// ISC misreads an absent option 18 as 0 when other options are present (§3.7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingAck {
    pub binding: BindingUpdate,
    /// Option 21. Present means the update was rejected.
    pub reject_reason: Option<u8>,
    /// Option 16: text, no NUL.
    pub message: Option<Vec<u8>>,
}

/// CONNECT (sent by the primary on every connection, §1.6/§1.7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connect {
    /// Option 22: compared byte for byte with the configured name.
    pub relationship_name: Option<Vec<u8>>,
    /// Option 14: how many BNDUPDs the sender lets us have unacked.
    pub max_unacked: Option<u32>,
    /// Option 19: the sender's max-response-delay.
    pub receive_timer: Option<u32>,
    /// Option 28, e.g. `isc-4.4.3`.
    pub vendor_class: Option<Vec<u8>>,
    /// Option 20 (ISC sends 1, never checks it).
    pub protocol_version: Option<u8>,
    /// Option 27 (ISC sends 0).
    pub tls_request: Option<u8>,
    /// Option 15.
    pub mclt: Option<u32>,
    /// Option 11: the primary's 32-byte hash bucket assignment.
    pub hba: Option<Vec<u8>>,
    /// Option 29 (Tandem extension; ISC skips it).
    pub vendor_options: Option<Vec<u8>>,
}

/// CONNECTACK (sent by the secondary in answer to CONNECT).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectAck {
    pub relationship_name: Option<Vec<u8>>,
    pub max_unacked: Option<u32>,
    pub receive_timer: Option<u32>,
    pub vendor_class: Option<Vec<u8>>,
    pub protocol_version: Option<u8>,
    /// Option 26: ISC sends 0, only if the CONNECT carried a TLS-request.
    pub tls_reply: Option<u8>,
    /// Option 21: present means the connection was refused.
    pub reject_reason: Option<u8>,
    pub message: Option<Vec<u8>>,
    /// Option 29 (Tandem extension; ISC skips it).
    pub vendor_options: Option<Vec<u8>>,
}

/// STATE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateMsg {
    /// Option 24. ISC reads an absent one as 0 (unknown-state).
    pub server_state: Option<u8>,
    /// Option 23: bit 0x01 = STARTUP.
    pub server_flags: Option<u8>,
    /// Option 25. ISC ignores the peer's value (`fo.c:2076`).
    pub stos: Option<u32>,
}

/// DISCONNECT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disconnect {
    pub reject_reason: Option<u8>,
    pub message: Option<Vec<u8>>,
}

/// The typed payload of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    PoolReq,
    PoolResp {
        addresses_transferred: Option<u32>,
    },
    BndUpd(BindingUpdate),
    BndAck(BindingAck),
    Connect(Connect),
    ConnectAck(ConnectAck),
    UpdReqAll,
    UpdDone,
    UpdReq,
    State(StateMsg),
    Contact,
    Disconnect(Disconnect),
    /// Type 0, or a type above 12 without options: ISC ignores these (§1.3 rule 1).
    Unknown(u8),
}

impl Body {
    /// The wire type code.
    pub fn type_code(&self) -> u8 {
        match self {
            Body::PoolReq => 1,
            Body::PoolResp { .. } => 2,
            Body::BndUpd(_) => 3,
            Body::BndAck(_) => 4,
            Body::Connect(_) => 5,
            Body::ConnectAck(_) => 6,
            Body::UpdReqAll => 7,
            Body::UpdDone => 8,
            Body::UpdReq => 9,
            Body::State(_) => 10,
            Body::Contact => 11,
            Body::Disconnect(_) => 12,
            Body::Unknown(t) => *t,
        }
    }
    /// The message type, if it is one of 1..=12.
    pub fn message_type(&self) -> Option<MessageType> {
        match self {
            Body::Unknown(_) => None,
            b => MessageType::from_code(b.type_code()),
        }
    }
}

/// One failover message: header fields plus the typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sender's clock (seconds since 1970, truncated to 32 bits).
    pub time: u32,
    pub xid: u32,
    pub body: Body,
}

// ---------------------------------------------------------------- encoding

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn put(&mut self, code: u16, data: &[u8]) -> Result<(), EncodeError> {
        let len = u16::try_from(data.len()).map_err(|_| EncodeError::OptionTooLong {
            code,
            len: data.len(),
        })?;
        self.buf.extend_from_slice(&code.to_be_bytes());
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(data);
        Ok(())
    }
    fn u8(&mut self, code: u16, v: Option<u8>) -> Result<(), EncodeError> {
        match v {
            Some(v) => self.put(code, &[v]),
            None => Ok(()),
        }
    }
    fn u16(&mut self, code: u16, v: Option<u16>) -> Result<(), EncodeError> {
        match v {
            Some(v) => self.put(code, &v.to_be_bytes()),
            None => Ok(()),
        }
    }
    fn u32(&mut self, code: u16, v: Option<u32>) -> Result<(), EncodeError> {
        match v {
            Some(v) => self.put(code, &v.to_be_bytes()),
            None => Ok(()),
        }
    }
    fn ip(&mut self, code: u16, v: Option<Ipv4Addr>) -> Result<(), EncodeError> {
        match v {
            Some(v) => self.put(code, &v.octets()),
            None => Ok(()),
        }
    }
    fn bytes(&mut self, code: u16, v: &Option<Vec<u8>>) -> Result<(), EncodeError> {
        match v {
            Some(v) => self.put(code, v),
            None => Ok(()),
        }
    }
}

/// The binding options in ISC's BNDUPD order (`fo.c:4745-4773`):
/// 2, 3, 4, 5, 13, 18, 25, 6, 12. ISC never sends 7 and 8; if present they go last.
fn put_binding_head(w: &mut Writer, b: &BindingUpdate) -> Result<(), EncodeError> {
    w.ip(opt::ASSIGNED_IP_ADDRESS, b.assigned_addr)?;
    w.u8(opt::BINDING_STATUS, b.binding_status)?;
    w.bytes(opt::CLIENT_IDENTIFIER, &b.client_id)?;
    w.bytes(opt::CHADDR, &b.chaddr)?;
    w.u32(opt::LEASE_EXPIRY, b.lease_expiry)?;
    w.u32(opt::POTENTIAL_EXPIRY, b.potential_expiry)?;
    w.u32(opt::STOS, b.stos)?;
    w.u32(opt::CLTT, b.cltt)?;
    w.u16(opt::IP_FLAGS, b.ip_flags)
}

fn put_binding_tail(w: &mut Writer, b: &BindingUpdate) -> Result<(), EncodeError> {
    w.bytes(opt::REQUEST_OPTIONS, &b.request_options)?;
    w.bytes(opt::REPLY_OPTIONS, &b.reply_options)
}

impl Message {
    pub fn new(time: u32, xid: u32, body: Body) -> Self {
        Message { time, xid, body }
    }

    /// Encodes the message, options in ISC's order, payload offset 12.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer {
            buf: Vec::with_capacity(64),
        };
        w.buf
            .extend_from_slice(&[0, 0, self.body.type_code(), PAYLOAD_OFFSET]);
        w.buf.extend_from_slice(&self.time.to_be_bytes());
        w.buf.extend_from_slice(&self.xid.to_be_bytes());
        match &self.body {
            Body::PoolReq | Body::UpdReqAll | Body::UpdDone | Body::UpdReq | Body::Contact => {}
            Body::Unknown(t) => {
                if MessageType::from_code(*t).is_some() {
                    return Err(EncodeError::KnownTypeAsUnknown(*t));
                }
            }
            Body::PoolResp {
                addresses_transferred,
            } => w.u32(opt::ADDRESSES_TRANSFERRED, *addresses_transferred)?,
            Body::BndUpd(b) => {
                put_binding_head(&mut w, b)?;
                put_binding_tail(&mut w, b)?;
            }
            Body::BndAck(a) => {
                // `fo.c:4818-4864`: 2, [the binding fields ISC compiles out], 21, 16.
                put_binding_head(&mut w, &a.binding)?;
                w.u8(opt::REJECT_REASON, a.reject_reason)?;
                w.bytes(opt::MESSAGE, &a.message)?;
                put_binding_tail(&mut w, &a.binding)?;
            }
            Body::Connect(c) => {
                // `fo.c:4510-4530`: 22, 14, 19, 28, 20, 27, 15, 11.
                w.bytes(opt::RELATIONSHIP_NAME, &c.relationship_name)?;
                w.u32(opt::MAX_UNACKED, c.max_unacked)?;
                w.u32(opt::RECEIVE_TIMER, c.receive_timer)?;
                w.bytes(opt::VENDOR_CLASS, &c.vendor_class)?;
                w.u8(opt::PROTOCOL_VERSION, c.protocol_version)?;
                w.u8(opt::TLS_REQUEST, c.tls_request)?;
                w.u32(opt::MCLT, c.mclt)?;
                w.bytes(opt::HBA, &c.hba)?;
                w.bytes(opt::VENDOR_OPTIONS, &c.vendor_options)?;
            }
            Body::ConnectAck(c) => {
                // `fo.c:4561-4599`: 22, 14, 19, 28, 20, [26], [21, 16].
                w.bytes(opt::RELATIONSHIP_NAME, &c.relationship_name)?;
                w.u32(opt::MAX_UNACKED, c.max_unacked)?;
                w.u32(opt::RECEIVE_TIMER, c.receive_timer)?;
                w.bytes(opt::VENDOR_CLASS, &c.vendor_class)?;
                w.u8(opt::PROTOCOL_VERSION, c.protocol_version)?;
                w.u8(opt::TLS_REPLY, c.tls_reply)?;
                w.u8(opt::REJECT_REASON, c.reject_reason)?;
                w.bytes(opt::MESSAGE, &c.message)?;
                w.bytes(opt::VENDOR_OPTIONS, &c.vendor_options)?;
            }
            Body::State(s) => {
                // `fo.c:4456-4469`: 24, 23, 25.
                w.u8(opt::SERVER_STATE, s.server_state)?;
                w.u8(opt::SERVER_FLAGS, s.server_flags)?;
                w.u32(opt::STOS, s.stos)?;
            }
            Body::Disconnect(d) => {
                // `fo.c:4635-4644`: 21, [16].
                w.u8(opt::REJECT_REASON, d.reject_reason)?;
                w.bytes(opt::MESSAGE, &d.message)?;
            }
        }
        let len = w.buf.len();
        if len > MAX_MESSAGE_LEN {
            return Err(EncodeError::TooLong(len));
        }
        // `len` <= 2048, so it fits in the u16 length field.
        w.buf[0..2].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(w.buf)
    }
}

// ---------------------------------------------------------------- decoding

/// The options of one message, as raw slices indexed by code.
struct Options<'a> {
    raw: [Option<&'a [u8]>; opt::MAX as usize + 1],
}

impl<'a> Options<'a> {
    fn get(&self, code: u16) -> Option<&'a [u8]> {
        self.raw.get(usize::from(code)).copied().flatten()
    }
    fn u8(&self, code: u16) -> Option<u8> {
        self.get(code).and_then(|d| d.first().copied())
    }
    fn u16(&self, code: u16) -> Option<u16> {
        self.get(code)
            .and_then(|d| <[u8; 2]>::try_from(d).ok())
            .map(u16::from_be_bytes)
    }
    fn u32(&self, code: u16) -> Option<u32> {
        self.get(code)
            .and_then(|d| <[u8; 4]>::try_from(d).ok())
            .map(u32::from_be_bytes)
    }
    fn ip(&self, code: u16) -> Option<Ipv4Addr> {
        self.get(code)
            .and_then(|d| <[u8; 4]>::try_from(d).ok())
            .map(Ipv4Addr::from)
    }
    fn bytes(&self, code: u16) -> Option<Vec<u8>> {
        self.get(code).map(<[u8]>::to_vec)
    }
    fn binding(&self) -> BindingUpdate {
        BindingUpdate {
            assigned_addr: self.ip(opt::ASSIGNED_IP_ADDRESS),
            binding_status: self.u8(opt::BINDING_STATUS),
            client_id: self.bytes(opt::CLIENT_IDENTIFIER),
            chaddr: self.bytes(opt::CHADDR),
            lease_expiry: self.u32(opt::LEASE_EXPIRY),
            potential_expiry: self.u32(opt::POTENTIAL_EXPIRY),
            stos: self.u32(opt::STOS),
            cltt: self.u32(opt::CLTT),
            ip_flags: self.u16(opt::IP_FLAGS),
            request_options: self.bytes(opt::REQUEST_OPTIONS),
            reply_options: self.bytes(opt::REPLY_OPTIONS),
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Decodes exactly one complete message (`frame.len()` must equal its length
/// field) with Tandem's receiver rules.
pub fn decode(frame: &[u8]) -> Result<Message, CodecError> {
    decode_with(frame, Dialect::Tandem)
}

/// Decodes exactly one complete message with the given rules.
pub fn decode_with(frame: &[u8], dialect: Dialect) -> Result<Message, CodecError> {
    let length = usize::from(be16(frame, 0).ok_or(CodecError::BadLength(frame.len()))?);
    if !(MIN_MESSAGE_LEN..=MAX_MESSAGE_LEN).contains(&length) || length != frame.len() {
        return Err(CodecError::BadLength(length));
    }
    let (msg_type, offset) = match frame.get(2..4) {
        Some(&[t, o]) => (t, o),
        _ => return Err(CodecError::BadLength(length)),
    };
    let time = be32(frame, 4).ok_or(CodecError::BadLength(length))?;
    let xid = be32(frame, 8).ok_or(CodecError::BadLength(length))?;
    // ISC skips `payoff - 12` bytes of extra header (`fo.c:505-510`).
    if usize::from(offset) < HEADER_LEN || usize::from(offset) > length {
        return Err(CodecError::BadPayloadOffset { offset, length });
    }
    let mut pos = usize::from(offset);
    let mask = allowed(dialect, msg_type);
    let mut opts = Options {
        raw: [None; opt::MAX as usize + 1],
    };
    let mut present = 0u32;
    while pos < length {
        // `fo.c:653-690`: overflow checks, then the unknown-type rule.
        let code = be16(frame, pos).ok_or(CodecError::Overrun("code"))?;
        if msg_type > MessageType::Disconnect.code() {
            return Err(CodecError::OptionsOnUnknownType(msg_type));
        }
        let len = usize::from(be16(frame, pos + 2).ok_or(CodecError::Overrun("length"))?);
        let data = frame
            .get(pos + 4..pos + 4 + len)
            .ok_or(CodecError::Overrun("data"))?;
        pos += 4 + len;
        // Unknown codes are skipped (`fo.c:693-704`).
        if code == 0 || code > opt::MAX {
            continue;
        }
        let bit = 1u32 << code;
        // Options this message type does not use are skipped (`fo.c:726-733`).
        if mask & bit == 0 {
            continue;
        }
        // Only once (`fo.c:716-721`).
        if present & bit != 0 {
            return Err(CodecError::DuplicateOption(code));
        }
        let expected = match kind_of(code) {
            Kind::U8 => Some(1),
            Kind::U16 => Some(2),
            Kind::U32 | Kind::Ip => Some(4),
            Kind::Bytes => None,
            // Only reachable in Dialect::Isc (§1.3 rule 7).
            Kind::Ddns => return Err(CodecError::DdnsOption),
        };
        if let Some(expected) = expected {
            if len != expected {
                return Err(CodecError::BadOptionSize {
                    code,
                    len,
                    expected,
                });
            }
        }
        present |= bit;
        if let Some(slot) = opts.raw.get_mut(usize::from(code)) {
            *slot = Some(data);
        }
    }
    let body = match MessageType::from_code(msg_type) {
        None => Body::Unknown(msg_type),
        Some(t) => match t {
            MessageType::PoolReq => Body::PoolReq,
            MessageType::PoolResp => Body::PoolResp {
                addresses_transferred: opts.u32(opt::ADDRESSES_TRANSFERRED),
            },
            MessageType::BndUpd => Body::BndUpd(opts.binding()),
            MessageType::BndAck => Body::BndAck(BindingAck {
                binding: opts.binding(),
                reject_reason: opts.u8(opt::REJECT_REASON),
                message: opts.bytes(opt::MESSAGE),
            }),
            MessageType::Connect => Body::Connect(Connect {
                relationship_name: opts.bytes(opt::RELATIONSHIP_NAME),
                max_unacked: opts.u32(opt::MAX_UNACKED),
                receive_timer: opts.u32(opt::RECEIVE_TIMER),
                vendor_class: opts.bytes(opt::VENDOR_CLASS),
                protocol_version: opts.u8(opt::PROTOCOL_VERSION),
                tls_request: opts.u8(opt::TLS_REQUEST),
                mclt: opts.u32(opt::MCLT),
                hba: opts.bytes(opt::HBA),
                vendor_options: opts.bytes(opt::VENDOR_OPTIONS),
            }),
            MessageType::ConnectAck => Body::ConnectAck(ConnectAck {
                relationship_name: opts.bytes(opt::RELATIONSHIP_NAME),
                max_unacked: opts.u32(opt::MAX_UNACKED),
                receive_timer: opts.u32(opt::RECEIVE_TIMER),
                vendor_class: opts.bytes(opt::VENDOR_CLASS),
                protocol_version: opts.u8(opt::PROTOCOL_VERSION),
                tls_reply: opts.u8(opt::TLS_REPLY),
                reject_reason: opts.u8(opt::REJECT_REASON),
                message: opts.bytes(opt::MESSAGE),
                vendor_options: opts.bytes(opt::VENDOR_OPTIONS),
            }),
            MessageType::UpdReqAll => Body::UpdReqAll,
            MessageType::UpdDone => Body::UpdDone,
            MessageType::UpdReq => Body::UpdReq,
            MessageType::State => Body::State(StateMsg {
                server_state: opts.u8(opt::SERVER_STATE),
                server_flags: opts.u8(opt::SERVER_FLAGS),
                stos: opts.u32(opt::STOS),
            }),
            MessageType::Contact => Body::Contact,
            MessageType::Disconnect => Body::Disconnect(Disconnect {
                reject_reason: opts.u8(opt::REJECT_REASON),
                message: opts.bytes(opt::MESSAGE),
            }),
        },
    };
    Ok(Message { time, xid, body })
}

/// Entry point for fuzzers: decodes a byte stream chunk by chunk and must
/// never panic, whatever the input.
pub fn decode_for_fuzz(bytes: &[u8]) {
    let _ = decode(bytes);
    let _ = decode_with(bytes, Dialect::Isc);
    let mut d = FrameDecoder::new();
    d.push(bytes);
    while let Ok(Some(m)) = d.next_message() {
        // Whatever decodes must re-encode (types 1..=12 and unknown types
        // without options are all representable).
        let _ = m.encode();
    }
}

/// Splits a TCP byte stream into messages, coping with partial reads.
///
/// After an error the decoder stays failed (the connection must be dropped,
/// as ISC does, `fo.c:470-480`).
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    failed: Option<CodecError>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let rest = self.buf.get(self.start..).unwrap_or(&[]);
        let Some(length) = be16(rest, 0) else {
            return Ok(None);
        };
        let length = usize::from(length);
        // Checked as soon as the length arrives (`fo.c:452-456`).
        if !(MIN_MESSAGE_LEN..=MAX_MESSAGE_LEN).contains(&length) {
            let e = CodecError::BadLength(length);
            self.failed = Some(e.clone());
            return Err(e);
        }
        let Some(frame) = rest.get(..length) else {
            return Ok(None);
        };
        match decode(frame) {
            Ok(m) => {
                self.start += length;
                Ok(Some(m))
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// §1.2: ISC's STATE (normal, no flags), byte for byte.
    #[test]
    fn state_vector_section_1_2() {
        let bytes = hex("00 1e 0a 0c  65 a0 b2 c5  00 00 00 07
             00 18 00 01 02
             00 17 00 01 00
             00 19 00 04 65 a0 b2 c0");
        let msg = Message::new(
            0x65a0_b2c5,
            7,
            Body::State(StateMsg {
                server_state: Some(2),
                server_flags: Some(0),
                stos: Some(0x65a0_b2c0),
            }),
        );
        assert_eq!(msg.encode().unwrap(), bytes);
        assert_eq!(decode(&bytes).unwrap(), msg);
        assert_eq!(decode_with(&bytes, Dialect::Isc).unwrap(), msg);
    }

    /// Appendix B: ISC's BNDUPD for an ACTIVE lease, byte for byte.
    #[test]
    fn bndupd_vector_appendix_b() {
        let bytes = hex("00 4f 03 0c 65 a0 b2 c5 00 00 00 2a
             00 02 00 04 c0 00 02 0a
             00 03 00 01 02
             00 04 00 07 01 00 11 22 33 44 55
             00 05 00 07 01 00 11 22 33 44 55
             00 0d 00 04 65 a0 c0 d5
             00 12 00 04 65 a0 c8 a5
             00 19 00 04 65 a0 b2 c5
             00 06 00 04 65 a0 b2 c5");
        assert_eq!(bytes.len(), 79);
        let msg = Message::new(
            0x65a0_b2c5,
            42,
            Body::BndUpd(BindingUpdate {
                assigned_addr: Some(Ipv4Addr::new(192, 0, 2, 10)),
                binding_status: Some(2),
                client_id: Some(hex("01 00 11 22 33 44 55")),
                chaddr: Some(hex("01 00 11 22 33 44 55")),
                lease_expiry: Some(0x65a0_c0d5),
                potential_expiry: Some(0x65a0_c8a5),
                stos: Some(0x65a0_b2c5),
                cltt: Some(0x65a0_b2c5),
                ..Default::default()
            }),
        );
        assert_eq!(msg.encode().unwrap(), bytes);
        assert_eq!(decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn connect_order_is_iscs() {
        let msg = Message::new(
            1,
            0,
            Body::Connect(Connect {
                relationship_name: Some(b"foo".to_vec()),
                max_unacked: Some(100),
                receive_timer: Some(20),
                vendor_class: Some(b"isc-4.4.3".to_vec()),
                protocol_version: Some(1),
                tls_request: Some(0),
                mclt: Some(3600),
                hba: Some(vec![0xff; 32]),
                vendor_options: None,
            }),
        );
        let b = msg.encode().unwrap();
        let mut codes = vec![];
        let mut pos = 12;
        while pos < b.len() {
            codes.push(u16::from_be_bytes([b[pos], b[pos + 1]]));
            pos += 4 + usize::from(u16::from_be_bytes([b[pos + 2], b[pos + 3]]));
        }
        assert_eq!(codes, vec![22, 14, 19, 28, 20, 27, 15, 11]);
        assert_eq!(b[3], 12, "payload offset is always 12");
    }

    fn frame(msg_type: u8, options: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = vec![0, 0, msg_type, 12, 0, 0, 0, 1, 0, 0, 0, 2];
        for (c, d) in options {
            b.extend_from_slice(&c.to_be_bytes());
            b.extend_from_slice(&(d.len() as u16).to_be_bytes());
            b.extend_from_slice(d);
        }
        let l = b.len() as u16;
        b[0..2].copy_from_slice(&l.to_be_bytes());
        b
    }

    #[test]
    fn duplicate_option_is_an_error() {
        let b = frame(3, &[(2, &[1, 2, 3, 4]), (2, &[1, 2, 3, 5])]);
        assert_eq!(decode(&b), Err(CodecError::DuplicateOption(2)));
    }

    #[test]
    fn duplicate_of_unused_option_is_skipped() {
        // MCLT is not used by STATE: skipped before the duplicate check.
        let b = frame(10, &[(15, &[0, 0, 0, 1]), (15, &[0, 0, 0, 1])]);
        assert!(decode(&b).is_ok());
    }

    #[test]
    fn unknown_codes_are_skipped() {
        let b = frame(10, &[(0, &[9]), (30, &[1, 2, 3]), (999, &[]), (24, &[2])]);
        let m = decode(&b).unwrap();
        assert_eq!(
            m.body,
            Body::State(StateMsg {
                server_state: Some(2),
                ..Default::default()
            })
        );
    }

    #[test]
    fn option_not_allowed_for_type_is_skipped_even_with_wrong_size() {
        // binding-status (u8) with 3 bytes inside a STATE: skipped, not an error.
        let b = frame(10, &[(3, &[1, 2, 3])]);
        assert_eq!(decode(&b).unwrap().body, Body::State(StateMsg::default()));
    }

    #[test]
    fn wrong_fixed_size_is_an_error() {
        // IP-flags is 2 bytes, not 1 (§1.5).
        let b = frame(3, &[(12, &[1])]);
        assert_eq!(
            decode(&b),
            Err(CodecError::BadOptionSize {
                code: 12,
                len: 1,
                expected: 2
            })
        );
        let b = frame(5, &[(15, &[0, 0, 1])]);
        assert!(matches!(
            decode(&b),
            Err(CodecError::BadOptionSize { code: 15, .. })
        ));
    }

    #[test]
    fn ddns_is_fatal_for_isc_and_skipped_by_us() {
        for data in [&[][..], &[0, 1, b'a'][..]] {
            let b = frame(3, &[(2, &[10, 0, 0, 1]), (9, data)]);
            assert_eq!(decode_with(&b, Dialect::Isc), Err(CodecError::DdnsOption));
            let m = decode(&b).unwrap();
            assert_eq!(
                m.body,
                Body::BndUpd(BindingUpdate {
                    assigned_addr: Some(Ipv4Addr::new(10, 0, 0, 1)),
                    ..Default::default()
                })
            );
        }
        // In other messages ISC skips it too.
        let b = frame(10, &[(9, &[1, 2, 3])]);
        assert!(decode_with(&b, Dialect::Isc).is_ok());
    }

    #[test]
    fn unknown_types() {
        assert_eq!(decode(&frame(0, &[])).unwrap().body, Body::Unknown(0));
        assert_eq!(
            decode(&frame(0, &[(24, &[2])])).unwrap().body,
            Body::Unknown(0)
        );
        assert_eq!(decode(&frame(13, &[])).unwrap().body, Body::Unknown(13));
        assert_eq!(
            decode(&frame(13, &[(24, &[2])])),
            Err(CodecError::OptionsOnUnknownType(13))
        );
        assert_eq!(
            decode(&frame(200, &[(99, &[])])),
            Err(CodecError::OptionsOnUnknownType(200))
        );
    }

    #[test]
    fn vendor_options_read_by_us_skipped_by_isc() {
        let b = frame(5, &[(29, b"xyz")]);
        match decode(&b).unwrap().body {
            Body::Connect(c) => assert_eq!(c.vendor_options.as_deref(), Some(&b"xyz"[..])),
            other => panic!("{other:?}"),
        }
        match decode_with(&b, Dialect::Isc).unwrap().body {
            Body::Connect(c) => assert_eq!(c.vendor_options, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn overruns() {
        let mut b = frame(10, &[(24, &[2])]);
        b.push(0); // one stray byte: overflow at option code
        let l = b.len() as u16;
        b[0..2].copy_from_slice(&l.to_be_bytes());
        assert_eq!(decode(&b), Err(CodecError::Overrun("code")));
        let mut b = frame(10, &[]);
        b.extend_from_slice(&[0, 24, 0]);
        let l = b.len() as u16;
        b[0..2].copy_from_slice(&l.to_be_bytes());
        assert_eq!(decode(&b), Err(CodecError::Overrun("length")));
        let mut b = frame(10, &[]);
        b.extend_from_slice(&[0, 24, 0, 5, 1]);
        let l = b.len() as u16;
        b[0..2].copy_from_slice(&l.to_be_bytes());
        assert_eq!(decode(&b), Err(CodecError::Overrun("data")));
    }

    #[test]
    fn payload_offset() {
        let mut b = frame(10, &[(24, &[2])]);
        b[3] = 8; // the draft's value
        assert!(matches!(
            decode(&b),
            Err(CodecError::BadPayloadOffset { offset: 8, .. })
        ));
        // A larger offset skips extra header bytes: here it skips the option.
        let mut b = frame(10, &[(24, &[2])]);
        b[3] = 17;
        assert_eq!(decode(&b).unwrap().body, Body::State(StateMsg::default()));
        let mut b = frame(10, &[]);
        b[3] = 13;
        assert!(decode(&b).is_err());
    }

    #[test]
    fn length_bounds() {
        let mut d = FrameDecoder::new();
        d.push(&[0, 11]);
        assert_eq!(d.next_message(), Err(CodecError::BadLength(11)));
        // Stays failed.
        d.push(&frame(11, &[]));
        assert!(d.next_message().is_err());
        let mut d = FrameDecoder::new();
        d.push(&[0x08, 0x01]);
        assert_eq!(d.next_message(), Err(CodecError::BadLength(2049)));
        // Too long to encode.
        let m = Message::new(
            0,
            0,
            Body::Disconnect(Disconnect {
                reject_reason: Some(6),
                message: Some(vec![b'x'; 2040]),
            }),
        );
        assert!(matches!(m.encode(), Err(EncodeError::TooLong(_))));
    }

    #[test]
    fn frame_decoder_partial_reads() {
        let a = frame(11, &[]);
        let b = frame(10, &[(24, &[4]), (23, &[1])]);
        let mut stream = a.clone();
        stream.extend_from_slice(&b);
        let mut d = FrameDecoder::new();
        let mut got = vec![];
        for byte in &stream {
            d.push(std::slice::from_ref(byte));
            while let Some(m) = d.next_message().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].body, Body::Contact);
        assert_eq!(d.buffered(), 0);
    }

    // ------------------------------------------------------------ proptest

    fn opt_bytes(max: usize) -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..max))
    }

    fn binding() -> impl Strategy<Value = BindingUpdate> {
        (
            (
                proptest::option::of(any::<u32>().prop_map(Ipv4Addr::from)),
                proptest::option::of(any::<u8>()),
                opt_bytes(40),
                opt_bytes(22),
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u32>()),
            ),
            (
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u16>()),
                opt_bytes(30),
                opt_bytes(30),
            ),
        )
            .prop_map(
                |((a, s, ci, ch, le, pe), (st, cl, fl, rq, rp))| BindingUpdate {
                    assigned_addr: a,
                    binding_status: s,
                    client_id: ci,
                    chaddr: ch,
                    lease_expiry: le,
                    potential_expiry: pe,
                    stos: st,
                    cltt: cl,
                    ip_flags: fl,
                    request_options: rq,
                    reply_options: rp,
                },
            )
    }

    fn body() -> impl Strategy<Value = Body> {
        use proptest::option::of;
        prop_oneof![
            Just(Body::PoolReq),
            of(any::<u32>()).prop_map(|a| Body::PoolResp {
                addresses_transferred: a
            }),
            binding().prop_map(Body::BndUpd),
            (binding(), of(any::<u8>()), opt_bytes(60)).prop_map(|(b, r, m)| Body::BndAck(
                BindingAck {
                    binding: b,
                    reject_reason: r,
                    message: m
                }
            )),
            (
                (
                    opt_bytes(20),
                    of(any::<u32>()),
                    of(any::<u32>()),
                    opt_bytes(20)
                ),
                (
                    of(any::<u8>()),
                    of(any::<u8>()),
                    of(any::<u32>()),
                    opt_bytes(40),
                    opt_bytes(20)
                )
            )
                .prop_map(|((n, mu, rt, vc), (pv, tls, mclt, hba, vo))| Body::Connect(
                    Connect {
                        relationship_name: n,
                        max_unacked: mu,
                        receive_timer: rt,
                        vendor_class: vc,
                        protocol_version: pv,
                        tls_request: tls,
                        mclt,
                        hba,
                        vendor_options: vo
                    }
                )),
            (
                (
                    opt_bytes(20),
                    of(any::<u32>()),
                    of(any::<u32>()),
                    opt_bytes(20)
                ),
                (
                    of(any::<u8>()),
                    of(any::<u8>()),
                    of(any::<u8>()),
                    opt_bytes(40),
                    opt_bytes(20)
                )
            )
                .prop_map(|((n, mu, rt, vc), (pv, tls, rr, m, vo))| Body::ConnectAck(
                    ConnectAck {
                        relationship_name: n,
                        max_unacked: mu,
                        receive_timer: rt,
                        vendor_class: vc,
                        protocol_version: pv,
                        tls_reply: tls,
                        reject_reason: rr,
                        message: m,
                        vendor_options: vo
                    }
                )),
            Just(Body::UpdReqAll),
            Just(Body::UpdDone),
            Just(Body::UpdReq),
            (of(any::<u8>()), of(any::<u8>()), of(any::<u32>())).prop_map(|(s, f, t)| {
                Body::State(StateMsg {
                    server_state: s,
                    server_flags: f,
                    stos: t,
                })
            }),
            Just(Body::Contact),
            (of(any::<u8>()), opt_bytes(60)).prop_map(|(r, m)| Body::Disconnect(Disconnect {
                reject_reason: r,
                message: m
            })),
            prop_oneof![Just(0u8), 13u8..=255].prop_map(Body::Unknown),
        ]
    }

    fn message() -> impl Strategy<Value = Message> {
        (any::<u32>(), any::<u32>(), body()).prop_map(|(t, x, b)| Message::new(t, x, b))
    }

    proptest! {
        #[test]
        fn round_trip(m in message()) {
            let bytes = m.encode().unwrap();
            prop_assert_eq!(usize::from(u16::from_be_bytes([bytes[0], bytes[1]])), bytes.len());
            prop_assert_eq!(bytes[3], 12);
            prop_assert_eq!(decode(&bytes).unwrap(), m);
        }

        /// What we send never trips ISC's decoder (no DDNS, exact sizes,
        /// no duplicates), as long as we do not put 29 where ISC would...
        /// which ISC skips anyway.
        #[test]
        fn isc_accepts_what_we_encode(m in message()) {
            let bytes = m.encode().unwrap();
            prop_assert!(decode_with(&bytes, Dialect::Isc).is_ok());
        }

        #[test]
        fn stream_split_anywhere(ms in proptest::collection::vec(message(), 1..5),
                                 cuts in proptest::collection::vec(0usize..400, 0..8)) {
            let mut stream = vec![];
            for m in &ms { stream.extend(m.encode().unwrap()); }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.sort_unstable();
            let mut d = FrameDecoder::new();
            let mut got = vec![];
            let mut prev = 0;
            for c in cuts.into_iter().chain(std::iter::once(stream.len())) {
                d.push(&stream[prev..c]);
                prev = c;
                while let Some(m) = d.next_message().unwrap() { got.push(m); }
            }
            prop_assert_eq!(got, ms);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            decode_for_fuzz(&bytes);
        }

        /// Structured garbage: a valid header followed by random TLVs.
        #[test]
        fn never_panics_on_tlvs(t in any::<u8>(), off in 10u8..20,
                                opts in proptest::collection::vec((0u16..32, proptest::collection::vec(any::<u8>(), 0..6)), 0..8)) {
            let mut b = vec![0, 0, t, off, 0, 0, 0, 0, 0, 0, 0, 0];
            for (c, d) in &opts {
                b.extend_from_slice(&c.to_be_bytes());
                b.extend_from_slice(&(d.len() as u16).to_be_bytes());
                b.extend_from_slice(d);
            }
            let l = b.len() as u16;
            b[0..2].copy_from_slice(&l.to_be_bytes());
            decode_for_fuzz(&b);
            if let Ok(m) = decode(&b) {
                // Re-encoding what we accepted gives something we decode the same way.
                let again = m.encode().unwrap();
                prop_assert_eq!(decode(&again).unwrap(), m);
            }
        }
    }
}
