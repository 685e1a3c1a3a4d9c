//! Which options go into a reply, in which order, and where the reply goes.

use std::net::Ipv4Addr;

use tandem_wire::{code, MessageType, Packet, CLIENT_PORT, SERVER_PORT};

use crate::scope::OptionState;
use crate::Destination;

/// Options never taken from the configuration into a reply: the encoder or
/// the engine sets them (53, 54, 52, 82), or they are the client's (55, 50).
fn engine_owned(c: u8) -> bool {
    matches!(
        c,
        code::PAD
            | code::END
            | code::MESSAGE_TYPE
            | code::SERVER_ID
            | code::OVERLOAD
            | code::RELAY_AGENT_INFO
            | code::PARAMETER_REQUEST_LIST
            | code::REQUESTED_ADDRESS
    )
}

/// The reply's options after 53 and 54, in ISC's priority order
/// (`cons_options`):
/// 1. lease time (51), renewal (58) and rebinding (59) times, message (56);
/// 2. with a parameter request list: the requested options in the client's
///    order, then the subnet mask for DISCOVER and REQUEST ("some client
///    implementations have come to rely on this", ISC);
/// 3. without one: subnet mask, routers, name servers, host name, then every
///    other configured option.
///
/// Only options present in `state` are returned.
pub(crate) fn ordered_options(
    state: &OptionState,
    prl: Option<&[u8]>,
    msg: Option<MessageType>,
) -> Vec<(u8, Vec<u8>)> {
    let mut order: Vec<u8> = vec![
        code::LEASE_TIME,
        code::RENEWAL_TIME,
        code::REBINDING_TIME,
        code::MESSAGE,
    ];
    match prl {
        Some(list) if !list.is_empty() => {
            order.extend_from_slice(list);
            if matches!(msg, Some(MessageType::Discover | MessageType::Request)) {
                order.push(code::SUBNET_MASK);
            }
        }
        _ => {
            order.extend_from_slice(&[
                code::SUBNET_MASK,
                code::ROUTERS,
                code::DOMAIN_NAME_SERVERS,
                code::HOST_NAME,
            ]);
            order.extend(state.options.iter().map(|(c, _)| *c));
        }
    }
    let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
    for c in order {
        if engine_owned(c) || out.iter().any(|(o, _)| *o == c) {
            continue;
        }
        if let Some(v) = state.get(c) {
            out.push((c, v.to_vec()));
        }
    }
    out
}

/// Which kind of reply is being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    /// DHCPOFFER or DHCPACK for a lease.
    Lease,
    Nak,
    /// BOOTREPLY.
    Bootp,
}

/// RFC 2131 §4.1: "If the 'giaddr' field in a DHCP message from a client is
/// non-zero, the server sends any return messages to the 'DHCP server' port
/// on the BOOTP relay agent whose address appears in 'giaddr'. If the
/// 'giaddr' field is zero and the 'ciaddr' field is nonzero, then the server
/// unicasts DHCPOFFER and DHCPACK messages to the address in 'ciaddr'. If
/// 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is set, then
/// the server broadcasts ... to 0xffffffff. If the broadcast bit is not set
/// and 'giaddr' is zero and 'ciaddr' is zero, then the server unicasts ... to
/// the client's hardware address and 'yiaddr' address. In all cases, when
/// 'giaddr' is zero, the server broadcasts any DHCPNAK messages."
///
/// `broadcast` is the reply's broadcast flag (the client's, or forced by
/// `always-broadcast`).
pub(crate) fn destination(
    request: &Packet,
    kind: ReplyKind,
    broadcast: bool,
    yiaddr: Ipv4Addr,
    ifindex: u32,
) -> Destination {
    if !request.giaddr.is_unspecified() {
        return Destination::Relay {
            giaddr: request.giaddr,
            port: SERVER_PORT,
        };
    }
    if kind == ReplyKind::Nak {
        return Destination::Broadcast { ifindex };
    }
    // BOOTP clients don't know their address yet (RFC 951 §7.1: the server
    // sends to yiaddr); only DHCP replies go to ciaddr.
    if kind == ReplyKind::Lease && !request.ciaddr.is_unspecified() {
        return Destination::Unicast {
            addr: request.ciaddr,
            port: CLIENT_PORT,
        };
    }
    if broadcast || yiaddr.is_unspecified() || request.hlen == 0 {
        return Destination::Broadcast { ifindex };
    }
    Destination::Hardware {
        ifindex,
        addr: yiaddr,
        chaddr: request.hw_addr().to_vec(),
        htype: request.htype,
    }
}

