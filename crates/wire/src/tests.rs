//! Vectors, hostile inputs, reply encoding, and properties.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use proptest::prelude::*;

use crate::*;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// The fixed header of a BOOTREQUEST from `MAC`, 236 octets.
fn header(xid: u32) -> Vec<u8> {
    let mut b = vec![BOOTREQUEST, 1, 6, 0];
    b.extend_from_slice(&xid.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]); // secs, flags
    b.extend_from_slice(&[0; 16]); // ciaddr yiaddr siaddr giaddr
    b.extend_from_slice(&MAC);
    b.extend_from_slice(&[0; 10]);
    b.extend_from_slice(&[0; SNAME_LEN + FILE_LEN]);
    assert_eq!(b.len(), FIXED_LEN);
    b
}

/// Header, cookie, the given option bytes, then zero padding to 300.
fn request_with(options: &[u8]) -> Vec<u8> {
    let mut b = header(0x3903_f326);
    b.extend_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(options);
    if b.len() < BOOTP_MIN_LEN {
        b.resize(BOOTP_MIN_LEN, 0);
    }
    b
}

/// A dhclient 4.4 DHCPDISCOVER as it appears on the wire (300 octets):
/// 53, 50 (its previous address), 12, 55, END, padding.
fn dhclient_discover() -> Vec<u8> {
    let mut o = vec![53, 1, 1];
    o.extend_from_slice(&[50, 4, 192, 168, 10, 57]);
    o.extend_from_slice(&[12, 6]);
    o.extend_from_slice(b"laptop");
    o.extend_from_slice(&[55, 13, 1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]);
    o.push(255);
    request_with(&o)
}

/// A Windows 10 style DHCPREQUEST relayed by a router (giaddr set, hops 1),
/// with option 82 (circuit-id "Gi0/1.100", remote-id = router MAC) added by
/// the relay before END, broadcast flag set, option 57 = 1500.
fn relayed_windows_request() -> Vec<u8> {
    let mut b = header(0xdead_beef);
    b[3] = 1; // hops
    b[10] = 0x80; // flags: broadcast
    b[24..28].copy_from_slice(&[10, 1, 2, 1]); // giaddr
    b.extend_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(&[53, 1, 3]);
    b.extend_from_slice(&[61, 7, 1]);
    b.extend_from_slice(&MAC);
    b.extend_from_slice(&[50, 4, 10, 1, 2, 77]);
    b.extend_from_slice(&[54, 4, 10, 0, 0, 1]);
    b.extend_from_slice(&[57, 2, 0x05, 0xdc]);
    b.extend_from_slice(&[12, 11]);
    b.extend_from_slice(b"DESKTOP-ABC");
    b.extend_from_slice(&[81, 14, 0, 0, 0]);
    b.extend_from_slice(b"DESKTOP-ABC");
    b.extend_from_slice(&[60, 8]);
    b.extend_from_slice(b"MSFT 5.0");
    b.extend_from_slice(&[
        55, 14, 1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252,
    ]);
    let mut agent = vec![1, 9];
    agent.extend_from_slice(b"Gi0/1.100");
    agent.extend_from_slice(&[2, 6, 0, 0x1b, 0x54, 0xaa, 0xbb, 0xcc]);
    b.push(82);
    b.push(agent.len() as u8);
    b.extend_from_slice(&agent);
    b.push(255);
    b
}

fn decode_ok(bytes: &[u8]) -> Packet {
    match Packet::decode(bytes) {
        Ok(p) => p,
        Err(e) => panic!("decode failed: {e}"),
    }
}

/// The option codes of the options field in wire order (after the cookie,
/// up to END), repeated instances included.
fn wire_codes(bytes: &[u8]) -> Vec<u8> {
    let mut codes = Vec::new();
    let mut i = FIXED_LEN + 4;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            0 => i += 1,
            255 => break,
            _ => {
                codes.push(c);
                i += 2 + usize::from(bytes[i + 1]);
            }
        }
    }
    codes
}

/// Where the END of the options field is (index into `bytes`).
fn end_of_options(bytes: &[u8]) -> usize {
    let mut i = FIXED_LEN + 4;
    loop {
        match bytes[i] {
            0 => i += 1,
            255 => return i,
            _ => i += 2 + usize::from(bytes[i + 1]),
        }
    }
}

