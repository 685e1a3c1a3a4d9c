//! dhcpd.conf: lexer, parser with spans, lowering into the typed model of
//! [`model`], and evaluation of ISC expressions.
//!
//! Entry points: [`load`] (a file, following `include`), [`parse_str`]
//! (text; includes are still read from disk) and [`parse_for_fuzz`]
//! (text, includes not read). The grammar and the error messages are ISC
//! dhcpd 4.4's; see `parser` for the details that are not obvious.

mod dns;
mod error;
pub mod eval;
mod expr;
mod keywords;
mod lexer;
pub mod model;
mod options;
mod parser;
mod values;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, ErrorKind};
pub use model::*;

/// Read and parse the dhcpd.conf at `path`, following `include "FILE";`.
/// As in ISC, a relative include is opened relative to the process's
/// working directory, not to the including file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read(path).map_err(|e| ConfigError {
        kind: ErrorKind::Io,
        span: Span {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
        },
        message: format!("Can't open {}: {e}", path.display()),
        source_line: String::new(),
        hint: None,
    })?;
    parser::Parser::new(true).parse_file(path, text)
}

/// Parse dhcpd.conf text; `file_name` is used in spans and messages.
/// Included files are read from disk.
pub fn parse_str(file_name: &Path, text: &str) -> Result<Config, ConfigError> {
    parser::Parser::new(true).parse_file(file_name, text.as_bytes().to_vec())
}

/// Parse text without touching the file system (`include` statements are
/// checked but not read; each adds a warning). For fuzzing.
pub fn parse_for_fuzz(text: &str) -> Result<Config, ConfigError> {
    parse_bytes_without_includes(text.as_bytes())
}

/// Like [`parse_for_fuzz`], for arbitrary bytes (config files need not be
/// UTF-8).
pub fn parse_bytes_without_includes(text: &[u8]) -> Result<Config, ConfigError> {
    parser::Parser::new(false).parse_file(&PathBuf::from("<input>"), text.to_vec())
}
