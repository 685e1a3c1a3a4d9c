//! OMAPI keys and message signatures.
//!
//! dhcpd.conf declares `key NAME { algorithm hmac-md5; secret "BASE64"; }` and
//! `omapi-key NAME;`. omshell's `key NAME SECRET` then `connect` first opens an object of
//! type `authenticator` (unsigned) with the values `name` and `algorithm`; the server
//! answers with the key's handle, and from then on every message carries that handle as
//! `authid`, `authlen` = 16 and an HMAC-MD5 of the message. Facts from ISC's source:
//! * the key is the base64-decoded secret, used as is (`isclib_make_dst_key`);
//! * the algorithm name gets `.SIG-ALG.REG.INT.` appended when it has no dot, or a final
//!   `.` when it lacks one (common/parse.c `parse_key`, dhcpctl/remote.c), and is compared
//!   case-insensitively (`omapi_td_strcasecmp`); omshell sends `hmac-md5.SIG-ALG.REG.INT.`;
//! * key names are compared case-insensitively (the key hash uses `do_case_hash`);
//! * what is signed: every byte after the authid field up to the signature (see
//!   [`crate::wire::signed_part`]); checked against the captured exchange in the tests;
//! * with `omapi-key` set, dhcpd's `verify_auth` refuses any other key with
//!   `DHCP_R_INVALIDKEY` ("can't select authenticator").

use hmac::{Hmac, Mac};
use md5::Md5;
use std::fmt;
use thiserror::Error;

type HmacMd5 = Hmac<Md5>;

/// Suffix ISC adds to an algorithm name without a dot.
const SIG_ALG_SUFFIX: &str = ".SIG-ALG.REG.INT.";

/// A signature algorithm OMAPI can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `hmac-md5` (`HMAC-MD5.SIG-ALG.REG.INT.`), the one omshell uses by default.
    HmacMd5,
}

impl Algorithm {
    /// Parse a configured or received algorithm name, after ISC's normalisation.
    pub fn from_name(name: &str) -> Result<Algorithm, KeyError> {
        if normalize_algorithm(name).eq_ignore_ascii_case("hmac-md5.sig-alg.reg.int.") {
            Ok(Algorithm::HmacMd5)
        } else {
            Err(KeyError::UnsupportedAlgorithm(name.to_string()))
        }
    }

    /// The name as ISC stores and sends it (the server's `algorithm` value).
    pub fn wire_name(self) -> &'static str {
        match self {
            Algorithm::HmacMd5 => "hmac-md5.SIG-ALG.REG.INT.",
        }
    }

    /// Signature size (`dst_key_sigsize`), which is what `authlen` carries.
    pub fn signature_len(self) -> usize {
        match self {
            Algorithm::HmacMd5 => 16,
        }
    }
}

/// ISC's rule: no dot → append `.SIG-ALG.REG.INT.`; a dot but no final dot → append `.`.
pub fn normalize_algorithm(name: &str) -> String {
    if !name.contains('.') {
        format!("{name}{SIG_ALG_SUFFIX}")
    } else if !name.ends_with('.') {
        format!("{name}.")
    } else {
        name.to_string()
    }
}

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("OMAPI key algorithm {0:?} is not supported (hmac-md5 is)")]
    UnsupportedAlgorithm(String),
    #[error("key secret is not valid base64")]
    BadBase64,
    #[error("key secret is empty")]
    EmptySecret,
    #[error("omapi-key {0:?} names no declared key")]
    UnknownOmapiKey(String),
    #[error("key {0:?} is declared twice")]
    Duplicate(String),
}