fn as_map(o: &Options) -> BTreeMap<u8, Vec<u8>> {
    o.iter().map(|(c, v)| (c, v.to_vec())).collect()
}

// ---------------------------------------------------------------- vectors

#[test]
fn dhclient_discover_vector() {
    let bytes = dhclient_discover();
    assert_eq!(bytes.len(), 300);
    let p = decode_ok(&bytes);
    assert_eq!(p.op, BOOTREQUEST);
    assert_eq!(p.xid, 0x3903_f326);
    assert!(p.has_cookie);
    assert_eq!(p.message_type(), Some(MessageType::Discover));
    assert_eq!(p.hw_addr(), &MAC);
    assert_eq!(p.requested_address(), Some(Ipv4Addr::new(192, 168, 10, 57)));
    assert_eq!(p.hostname(), Some(&b"laptop"[..]));
    assert_eq!(
        p.parameter_request_list(),
        Some(&[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42][..])
    );
    assert_eq!(p.client_id(), None);
    assert_eq!(p.server_id(), None);
    assert_eq!(p.max_message_size(), None);
    assert_eq!(p.reply_size_limit(), 576);
    assert!(!p.broadcast());
    assert!(!p.is_bootp());
    assert!(p.sname.is_empty() && p.file.is_empty());
    let codes: Vec<u8> = p.options.iter().map(|(c, _)| c).collect();
    assert_eq!(codes, vec![53, 50, 12, 55]);
    // Our encoder writes the same bytes dhclient did.
    assert_eq!(p.encode(), bytes);
}

#[test]
fn relayed_request_vector() {
    let bytes = relayed_windows_request();
    let p = decode_ok(&bytes);
    assert_eq!(p.message_type(), Some(MessageType::Request));
    assert_eq!(p.hops, 1);
    assert!(p.broadcast());
    assert_eq!(p.giaddr, Ipv4Addr::new(10, 1, 2, 1));
    assert_eq!(
        p.client_id(),
        Some(&[1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56][..])
    );
    assert_eq!(p.server_id(), Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(p.max_message_size(), Some(1500));
    assert_eq!(p.reply_size_limit(), 1500);
    assert_eq!(p.options.get(code::VENDOR_CLASS_ID), Some(&b"MSFT 5.0"[..]));
    let agent = p.relay_agent_info().unwrap_or_default();
    let subs = relay_suboptions(agent).unwrap_or_default();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0], (1, &b"Gi0/1.100"[..]));
    assert_eq!(subs[1].0, 2);
    assert_eq!(Packet::relay_suboptions(agent), relay_suboptions(agent));
    assert_eq!(p.link_selection(), None);
}

#[test]
fn bootp_request_without_cookie_is_accepted() {
    // RFC 951 BOOTP request: 300 octets, vendor area all zeros.
    let mut b = header(7);
    b.resize(300, 0);
    let p = decode_ok(&b);
    assert!(!p.has_cookie);
    assert!(p.options.is_empty());
    assert!(p.is_bootp());
    assert_eq!(p.message_type(), None);
    assert_eq!(p.encode(), b);
    // With no vendor area at all (236 octets) too.
    let p = decode_ok(&header(7));
    assert!(!p.has_cookie);
}

#[test]
fn bootp_with_cookie_but_no_message_type() {
    let p = decode_ok(&request_with(&[1, 4, 255, 255, 255, 0, 255]));
    assert!(p.has_cookie);
    assert!(p.is_bootp());
    let p = decode_ok(&request_with(&[53, 0, 255]));
    assert!(p.is_bootp());
    assert_eq!(p.message_type(), None);
}

#[test]
fn sname_and_file_text_up_to_nul() {
    let mut b = dhclient_discover();
    b[44..48].copy_from_slice(b"srv1");
    b[108..118].copy_from_slice(b"pxelinux.0");
    b[119] = b'X'; // after the NUL: ignored
    let p = decode_ok(&b);
    assert_eq!(p.sname, b"srv1");
    assert_eq!(p.file, b"pxelinux.0");
}

// ---------------------------------------------------------------- hostile

