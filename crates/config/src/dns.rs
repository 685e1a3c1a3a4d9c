//! Domain names in RFC 1035 wire format, with the name compression of
//! RFC 1035 section 4.1.4 that RFC 3397 (option 119) asks for. The rules
//! follow BIND's `ns_name_pton` / `ns_name_pack` as ISC uses them.

/// RFC 1035 2.3.4: names are at most 255 bytes on the wire.
const MAX_NAME: usize = 255;
/// Labels are at most 63 bytes.
const MAX_LABEL: usize = 63;

/// Why a name cannot be encoded (ISC reports `strerror(EMSGSIZE)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameError;

/// Presentation text (`www.example.com`, `a\.b.example.`, `\065bc`) to
/// uncompressed wire format. An empty name or "." is the root (one zero
/// byte). A trailing dot is optional.
pub(crate) fn name_to_wire(text: &[u8]) -> Result<Vec<u8>, NameError> {
    let mut out = vec![0u8];
    let mut label_start = 0usize;
    let mut i = 0;
    while i < text.len() {
        let mut c = text[i];
        i += 1;
        if c == b'\\' {
            let Some(&e) = text.get(i) else {
                break;
            };
            i += 1;
            if e.is_ascii_digit() {
                // \DDD: exactly three decimal digits, at most 255.
                let d2 = text
                    .get(i)
                    .copied()
                    .filter(u8::is_ascii_digit)
                    .ok_or(NameError)?;
                let d3 = text
                    .get(i + 1)
                    .copied()
                    .filter(u8::is_ascii_digit)
                    .ok_or(NameError)?;
                i += 2;
                let n =
                    u32::from(e - b'0') * 100 + u32::from(d2 - b'0') * 10 + u32::from(d3 - b'0');
                c = u8::try_from(n).map_err(|_| NameError)?;
            } else {
                c = e;
            }
        } else if c == b'.' {
            let len = out.len() - label_start - 1;
            if len > MAX_LABEL {
                return Err(NameError);
            }
            out[label_start] = len as u8;
            if i == text.len() {
                // Fully qualified: "a.b." (or "." alone).
                if len != 0 {
                    out.push(0);
                }
                return check_len(out);
            }
            if len == 0 || text[i] == b'.' {
                return Err(NameError);
            }
            label_start = out.len();
            out.push(0);
            continue;
        }
        out.push(c);
    }
    let len = out.len() - label_start - 1;
    if len > MAX_LABEL {
        return Err(NameError);
    }
    out[label_start] = len as u8;
    if len != 0 {
        out.push(0);
    }
    check_len(out)
}

fn check_len(out: Vec<u8>) -> Result<Vec<u8>, NameError> {
    if out.len() > MAX_NAME {
        Err(NameError)
    } else {
        Ok(out)
    }
}

/// Appends names to one buffer, replacing a suffix already present with a
/// pointer (RFC 1035 4.1.4): at each label, the rest of the name is looked
/// up among the label positions written so far (case-insensitively, as
/// BIND's `dn_find`), first match wins.
#[derive(Default)]
pub(crate) struct Compressor {
    pub buf: Vec<u8>,
    /// Offsets of labels written so far (BIND keeps at most 254).
    ptrs: Vec<usize>,
}

impl Compressor {
    pub fn push(&mut self, text: &[u8]) -> Result<(), NameError> {
        let wire = name_to_wire(text)?;
        let known = self.ptrs.len();
        let mut pos = 0;
        loop {
            let n = usize::from(wire[pos]);
            if n != 0 {
                if let Some(off) = self.find(&wire[pos..], known) {
                    // RFC 1035 4.1.4: two bytes, top bits 11, 14-bit offset.
                    self.buf.push(0xc0 | (off >> 8) as u8);
                    self.buf.push((off & 0xff) as u8);
                    return Ok(());
                }
                if self.ptrs.len() < 254 && self.buf.len() < 0x4000 {
                    self.ptrs.push(self.buf.len());
                }
            }
            self.buf.extend_from_slice(&wire[pos..=pos + n]);
            pos += n + 1;
            if n == 0 {
                return Ok(());
            }
        }
    }

    /// The first of the first `known` label positions whose name (pointers
    /// followed) equals `name`.
    fn find(&self, name: &[u8], known: usize) -> Option<usize> {
        self.ptrs[..known]
            .iter()
            .copied()
            .find(|&start| self.equals_at(start, name))
    }

    fn equals_at(&self, start: usize, name: &[u8]) -> bool {
        let mut cp = start;
        let mut dn = 0;
        let mut hops = 0;
        loop {
            let Some(&n) = self.buf.get(cp) else {
                return false;
            };
            if n & 0xc0 == 0xc0 {
                let Some(&lo) = self.buf.get(cp + 1) else {
                    return false;
                };
                cp = (usize::from(n & 0x3f) << 8) | usize::from(lo);
                hops += 1;
                if hops > 128 {
                    return false;
                }
                continue;
            }
            let n = usize::from(n);
            if name.get(dn).copied().map(usize::from) != Some(n) {
                return false;
            }
            let (Some(a), Some(b)) = (
                self.buf.get(cp + 1..cp + 1 + n),
                name.get(dn + 1..dn + 1 + n),
            ) else {
                return false;
            };
            if !a.eq_ignore_ascii_case(b) {
                return false;
            }
            if n == 0 {
                return true;
            }
            cp += n + 1;
            dn += n + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name_to_wire(b"").unwrap(), vec![0]);
        assert_eq!(name_to_wire(b".").unwrap(), vec![0]);
        assert_eq!(
            name_to_wire(b"example.com").unwrap(),
            b"\x07example\x03com\x00".to_vec()
        );
        assert_eq!(
            name_to_wire(b"example.com.").unwrap(),
            name_to_wire(b"example.com").unwrap()
        );
        assert_eq!(
            name_to_wire(b"a\\.b.c").unwrap(),
            b"\x03a.b\x01c\x00".to_vec()
        );
        assert_eq!(name_to_wire(b"\\065").unwrap(), b"\x01A\x00".to_vec());
        assert!(name_to_wire(b"a..b").is_err());
        assert!(name_to_wire(b".a").is_err());
        assert!(name_to_wire(&[b'x'; 64]).is_err());
        assert!(name_to_wire(b"\\99").is_err());
    }

    #[test]
    fn rfc3397_example() {
        // RFC 3397 section 2: "eng.apple.com." and "marketing.apple.com."
        let mut c = Compressor::default();
        c.push(b"eng.apple.com.").unwrap();
        c.push(b"marketing.apple.com.").unwrap();
        let mut want = b"\x03eng\x05apple\x03com\x00".to_vec();
        want.extend_from_slice(b"\x09marketing\xc0\x04");
        assert_eq!(c.buf, want);
    }

    #[test]
    fn compression_is_case_insensitive_and_whole_name() {
        let mut c = Compressor::default();
        c.push(b"one.two.com").unwrap();
        c.push(b"ONE.two.com").unwrap();
        c.push(b"three.four.com").unwrap();
        let mut want = b"\x03one\x03two\x03com\x00".to_vec();
        want.extend_from_slice(b"\xc0\x00");
        want.extend_from_slice(b"\x05three\x04four\xc0\x08");
        assert_eq!(c.buf, want);
    }
}
