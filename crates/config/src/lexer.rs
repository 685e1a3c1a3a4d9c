//! The dhcpd.conf tokenizer, with ISC's token classes (`common/conflex.c`).
//!
//! ISC classifies words by their characters, not by a grammar:
//! * a word starting with a digit or `-` is a NUMBER while it has only
//!   digits, a NUMBER_OR_NAME once a hex letter appears, and a NAME once
//!   any other letter, `-` or `_` appears (`0x1f` is NUMBER_OR_NAME);
//! * a word starting with a letter is NUMBER_OR_NAME while every character
//!   is a hex digit, otherwise NAME; such a word may also be a keyword
//!   (case-insensitive);
//! * a lone `-` is the MINUS punctuation;
//! * `"..."` is a STRING with the escapes `\t \r \n \b`, `\0NN` (octal,
//!   first digit 0-3), `\xHH` and `\c` for any other `c`;
//! * `#` starts a comment that runs to the end of the line;
//! * any other byte is a one-byte punctuation token.

/// ISC's token buffer is 1500 bytes; longer tokens are an error there.
const TOKEN_MAX: usize = 1499;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A quoted string (value is the unescaped bytes).
    Str,
    /// Only decimal digits (optionally a leading `-`).
    Number,
    /// Only hex digits (`d0`, `1b`, `0x1f`).
    NumOrName,
    /// Any other word.
    Name,
    /// One byte of punctuation (`;`, `{`, `.`, ...).
    Punct(u8),
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    /// The token's bytes: the unescaped string for `Str`, the word as
    /// written for words, the byte for punctuation, empty at end of file.
    pub val: Vec<u8>,
    /// 1-based line and column (in bytes) of the token's first byte.
    pub line: u32,
    pub col: u32,
    /// The word was read by ISC's `read_num_or_name` (starts with a letter)
    /// and so may be a keyword.
    pub alpha: bool,
    /// Whitespace or a comment came right before this token (IPv6
    /// addresses are glued from adjacent tokens only).
    pub space_before: bool,
    /// A lexical error found while reading this token; the parser reports
    /// it when it reaches the token, as ISC does.
    pub error: Option<String>,
}

impl Token {
    /// The token's text (lossy for non-UTF-8 string bytes).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.val).into_owned()
    }

    pub fn is_punct(&self, c: u8) -> bool {
        self.kind == Kind::Punct(c)
    }

    /// A word that is ISC keyword `kw` (case-insensitive, as ISC's `intern`).
    pub fn is_kw(&self, kw: &str) -> bool {
        self.alpha
            && matches!(self.kind, Kind::Name | Kind::NumOrName)
            && self.val.eq_ignore_ascii_case(kw.as_bytes())
    }

    /// A word that ISC's `intern` turns into a keyword token.
    pub fn is_keyword(&self) -> bool {
        self.alpha
            && matches!(self.kind, Kind::Name | Kind::NumOrName)
            && crate::keywords::is_keyword(&self.val)
    }

    /// ISC's `is_identifier`: any word except a NUMBER (keywords included).
    pub fn is_identifier(&self) -> bool {
        matches!(self.kind, Kind::Name | Kind::NumOrName)
    }

    /// ISC's NAME token: a non-keyword word that is not all hex.
    pub fn is_plain_name(&self) -> bool {
        self.kind == Kind::Name && !self.is_keyword()
    }

    /// ISC's NUMBER_OR_NAME token (a hex word that is not a keyword).
    pub fn is_num_or_name(&self) -> bool {
        self.kind == Kind::NumOrName && !self.is_keyword()
    }
}

/// Split `src` into tokens; the last one is always `Eof`.
pub(crate) fn tokenize(src: &[u8]) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        let tok = lx.next_token();
        let eof = tok.kind == Kind::Eof;
        out.push(tok);
        if eof {
            return out;
        }
    }
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
}

