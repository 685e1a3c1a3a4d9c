//! Configuration errors with their position, printed like ISC's.

use crate::model::Span;

/// What went wrong, broadly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file (the config or an `include`) could not be read.
    Io,
    /// The text does not follow dhcpd.conf's grammar (ISC rejects it too).
    Syntax,
    /// Well-formed but invalid (undeclared failover peer, range outside its
    /// subnet, primary without mclt, ...).
    Invalid,
    /// Valid for ISC dhcpd, but Tandem does not implement it (DHCPv6
    /// statements, user-defined functions, ...).
    Unsupported,
}

/// A dhcpd.conf error: `FILE:LINE:COL: MESSAGE`.
///
/// Like ISC, the position is that of the last token read when the problem
/// was found (for an unknown statement that is the end of the statement
/// before it; ISC prints line 0 when nothing was read yet, Tandem the first
/// token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}:{}: {message}", span.file.display(), span.line, span.col)]
pub struct ConfigError {
    pub kind: ErrorKind,
    pub span: Span,
    pub message: String,
    /// The text of the line the span points into (empty for I/O errors on
    /// the top-level file).
    pub source_line: String,
    /// More help than ISC's message gives (ISC's position is often the
    /// token *before* the problem), printed by [`ConfigError::render`].
    pub hint: Option<String>,
}

impl ConfigError {
    /// The error, then the offending source line and a caret under the
    /// column (ISC prints `FILE line N: message`, the line, and `^`).
    pub fn render(&self) -> String {
        let mut caret = String::new();
        // Keep tabs so the caret lines up whatever the tab width.
        for c in self
            .source_line
            .chars()
            .take(self.span.col.saturating_sub(1) as usize)
        {
            caret.push(if c == '\t' { '\t' } else { ' ' });
        }
        caret.push('^');
        let mut out = format!("{self}\n{}\n{caret}", self.source_line);
        if let Some(h) = &self.hint {
            out.push_str("\n(");
            out.push_str(h);
            out.push(')');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn display_and_render() {
        let e = ConfigError {
            kind: ErrorKind::Syntax,
            span: Span {
                file: PathBuf::from("/etc/dhcpd.conf"),
                line: 3,
                col: 5,
            },
            message: "semicolon expected.".into(),
            source_line: "\tab cd".into(),
            hint: None,
        };
        assert_eq!(e.to_string(), "/etc/dhcpd.conf:3:5: semicolon expected.");
        assert_eq!(
            e.render(),
            "/etc/dhcpd.conf:3:5: semicolon expected.\n\tab cd\n\t   ^"
        );
    }
}
