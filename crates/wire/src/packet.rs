//! Accessors on a decoded packet and the reply skeleton.

use std::net::Ipv4Addr;

use crate::{
    code, MessageType, Options, Packet, BOOTREPLY, FLAG_BROADCAST, MAX_REPLY_SIZE, MIN_MESSAGE_SIZE,
};

fn addr(value: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from)
}

impl Packet {
    /// Option 53. Like ISC, the first octet is the type; `None` when absent,
    /// empty, or not one of the eight DHCPv4 message types.
    pub fn message_type(&self) -> Option<MessageType> {
        let value = self.options.get(code::MESSAGE_TYPE)?;
        MessageType::from_u8(*value.first()?)
    }

    /// The client hardware address: `chaddr[..hlen]` (hlen ≤ 16 after decode).
    pub fn hw_addr(&self) -> &[u8] {
        let n = usize::from(self.hlen).min(self.chaddr.len());
        self.chaddr.get(..n).unwrap_or(&self.chaddr)
    }

    /// Option 61, as sent (type octet included).
    pub fn client_id(&self) -> Option<&[u8]> {
        self.options.get(code::CLIENT_ID)
    }

    /// Option 50, when it is exactly four octets.
    pub fn requested_address(&self) -> Option<Ipv4Addr> {
        addr(self.options.get(code::REQUESTED_ADDRESS)?)
    }

    /// Option 54, when it is exactly four octets.
    pub fn server_id(&self) -> Option<Ipv4Addr> {
        addr(self.options.get(code::SERVER_ID)?)
    }

    /// Option 55.
    pub fn parameter_request_list(&self) -> Option<&[u8]> {
        self.options.get(code::PARAMETER_REQUEST_LIST)
    }

    /// Option 57 as sent. ISC's `cons_options` reads the first two octets of
    /// any value at least two octets long.
    pub fn max_message_size(&self) -> Option<u16> {
        let value = self.options.get(code::MAX_MESSAGE_SIZE)?;
        let (two, _) = value.split_first_chunk::<2>()?;
        Some(u16::from_be_bytes(*two))
    }

    /// The `max_size` to give [`Packet::encode_reply`] for a reply to this
    /// request: option 57, or 576 when absent (RFC 2131 §2), clamped to
    /// 576..=1500 exactly as `encode_reply` does.
    pub fn reply_size_limit(&self) -> usize {
        self.max_message_size()
            .map_or(MIN_MESSAGE_SIZE, usize::from)
            .clamp(MIN_MESSAGE_SIZE, MAX_REPLY_SIZE)
    }

    /// Option 82 (RFC 3046), raw; see [`crate::relay_suboptions`].
    pub fn relay_agent_info(&self) -> Option<&[u8]> {
        self.options.get(code::RELAY_AGENT_INFO)
    }

    /// Option 118 (RFC 3527 link selection), when exactly four octets.
    pub fn link_selection(&self) -> Option<Ipv4Addr> {
        addr(self.options.get(code::LINK_SELECTION)?)
    }

    /// The BROADCAST flag (RFC 2131 §2, figure 2).
    pub fn broadcast(&self) -> bool {
        self.flags & FLAG_BROADCAST != 0
    }

    /// Option 12.
    pub fn hostname(&self) -> Option<&[u8]> {
        self.options.get(code::HOST_NAME)
    }

    /// A BOOTP (not DHCP) message: no usable option 53. ISC dispatches a
    /// packet to `bootp()` when it has no message type (no cookie, no
    /// option 53, or an empty one).
    pub fn is_bootp(&self) -> bool {
        self.options
            .get(code::MESSAGE_TYPE)
            .and_then(<[u8]>::first)
            .is_none()
    }

    /// A BOOTREPLY skeleton for this request, per RFC 2131 §4.3.1 table 3:
    /// `xid`, `flags`, `giaddr`, `htype`, `hlen`, `chaddr` from the request;
    /// `hops` and `secs` 0; `ciaddr` 0 except in a DHCPACK, where it is the
    /// request's ("ciaddr from DHCPREQUEST or 0"; for DHCPINFORM the client's
    /// address); `yiaddr`, `siaddr`, `sname`, `file` empty for the engine to
    /// fill. Option 53 is set to `msg_type`.
    pub fn new_reply(&self, msg_type: MessageType) -> Packet {
        let ciaddr = if msg_type == MessageType::Ack {
            self.ciaddr
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        let mut options = Options::default();
        options.insert(code::MESSAGE_TYPE, vec![msg_type as u8]);
        Packet {
            op: BOOTREPLY,
            htype: self.htype,
            hlen: self.hlen,
            hops: 0,
            xid: self.xid,
            secs: 0,
            flags: self.flags,
            ciaddr,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: self.giaddr,
            chaddr: self.chaddr,
            sname: Vec::new(),
            file: Vec::new(),
            has_cookie: true,
            options,
        }
    }
}
