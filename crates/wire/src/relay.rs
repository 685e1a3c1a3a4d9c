//! RFC 3046 relay agent information (option 82) sub-options.

/// Splits the value of option 82 into its sub-options, in order.
///
/// RFC 3046 §2.0: the option's value "consists of a sequence of
/// SubOpt/Length/Value tuples"; there is no PAD or END inside it. Sub-option
/// 1 is the Agent Circuit ID (`option agent.circuit-id` in dhcpd.conf), 2 the
/// Agent Remote ID (`agent.remote-id`). Returns `None` when a tuple runs past
/// the end of `data` (a malformed option 82; ISC then has no sub-options).
pub fn relay_suboptions(data: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut subs = Vec::new();
    let mut rest = data;
    while let Some((&code, tail)) = rest.split_first() {
        let (&len, tail) = tail.split_first()?;
        let (value, tail) = tail.split_at_checked(usize::from(len))?;
        subs.push((code, value));
        rest = tail;
    }
    Some(subs)
}

impl crate::Packet {
    /// Same as the free function [`relay_suboptions`].
    pub fn relay_suboptions(data: &[u8]) -> Option<Vec<(u8, &[u8])>> {
        relay_suboptions(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circuit_and_remote_id() {
        let data = [
            1, 4, b'e', b't', b'h', b'0', 2, 6, 0, 0x11, 0x22, 0x33, 0x44, 0x55,
        ];
        let subs = relay_suboptions(&data).unwrap_or_default();
        assert_eq!(
            subs,
            vec![
                (1, &b"eth0"[..]),
                (2, &[0, 0x11, 0x22, 0x33, 0x44, 0x55][..])
            ]
        );
    }

    #[test]
    fn empty_and_zero_length() {
        assert_eq!(relay_suboptions(&[]), Some(vec![]));
        assert_eq!(relay_suboptions(&[1, 0]), Some(vec![(1, &[][..])]));
    }

    #[test]
    fn overrun_is_none() {
        assert_eq!(relay_suboptions(&[1, 5, 1, 2]), None);
        assert_eq!(relay_suboptions(&[1]), None);
        assert_eq!(relay_suboptions(&[1, 1, 9, 2]), None);
    }
}
