//! Validation and decoding of received packets. Never panics: every read
//! goes through `split_first_chunk`/`split_at_checked`.

use std::net::Ipv4Addr;

use crate::{
    code, Options, Packet, WireError, BOOTREPLY, BOOTREQUEST, FILE_LEN, FIXED_LEN, MAGIC_COOKIE,
    SNAME_LEN,
};

/// Reads the fixed header front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| *b)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take::<2>().map(|b| u16::from_be_bytes(*b))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(|b| u32::from_be_bytes(*b))
    }
    fn addr(&mut self) -> Option<Ipv4Addr> {
        self.take::<4>().map(|b| Ipv4Addr::from(*b))
    }
}

/// Collects options across the three areas, concatenating a repeated code
/// into its first entry. RFC 3396 §5: the "aggregate option buffer" is the
/// options field, then `file`, then `sname`; the instances of one code are
/// joined in the order they appear in it.
struct Collector {
    entries: Vec<(u8, Vec<u8>)>,
    slot: [Option<usize>; 256],
}

impl Collector {
    fn new() -> Self {
        Collector {
            entries: Vec::new(),
            slot: [None; 256],
        }
    }

    fn add(&mut self, code: u8, value: &[u8]) {
        let at = usize::from(code);
        match self.slot.get(at).copied().flatten() {
            Some(i) => {
                if let Some((_, v)) = self.entries.get_mut(i) {
                    v.extend_from_slice(value);
                }
            }
            None => {
                if let Some(s) = self.slot.get_mut(at) {
                    *s = Some(self.entries.len());
                }
                self.entries.push((code, value.to_vec()));
            }
        }
    }

    fn get(&self, code: u8) -> Option<&[u8]> {
        let i = self.slot.get(usize::from(code)).copied().flatten()?;
        self.entries.get(i).map(|(_, v)| v.as_slice())
    }
}

/// Parses one option area (the options field after the cookie, or an
/// overloaded `file`/`sname`).
///
/// RFC 2132 §2: PAD (0) and END (255) are one octet; every other option is
/// code, length, value. RFC 2131 §4.1: "Any individual option in the
/// 'options', 'sname' and 'file' fields MUST be entirely contained in that
/// field" -> an option running past its area is `OptionOverrun`.
/// Bytes after END are ignored, and a missing END is tolerated (the area
/// ends where the buffer ends), as ISC's `parse_option_buffer` does.
/// `overloaded` areas may not carry option 52 again (ignored if they do).
fn parse_area(area: &[u8], sink: &mut Collector, overloaded: bool) -> Result<(), WireError> {
    let mut rest = area;
    while let Some((&code, tail)) = rest.split_first() {
        match code {
            code::PAD => rest = tail,
            code::END => break,
            _ => {
                let (&len, tail) = tail
                    .split_first()
                    .ok_or(WireError::OptionOverrun { code })?;
                let (value, tail) = tail
                    .split_at_checked(usize::from(len))
                    .ok_or(WireError::OptionOverrun { code })?;
                if !(overloaded && code == code::OVERLOAD) {
                    sink.add(code, value);
                }
                rest = tail;
            }
        }
    }
    Ok(())
}

/// The text of a fixed `sname`/`file` field: its bytes up to the first NUL.
fn field_text(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or_default().to_vec()
}

impl Packet {
    /// Validates and decodes a received BOOTP/DHCP message (the UDP payload).
    pub fn decode(buf: &[u8]) -> Result<Packet, WireError> {
        // ISC dhcpd drops anything shorter than the fixed BOOTP header
        // (common/discover.c: "If we didn't at least get the fixed portion of
        // the BOOTP packet, drop the packet").
        let too_short = WireError::TooShort(buf.len());
        let mut r = Reader(buf);
        let op = r.u8().ok_or(too_short.clone())?;
        let htype = r.u8().ok_or(too_short.clone())?;
        let hlen = r.u8().ok_or(too_short.clone())?;
        let hops = r.u8().ok_or(too_short.clone())?;
        let xid = r.u32().ok_or(too_short.clone())?;
        let secs = r.u16().ok_or(too_short.clone())?;
        let flags = r.u16().ok_or(too_short.clone())?;
        let ciaddr = r.addr().ok_or(too_short.clone())?;
        let yiaddr = r.addr().ok_or(too_short.clone())?;
        let siaddr = r.addr().ok_or(too_short.clone())?;
        let giaddr = r.addr().ok_or(too_short.clone())?;
        let chaddr = *r.take::<16>().ok_or(too_short.clone())?;
        let sname_field = r.take::<SNAME_LEN>().ok_or(too_short.clone())?;
        let file_field = r.take::<FILE_LEN>().ok_or(too_short)?;
        debug_assert_eq!(buf.len() - r.0.len(), FIXED_LEN);
        let vendor = r.0;

        // RFC 951 §3: op is 1 (BOOTREQUEST) or 2 (BOOTREPLY).
        if op != BOOTREQUEST && op != BOOTREPLY {
            return Err(WireError::BadOp(op));
        }
        // chaddr is 16 octets; ISC: "Discarding packet with bogus hlen".
        if usize::from(hlen) > chaddr.len() {
            return Err(WireError::BadHlen(hlen));
        }

        let mut packet = Packet {
            op,
            htype,
            hlen,
            hops,
            xid,
            secs,
            flags,
            ciaddr,
            yiaddr,
            siaddr,
            giaddr,
            chaddr,
            sname: field_text(sname_field),
            file: field_text(file_field),
            has_cookie: false,
            options: Options::default(),
        };

        // RFC 2131 §3 / RFC 1497: the options field starts with the magic
        // cookie 99.130.83.99. Without it the packet is plain BOOTP (RFC 951),
        // accepted only when the vendor area does not start with some other
        // magic number: absent (236-239 bytes) or zero-filled.
        let (cookie, options_area) = match vendor.split_first_chunk::<4>() {
            Some((cookie, rest)) => (&cookie[..], rest),
            None => (vendor, &[][..]),
        };
        if cookie != MAGIC_COOKIE {
            if cookie.iter().all(|&b| b == 0) {
                return Ok(packet);
            }
            return Err(WireError::BadCookie);
        }
        packet.has_cookie = true;

        let mut found = Collector::new();
        parse_area(options_area, &mut found, false)?;

        // RFC 2131 §4.1: "The options in the 'options' field MUST be
        // interpreted first, so that any 'option overload' options may be
        // interpreted. The 'file' field MUST be interpreted next (if the
        // 'option overload' option indicates that the 'file' field contains
        // DHCP options), followed by the 'sname' field."
        // RFC 2132 §9.3: length 1, value 1 = file, 2 = sname, 3 = both.
        let overload = match found.get(code::OVERLOAD) {
            None => 0,
            Some(&[v @ 1..=3]) => v,
            Some(other) => return Err(WireError::BadOverload(other.first().copied().unwrap_or(0))),
        };
        if overload & 1 != 0 {
            parse_area(file_field, &mut found, true)?;
            packet.file.clear();
        }
        if overload & 2 != 0 {
            parse_area(sname_field, &mut found, true)?;
            packet.sname.clear();
        }

        // ISC validate_packet(): a zero-length client-identifier is dropped.
        if found.get(code::CLIENT_ID).is_some_and(<[u8]>::is_empty) {
            return Err(WireError::EmptyClientId);
        }

        // Option 52 only frames the packet; it is not kept as data.
        let mut entries = found.entries;
        entries.retain(|(c, _)| *c != code::OVERLOAD);
        packet.options = Options { entries };
        Ok(packet)
    }
}