#[test]
fn too_short() {
    assert_eq!(Packet::decode(&[]), Err(WireError::TooShort(0)));
    assert_eq!(Packet::decode(&[1; 200]), Err(WireError::TooShort(200)));
    assert_eq!(
        Packet::decode(&dhclient_discover()[..235]),
        Err(WireError::TooShort(235))
    );
}

#[test]
fn bad_op() {
    let mut b = dhclient_discover();
    b[0] = 3;
    assert_eq!(Packet::decode(&b), Err(WireError::BadOp(3)));
    b[0] = 0;
    assert_eq!(Packet::decode(&b), Err(WireError::BadOp(0)));
}

#[test]
fn hlen_17_refused_16_accepted() {
    let mut b = dhclient_discover();
    b[2] = 17;
    assert_eq!(Packet::decode(&b), Err(WireError::BadHlen(17)));
    b[2] = 255;
    assert_eq!(Packet::decode(&b), Err(WireError::BadHlen(255)));
    b[2] = 16;
    assert_eq!(decode_ok(&b).hw_addr().len(), 16);
    b[2] = 0;
    assert!(decode_ok(&b).hw_addr().is_empty());
}

#[test]
fn bad_cookie() {
    let mut b = dhclient_discover();
    b[236..240].copy_from_slice(&[99, 130, 83, 98]);
    assert_eq!(Packet::decode(&b), Err(WireError::BadCookie));
    b[236..240].copy_from_slice(&[0, 0, 0, 1]);
    assert_eq!(Packet::decode(&b), Err(WireError::BadCookie));
    // A cookie cut short (238 octets) is not a cookie.
    assert_eq!(
        Packet::decode(&dhclient_discover()[..238]),
        Err(WireError::BadCookie)
    );
}

#[test]
fn option_overrunning_the_end() {
    // 12 says 40 octets; the packet ends after 10.
    let mut b = header(1);
    b.extend_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(&[53, 1, 1, 12, 40]);
    b.extend_from_slice(b"0123456789");
    assert_eq!(
        Packet::decode(&b),
        Err(WireError::OptionOverrun { code: 12 })
    );
    // A code with no room for its length octet.
    let mut b = header(1);
    b.extend_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(&[53, 1, 1, 61]);
    assert_eq!(
        Packet::decode(&b),
        Err(WireError::OptionOverrun { code: 61 })
    );
}

#[test]
fn missing_end_is_tolerated_and_trailing_garbage_after_end_ignored() {
    let mut b = header(1);
    b.extend_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(&[53, 1, 3, 12, 2, b'h', b'i']);
    let p = decode_ok(&b);
    assert_eq!(p.hostname(), Some(&b"hi"[..]));
    b.extend_from_slice(&[255, 12, 200, 1, 2, 3]);
    let p = decode_ok(&b);
    assert_eq!(p.options.len(), 2);
}

#[test]
fn repeated_options_are_concatenated() {
    // RFC 3396: 121 split in three instances, with another option between.
    let p = decode_ok(&request_with(&[
        53, 1, 1, 121, 2, 24, 10, 3, 4, 1, 2, 3, 4, 121, 3, 0, 1, 2, 121, 0, 255,
    ]));
    assert_eq!(p.options.get(121), Some(&[24, 10, 0, 1, 2][..]));
    let codes: Vec<u8> = p.options.iter().map(|(c, _)| c).collect();
    assert_eq!(codes, vec![53, 121, 3]);
}

fn overloaded(overload: u8, file: &[u8], sname: &[u8], main: &[u8]) -> Vec<u8> {
    let mut b = header(9);
    b[108..108 + file.len()].copy_from_slice(file);
    b[44..44 + sname.len()].copy_from_slice(sname);
    b.extend_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(main);
    b.extend_from_slice(&[52, 1, overload, 255]);
    b.resize(300, 0);
    b
}

