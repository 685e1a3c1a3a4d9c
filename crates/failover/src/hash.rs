//! Load balancing: the RFC 3074 Pearson hash with ISC's mixing table and ISC's
//! bucket conventions (isc-failover.md §4; `fo.c:5918-6053`).
//!
//! * Hash: `h = len mod 256; for i = len-1 down to 0: h = T[h ^ key[i]]`
//!   (last byte first, `loadb_p_hash` `fo.c:5948-5956`).
//! * Key: the raw option 61 value (type byte included) if the client sent one,
//!   else `chaddr[..hlen]` without htype (`load_balance_mine` `fo.c:5958-6010`).
//!   For a stored lease: its uid, else its hardware address without htype
//!   (`peer_wants_lease` `fo.c:6018-6053`).
//! * Bucket `b` is bit `b % 8` (LSB first) of byte `b / 8` of the 32-byte HBA.
//! * Polarity **[ISC≠draft]**: a set bit means the *primary* serves the client.
//!   The HBA exchanged in CONNECT is always the primary's bitmap; the secondary
//!   inverts the test.
//! * `split N` sets buckets `0..N`.
//! * `load balance max seconds S` (only when cooperating, DISCOVER and BOOTP):
//!   `S == 0` or `secs > S` → answer regardless of the hash.

use tandem_lease::Lease;
use thiserror::Error;

use crate::Role;

/// ISC's mixing table `loadb_mx_tbl` (`fo.c:5920-5946`, Appendix A), from
/// draft-ietf-dhc-loadb-01. A permutation of 0..=255.
pub const MIXING_TABLE: [u8; 256] = [
    251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, //
    31, 32, 55, 60, 152, 58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223, //
    59, 3, 18, 140, 111, 166, 203, 196, 134, 243, 124, 95, 222, 179, 197, 65, //
    180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97, 16, //
    40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67, //
    207, 9, 178, 204, 74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, //
    20, 113, 71, 35, 128, 13, 182, 94, 25, 226, 227, 199, 75, 27, 41, 245, //
    230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241, 73, 88, 105, //
    39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, //
    82, 163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, //
    195, 42, 106, 198, 118, 112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, //
    137, 185, 99, 164, 102, 147, 45, 66, 231, 52, 141, 211, 194, 206, 246, 238, //
    56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171, 72, 50, //
    33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, //
    96, 235, 136, 208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, //
    216, 131, 89, 21, 28, 133, 37, 153, 149, 80, 170, 68, 6, 169, 234, 151, //
];

/// RFC 3074 Pearson hash as ISC computes it (`loadb_p_hash` `fo.c:5948-5956`):
/// the initial value is the key length modulo 256, and bytes are mixed in
/// from the last to the first.
pub fn pearson_hash(key: &[u8]) -> u8 {
    // `unsigned char hash = len;` truncates the length to 8 bits.
    let mut h = (key.len() & 0xff) as u8;
    for &b in key.iter().rev() {
        h = MIXING_TABLE[usize::from(h ^ b)];
    }
    h
}

/// The bytes a client is hashed on: option 61 (type byte included) if the
/// client sent it, else `chaddr[..hlen]` without htype (`fo.c:5990-6003`).
pub fn client_key<'a>(client_id: Option<&'a [u8]>, chaddr: &'a [u8]) -> &'a [u8] {
    match client_id {
        Some(id) => id,
        None => chaddr,
    }
}

/// The key of a stored lease (`peer_wants_lease` `fo.c:6031-6043`): the uid
/// if any, else the hardware address (our `Hardware::addr` has no htype byte).
/// `None` when the lease cannot be categorised.
pub fn lease_key(lease: &Lease) -> Option<&[u8]> {
    match (&lease.uid, &lease.hardware) {
        (Some(uid), _) if !uid.is_empty() => Some(uid),
        (_, Some(hw)) if !hw.addr.is_empty() => Some(&hw.addr),
        _ => None,
    }
}