/// A shared secret and its name.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    name: String,
    algorithm: Algorithm,
    secret: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// A key from its decoded secret (what the config crate's `Key` holds).
    pub fn new(
        name: impl Into<String>,
        algorithm: &str,
        secret: impl Into<Vec<u8>>,
    ) -> Result<Key, KeyError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(Key {
            name: name.into(),
            algorithm: Algorithm::from_name(algorithm)?,
            secret,
        })
    }

    /// A key from the base64 text of dhcpd.conf's `secret` or omshell's `key NAME SECRET`.
    pub fn from_base64(
        name: impl Into<String>,
        algorithm: &str,
        secret_b64: &str,
    ) -> Result<Key, KeyError> {
        Key::new(name, algorithm, decode_base64(secret_b64)?)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn signature_len(&self) -> usize {
        self.algorithm.signature_len()
    }

    fn mac(&self) -> HmacMd5 {
        // HMAC takes keys of any length (longer ones are hashed first, RFC 2104 section 2).
        match HmacMd5::new_from_slice(&self.secret) {
            Ok(m) => m,
            // Unreachable for HMAC, which accepts every key length.
            Err(_) => HmacMd5::new(&Default::default()),
        }
    }

    /// The signature of `data` (the bytes [`crate::wire::signed_part`] selects).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// Constant-time check of `signature` over `data`. ISC compares the length first
    /// (`signature->value->u.buffer.len != p->message->authlen`), then the bytes.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.signature_len() {
            return false;
        }
        let mut mac = self.mac();
        mac.update(data);
        mac.verify_slice(signature).is_ok()
    }
}

/// The keys a server knows, and which one (if any) OMAPI requires.
///
/// Handles: the key at index `i` is the authenticator object with handle `i + 1`, as the
/// first key dhcpd hands out gets handle 1. Object handles the application gives out must
/// be above [`KeyRing::reserved_handles`].
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    keys: Vec<Key>,
    required: Option<usize>,
}

impl KeyRing {
    /// No keys: every message is accepted unsigned (dhcpd without `omapi-key`).
    pub fn none() -> KeyRing {
        KeyRing::default()
    }

    /// The declared keys, and the `omapi-key` name if configured. With an `omapi-key`, every
    /// message but the authenticator open must be signed, and only by that key.
    pub fn new(keys: Vec<Key>, omapi_key: Option<&str>) -> Result<KeyRing, KeyError> {
        for (i, k) in keys.iter().enumerate() {
            if keys[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&k.name))
            {
                return Err(KeyError::Duplicate(k.name.clone()));
            }
        }
        let required = match omapi_key {
            None => None,
            Some(name) => Some(
                keys.iter()
                    .position(|k| k.name.eq_ignore_ascii_case(name))
                    .ok_or_else(|| KeyError::UnknownOmapiKey(name.to_string()))?,
            ),
        };
        Ok(KeyRing { keys, required })
    }

    /// Convenience: one key, required (the usual `key` + `omapi-key` pair).
    pub fn required(key: Key) -> KeyRing {
        KeyRing {
            keys: vec![key],
            required: Some(0),
        }
    }

    /// True when unsigned requests are refused (`omapi-key` is set).
    pub fn is_required(&self) -> bool {
        self.required.is_some()
    }

    /// Handles `1..=reserved_handles()` belong to the keys.
    pub fn reserved_handles(&self) -> u32 {
        u32::try_from(self.keys.len()).unwrap_or(u32::MAX)
    }

    /// The key an authenticator handle names.
    pub fn by_handle(&self, handle: u32) -> Option<&Key> {
        let i = usize::try_from(handle.checked_sub(1)?).ok()?;
        self.keys.get(i)
    }

    /// Find a key by name and algorithm, as `omapi_auth_key_lookup` does. Returns its handle.
    pub fn lookup(&self, name: &[u8], algorithm: &[u8]) -> Option<u32> {
        let name = std::str::from_utf8(name).ok()?;
        let algorithm = Algorithm::from_name(std::str::from_utf8(algorithm).ok()?).ok()?;
        let i = self
            .keys
            .iter()
            .position(|k| k.name.eq_ignore_ascii_case(name) && k.algorithm == algorithm)?;
        u32::try_from(i + 1).ok()
    }

    /// Whether the key behind `handle` may be used (dhcpd's `verify_auth`).
    pub fn may_use(&self, handle: u32) -> bool {
        match self.required {
            None => self.by_handle(handle).is_some(),
            Some(i) => usize::try_from(handle).ok() == Some(i + 1),
        }
    }
}