#[test]
fn overload_file_then_sname_concatenated_in_order() {
    let main = [53, 1, 2, 6, 4, 1, 1, 1, 1];
    let file = [6, 4, 2, 2, 2, 2, 15, 3, b'a', b'b', b'c', 255];
    let sname = [6, 4, 3, 3, 3, 3, 255];
    let p = decode_ok(&overloaded(3, &file, &sname, &main));
    assert_eq!(
        p.options.get(6),
        Some(&[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3][..])
    );
    assert_eq!(p.options.get(15), Some(&b"abc"[..]));
    // Option 52 itself is consumed; the fields held options, not text.
    assert!(!p.options.contains(code::OVERLOAD));
    assert!(p.file.is_empty() && p.sname.is_empty());

    // Only file (1): sname stays text.
    let p = decode_ok(&overloaded(1, &file, b"boot-server", &main));
    assert_eq!(p.options.get(6), Some(&[1, 1, 1, 1, 2, 2, 2, 2][..]));
    assert_eq!(p.sname, b"boot-server");
    // Only sname (2): file stays text.
    let p = decode_ok(&overloaded(2, b"pxelinux.0", &sname, &main));
    assert_eq!(p.options.get(6), Some(&[1, 1, 1, 1, 3, 3, 3, 3][..]));
    assert_eq!(p.file, b"pxelinux.0");
}

#[test]
fn overload_into_garbage_is_refused() {
    // Text read as options: code 112 ('p') with a length that fills the
    // field exactly is fine; one octet more overruns it.
    let mut file = [0u8; 128];
    file[0] = 112;
    file[1] = 126; // 2 + 126 = 128
    assert!(Packet::decode(&overloaded(1, &file, &[], &[53, 1, 1])).is_ok());
    file[1] = 127;
    assert_eq!(
        Packet::decode(&overloaded(1, &file, &[], &[53, 1, 1])),
        Err(WireError::OptionOverrun { code: 112 })
    );
    // In sname: an option may not run out of sname into file.
    let mut sname = [0u8; 64];
    sname[60] = 15;
    sname[61] = 5;
    assert_eq!(
        Packet::decode(&overloaded(2, &[], &sname, &[53, 1, 1])),
        Err(WireError::OptionOverrun { code: 15 })
    );
}

#[test]
fn bad_overload_values() {
    for v in [0u8, 4, 255] {
        assert_eq!(
            Packet::decode(&overloaded(v, &[], &[], &[53, 1, 1])),
            Err(WireError::BadOverload(v))
        );
    }
    // Wrong length.
    let b = request_with(&[53, 1, 1, 52, 2, 1, 1, 255]);
    assert_eq!(Packet::decode(&b), Err(WireError::BadOverload(1)));
    let b = request_with(&[53, 1, 1, 52, 0, 255]);
    assert_eq!(Packet::decode(&b), Err(WireError::BadOverload(0)));
}

#[test]
fn overload_option_inside_overloaded_field_is_ignored() {
    let file = [52, 1, 2, 3, 4, 9, 9, 9, 9, 255];
    let mut sname = [0u8; 64];
    sname[0] = 200; // would be garbage if (wrongly) parsed
    sname[1] = 200;
    let p = decode_ok(&overloaded(1, &file, &sname, &[53, 1, 1]));
    assert_eq!(p.options.get(3), Some(&[9, 9, 9, 9][..]));
    assert!(!p.sname.is_empty());
}

#[test]
fn empty_client_id_refused() {
    let b = request_with(&[53, 1, 1, 61, 0, 255]);
    assert_eq!(Packet::decode(&b), Err(WireError::EmptyClientId));
    // One octet is accepted (ISC warns but accepts).
    let b = request_with(&[53, 1, 1, 61, 1, 7, 255]);
    assert_eq!(decode_ok(&b).client_id(), Some(&[7][..]));
}

#[test]
fn malformed_fixed_size_options_read_as_absent() {
    let b = request_with(&[
        53, 1, 1, 50, 3, 1, 2, 3, 54, 5, 1, 2, 3, 4, 5, 57, 1, 2, 255,
    ]);
    let p = decode_ok(&b);
    assert_eq!(p.requested_address(), None);
    assert_eq!(p.server_id(), None);
    assert_eq!(p.max_message_size(), None);
    assert_eq!(p.reply_size_limit(), 576);
    let p = decode_ok(&request_with(&[
        53, 1, 9, 57, 2, 1, 0, 118, 4, 10, 9, 8, 7, 255,
    ]));
    assert_eq!(p.message_type(), None);
    assert!(!p.is_bootp());
    assert_eq!(p.max_message_size(), Some(256));
    assert_eq!(p.reply_size_limit(), 576);
    assert_eq!(p.link_selection(), Some(Ipv4Addr::new(10, 9, 8, 7)));
}