fn is_space(c: u8) -> bool {
    // C's isspace() in the "C" locale.
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.src.get(self.pos).copied()?;
        self.pos += 1;
        if c == b'\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    fn next_token(&mut self) -> Token {
        let mut space_before = false;
        loop {
            match self.peek() {
                Some(c) if is_space(c) => {
                    self.bump();
                    space_before = true;
                }
                Some(b'#') => {
                    while let Some(c) = self.bump() {
                        if c == b'\n' {
                            break;
                        }
                    }
                    space_before = true;
                }
                _ => break,
            }
        }
        let (line, col) = (self.line, self.col);
        let mut tok = Token {
            kind: Kind::Eof,
            val: Vec::new(),
            line,
            col,
            alpha: false,
            space_before,
            error: None,
        };
        let Some(c) = self.bump() else {
            return tok;
        };
        if c == b'"' {
            self.read_string(&mut tok);
        } else if c.is_ascii_digit() || c == b'-' {
            self.read_number(c, &mut tok);
        } else if c.is_ascii_alphabetic() {
            self.read_name(c, &mut tok);
        } else {
            tok.kind = Kind::Punct(c);
            tok.val.push(c);
        }
        tok
    }

    fn read_string(&mut self, tok: &mut Token) {
        tok.kind = Kind::Str;
        loop {
            let Some(c) = self.bump() else {
                tok.error
                    .get_or_insert_with(|| "eof in string constant".into());
                break;
            };
            match c {
                b'"' => break,
                b'\\' => self.read_escape(tok),
                _ => tok.val.push(c),
            }
            if tok.val.len() > TOKEN_MAX {
                tok.error
                    .get_or_insert_with(|| "string constant larger than internal buffer".into());
            }
        }
    }

    /// After a backslash inside a string.
    fn read_escape(&mut self, tok: &mut Token) {
        let Some(c) = self.bump() else {
            tok.error
                .get_or_insert_with(|| "eof in string constant".into());
            return;
        };
        match c {
            b't' => tok.val.push(b'\t'),
            b'r' => tok.val.push(b'\r'),
            b'n' => tok.val.push(b'\n'),
            b'b' => tok.val.push(0x08),
            b'0'..=b'3' => {
                // Octal: the first digit and up to two more.
                let mut value = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            self.bump();
                            value = value * 8 + u32::from(d - b'0');
                        }
                        Some(d) if value != 0 => {
                            tok.error
                                .get_or_insert_with(|| format!("invalid octal digit {d:x}"));
                            break;
                        }
                        _ => break,
                    }
                }
                tok.val.push((value & 0xff) as u8);
            }
            b'x' => {
                // Exactly two hex digits.
                let mut value = 0u8;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d) if d.is_ascii_hexdigit() => {
                            self.bump();
                            value = value.wrapping_mul(16).wrapping_add(hex_val(d));
                        }
                        Some(d) => {
                            tok.error
                                .get_or_insert_with(|| format!("invalid hex digit: {d:x}"));
                            break;
                        }
                        None => break,
                    }
                }
                tok.val.push(value);
            }
            other => tok.val.push(other),
        }
    }

    /// ISC's `read_number`: promote NUMBER -> NUMBER_OR_NAME -> NAME.
    fn read_number(&mut self, first: u8, tok: &mut Token) {
        let mut kind = Kind::Number;
        tok.val.push(first);
        while let Some(c) = self.peek() {
            let i = tok.val.len();
            let next = match kind {
                Kind::Number if c.is_ascii_digit() => Some(Kind::Number),
                Kind::Number | Kind::NumOrName if c.is_ascii_hexdigit() => Some(Kind::NumOrName),
                _ => {
                    if i == 2
                        && c.is_ascii_hexdigit()
                        && tok.val[0] == b'0'
                        && (tok.val[1] | 0x20) == b'x'
                    {
                        Some(Kind::NumOrName)
                    } else if c == b'-' || c == b'_' || c.is_ascii_alphanumeric() {
                        Some(Kind::Name)
                    } else {
                        None
                    }
                }
            };
            let Some(k) = next else { break };
            kind = k;
            self.bump();
            tok.val.push(c);
            if tok.val.len() > TOKEN_MAX {
                tok.error
                    .get_or_insert_with(|| "numeric token larger than internal buffer".into());
            }
        }
        if tok.val == b"-" {
            tok.kind = Kind::Punct(b'-');
        } else {
            tok.kind = kind;
        }
    }

    /// ISC's `read_num_or_name`.
    fn read_name(&mut self, first: u8, tok: &mut Token) {
        tok.alpha = true;
        let mut kind = if first.is_ascii_hexdigit() {
            Kind::NumOrName
        } else {
            Kind::Name
        };
        tok.val.push(first);
        while let Some(c) = self.peek() {
            if !(c == b'-' || c == b'_' || c.is_ascii_alphanumeric()) {
                break;
            }
            if !c.is_ascii_hexdigit() {
                kind = Kind::Name;
            }
            self.bump();
            tok.val.push(c);
            if tok.val.len() > TOKEN_MAX {
                tok.error
                    .get_or_insert_with(|| "token larger than internal buffer".into());
            }
        }
        tok.kind = kind;
    }
}

