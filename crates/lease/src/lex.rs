//! Tokenizer for the `dhcpd.leases` syntax, over raw bytes.
//!
//! It follows ISC's lexer (`common/conflex.c`) where it matters for the lease
//! file: `#` starts a comment to the end of the line wherever a token could
//! start; strings are `"..."` with `\t \r \n \b`, `\ooo` (octal) and `\xHH`
//! escapes; punctuation characters are tokens of their own. One deliberate
//! difference: a string may not contain a raw newline (ISC writes every
//! non-printable byte as `\ooo`), so a missing closing quote damages one line
//! instead of swallowing the rest of the file.

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// A run of characters that are neither blank, punctuation, `"` nor `#`:
    /// keywords, numbers, addresses, hex octets, names.
    Word(&'a [u8]),
    /// A quoted string, escapes decoded.
    Str(Vec<u8>),
    /// A string whose closing quote never came (end of line or of input).
    Unterminated { at_eof: bool },
    /// One punctuation character.
    Punct(u8),
}

#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte offsets of the token in the input (`end` exclusive).
    pub start: usize,
    pub end: usize,
    /// 1-based line of the token's first byte.
    pub line: usize,
    /// The token is the first thing on its line, in column 0.
    pub col0: bool,
}

impl Token<'_> {
    pub fn is_punct(&self, c: u8) -> bool {
        self.tok == Tok::Punct(c)
    }
    pub fn word(&self) -> Option<&[u8]> {
        match self.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }
    pub fn is_word(&self, kw: &str) -> bool {
        self.word() == Some(kw.as_bytes())
    }
}

/// Characters that are tokens by themselves.
fn is_punct(c: u8) -> bool {
    matches!(
        c,
        b'{' | b'}' | b';' | b':' | b'/' | b',' | b'=' | b'(' | b')' | b'!' | b'&' | b'|'
    )
}

fn is_blank(c: u8) -> bool {
    c.is_ascii_whitespace()
}

pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    /// Decode a string body; `self.pos` is just after the opening quote.
    fn string(&mut self) -> Tok<'a> {
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Tok::Unterminated { at_eof: true };
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Tok::Str(out);
                }
                b'\n' => {
                    // Leave the newline for the blank skipper (line count).
                    return Tok::Unterminated { at_eof: false };
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Tok::Unterminated { at_eof: true };
                    };
                    if e == b'\n' {
                        return Tok::Unterminated { at_eof: false };
                    }
                    self.pos += 1;
                    match e {
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'n' => out.push(b'\n'),
                        b'b' => out.push(0x08),
                        // ISC: `\` then 0-3 starts a three-digit octal escape.
                        b'0'..=b'3' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(u8::try_from(v).unwrap_or(u8::MAX));
                        }
                        // ISC: `\x` then two hex digits.
                        b'x' => {
                            let mut v = 0u32;
                            let mut n = 0;
                            while n < 2 {
                                match self.peek().and_then(|d| (d as char).to_digit(16)) {
                                    Some(d) => {
                                        v = v * 16 + d;
                                        self.pos += 1;
                                        n += 1;
                                    }
                                    None => break,
                                }
                            }
                            if n == 0 {
                                out.push(b'x');
                            } else {
                                out.push(u8::try_from(v).unwrap_or(u8::MAX));
                            }
                        }
                        other => out.push(other),
                    }
                }
                other => {
                    out.push(other);
                    self.pos += 1;
                }
            }
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        // Skip blanks and comments.
        loop {
            let c = self.peek()?;
            if c == b'\n' {
                self.line += 1;
                self.pos += 1;
            } else if is_blank(c) {
                self.pos += 1;
            } else if c == b'#' {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
        let start = self.pos;
        let line = self.line;
        let col0 = start == 0 || self.src.get(start - 1) == Some(&b'\n');
        let c = self.peek()?;
        let tok = if c == b'"' {
            self.pos += 1;
            self.string()
        } else if is_punct(c) {
            self.pos += 1;
            Tok::Punct(c)
        } else {
            while let Some(c) = self.peek() {
                if is_blank(c) || is_punct(c) || c == b'"' || c == b'#' {
                    break;
                }
                self.pos += 1;
            }
            Tok::Word(self.src.get(start..self.pos).unwrap_or_default())
        };
        Some(Token {
            tok,
            start,
            end: self.pos,
            line,
            col0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        Lexer::new(s.as_bytes()).map(|t| t.tok).collect()
    }

    #[test]
    fn words_punct_comments() {
        let t = toks("lease 10.0.0.1 { # hi\n starts 3 2026/11/22 01:29:05; }");
        assert_eq!(t[0], Tok::Word(b"lease"));
        assert_eq!(t[1], Tok::Word(b"10.0.0.1"));
        assert_eq!(t[2], Tok::Punct(b'{'));
        assert_eq!(t[3], Tok::Word(b"starts"));
        assert_eq!(t[5], Tok::Word(b"2026"));
        assert_eq!(t[6], Tok::Punct(b'/'));
        assert_eq!(t.last(), Some(&Tok::Punct(b'}')));
    }

    #[test]
    fn string_escapes() {
        let t = toks(r#""\001\002a\"\\\x41\n\377\7""#);
        assert_eq!(
            t,
            vec![Tok::Str(vec![
                1, 2, b'a', b'"', b'\\', b'A', b'\n', 0o377, b'7'
            ])]
        );
    }

    #[test]
    fn unterminated_strings() {
        assert_eq!(toks("\"abc"), vec![Tok::Unterminated { at_eof: true }]);
        let t = toks("\"abc\nx");
        assert_eq!(t[0], Tok::Unterminated { at_eof: false });
        assert_eq!(t[1], Tok::Word(b"x"));
    }

    #[test]
    fn lines_and_columns() {
        let v: Vec<_> = Lexer::new(b"a b\n  c\nd").collect();
        assert_eq!((v[0].line, v[0].col0), (1, true));
        assert_eq!((v[1].line, v[1].col0), (1, false));
        assert_eq!((v[2].line, v[2].col0), (2, false));
        assert_eq!((v[3].line, v[3].col0), (3, true));
    }
}
