//! Encoding: a plain encoder (all options, no limit) and the reply encoder
//! (priority order, size limit, option overload).

use std::iter;

use crate::{
    code, EncodeReport, Packet, BOOTP_MIN_LEN, BOOTP_VENDOR_LEN, FILE_LEN, FIXED_LEN,
    IP_UDP_OVERHEAD, MAGIC_COOKIE, MAX_REPLY_SIZE, MIN_MESSAGE_SIZE, SNAME_LEN,
};

/// Room for the options field (cookie included) in the largest reply.
/// ISC: `DHCP_MAX_OPTION_LEN = DHCP_MTU_MAX - DHCP_FIXED_LEN` = 1236.
const MAX_OPTIONS_ROOM: usize = MAX_REPLY_SIZE - IP_UDP_OVERHEAD - FIXED_LEN;

/// Options the reply encoder places before all others when room is short,
/// in this order; they are the last to be dropped. (Option 82 has its own
/// room, see `encode_within`.)
const PROTECTED: [u8; 4] = [
    code::MESSAGE_TYPE,
    code::SERVER_ID,
    code::LEASE_TIME,
    code::SUBNET_MASK,
];

/// The encoders write every option except PAD and END (which carry no value)
/// and option overload, which only they may set (it describes the layout
/// they chose).
fn is_data_code(c: u8) -> bool {
    !matches!(c, code::PAD | code::END | code::OVERLOAD)
}

/// Octets an option takes on the wire. RFC 3396: a value longer than 255
/// octets is sent as several instances of the same code, which the receiver
/// concatenates.
fn wire_len(value_len: usize) -> usize {
    if value_len == 0 {
        2
    } else {
        value_len + 2 * value_len.div_ceil(255)
    }
}