// ---------------------------------------------------------------- names

#[test]
fn message_type_names_and_values() {
    let names: Vec<&str> = (0..=255u8)
        .filter_map(MessageType::from_u8)
        .map(MessageType::name)
        .collect();
    assert_eq!(
        names,
        [
            "DHCPDISCOVER",
            "DHCPOFFER",
            "DHCPREQUEST",
            "DHCPDECLINE",
            "DHCPACK",
            "DHCPNAK",
            "DHCPRELEASE",
            "DHCPINFORM"
        ]
    );
    for v in 1..=8u8 {
        assert_eq!(MessageType::from_u8(v).map(|t| t as u8), Some(v));
    }
    assert_eq!(MessageType::Ack.to_string(), "DHCPACK");
}

#[test]
fn error_labels_are_distinct() {
    let errors = [
        WireError::TooShort(1),
        WireError::BadCookie,
        WireError::BadHlen(17),
        WireError::OptionOverrun { code: 3 },
        WireError::BadOverload(9),
        WireError::MissingEnd,
        WireError::BadOp(0),
        WireError::EmptyClientId,
    ];
    let labels: std::collections::BTreeSet<&str> = errors.iter().map(WireError::label).collect();
    assert_eq!(labels.len(), errors.len());
    assert_eq!(WireError::TooShort(5).label(), "too_short");
    assert_eq!(WireError::BadHlen(17).label(), "bad_hlen");
}

// ---------------------------------------------------------------- replies