pub(crate) fn hex_val(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        b'A'..=b'F' => d - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(Kind, String)> {
        tokenize(s.as_bytes())
            .into_iter()
            .map(|t| (t.kind, t.text()))
            .collect()
    }

    #[test]
    fn word_classes_follow_isc() {
        let k = kinds("10 1b d0 0x1f 172-30-0-0 host01 -18000 - -a caenvme1{");
        assert_eq!(k[0], (Kind::Number, "10".into()));
        assert_eq!(k[1], (Kind::NumOrName, "1b".into()));
        assert_eq!(k[2], (Kind::NumOrName, "d0".into()));
        assert_eq!(k[3], (Kind::NumOrName, "0x1f".into()));
        assert_eq!(k[4], (Kind::Name, "172-30-0-0".into()));
        assert_eq!(k[5], (Kind::Name, "host01".into()));
        assert_eq!(k[6], (Kind::Number, "-18000".into()));
        assert_eq!(k[7], (Kind::Punct(b'-'), "-".into()));
        assert_eq!(k[8], (Kind::NumOrName, "-a".into()));
        assert_eq!(k[9], (Kind::Name, "caenvme1".into()));
        assert_eq!(k[10], (Kind::Punct(b'{'), "{".into()));
        assert_eq!(k[11].0, Kind::Eof);
    }

    #[test]
    fn hostname_starting_with_digit_splits_at_dots() {
        let k = kinds("1.cumulusnetworks.pool");
        assert_eq!(k[0], (Kind::Number, "1".into()));
        assert_eq!(k[1], (Kind::Punct(b'.'), ".".into()));
        assert_eq!(k[2], (Kind::Name, "cumulusnetworks".into()));
    }

    #[test]
    fn string_escapes() {
        let t = tokenize(br#""boot\\x86\\wdsnbp.com" "\x86\001\n\q""#);
        assert_eq!(t[0].val, b"boot\\x86\\wdsnbp.com");
        assert_eq!(t[1].val, b"\x86\x01\nq");
        assert!(t[0].error.is_none() && t[1].error.is_none());
    }

    #[test]
    fn string_errors_are_attached_to_the_token() {
        let t = tokenize(b"\"abc");
        assert_eq!(t[0].error.as_deref(), Some("eof in string constant"));
        let t = tokenize(br#""\xg1""#);
        assert!(t[0]
            .error
            .as_deref()
            .unwrap_or("")
            .starts_with("invalid hex digit"));
    }

    #[test]
    fn comments_and_positions() {
        let t = tokenize(b"a # comment\n\tb;");
        assert_eq!((t[0].line, t[0].col), (1, 1));
        assert_eq!((t[1].line, t[1].col), (2, 2));
        assert!(t[1].space_before);
        assert_eq!((t[2].line, t[2].col), (2, 3));
        assert!(!t[2].space_before);
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let t = tokenize(b"Allow DHCPD_INTERFACE");
        assert!(t[0].is_kw("allow") && t[0].is_keyword());
        assert!(t[1].is_plain_name());
    }
}
