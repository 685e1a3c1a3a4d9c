//! Text as ISC dhcpd writes it in its log lines.

use std::fmt::Write as _;

/// ISC `print_hw_addr`: lowercase two-digit hex octets joined by colons.
pub(crate) fn hex_colon(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// How ISC names a client in a log line: its hardware address, or its
/// client identifier when the packet has no hardware type (ISC
/// `print_hex_1` of the lease's uid), else "<no identifier>".
pub(crate) fn client_text(htype: u8, hw: &[u8], uid: Option<&[u8]>) -> String {
    if htype != 0 && !hw.is_empty() {
        return hex_colon(hw);
    }
    match uid {
        Some(u) if !u.is_empty() => hex_colon(u),
        _ => "<no identifier>".to_owned(),
    }
}

/// ISC `db_printable`: every octet is printable ASCII (space included).
fn printable(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| (0x20..0x7f).contains(b))
}

/// The client's host name as ISC shows it in log lines: " (name) ", or
/// "Hostname Unsuitable for Printing" when longer than 64 or unprintable.
/// Returns the text to put between the client and "via".
pub(crate) fn hostname_part(name: Option<&str>) -> String {
    match name {
        None => " ".to_owned(),
        Some(n) if n.len() <= 64 && printable(n.as_bytes()) => format!(" ({n}) "),
        Some(_) => " (Hostname Unsuitable for Printing) ".to_owned(),
    }
}

/// A host name from option 12 as ISC records it (`client-hostname`),
/// without the trailing NULs some clients send.
pub(crate) fn hostname_from_option(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let trimmed = bytes.get(..end)?;
    if trimmed.is_empty() {
        return None;
    }
    Some(String::from_utf8_lossy(trimmed).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_like_isc() {
        assert_eq!(hex_colon(&[2, 0, 0, 0, 1, 0xab]), "02:00:00:00:01:ab");
        assert_eq!(client_text(1, &[0xde, 0xad], None), "de:ad");
        assert_eq!(client_text(0, &[], Some(&[1, 2])), "01:02");
        assert_eq!(client_text(0, &[], None), "<no identifier>");
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname_part(None), " ");
        assert_eq!(hostname_part(Some("pc1")), " (pc1) ");
        assert_eq!(
            hostname_part(Some("bad\u{7}")),
            " (Hostname Unsuitable for Printing) "
        );
        assert_eq!(hostname_from_option(b"pc1\0\0").as_deref(), Some("pc1"));
        assert_eq!(hostname_from_option(b"\0"), None);
    }
}
