//! Decodes arbitrary bytes as a DHCPv4 packet. Whatever decodes must
//! re-encode to bytes that decode to the same packet, and must survive the
//! accessors and the reply encoders with their size and order guarantees.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use tandem_wire::{
    code, relay_suboptions, MessageType, Options, Packet, BOOTP_MIN_LEN, IP_UDP_OVERHEAD,
    MAX_REPLY_SIZE,
};

fn as_map(o: &Options) -> BTreeMap<u8, Vec<u8>> {
    o.iter().map(|(c, v)| (c, v.to_vec())).collect()
}

fn wire_len(len: usize) -> usize {
    len + 2 * len.div_ceil(255).max(1)
}

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Packet::decode(data) else {
        return;
    };

    // Round trip: decode(encode(p)) == p for every decoded packet.
    let bytes = p.encode();
    assert!(bytes.len() >= BOOTP_MIN_LEN);
    let again = Packet::decode(&bytes).expect("re-encoded packet must decode");
    assert_eq!(again, p);

    // Accessors never panic.
    let _ = (
        p.message_type().map(MessageType::name),
        p.hw_addr(),
        p.client_id(),
        p.requested_address(),
        p.server_id(),
        p.parameter_request_list(),
        p.hostname(),
        p.link_selection(),
        p.broadcast(),
        p.is_bootp(),
    );
    assert!(p.hw_addr().len() <= 16);
    if let Some(agent) = p.relay_agent_info() {
        let _ = relay_suboptions(agent);
    }

    // A reply carrying every option of the request, at several limits.
    let mut reply = p.new_reply(MessageType::Ack);
    for (c, v) in p.options.iter().filter(|(c, _)| *c != code::MESSAGE_TYPE) {
        reply.options.insert(c, v.to_vec());
    }
    reply.file = p.file.clone();
    for max in [0, 576, p.reply_size_limit(), MAX_REPLY_SIZE] {
        let (bytes, report) = reply.encode_reply(max);
        let limit = max.clamp(576, MAX_REPLY_SIZE) - IP_UDP_OVERHEAD;
        let agent = reply.relay_agent_info().map_or(0, |v| wire_len(v.len()));
        assert!(
            bytes.len() <= (limit + agent).clamp(BOOTP_MIN_LEN, MAX_REPLY_SIZE - IP_UDP_OVERHEAD)
        );
        let back = Packet::decode(&bytes).expect("reply must decode");
        let mut expected = as_map(&reply.options);
        for c in &report.dropped {
            assert!(expected.remove(c).is_some(), "dropped {c} twice or absent");
        }
        assert_eq!(as_map(&back.options), expected);
        assert!(!report.dropped.contains(&code::MESSAGE_TYPE));
    }
    let (bytes, _) = reply.encode_bootp_reply(&p, data.len());
    assert!(Packet::decode(&bytes).is_ok());
});