#[test]
fn new_reply_copies_table_3_fields() {
    let req = decode_ok(&relayed_windows_request());
    let mut req = req;
    req.ciaddr = Ipv4Addr::new(10, 1, 2, 77);
    req.secs = 12;
    let offer = req.new_reply(MessageType::Offer);
    assert_eq!(offer.op, BOOTREPLY);
    assert_eq!(offer.xid, req.xid);
    assert_eq!(offer.flags, req.flags);
    assert_eq!(offer.giaddr, req.giaddr);
    assert_eq!(
        (offer.htype, offer.hlen, offer.chaddr),
        (req.htype, req.hlen, req.chaddr)
    );
    assert_eq!((offer.hops, offer.secs), (0, 0));
    assert_eq!(offer.ciaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(offer.message_type(), Some(MessageType::Offer));
    assert_eq!(offer.options.len(), 1);
    assert!(offer.has_cookie);
    let ack = req.new_reply(MessageType::Ack);
    assert_eq!(ack.ciaddr, req.ciaddr);
    let nak = req.new_reply(MessageType::Nak);
    assert_eq!(nak.ciaddr, Ipv4Addr::UNSPECIFIED);
    // And it encodes to a valid packet.
    assert_eq!(decode_ok(&offer.encode()), offer);
}

/// An ACK whose options were put in PRL order by the engine.
fn ack_with(options: &[(u8, Vec<u8>)]) -> Packet {
    let req = decode_ok(&dhclient_discover());
    let mut ack = req.new_reply(MessageType::Ack);
    ack.yiaddr = Ipv4Addr::new(192, 168, 10, 57);
    for (c, v) in options {
        ack.options.insert(*c, v.clone());
    }
    ack
}

#[test]
fn reply_order_53_54_then_given_order_then_82() {
    let ack = ack_with(&[
        (82, vec![1, 2, b'a', b'b']),
        (1, vec![255, 255, 255, 0]),
        (28, vec![192, 168, 10, 255]),
        (3, vec![192, 168, 10, 1]),
        (15, b"example.org".to_vec()),
        (6, vec![192, 168, 10, 1]),
        (51, 3600u32.to_be_bytes().to_vec()),
        (54, vec![192, 168, 10, 1]),
    ]);
    // 53 was inserted first by new_reply; move it to check it is hoisted.
    let mut ack = ack;
    let t = ack.options.remove(53).unwrap_or_default();
    ack.options.insert(53, t);
    let (bytes, report) = ack.encode_reply(576);
    assert_eq!(report, EncodeReport::default());
    assert_eq!(wire_codes(&bytes), vec![53, 54, 1, 28, 3, 15, 6, 51, 82]);
    assert_eq!(bytes.len(), 300);
    let back = decode_ok(&bytes);
    assert_eq!(as_map(&back.options), as_map(&ack.options));
}

/// `n` filler options (codes 128..) of `len` octets each.
fn fillers(n: u8, len: usize) -> Vec<(u8, Vec<u8>)> {
    (0..n).map(|i| (128 + i, vec![i; len])).collect()
}

#[test]
fn reply_fills_576_exactly() {
    // Options field room at 576: 576 - 28 - 236 = 312 = cookie 4 + 53 (3)
    // + 54 (6) + 43 (257) + 60 (41) + END 1.
    let ack = ack_with(&[
        (54, vec![10, 0, 0, 1]),
        (43, vec![1; 255]),
        (60, vec![2; 39]),
    ]);
    let (bytes, report) = ack.encode_reply(576);
    assert_eq!(report, EncodeReport::default());
    assert_eq!(bytes.len(), 548);
    assert_eq!(bytes.len() + IP_UDP_OVERHEAD, 576);
    assert_eq!(bytes.last(), Some(&255));

    // One octet more does not fit: without room in file/sname it is dropped.
    let mut ack2 = ack_with(&[
        (54, vec![10, 0, 0, 1]),
        (43, vec![1; 255]),
        (60, vec![2; 40]),
    ]);
    ack2.file = b"pxelinux.0".to_vec();
    ack2.sname = b"tftp".to_vec();
    let (bytes, report) = ack2.encode_reply(576);
    assert_eq!(report.dropped, vec![60]);
    assert!(!report.overloaded);
    assert!(bytes.len() <= 548);
    let back = decode_ok(&bytes);
    assert!(!back.options.contains(60));
    assert_eq!(back.file, b"pxelinux.0");
    assert_eq!(back.sname, b"tftp");

    // Below 576 is raised to 576.
    assert_eq!(ack.encode_reply(300), ack.encode_reply(576));
    assert_eq!(ack.encode_reply(0), ack.encode_reply(576));
}

#[test]
fn reply_overloads_file_then_sname_and_decodes_back() {
    let mut opts = vec![(54, vec![10, 0, 0, 1]), (51, vec![0, 0, 14, 16])];
    opts.extend(fillers(20, 20)); // 20 × 22 = 440 octets: needs file and sname
    opts.push((1, vec![255, 255, 255, 0]));
    let ack = ack_with(&opts);
    let (bytes, report) = ack.encode_reply(576);
    assert!(report.overloaded);
    assert!(bytes.len() <= 548);
    let codes = wire_codes(&bytes);
    assert_eq!(&codes[..2], &[53, 54]);
    assert_eq!(codes.last(), Some(&52));
    let back = decode_ok(&bytes);
    let mut expected = as_map(&ack.options);
    for c in &report.dropped {
        expected.remove(c);
    }
    assert_eq!(as_map(&back.options), expected);
    // 312 + 127 + 63 octets of room minus fixed costs hold 53, 54, 51, 1
    // and most fillers; the rest are reported.
    assert!(!report.dropped.is_empty());
    for protected in [53, 54, 51, 1] {
        assert!(back.options.contains(protected), "{protected} kept");
    }
    // file is used as options: its first octet is an option code, and it
    // ends in END then pads.
    assert_ne!(bytes[108], 0);
    assert_eq!(bytes[108 + 127], 0);
}

#[test]
fn reply_overloads_only_unused_fields() {
    // 53 (3) + 54 (6) + 15 fillers of 22 = 339 octets > 307 free in the
    // options field. `file` carries a boot file name, so only `sname` (63
    // octets of room before its END) may take options: 13 fillers stay in
    // the options field (304 after option 52), 2 go to sname.
    let mut opts = vec![(54, vec![10, 0, 0, 1])];
    opts.extend(fillers(15, 20));
    let mut ack = ack_with(&opts);
    ack.file = b"pxelinux.0".to_vec();
    let (bytes, report) = ack.encode_reply(576);
    assert!(report.overloaded);
    assert!(report.dropped.is_empty());
    let end = end_of_options(&bytes);
    assert_eq!(&bytes[end - 3..=end], &[52, 1, 2, 255]);
    let back = decode_ok(&bytes);
    assert_eq!(back.file, b"pxelinux.0");
    assert!(back.sname.is_empty());
    assert_eq!(as_map(&back.options), as_map(&ack.options));
    // Without overload two fillers would have been dropped.
    ack.sname = b"tftp-1".to_vec();
    let (_, report) = ack.encode_reply(576);
    assert_eq!(report.dropped, vec![141, 142]);
    assert!(!report.overloaded);
}

#[test]
fn reply_relay_agent_info_gets_extra_room_and_goes_last() {
    // Full 576 reply plus a 40-octet option 82: ISC adds 82's size to the room.
    let agent = vec![3u8; 40];
    let ack = ack_with(&[
        (54, vec![10, 0, 0, 1]),
        (43, vec![1; 255]),
        (60, vec![2; 39]),
        (82, agent.clone()),
    ]);
    let (bytes, report) = ack.encode_reply(576);
    assert_eq!(report, EncodeReport::default());
    assert_eq!(bytes.len(), 548 + 42);
    assert_eq!(wire_codes(&bytes).last(), Some(&82));
    // Stripped of 82 by the relay, the client sees exactly 576.
    let back = decode_ok(&bytes);
    assert_eq!(back.relay_agent_info(), Some(&agent[..]));
}

#[test]
fn reply_82_last_even_with_overload() {
    let mut opts = vec![(54, vec![10, 0, 0, 1]), (82, vec![1, 1, 7])];
    opts.extend(fillers(16, 20));
    let ack = ack_with(&opts);
    let (bytes, report) = ack.encode_reply(576);
    assert!(report.overloaded);
    let codes = wire_codes(&bytes);
    assert_eq!(&codes[codes.len() - 2..], &[52, 82]);
}

#[test]
fn reply_protected_options_survive_big_ones() {
    // A 400-octet option first in PRL order fits no area at 576; the
    // protected options are still there.
    let ack = ack_with(&[
        (119, vec![9; 400]),
        (54, vec![10, 0, 0, 1]),
        (51, vec![0, 0, 1, 0]),
        (1, vec![255, 255, 0, 0]),
    ]);
    let (bytes, report) = ack.encode_reply(576);
    assert_eq!(report.dropped, vec![119]);
    let back = decode_ok(&bytes);
    for c in [53, 54, 51, 1] {
        assert!(back.options.contains(c));
    }
    // With a larger limit it fits (split in two instances).
    let (bytes, report) = ack.encode_reply(1500);
    assert!(report.dropped.is_empty());
    assert_eq!(decode_ok(&bytes).options.get(119), Some(&[9; 400][..]));
}

#[test]
fn reply_limit_capped_at_1500() {
    let ack = ack_with(&fillers(60, 30)); // 60 × 32 = 1920 octets
    let (bytes, report) = ack.encode_reply(9000);
    assert!(bytes.len() <= 1500 - IP_UDP_OVERHEAD);
    assert!(!report.dropped.is_empty());
    assert_eq!(ack.encode_reply(9000), ack.encode_reply(1500));
}

#[test]
fn bootp_reply_fits_vendor_area_without_overload() {
    let mut b = header(7);
    b.resize(300, 0);
    let req = decode_ok(&b);
    let mut reply = req.new_reply(MessageType::Offer);
    reply.options.remove(code::MESSAGE_TYPE);
    reply.options.insert(1, vec![255, 255, 255, 0]);
    reply.options.insert(3, vec![10, 0, 0, 1]);
    reply.options.insert(12, vec![b'h'; 60]);
    // Vendor area 64: cookie 4 + 1 (6) + 3 (6) + END 1 = 17; 12 (62) won't fit.
    let (bytes, report) = reply.encode_bootp_reply(&req, 300);
    assert_eq!(bytes.len(), 300);
    assert_eq!(report.dropped, vec![12]);
    assert!(!report.overloaded);
    assert!(end_of_options(&bytes) < 300);
    // A longer request leaves more room.
    let (_, report) = reply.encode_bootp_reply(&req, 400);
    assert!(report.dropped.is_empty());
}

#[test]
fn encode_pads_to_300_and_skips_framing_codes() {
    let mut p = ack_with(&[(0, vec![1]), (255, vec![2]), (52, vec![3])]);
    p.options.insert(3, vec![10, 0, 0, 1]);
    let bytes = p.encode();
    assert_eq!(bytes.len(), 300);
    assert_eq!(wire_codes(&bytes), vec![53, 3]);
    let (bytes, _) = p.encode_reply(576);
    assert_eq!(wire_codes(&bytes), vec![53, 3]);
}

// ---------------------------------------------------------------- properties

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn text(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..=max)
}