fn put_option(out: &mut Vec<u8>, code: u8, value: &[u8]) {
    if value.is_empty() {
        out.extend_from_slice(&[code, 0]);
        return;
    }
    for chunk in value.chunks(255) {
        out.push(code);
        out.push(u8::try_from(chunk.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(chunk);
    }
}

/// A fixed text field: the bytes (truncated to the field) then NULs.
fn text_field<const N: usize>(text: &[u8]) -> [u8; N] {
    let mut field = [0u8; N];
    for (dst, src) in field.iter_mut().zip(text) {
        *dst = *src;
    }
    field
}

/// An overloaded field: its options, END, then PAD to the end of the field
/// (RFC 2131 §4.1: they "MUST begin with the first octet of the field, MUST
/// be terminated by an 'end' option, and MUST be followed by 'pad' options").
fn option_field<const N: usize>(options: &[u8]) -> [u8; N] {
    let mut field = [0u8; N];
    let bytes = options.iter().chain(iter::once(&code::END));
    for (dst, src) in field.iter_mut().zip(bytes) {
        *dst = *src;
    }
    field
}

/// Zero-pads to the BOOTP minimum (RFC 1542, ISC `BOOTP_MIN_LEN`).
fn pad_to_bootp_min(out: &mut Vec<u8>) {
    if out.len() < BOOTP_MIN_LEN {
        out.resize(BOOTP_MIN_LEN, 0);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Options,
    File,
    Sname,
}

/// An option to place: its value and its size on the wire.
struct Item<'a> {
    code: u8,
    value: &'a [u8],
    size: usize,
}

/// First-fit placement in priority order: each option goes whole into the
/// first area (options, file, sname) with room left for it. Returns the area
/// of each item, indexed like `items`; `None` = dropped.
fn place(items: &[Item<'_>], priority: &[usize], room: [usize; 3]) -> Vec<Option<Area>> {
    let mut free = room;
    let mut placed = vec![None; items.len()];
    for &i in priority {
        let Some(item) = items.get(i) else { continue };
        let areas = [Area::Options, Area::File, Area::Sname];
        let fit = free
            .iter_mut()
            .zip(areas)
            .find(|(left, _)| **left >= item.size);
        if let (Some((left, area)), Some(slot)) = (fit, placed.get_mut(i)) {
            *left -= item.size;
            *slot = Some(area);
        }
    }
    placed
}

/// Whether placement `a` keeps a higher-priority option than `b` does: at
/// the first option (in priority order) that one keeps and the other drops.
fn keeps_more(a: &[Option<Area>], b: &[Option<Area>], priority: &[usize]) -> bool {
    for &i in priority {
        let in_a = a.get(i).copied().flatten().is_some();
        let in_b = b.get(i).copied().flatten().is_some();
        if in_a != in_b {
            return in_a;
        }
    }
    false
}

impl Packet {
    /// Writes the packet with every option in `options` order, in the
    /// options field only (no size limit, no overload), END, then zero
    /// padding to 300 octets. Values longer than 255 octets are split into
    /// consecutive instances (RFC 3396). `sname`/`file` are truncated to 64 and
    /// 128 octets. Not written: options 0, 255 and 52, and any option when
    /// `has_cookie` is false (then the vendor area is zeros).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BOOTP_MIN_LEN);
        self.put_header(&mut out, &text_field(&self.sname), &text_field(&self.file));
        if self.has_cookie {
            out.extend_from_slice(&MAGIC_COOKIE);
            for (c, value) in self.options.iter().filter(|(c, _)| is_data_code(*c)) {
                put_option(&mut out, c, value);
            }
            out.push(code::END);
        }
        pad_to_bootp_min(&mut out);
        out
    }

    /// Writes a DHCP reply that fits the client's limit.
    ///
    /// `max_size` is the client's maximum DHCP message size: option 57 of the
    /// request, or 576 without it (see [`Packet::reply_size_limit`]).
    /// It counts the IP and UDP headers: RFC 2131 §2 asks clients to accept
    /// "an 'options' field of at least length 312 octets", which "implies
    /// that a DHCP client must be prepared to receive a message of up to 576
    /// octets", and 20 (IP) + 8 (UDP) + 236 (fixed) + 312 = 576. ISC
    /// (`cons_options`, common/options.c) does the same: options room =
    /// 57 - `DHCP_FIXED_LEN` (236 + 28), with 57 raised to 576
    /// (`DHCP_MTU_MIN`) and capped at 1500 (`DHCP_MTU_MAX`). So at 576 the
    /// options field (cookie and END included) has 312 octets and the UDP
    /// payload is at most 548.
    ///
    /// Order: 53, 54, the other options in `options` order, then 52 if used,
    /// then 82 last (RFC 3046 §2.2: the server echoes it; relays look for
    /// it), then END. Like ISC, option 82's size is added to the room (the
    /// relay strips it before the client sees the reply), up to the 1500 cap.
    ///
    /// When the options field is full and `file` (then `sname`) is empty, the
    /// remaining options go there with option 52 (RFC 2132 §9.3). Options that
    /// fit nowhere are dropped, lowest priority first: 53, 54, 51, 1 are placed
    /// before all others, the rest in `options` order. Each option stays whole
    /// in one area. The packet is zero-padded to 300 octets.
    pub fn encode_reply(&self, max_size: usize) -> (Vec<u8>, EncodeReport) {
        let mms = max_size.clamp(MIN_MESSAGE_SIZE, MAX_REPLY_SIZE);
        self.encode_within(mms - IP_UDP_OVERHEAD - FIXED_LEN, true)
    }

    /// Writes a reply to a BOOTP client (RFC 951/1542), without option
    /// overload (BOOTP clients don't know it). Room for options as ISC's
    /// `cons_options` computes it for BOOTP: the request's option 57 if it
    /// sent one (as for DHCP), else the request's vendor area
    /// (`request_len` - 236, at least 64 octets). `request_len` is the UDP
    /// payload length of the request; pass 300 if unknown.
    pub fn encode_bootp_reply(
        &self,
        request: &Packet,
        request_len: usize,
    ) -> (Vec<u8>, EncodeReport) {
        let room = match request.max_message_size() {
            Some(mms) => {
                usize::from(mms).clamp(MIN_MESSAGE_SIZE, MAX_REPLY_SIZE)
                    - IP_UDP_OVERHEAD
                    - FIXED_LEN
            }
            None => request_len
                .saturating_sub(FIXED_LEN)
                .clamp(BOOTP_VENDOR_LEN, MAX_OPTIONS_ROOM),
        };
        self.encode_within(room, false)
    }

    /// `room`: octets for the options field, cookie and END included.
    fn encode_within(&self, room: usize, may_overload: bool) -> (Vec<u8>, EncodeReport) {
        let mut report = EncodeReport::default();
        if !self.has_cookie {
            report.dropped = self
                .options
                .iter()
                .map(|(c, _)| c)
                .filter(|c| is_data_code(*c))
                .collect();
            return (self.encode(), report);
        }

        // ISC cons_options: "If answering a client message, see whether any
        // relay agent options were included ... make space in the main
        // buffer to accommodate them" (mb_size += agent_size, capped).
        let agent = self.options.get(code::RELAY_AGENT_INFO);
        let agent_len = agent.map_or(0, |v| wire_len(v.len()));
        let options_room = room.saturating_add(agent_len).min(MAX_OPTIONS_ROOM);
        let mut free = options_room.saturating_sub(MAGIC_COOKIE.len() + 1);
        let agent = match agent {
            Some(value) if agent_len <= free => {
                free -= agent_len;
                Some(value)
            }
            _ => None,
        };
        let agent_dropped = self.options.contains(code::RELAY_AGENT_INFO) && agent.is_none();

        // Emission order: 53, 54, then the caller's order (stable sort).
        let mut items: Vec<Item<'_>> = self
            .options
            .iter()
            .filter(|(c, _)| is_data_code(*c) && *c != code::RELAY_AGENT_INFO)
            .map(|(code, value)| Item {
                code,
                value,
                size: wire_len(value.len()),
            })
            .collect();
        items.sort_by_key(|item| match item.code {
            code::MESSAGE_TYPE => 0,
            code::SERVER_ID => 1,
            _ => 2,
        });
        // Placement priority: protected options first, then emission order.
        let mut priority: Vec<usize> = (0..items.len()).collect();
        priority.sort_by_key(|&i| {
            items
                .get(i)
                .and_then(|item| PROTECTED.iter().position(|&p| p == item.code))
                .unwrap_or(PROTECTED.len())
        });

        let mut chosen = place(&items, &priority, [free, 0, 0]);
        let mut overload = 0u8;
        // RFC 2132 §9.3: overload only into fields the reply doesn't use;
        // option 52 itself takes 3 octets of the options field.
        let file_room = if self.file.is_empty() {
            FILE_LEN - 1
        } else {
            0
        };
        let sname_room = if self.sname.is_empty() {
            SNAME_LEN - 1
        } else {
            0
        };
        if may_overload && chosen.contains(&None) && free >= 3 && file_room + sname_room > 0 {
            let spread = place(&items, &priority, [free - 3, file_room, sname_room]);
            let used = spread.iter().fold(0u8, |bits, area| match area {
                Some(Area::File) => bits | 1,
                Some(Area::Sname) => bits | 2,
                _ => bits,
            });
            if used != 0 && keeps_more(&spread, &chosen, &priority) {
                chosen = spread;
                overload = used;
            }
        }

        let mut main = Vec::with_capacity(options_room);
        let mut file = Vec::new();
        let mut sname = Vec::new();
        main.extend_from_slice(&MAGIC_COOKIE);
        for (item, area) in items.iter().zip(&chosen) {
            match area {
                Some(Area::Options) => put_option(&mut main, item.code, item.value),
                Some(Area::File) => put_option(&mut file, item.code, item.value),
                Some(Area::Sname) => put_option(&mut sname, item.code, item.value),
                None => report.dropped.push(item.code),
            }
        }
        if overload != 0 {
            main.extend_from_slice(&[code::OVERLOAD, 1, overload]);
            report.overloaded = true;
        }
        if let Some(value) = agent {
            put_option(&mut main, code::RELAY_AGENT_INFO, value);
        }
        if agent_dropped {
            report.dropped.push(code::RELAY_AGENT_INFO);
        }
        main.push(code::END);

        let sname_field = if overload & 2 != 0 {
            option_field(&sname)
        } else {
            text_field(&self.sname)
        };
        let file_field = if overload & 1 != 0 {
            option_field(&file)
        } else {
            text_field(&self.file)
        };
        let mut out = Vec::with_capacity(FIXED_LEN + main.len());
        self.put_header(&mut out, &sname_field, &file_field);
        out.extend_from_slice(&main);
        pad_to_bootp_min(&mut out);
        (out, report)
    }

    /// The 236-octet fixed part (RFC 2131 §2, figure 1).
    fn put_header(&self, out: &mut Vec<u8>, sname: &[u8; SNAME_LEN], file: &[u8; FILE_LEN]) {
        out.extend_from_slice(&[self.op, self.htype, self.hlen, self.hops]);
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for addr in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&addr.octets());
        }
        out.extend_from_slice(&self.chaddr);
        out.extend_from_slice(sname);
        out.extend_from_slice(file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_len_matches_put_option() {
        for len in [0usize, 1, 254, 255, 256, 510, 511, 1000] {
            let mut out = Vec::new();
            put_option(&mut out, 43, &vec![7u8; len]);
            assert_eq!(out.len(), wire_len(len), "len {len}");
        }
    }

    #[test]
    fn long_value_is_split_in_255_octet_instances() {
        let mut out = Vec::new();
        put_option(&mut out, 121, &vec![1u8; 300]);
        assert_eq!(out.first(), Some(&121));
        assert_eq!(out.get(1), Some(&255));
        assert_eq!(out.get(257), Some(&121));
        assert_eq!(out.get(258), Some(&45));
        assert_eq!(out.len(), 304);
    }
}