/// Strict base64 (RFC 4648 alphabet, `=` padding optional, whitespace ignored as
/// dhcpd.conf's tokenizer does between strings).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padding = 0usize;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return Err(KeyError::BadBase64),
        };
        if padding > 0 {
            // Data after padding.
            return Err(KeyError::BadBase64);
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding of the last byte; 6 leftover bits is a lone symbol.
    if bits >= 6 || acc != 0 || padding > 2 {
        return Err(KeyError::BadBase64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(
            decode_base64("dGFuZGVtLW9tYXBpLWtleQ==").unwrap(),
            b"tandem-omapi-key"
        );
        assert_eq!(decode_base64("Zm9vYmE=").unwrap(), b"fooba");
        assert_eq!(decode_base64("Zm9vYmE").unwrap(), b"fooba");
        assert_eq!(decode_base64("Zm9v YmFy").unwrap(), b"foobar");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("Zm9v!"), Err(KeyError::BadBase64));
        assert_eq!(decode_base64("Zg==Zg"), Err(KeyError::BadBase64));
        assert_eq!(decode_base64("Z"), Err(KeyError::BadBase64));
        assert_eq!(decode_base64("Zh=="), Err(KeyError::BadBase64));
    }

    #[test]
    fn algorithm_names() {
        for n in [
            "hmac-md5",
            "HMAC-MD5",
            "hmac-md5.SIG-ALG.REG.INT",
            "hmac-md5.SIG-ALG.REG.INT.",
            "HMAC-MD5.sig-alg.reg.int.",
        ] {
            assert_eq!(Algorithm::from_name(n), Ok(Algorithm::HmacMd5), "{n}");
        }
        assert!(Algorithm::from_name("hmac-sha1").is_err());
        assert_eq!(normalize_algorithm("hmac-md5"), "hmac-md5.SIG-ALG.REG.INT.");
    }

    #[test]
    fn rfc2202_hmac_md5_vector() {
        // RFC 2202 section 2, test case 2.
        let k = Key::new("k", "hmac-md5", b"Jefe".to_vec()).unwrap();
        let sig = k.sign(b"what do ya want for nothing?");
        assert_eq!(
            sig,
            [
                0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d,
                0xb7, 0x38
            ]
        );
        assert!(k.verify(b"what do ya want for nothing?", &sig));
        assert!(!k.verify(b"what do ya want for nothing!", &sig));
        assert!(!k.verify(b"what do ya want for nothing?", &sig[..15]));
    }

    #[test]
    fn keyring_rules() {
        let a = Key::from_base64("omapi_key", "hmac-md5", "dGFuZGVtLW9tYXBpLWtleQ==").unwrap();
        let b = Key::from_base64("ddns", "hmac-md5", "Zm9vYmFy").unwrap();
        assert!(format!("{a:?}").contains("redacted"));
        let ring = KeyRing::new(vec![a.clone(), b.clone()], Some("OMAPI_KEY")).unwrap();
        assert!(ring.is_required());
        assert_eq!(ring.reserved_handles(), 2);
        assert_eq!(
            ring.lookup(b"omapi_key", b"hmac-md5.SIG-ALG.REG.INT."),
            Some(1)
        );
        assert_eq!(ring.lookup(b"DDNS", b"hmac-md5"), Some(2));
        assert_eq!(ring.lookup(b"other", b"hmac-md5"), None);
        assert_eq!(ring.lookup(b"ddns", b"hmac-sha256"), None);
        assert!(ring.may_use(1));
        assert!(!ring.may_use(2));
        assert_eq!(ring.by_handle(0), None);
        assert_eq!(
            KeyRing::new(vec![a.clone()], Some("nope")).unwrap_err(),
            KeyError::UnknownOmapiKey("nope".into())
        );
        assert_eq!(
            KeyRing::new(vec![a.clone(), a], None).unwrap_err(),
            KeyError::Duplicate("omapi_key".into())
        );
        let open = KeyRing::new(vec![b], None).unwrap();
        assert!(!open.is_required());
        assert!(open.may_use(1));
        assert!(Key::new("x", "hmac-md5", Vec::new()).is_err());
    }
}