/// Options that must round-trip: unique codes, not 0/52/255, no empty 61,
/// sometimes values longer than 255 octets.
fn options() -> impl Strategy<Value = Options> {
    let value = prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::collection::vec(any::<u8>(), 200..600),
    ];
    prop::collection::vec((1u8..=254, value), 0..25).prop_map(|list| {
        let mut o = Options::default();
        for (c, v) in list {
            if c == code::OVERLOAD || (c == code::CLIENT_ID && v.is_empty()) || o.contains(c) {
                continue;
            }
            o.entries.push((c, v));
        }
        o
    })
}

prop_compose! {
    fn packet()(
        op in 1u8..=2, htype in any::<u8>(), hlen in 0u8..=16, hops in any::<u8>(),
        xid in any::<u32>(), secs in any::<u16>(), flags in any::<u16>(),
        ciaddr in addr(), yiaddr in addr(), siaddr in addr(), giaddr in addr(),
        chaddr in any::<[u8; 16]>(), sname in text(64), file in text(128),
        has_cookie in prop::bool::weighted(0.9), options in options(),
    ) -> Packet {
        let options = if has_cookie { options } else { Options::default() };
        Packet {
            op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr,
            chaddr, sname, file, has_cookie, options,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_roundtrip(p in packet()) {
        let bytes = p.encode();
        prop_assert!(bytes.len() >= BOOTP_MIN_LEN);
        prop_assert_eq!(Packet::decode(&bytes), Ok(p));
    }

    #[test]
    fn prop_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        let _ = Packet::decode(&bytes);
    }

    /// Arbitrary bytes rarely get past the cookie; mutate valid packets too.
    #[test]
    fn prop_decode_mutated_never_panics(
        p in packet(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = p.encode();
        for (at, v) in edits {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Ok(q) = Packet::decode(&bytes) {
            // Whatever decodes re-encodes to something that decodes the same.
            prop_assert_eq!(Packet::decode(&q.encode()), Ok(q));
        }
    }

    #[test]
    fn prop_reply_fits_and_decodes_back(p in packet(), max in 0usize..2000) {
        let mut p = p;
        p.has_cookie = true;
        let (bytes, report) = p.encode_reply(max);
        let limit = max.clamp(576, 1500) - IP_UDP_OVERHEAD;
        let agent = p.relay_agent_info().map_or(0, |v| v.len() + 2 * v.len().div_ceil(255).max(1));
        prop_assert!(bytes.len() <= (limit + agent).clamp(BOOTP_MIN_LEN, 1500 - IP_UDP_OVERHEAD));
        let back = Packet::decode(&bytes)
            .map_err(|e| TestCaseError::fail(format!("reply does not decode: {e}")))?;
        let mut expected = as_map(&p.options);
        for c in &report.dropped {
            prop_assert!(expected.remove(c).is_some());
        }
        prop_assert_eq!(as_map(&back.options), expected);
        let codes = wire_codes(&bytes);
        if p.options.contains(53) && !report.dropped.contains(&53) {
            prop_assert_eq!(codes.first(), Some(&53));
        }
        if p.options.contains(54) && !report.dropped.contains(&54) {
            let at = usize::from(p.options.contains(53) && !report.dropped.contains(&53));
            prop_assert_eq!(codes.get(at), Some(&54));
        }
        if p.options.contains(82) && !report.dropped.contains(&82) {
            prop_assert_eq!(codes.last(), Some(&82));
        }
        if !report.overloaded {
            prop_assert_eq!(back.sname, p.sname.clone());
            prop_assert_eq!(back.file, p.file.clone());
        }
    }
}
