//! IPv4 + UDP headers for replies sent through the packet socket, where the
//! kernel adds only the link-layer header. Pure: no I/O.

use std::net::Ipv4Addr;

/// Length of the IPv4 header we write (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// IP protocol number of UDP.
const IPPROTO_UDP: u8 = 17;
/// ISC's `assemble_udp_ip_header` sets IPTOS_LOWDELAY on DHCP replies.
const TOS_LOWDELAY: u8 = 0x10;
/// Linux's default TTL (`net.ipv4.ip_default_ttl`).
const TTL: u8 = 64;

/// The payload does not fit in one IPv4 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("payload of {0} bytes does not fit in an IPv4/UDP datagram")]
pub struct PayloadTooLarge(pub usize);

/// Adds `data` to a running ones'-complement sum (RFC 1071 §4.1), taking
/// bytes as big-endian 16-bit words; an odd last byte is padded with zero.
pub fn ones_complement_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]])));
        // Fold early so the accumulator can never overflow.
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if let [last] = words.remainder() {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([*last, 0])));
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// Folds a running sum to 16 bits and complements it (RFC 1071).
pub fn finish_checksum(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum of `data` (RFC 1071).
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish_checksum(ones_complement_add(0, data))
}

/// Writes an IPv4 header, a UDP header and `payload` into `out` (cleared
/// first, so a caller can reuse one buffer for every reply).
///
/// Both checksums are filled in. RFC 768: "If the computed checksum is zero,
/// it is transmitted as all ones", since zero means "no checksum".
pub fn build_ipv4_udp(
    out: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Result<(), PayloadTooLarge> {
    let udp_len = UDP_HEADER_LEN + payload.len();
    let total_len = IPV4_HEADER_LEN + udp_len;
    let total_len16 = u16::try_from(total_len).map_err(|_| PayloadTooLarge(payload.len()))?;
    // udp_len < total_len, so this cannot fail once total_len fits.
    let udp_len16 = total_len16 - IPV4_HEADER_LEN as u16;

    out.clear();
    out.reserve(total_len);
    // RFC 791 §3.1: version 4, IHL 5 words.
    out.extend_from_slice(&[0x45, TOS_LOWDELAY]);
    out.extend_from_slice(&total_len16.to_be_bytes());
    // Identification 0, no fragmentation flags, offset 0 (as ISC does).
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&[TTL, IPPROTO_UDP, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let ip_sum = internet_checksum(&out[..IPV4_HEADER_LEN]);
    out[10..12].copy_from_slice(&ip_sum.to_be_bytes());

    out.extend_from_slice(&src_port.to_be_bytes());
    out.extend_from_slice(&dst_port.to_be_bytes());
    out.extend_from_slice(&udp_len16.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);

    // RFC 768: the checksum covers a pseudo header (source, destination,
    // zero, protocol, UDP length), the UDP header and the data.
    let mut sum = ones_complement_add(0, &src.octets());
    sum = ones_complement_add(sum, &dst.octets());
    sum = ones_complement_add(sum, &[0, IPPROTO_UDP]);
    sum = ones_complement_add(sum, &udp_len16.to_be_bytes());
    sum = ones_complement_add(sum, &out[IPV4_HEADER_LEN..]);
    let mut udp_sum = finish_checksum(sum);
    if udp_sum == 0 {
        udp_sum = 0xffff;
    }
    let at = IPV4_HEADER_LEN + 6;
    out[at..at + 2].copy_from_slice(&udp_sum.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071 §3's worked example: the words 0001 f203 f4f5 f6f7 sum to
    /// ddf2 (one's complement), whose complement 220d is the checksum.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(ones_complement_add(0, &data), 0xddf2);
        assert_eq!(internet_checksum(&data), 0x220d);
    }

    /// The IPv4 header of Wikipedia's "Internet checksum" article example
    /// (192.168.0.1 -> 192.168.0.199, TTL 64, UDP, DF): checksum b861.
    #[test]
    fn known_ipv4_header_checksum() {
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&hdr), 0xb861);
    }

    /// A frame built by hand: 10.0.0.10:67 -> 10.0.0.100:68 with payload
    /// "abc". Header checksum and UDP checksum were computed independently
    /// (python: sum of 16-bit words, folded, complemented).
    #[test]
    fn known_udp_frame() {
        let mut out = Vec::new();
        build_ipv4_udp(
            &mut out,
            Ipv4Addr::new(10, 0, 0, 10),
            Ipv4Addr::new(10, 0, 0, 100),
            67,
            68,
            b"abc",
        )
        .unwrap();
        let expected: [u8; 31] = [
            0x45, 0x10, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x66, 0x51, 0x0a, 0x00,
            0x00, 0x0a, 0x0a, 0x00, 0x00, 0x64, // IPv4
            0x00, 0x43, 0x00, 0x44, 0x00, 0x0b, 0x26, 0x81, // UDP
            b'a', b'b', b'c',
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn too_large_payload_is_refused() {
        let mut out = Vec::new();
        let big = vec![0u8; 65_536];
        assert_eq!(
            build_ipv4_udp(
                &mut out,
                Ipv4Addr::LOCALHOST,
                Ipv4Addr::LOCALHOST,
                1,
                2,
                &big
            ),
            Err(PayloadTooLarge(65_536))
        );
    }

    proptest! {
        /// A receiver verifies a header by summing it with its checksum in
        /// place: the result must be zero (RFC 1071 §1). Same for UDP with
        /// its pseudo header.
        #[test]
        fn checksums_verify(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16,
                            payload in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            let mut out = Vec::new();
            build_ipv4_udp(&mut out, src, dst, sp, dp, &payload).unwrap();
            prop_assert_eq!(out.len(), 28 + payload.len());
            prop_assert_eq!(internet_checksum(&out[..20]), 0);
            let udp = &out[20..];
            let mut sum = ones_complement_add(0, &src.octets());
            sum = ones_complement_add(sum, &dst.octets());
            sum = ones_complement_add(sum, &[0, 17]);
            sum = ones_complement_add(sum, &(udp.len() as u16).to_be_bytes());
            sum = ones_complement_add(sum, udp);
            prop_assert_eq!(finish_checksum(sum), 0);
            prop_assert_eq!(&out[28..], &payload[..]);
        }
    }
}