/// RFC 2131 §4.3.5 for DHCPINFORM: "The server then sends a DHCPACK to the
/// client ... directly to the address given in the 'ciaddr' field". ISC:
/// with no ciaddr, via the relay (broadcast bit set) or to the source
/// address. Returns the destination and whether to force the broadcast bit.
pub(crate) fn inform_destination(request: &Packet, client: Ipv4Addr) -> (Destination, bool) {
    if request.ciaddr.is_unspecified() && !request.giaddr.is_unspecified() {
        return (
            Destination::Relay {
                giaddr: request.giaddr,
                port: SERVER_PORT,
            },
            true,
        );
    }
    (
        Destination::Unicast {
            addr: client,
            port: CLIENT_PORT,
        },
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_wire::Options;

    fn request(ciaddr: [u8; 4], giaddr: [u8; 4], flags: u16) -> Packet {
        Packet {
            op: 1,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: 1,
            secs: 0,
            flags,
            ciaddr: Ipv4Addr::from(ciaddr),
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::from(giaddr),
            chaddr: [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            sname: vec![],
            file: vec![],
            has_cookie: true,
            options: Options::default(),
        }
    }

    const Y: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);

    #[test]
    fn rfc2131_delivery_table() {
        let relay = Destination::Relay {
            giaddr: Ipv4Addr::new(10, 1, 0, 1),
            port: 67,
        };
        let bcast = Destination::Broadcast { ifindex: 3 };
        let hw = Destination::Hardware {
            ifindex: 3,
            addr: Y,
            chaddr: vec![2, 0, 0, 0, 0, 1],
            htype: 1,
        };
        let uni = Destination::Unicast {
            addr: Ipv4Addr::new(10, 0, 0, 9),
            port: 68,
        };
        let cases = [
            // (ciaddr, giaddr, broadcast flag, kind, expected)
            (
                [0; 4],
                [10, 1, 0, 1],
                false,
                ReplyKind::Lease,
                relay.clone(),
            ),
            (
                [10, 0, 0, 9],
                [10, 1, 0, 1],
                false,
                ReplyKind::Lease,
                relay.clone(),
            ),
            ([0; 4], [10, 1, 0, 1], false, ReplyKind::Nak, relay.clone()),
            ([10, 0, 0, 9], [0; 4], false, ReplyKind::Lease, uni.clone()),
            ([10, 0, 0, 9], [0; 4], true, ReplyKind::Lease, uni),
            ([0; 4], [0; 4], true, ReplyKind::Lease, bcast.clone()),
            ([0; 4], [0; 4], false, ReplyKind::Lease, hw.clone()),
            ([10, 0, 0, 9], [0; 4], false, ReplyKind::Nak, bcast.clone()),
            ([0; 4], [0; 4], false, ReplyKind::Nak, bcast.clone()),
            ([0; 4], [0; 4], false, ReplyKind::Bootp, hw),
            ([0; 4], [0; 4], true, ReplyKind::Bootp, bcast),
        ];
        for (ci, gi, b, kind, want) in cases {
            let flags = if b { 0x8000 } else { 0 };
            let req = request(ci, gi, flags);
            assert_eq!(
                destination(&req, kind, req.broadcast(), Y, 3),
                want,
                "ciaddr {ci:?} giaddr {gi:?} bcast {b} {kind:?}"
            );
        }
    }

    #[test]
    fn inform_goes_to_ciaddr_even_when_relayed() {
        let req = request([10, 0, 0, 9], [10, 1, 0, 1], 0);
        let (d, force) = inform_destination(&req, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(
            d,
            Destination::Unicast {
                addr: Ipv4Addr::new(10, 0, 0, 9),
                port: 68
            }
        );
        assert!(!force);
        let req = request([0; 4], [10, 1, 0, 1], 0);
        let (d, force) = inform_destination(&req, Ipv4Addr::new(10, 0, 0, 9));
        assert!(matches!(d, Destination::Relay { .. }));
        assert!(force);
    }

    #[test]
    fn prl_order_then_subnet_mask() {
        let mut st = OptionState::default();
        st.set(6, vec![10, 0, 0, 53]);
        st.set(3, vec![10, 0, 0, 1]);
        st.set(1, vec![255, 255, 255, 0]);
        st.set(15, b"example.org".to_vec());
        st.set(51, 600u32.to_be_bytes().to_vec());
        st.set(82, vec![1, 1, 1]);
        let got: Vec<u8> =
            ordered_options(&st, Some(&[15, 6, 3, 82, 99]), Some(MessageType::Discover))
                .into_iter()
                .map(|(c, _)| c)
                .collect();
        assert_eq!(got, vec![51, 15, 6, 3, 1]);
        // INFORM gets no unrequested subnet mask.
        let got: Vec<u8> = ordered_options(&st, Some(&[3]), Some(MessageType::Inform))
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(got, vec![51, 3]);
        // Without a PRL: ISC's default list, then the rest.
        let got: Vec<u8> = ordered_options(&st, None, Some(MessageType::Discover))
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(got, vec![51, 1, 3, 6, 15]);
    }
}