/// `secs` as ISC reads it, with `check-secs-byte-order` (`fo.c:5968-5977`):
/// a value above 255 whose low byte is zero is assumed byte-swapped.
pub fn effective_secs(secs: u16, check_secs_byte_order: bool) -> u16 {
    if check_secs_byte_order && secs > 255 && secs & 0xff == 0 {
        secs.swap_bytes()
    } else {
        secs
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HbaError {
    #[error("split {0} is out of range 0..=256")]
    SplitOutOfRange(u16),
    #[error("hash bucket assignment must be exactly 32 bytes, got {0}")]
    BadLength(usize),
}

/// The primary's hash bucket assignment: 256 bits, bit set = primary serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hba(pub [u8; 32]);

impl Hba {
    /// `split N`: buckets `0..N` belong to the primary (`confpars.c:1094-1118`).
    pub fn from_split(n: u16) -> Result<Self, HbaError> {
        if n > 256 {
            return Err(HbaError::SplitOutOfRange(n));
        }
        let mut b = [0u8; 32];
        for bucket in 0..usize::from(n) {
            b[bucket / 8] |= 1 << (bucket % 8);
        }
        Ok(Hba(b))
    }

    /// From the wire (option 11) or `hba xx:xx:…`: exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HbaError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hba)
            .map_err(|_| HbaError::BadLength(bytes.len()))
    }

    /// Whether the primary serves `bucket` (`fo.c:6005`:
    /// `hba[h >> 3] & (1 << (h & 7))`).
    pub fn primary_serves(&self, bucket: u8) -> bool {
        self.0[usize::from(bucket >> 3)] & (1 << (bucket & 7)) != 0
    }

    /// Whether the server in `role` serves `bucket`: the secondary inverts.
    pub fn serves(&self, role: Role, bucket: u8) -> bool {
        match role {
            Role::Primary => self.primary_serves(bucket),
            Role::Secondary => !self.primary_serves(bucket),
        }
    }

    /// How many buckets the primary serves.
    pub fn primary_buckets(&self) -> u32 {
        self.0.iter().map(|b| b.count_ones()).sum()
    }
}

/// `load_balance_mine` (`fo.c:5958-6010`): whether this server answers a
/// DISCOVER or BOOTREQUEST while **cooperating** (normal). `secs` is the
/// already-corrected value (see [`effective_secs`]).
///
/// * `max_secs == 0` (ISC's default: load balancing off) or `secs > max_secs`:
///   answer regardless of the hash.
/// * No HBA known (a secondary before the first CONNECT): not ours.
/// * Else the bucket decides, with the role's polarity.
///
/// ISC also answers when the hash points at the peer but the peer owns no
/// free lease in the shared network (`dhcp.c:422-433`); that check needs the
/// pools and is the engine's.
pub fn load_balance_mine(
    hba: Option<&Hba>,
    role: Role,
    max_secs: u32,
    secs: u16,
    key: &[u8],
) -> bool {
    if max_secs == 0 || max_secs < u32::from(secs) {
        return true;
    }
    match hba {
        None => false,
        Some(hba) => hba.serves(role, pearson_hash(key)),
    }
}

/// `peer_wants_lease` (`fo.c:6018-6053`): whether the lease's last client
/// hashes to the peer. False without an HBA or without a key.
pub fn peer_wants_lease(hba: Option<&Hba>, role: Role, lease: &Lease) -> bool {
    let (Some(hba), Some(key)) = (hba, lease_key(lease)) else {
        return false;
    };
    !hba.serves(role, pearson_hash(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;
    use tandem_lease::{BindingState, Hardware};

    #[test]
    fn table_is_a_permutation() {
        let mut seen = [false; 256];
        for &v in MIXING_TABLE.iter() {
            assert!(!seen[usize::from(v)], "{v} twice");
            seen[usize::from(v)] = true;
        }
        assert!(seen.iter().all(|&s| s));
        // Spot checks against Appendix A.
        assert_eq!(MIXING_TABLE[0], 251);
        assert_eq!(MIXING_TABLE[15], 232);
        assert_eq!(MIXING_TABLE[255], 151);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// §4 test vectors, split 128.
    #[test]
    fn section_4_vectors() {
        let hba = Hba::from_split(128).unwrap();
        for (key, hash, primary) in [
            ("001122334455", 135u8, false),
            ("01001122334455", 223, false),
            ("aabbccddeeff", 57, true),
            ("0e", 232, false),
        ] {
            let k = hex(key);
            assert_eq!(pearson_hash(&k), hash, "{key}");
            assert_eq!(hba.primary_serves(hash), primary, "{key}");
            assert_eq!(
                load_balance_mine(Some(&hba), Role::Primary, 3, 0, &k),
                primary
            );
            assert_eq!(
                load_balance_mine(Some(&hba), Role::Secondary, 3, 0, &k),
                !primary
            );
        }
    }

    #[test]
    fn split_bits_are_lsb_first() {
        let h = Hba::from_split(128).unwrap();
        assert_eq!(&h.0[..16], &[0xff; 16]);
        assert_eq!(&h.0[16..], &[0; 16]);
        assert_eq!(Hba::from_split(1).unwrap().0[0], 0x01);
        assert_eq!(Hba::from_split(3).unwrap().0[0], 0x07);
        assert_eq!(Hba::from_split(9).unwrap().0[1], 0x01);
        assert_eq!(Hba::from_split(0).unwrap().0, [0; 32]);
        assert_eq!(Hba::from_split(256).unwrap().0, [0xff; 32]);
        assert_eq!(Hba::from_split(257), Err(HbaError::SplitOutOfRange(257)));
        assert_eq!(Hba::from_bytes(&[0; 31]), Err(HbaError::BadLength(31)));
    }

    #[test]
    fn load_balance_max_seconds() {
        let hba = Hba::from_split(0).unwrap(); // the secondary serves every bucket
        let key = [1, 2, 3];
        // S == 0: everything is answered.
        assert!(load_balance_mine(Some(&hba), Role::Primary, 0, 0, &key));
        // secs <= S: the hash decides.
        assert!(!load_balance_mine(Some(&hba), Role::Primary, 5, 5, &key));
        // secs > S: answered regardless.
        assert!(load_balance_mine(Some(&hba), Role::Primary, 5, 6, &key));
        // No HBA: not ours.
        assert!(!load_balance_mine(None, Role::Secondary, 5, 0, &key));
    }

    #[test]
    fn secs_byte_order() {
        assert_eq!(effective_secs(0x0300, true), 3);
        assert_eq!(effective_secs(0x0300, false), 0x0300);
        assert_eq!(effective_secs(0x0301, true), 0x0301);
        assert_eq!(effective_secs(0x00ff, true), 0x00ff);
    }

    #[test]
    fn lease_key_prefers_uid_and_skips_htype() {
        let mut l = Lease::new(Ipv4Addr::new(10, 0, 0, 1), BindingState::Active);
        assert_eq!(lease_key(&l), None);
        l.hardware = Some(Hardware {
            htype: 1,
            addr: hex("001122334455"),
        });
        assert_eq!(lease_key(&l), Some(&hex("001122334455")[..]));
        l.uid = Some(hex("01001122334455"));
        assert_eq!(lease_key(&l), Some(&hex("01001122334455")[..]));
        let hba = Hba::from_split(128).unwrap();
        // hash 223 -> secondary's bucket: the primary's peer wants it.
        assert!(peer_wants_lease(Some(&hba), Role::Primary, &l));
        assert!(!peer_wants_lease(Some(&hba), Role::Secondary, &l));
        assert!(!peer_wants_lease(None, Role::Primary, &l));
    }

    proptest! {
        /// Exactly one of the two servers is responsible for any client.
        #[test]
        fn exactly_one_server(hba in proptest::array::uniform32(any::<u8>()),
                              key in proptest::collection::vec(any::<u8>(), 0..40)) {
            let hba = Hba(hba);
            let p = load_balance_mine(Some(&hba), Role::Primary, 10, 0, &key);
            let s = load_balance_mine(Some(&hba), Role::Secondary, 10, 0, &key);
            prop_assert!(p ^ s);
        }

        #[test]
        fn split_counts(n in 0u16..=256) {
            prop_assert_eq!(Hba::from_split(n).unwrap().primary_buckets(), u32::from(n));
        }

        /// The reference definition, written differently: a fold from the right.
        #[test]
        fn hash_definition(key in proptest::collection::vec(any::<u8>(), 0..600)) {
            let h = key.iter().rev().fold(key.len() as u8, |h, &b| MIXING_TABLE[(h ^ b) as usize]);
            prop_assert_eq!(pearson_hash(&key), h);
        }
    }
}
