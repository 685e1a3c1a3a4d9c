//! The dhcpd.conf parser: ISC's grammar (`server/confpars.c`,
//! `common/parse.c`), building the typed model as it goes (like ISC, the
//! grammar depends on what was declared before: option formats, classes,
//! failover peers, keys).
//!
//! The first error stops the parse. Its position is ISC's: the last token
//! read (see [`crate::ConfigError`]).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{ConfigError, ErrorKind};
use crate::lexer::{tokenize, Kind, Token};
use crate::model::*;
use crate::options::{self, BUILTIN_OPTIONS, BUILTIN_SPACES};

pub(crate) type R<T> = Result<T, ConfigError>;

/// Deepest `include` nesting accepted (ISC has no limit and recurses
/// forever on a loop).
const MAX_INCLUDE_DEPTH: usize = 32;

/// ISC's declaration types: which statements are allowed where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeclType {
    Root,
    SharedNet,
    Subnet,
    Pool,
    Group,
    Host,
    Class,
}

/// Where a statement is being parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub ty: DeclType,
    pub scope: ScopeId,
    /// The shared network whose block directly contains us (ISC's
    /// `group->shared_network`): only there do subnets join it.
    pub shared: Option<usize>,
    /// The shared network we are inside, however deep (for pools).
    pub net: Option<usize>,
    pub subnet: Option<usize>,
    pub host: Option<usize>,
}

struct SourceFile {
    path: PathBuf,
    text: Vec<u8>,
}

struct Cursor {
    toks: Vec<Rc<Token>>,
    pos: usize,
    file: usize,
    /// (line, col) of the last token consumed: ISC's error position.
    last: Option<(u32, u32)>,
}

/// An option definition as the parser resolved it.
#[derive(Debug, Clone)]
pub(crate) struct OptRef {
    pub space: String,
    pub name: String,
    pub code: u32,
    pub format: String,
}

pub(crate) struct Parser {
    pub cfg: Config,
    files: Vec<SourceFile>,
    cursors: Vec<Cursor>,
    read_includes: bool,
    /// User definitions, numbered after the built-in ones; the override
    /// maps say which definition a (space, name) or (space, code) means
    /// now (None: no longer defined). Keys are lowercase.
    user_defs: Vec<OptionDef>,
    name_over: HashMap<(String, String), Option<usize>>,
    code_over: HashMap<(String, u32), Option<usize>>,
    class_by_name: HashMap<String, usize>,
    peer_by_name: HashMap<String, usize>,
    group_by_name: HashMap<String, ScopeId>,
    host_by_name: HashMap<String, usize>,
    key_by_name: HashMap<String, usize>,
    /// Default failover peer of each shared network (`failover peer "X";`).
    net_failover: Vec<Option<String>>,
    /// The implicit pool of each subnet, once it has a range.
    subnet_implicit_pool: Vec<Option<usize>>,
    /// Every range with where it was written, for the overlap check.
    range_spans: Vec<(u32, u32, Span)>,
    /// Per pool: the span of its first `range dynamic-bootp`.
    pool_dynamic_span: Vec<Option<Span>>,
    /// Per failover peer: a pool refers to it.
    peer_referenced: Vec<bool>,
    ddns_warned: bool,
}

impl Parser {
    pub(crate) fn new(read_includes: bool) -> Self {
        let mut p = Parser {
            cfg: Config::default(),
            files: Vec::new(),
            cursors: Vec::new(),
            read_includes,
            user_defs: Vec::new(),
            name_over: HashMap::new(),
            code_over: HashMap::new(),
            class_by_name: HashMap::new(),
            peer_by_name: HashMap::new(),
            group_by_name: HashMap::new(),
            host_by_name: HashMap::new(),
            key_by_name: HashMap::new(),
            net_failover: Vec::new(),
            subnet_implicit_pool: Vec::new(),
            range_spans: Vec::new(),
            pool_dynamic_span: Vec::new(),
            peer_referenced: Vec::new(),
            ddns_warned: false,
        };
        for (name, cw, lw, enc) in BUILTIN_SPACES {
            p.cfg.option_spaces.push(OptionSpace {
                name: (*name).to_string(),
                code_width: *cw,
                length_width: *lw,
                encapsulated_by: enc.map(|(s, c)| OptionCode {
                    space: s.to_string(),
                    code: c,
                }),
            });
        }
        p.cfg.scopes.push(Scope {
            parent: None,
            kind: ScopeKind::Global,
            statements: Vec::new(),
            span: Span::default(),
            authoritative: false,
        });
        p
    }

    /// Parse one file's text as the top-level config, then check the
    /// result as a whole.
    pub(crate) fn parse_file(mut self, path: &Path, text: Vec<u8>) -> R<Config> {
        self.cfg.scopes[0].span = Span {
            file: path.to_path_buf(),
            line: 1,
            col: 1,
        };
        self.push_file(path.to_path_buf(), text);
        let ctx = Ctx {
            ty: DeclType::Root,
            scope: 0,
            shared: None,
            net: None,
            subnet: None,
            host: None,
        };
        self.parse_statements_to_eof(&ctx)?;
        self.cursors.pop();
        self.finish()
    }

    fn push_file(&mut self, path: PathBuf, text: Vec<u8>) {
        let toks = tokenize(&text).into_iter().map(Rc::new).collect();
        self.files.push(SourceFile { path, text });
        self.cursors.push(Cursor {
            toks,
            pos: 0,
            file: self.files.len() - 1,
            last: None,
        });
    }

    /// ISC's `conf_file_subparse`: statements until the end of the file.
    fn parse_statements_to_eof(&mut self, ctx: &Ctx) -> R<()> {
        let mut declaration = false;
        loop {
            if self.peek()?.kind == Kind::Eof {
                return Ok(());
            }
            declaration = self.parse_statement(ctx, declaration)?;
        }
    }

    // ---------------------------------------------------------------
    // Tokens and errors
    // ---------------------------------------------------------------

    fn cursor(&self) -> Option<&Cursor> {
        self.cursors.last()
    }

    fn raw_peek(&self) -> Option<&Rc<Token>> {
        let c = self.cursor()?;
        c.toks.get(c.pos).or_else(|| c.toks.last())
    }

    /// The next token, not consumed (a lexical error in it is reported
    /// here, as ISC's lexer reports it when reading the token).
    pub(crate) fn peek(&self) -> R<Rc<Token>> {
        let Some(t) = self.raw_peek() else {
            return Ok(Rc::new(eof_token()));
        };
        if let Some(e) = &t.error {
            return Err(self.err_tok(t, ErrorKind::Syntax, e.clone()));
        }
        Ok(Rc::clone(t))
    }

    /// The token after the next one (for small look-aheads).
    pub(crate) fn peek2(&self) -> Rc<Token> {
        self.peek_n(1)
    }

    /// The token `n` places after the next one.
    pub(crate) fn peek_n(&self, n: usize) -> Rc<Token> {
        self.cursor()
            .and_then(|c| c.toks.get(c.pos + n).or_else(|| c.toks.last()))
            .cloned()
            .unwrap_or_else(|| Rc::new(eof_token()))
    }

    /// Consume and return the next token.
    pub(crate) fn next(&mut self) -> R<Rc<Token>> {
        let t = self.peek()?;
        if let Some(c) = self.cursors.last_mut() {
            if c.pos < c.toks.len() && t.kind != Kind::Eof {
                c.pos += 1;
            }
            c.last = Some((t.line, t.col));
        }
        Ok(t)
    }

    pub(crate) fn span_of(&self, t: &Token) -> Span {
        Span {
            file: self.current_file(),
            line: t.line,
            col: t.col,
        }
    }

    fn current_file(&self) -> PathBuf {
        self.cursor()
            .and_then(|c| self.files.get(c.file))
            .map(|f| f.path.clone())
            .unwrap_or_default()
    }

    /// ISC's error position: the last token read; the next one when none
    /// was read yet in this file (ISC prints "line 0" then).
    pub(crate) fn here(&self) -> Span {
        match self.cursor().and_then(|c| c.last) {
            Some((line, col)) => Span {
                file: self.current_file(),
                line,
                col,
            },
            None => match self.raw_peek() {
                Some(t) => self.span_of(t),
                None => Span::default(),
            },
        }
    }

    fn line_text(&self, span: &Span) -> String {
        let Some(f) = self.files.iter().rev().find(|f| f.path == span.file) else {
            return String::new();
        };
        let line = f
            .text
            .split(|&b| b == b'\n')
            .nth(span.line.saturating_sub(1) as usize)
            .unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        String::from_utf8_lossy(line).into_owned()
    }

    pub(crate) fn err_at(
        &self,
        span: Span,
        kind: ErrorKind,
        msg: impl Into<String>,
    ) -> ConfigError {
        let source_line = self.line_text(&span);
        ConfigError {
            kind,
            span,
            message: msg.into(),
            source_line,
            hint: None,
        }
    }

    /// A syntax error at ISC's position.
    pub(crate) fn err(&self, msg: impl Into<String>) -> ConfigError {
        self.err_at(self.here(), ErrorKind::Syntax, msg)
    }

    /// An invalid-config error at ISC's position.
    pub(crate) fn invalid(&self, msg: impl Into<String>) -> ConfigError {
        self.err_at(self.here(), ErrorKind::Invalid, msg)
    }

    pub(crate) fn unsupported(&self, msg: impl Into<String>) -> ConfigError {
        self.err_at(self.here(), ErrorKind::Unsupported, msg)
    }

    fn err_tok(&self, t: &Token, kind: ErrorKind, msg: impl Into<String>) -> ConfigError {
        self.err_at(self.span_of(t), kind, msg)
    }

    pub(crate) fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.cfg.warnings.push(Diagnostic {
            span,
            message: msg.into(),
        });
    }

    /// ISC's `parse_semi`.
    pub(crate) fn semi(&mut self) -> R<()> {
        let t = self.next()?;
        if t.is_punct(b';') {
            Ok(())
        } else {
            Err(self.err("semicolon expected."))
        }
    }

    pub(crate) fn expect_punct(&mut self, c: u8, msg: &str) -> R<Rc<Token>> {
        let t = self.next()?;
        if t.is_punct(c) {
            Ok(t)
        } else {
            Err(self.err(msg))
        }
    }

    /// ISC's `parse_lbrace`.
    fn lbrace(&mut self) -> R<()> {
        self.expect_punct(b'{', "expecting left brace.").map(|_| ())
    }

    /// A number token's value as C's `atoi` sees it.
    pub(crate) fn atoi(t: &Token) -> i64 {
        let s = t.val.as_slice();
        let (neg, digits) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, s),
        };
        let mut v: i64 = 0;
        for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
            v = v.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
        }
        if neg {
            -v
        } else {
            v
        }
    }

    /// Read a NUMBER token as an unsigned 32-bit value (ISC stores these
    /// `atoi` results in unsigned fields).
    pub(crate) fn number_u32(&mut self, msg: &str) -> R<u32> {
        let t = self.next()?;
        if t.kind != Kind::Number {
            return Err(self.err(msg));
        }
        Ok(Self::atoi(&t) as u32)
    }

    // ---------------------------------------------------------------
    // Scopes and option definitions
    // ---------------------------------------------------------------

    pub(crate) fn new_scope(&mut self, parent: ScopeId, kind: ScopeKind, span: Span) -> ScopeId {
        // ISC's clone_group copies the authoritative flag at creation.
        let authoritative = self.cfg.scopes.get(parent).is_some_and(|s| s.authoritative);
        self.cfg.scopes.push(Scope {
            parent: Some(parent),
            kind,
            statements: Vec::new(),
            span,
            authoritative,
        });
        self.cfg.scopes.len() - 1
    }

    pub(crate) fn push_stmt(&mut self, scope: ScopeId, stmt: Stmt) {
        if let Some(s) = self.cfg.scopes.get_mut(scope) {
            s.statements.push(stmt);
        }
    }

    /// Add (or redefine) an option; as ISC, the new definition takes the
    /// name and the code.
    pub(crate) fn define_option(&mut self, space: &str, name: &str, code: u32, format: &str) {
        let idx = builtins().defs.len() + self.user_defs.len();
        self.user_defs.push(OptionDef {
            space: space.to_string(),
            name: name.to_string(),
            code,
            ty: options::format_to_type(format),
            format: format.to_string(),
        });
        let sl = space.to_ascii_lowercase();
        self.name_over
            .insert((sl.clone(), name.to_ascii_lowercase()), Some(idx));
        self.code_over.insert((sl, code), Some(idx));
    }

    fn def(&self, idx: usize) -> Option<&OptionDef> {
        let b = &builtins().defs;
        b.get(idx).or_else(|| self.user_defs.get(idx - b.len()))
    }

    fn name_index(&self, key: &(String, String)) -> Option<usize> {
        match self.name_over.get(key) {
            Some(v) => *v,
            None => builtins().by_name.get(key).copied(),
        }
    }

    fn code_index(&self, key: &(String, u32)) -> Option<usize> {
        match self.code_over.get(key) {
            Some(v) => *v,
            None => builtins().by_code.get(key).copied(),
        }
    }

    /// Forget a known option's name and code before it is redefined.
    fn undefine_option(&mut self, space: &str, name: &str) {
        let sl = space.to_ascii_lowercase();
        let nkey = (sl.clone(), name.to_ascii_lowercase());
        if let Some(idx) = self.name_index(&nkey) {
            self.name_over.insert(nkey, None);
            if let Some(code) = self.def(idx).map(|d| d.code) {
                let ckey = (sl, code);
                if self.code_index(&ckey) == Some(idx) {
                    self.code_over.insert(ckey, None);
                }
            }
        }
    }

    pub(crate) fn lookup_option(&self, space: &str, name: &str) -> Option<OptRef> {
        let idx = self.name_index(&(space.to_ascii_lowercase(), name.to_ascii_lowercase()))?;
        self.def(idx).map(opt_ref)
    }

    pub(crate) fn lookup_code(&self, space: &str, code: u32) -> Option<OptRef> {
        let idx = self.code_index(&(space.to_ascii_lowercase(), code))?;
        self.def(idx).map(opt_ref)
    }

    pub(crate) fn space_exists(&self, name: &str) -> Option<String> {
        self.cfg
            .option_spaces
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| s.name.clone())
    }

    pub(crate) fn class_exists(&self, name: &str) -> bool {
        self.class_by_name.contains_key(name)
    }

    pub(crate) fn key_exists(&self, name: &str) -> bool {
        self.key_by_name.contains_key(name)
    }

    // ---------------------------------------------------------------
    // Statements (ISC's parse_statement)
    // ---------------------------------------------------------------

    /// One statement or declaration. Returns ISC's `declaration` flag
    /// (true once a declaration was seen; it only changes the wording of
    /// "expecting a declaration").
    pub(crate) fn parse_statement(&mut self, ctx: &Ctx, declaration: bool) -> R<bool> {
        use DeclType as T;
        let t = self.peek()?;
        if t.is_kw("include") {
            self.next()?;
            self.parse_include(ctx)?;
            return Ok(true);
        }
        if t.is_kw("host") {
            self.next()?;
            if matches!(ctx.ty, T::Host | T::Class) {
                return Err(self.err("host declarations not allowed here."));
            }
            self.parse_host(ctx, &t)?;
            return Ok(true);
        }
        if t.is_kw("group") {
            self.next()?;
            if matches!(ctx.ty, T::Host | T::Class) {
                return Err(self.err("group declarations not allowed here."));
            }
            self.parse_group(ctx, &t)?;
            return Ok(true);
        }
        if t.is_kw("shared-network") {
            self.next()?;
            if matches!(ctx.ty, T::SharedNet | T::Host | T::Subnet | T::Class) {
                return Err(self.err("shared-network parameters not allowed here."));
            }
            self.parse_shared_network(ctx, &t)?;
            return Ok(true);
        }
        if t.is_kw("subnet") {
            self.next()?;
            if matches!(ctx.ty, T::Host | T::Subnet | T::Class) {
                return Err(self.err("subnet declarations not allowed here."));
            }
            if let Some(net) = ctx.shared {
                self.parse_subnet(net, &t)?;
                return Ok(false);
            }
            // A lone subnet: ISC wraps it in an implicit shared network.
            let net = self.new_shared_network(ctx, String::new(), false, self.span_of(&t));
            let subnet = self.parse_subnet(net, &t)?;
            let s = &self.cfg.subnets[subnet];
            let name = format!("{}/{}", s.network, s.prefix_len);
            let (auth, iface) = (self.cfg.scopes[s.scope].authoritative, s.interface.clone());
            let n = &mut self.cfg.shared_networks[net];
            n.name = name;
            n.interface = iface;
            let nscope = n.scope;
            self.cfg.scopes[nscope].authoritative = auth;
            return Ok(true);
        }
        for v6 in [
            "subnet6",
            "range6",
            "prefix6",
            "fixed-prefix6",
            "pool6",
            "fixed-address6",
            "server-duid",
        ] {
            if t.is_kw(v6) {
                self.next()?;
                return Err(self.unsupported(format!(
                    "{v6}: DHCPv6 statements are not supported (Tandem is a DHCPv4 server)"
                )));
            }
        }
        if t.is_kw("vendor-class") || t.is_kw("user-class") {
            self.next()?;
            return Err(self.unsupported(format!(
                "{}: the old implicit class declarations are not supported; use class and match if",
                t.text()
            )));
        }
        if t.is_kw("class") || t.is_kw("subclass") {
            self.next()?;
            if ctx.ty == T::Class {
                return Err(self.err("class declarations not allowed here."));
            }
            self.parse_class(ctx, t.is_kw("subclass"), &t)?;
            return Ok(true);
        }
        if t.is_kw("hardware") {
            self.next()?;
            let hw = self.parse_hardware()?;
            match ctx.host {
                Some(h) => {
                    let host = &mut self.cfg.hosts[h];
                    if host.hardware.is_some() {
                        let name = host.name.clone();
                        return Err(self
                            .invalid(format!("Host {name} hardware address already configured.")));
                    }
                    host.hardware = Some(hw);
                }
                None => return Err(self.err("hardware address parameter not allowed here.")),
            }
            return Ok(false);
        }
        if t.is_kw("fixed-address") {
            self.next()?;
            let addrs = self.parse_fixed_addresses()?;
            match ctx.host {
                Some(h) => {
                    if !self.cfg.hosts[h].fixed_addresses.is_empty() {
                        return Err(self.invalid("Only one fixed address declaration per host."));
                    }
                    self.cfg.hosts[h].fixed_addresses = addrs;
                }
                None => return Err(self.err("fixed-address parameter not allowed here.")),
            }
            return Ok(false);
        }
        if t.is_kw("pool") {
            self.next()?;
            if ctx.ty == T::Pool {
                return Err(self.err("pool declared within pool."));
            }
            if !matches!(ctx.ty, T::Subnet | T::SharedNet) {
                return Err(self.err("pool declared outside of network"));
            }
            self.parse_pool(ctx, &t)?;
            return Ok(declaration);
        }
        if t.is_kw("range") {
            self.next()?;
            if ctx.ty != T::Subnet || ctx.subnet.is_none() {
                return Err(self.err("range declaration not allowed here."));
            }
            self.parse_range(ctx, None)?;
            return Ok(declaration);
        }
        if t.is_kw("not") {
            self.next()?;
            let a = self.next()?;
            if !a.is_kw("authoritative") {
                return Err(self.err("expecting assertion"));
            }
            self.parse_authoritative(ctx, false)?;
            return Ok(false);
        }
        if t.is_kw("authoritative") {
            self.next()?;
            self.parse_authoritative(ctx, true)?;
            return Ok(false);
        }
        if t.is_kw("server-identifier") {
            // ISC: a shorthand for `option dhcp-server-identifier`.
            self.next()?;
            let span = self.span_of(&t);
            let def = OptRef {
                space: "dhcp".into(),
                name: "dhcp-server-identifier".into(),
                code: 54,
                format: "I".into(),
            };
            if let Some(value) = self.parse_option_value(&def)? {
                let stmt = Stmt::Param {
                    param: Param::ServerIdentifier,
                    value,
                };
                self.add_statement(ctx, stmt, span);
            }
            return Ok(declaration);
        }
        if t.is_kw("option") {
            self.next()?;
            if self.peek()?.is_kw("space") {
                self.next()?;
                if ctx.ty != T::Root {
                    return Err(self.err("option space definitions may not be scoped."));
                }
                self.parse_option_space()?;
                return Ok(declaration);
            }
            let (def, known) = self.parse_option_name(true)?;
            if self.peek()?.is_kw("code") {
                if ctx.ty != T::Root {
                    return Err(self.err("option definitions may not be scoped."));
                }
                self.next()?;
                if known {
                    self.undefine_option(&def.space, &def.name);
                }
                self.parse_option_code_definition(&def)?;
                return Ok(declaration);
            }
            if !known {
                return Err(self.invalid(format!("unknown option {}.{}", def.space, def.name)));
            }
            let span = self.span_of(&t);
            if let Some(stmt) = self.parse_option_statement(&def, OptionHow::Set)? {
                self.add_statement(ctx, stmt, span);
            }
            return Ok(declaration);
        }
        if t.is_kw("failover") {
            if !matches!(ctx.ty, T::Root | T::SharedNet) {
                self.next()?;
                return Err(self.err(
                    "failover peers may only be defined in shared-network declarations and the outer scope.",
                ));
            }
            self.next()?;
            self.parse_failover(ctx, &t)?;
            return Ok(false);
        }
        if t.is_kw("lease-id-format") {
            self.next()?;
            let v = self.next()?;
            if !(v.is_kw("octal") || v.is_kw("hex")) {
                return Err(self.err("lease-id-format is invalid:  it must be octal or hex."));
            }
            self.semi()?;
            self.warn(
                self.span_of(&t),
                "lease-id-format: Tandem writes lease files in ISC's default format; ignored",
            );
            return Ok(false);
        }
        if t.is_punct(b'%') {
            // ISC skips these (a management-agent convention).
            self.next()?;
            self.skip_to_semi()?;
            self.warn(
                self.span_of(&t),
                "statement starting with '%' ignored (as ISC does)",
            );
            return Ok(false);
        }
        match self.parse_executable(CaseCtx::None)? {
            Exec::NotExec => {
                let mut e = self.err(if declaration {
                    "expecting a declaration"
                } else {
                    "expecting a parameter or declaration"
                });
                // ISC points at the token before; say what was found.
                e.hint = Some(format!(
                    "found `{}` at line {}, column {}",
                    t.text(),
                    t.line,
                    t.col
                ));
                Err(e)
            }
            Exec::Done(None) => Ok(declaration),
            Exec::Done(Some((stmt, span))) => {
                self.add_statement(ctx, stmt, span);
                Ok(declaration)
            }
        }
    }

    /// Skip tokens up to and including the next `;` (ISC `skip_to_semi`,
    /// used only where ISC ignores a statement on purpose).
    fn skip_to_semi(&mut self) -> R<()> {
        let mut depth = 0usize;
        loop {
            let t = self.next()?;
            match t.kind {
                Kind::Eof => return Ok(()),
                Kind::Punct(b'{') => depth += 1,
                Kind::Punct(b'}') => {
                    if depth <= 1 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                Kind::Punct(b';') if depth == 0 => return Ok(()),
                _ => {}
            }
        }
    }

    /// Put a statement in the scope, taking the global-only settings
    /// (lease-file-name, omapi-port, ...) into `Config` when at top level.
    fn add_statement(&mut self, ctx: &Ctx, stmt: Stmt, span: Span) {
        if let Stmt::Param {
            param: Param::Other(name),
            value: Value::Const(v),
        } = &stmt
        {
            if ctx.ty == DeclType::Root {
                let text = String::from_utf8_lossy(v).into_owned();
                let num = v
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                let done = match *name {
                    "lease-file-name" => {
                        self.cfg.lease_file_name = Some(PathBuf::from(text));
                        true
                    }
                    "pid-file-name" => {
                        self.cfg.pid_file_name = Some(PathBuf::from(text));
                        true
                    }
                    "omapi-port" => {
                        self.cfg.omapi_port = num.map(|n| n as u16);
                        true
                    }
                    "local-port" => {
                        self.cfg.local_port = num.map(|n| n as u16);
                        true
                    }
                    "omapi-key" => {
                        self.cfg.omapi_key = Some(text);
                        true
                    }
                    "log-facility" => {
                        // The value is the syslog code; keep its name.
                        let name = options::ENUMERATIONS
                            .iter()
                            .find(|(n, _, _)| *n == "syslog-facilities")
                            .and_then(|(_, _, vals)| {
                                vals.iter().find(|(_, c)| Some(&(*c as u8)) == v.first())
                            })
                            .map(|(n, _)| (*n).to_string());
                        self.cfg.log_facility = name.or(Some(text));
                        true
                    }
                    _ => false,
                };
                if done {
                    return;
                }
            }
        }
        self.note_statement(&stmt, &span);
        self.push_stmt(ctx.scope, stmt);
    }

    /// Warnings for statements Tandem parses but does not act on.
    pub(crate) fn note_statement(&mut self, stmt: &Stmt, span: &Span) {
        let msg = match stmt {
            Stmt::Param {
                param: Param::Other(name),
                ..
            } => match *name {
                "lease-file-name" | "pid-file-name" | "omapi-port" | "local-port" | "omapi-key"
                | "log-facility" => Some(format!(
                    "{name}: only a constant value in the global scope is used (as in ISC); ignored here"
                )),
                _ => Some(format!(
                    "{name}: Tandem does not act on this parameter; ignored"
                )),
            },
            Stmt::Param {
                param: Param::PingCheck | Param::PingTimeout,
                ..
            } => Some("ping-check: Tandem does not ping addresses before offering them".into()),
            Stmt::Param {
                param: Param::UpdateConflictDetection,
                ..
            } => Some("update-conflict-detection: Tandem does not do DDNS; ignored".into()),
            Stmt::Execute { command, .. } => Some(format!(
                "execute(\"{command}\"): Tandem does not run external commands; ignored"
            )),
            Stmt::Eval(_) => {
                Some("statement evaluated as an expression (as ISC does); it has no effect".into())
            }
            Stmt::Ddns { name, value } => {
                let off = matches!(value, Some(Value::Const(v)) if v.as_slice() == [0]);
                if name == "ddns-update-style" || off {
                    // ddns-update-style warns below, once it is not `none`.
                    None
                } else {
                    Some(format!("{name}: Tandem does not do DDNS; ignored"))
                }
            }
            Stmt::AccessControl {
                what: AccessFlag::ClientUpdates,
                allow: AllowMode::Allow,
            } => Some("allow client-updates: Tandem does not do DDNS; ignored".into()),
            _ => None,
        };
        if let Some(m) = msg {
            self.warn(span.clone(), m);
        }
        if let Stmt::Ddns {
            name,
            value: Some(Value::Const(v)),
        } = stmt
        {
            // ddns-styles: none = 0.
            if name == "ddns-update-style" && v.as_slice() != [0] && !self.ddns_warned {
                self.ddns_warned = true;
                self.warn(
                    span.clone(),
                    "ddns-update-style: Tandem does not do DDNS; no DNS updates will be made",
                );
            }
        }
    }

    fn parse_authoritative(&mut self, ctx: &Ctx, on: bool) -> R<()> {
        if ctx.ty == DeclType::Host {
            return Err(self.invalid("authority makes no sense here."));
        }
        self.semi()?;
        if let Some(s) = self.cfg.scopes.get_mut(ctx.scope) {
            s.authoritative = on;
        }
        self.push_stmt(
            ctx.scope,
            Stmt::Param {
                param: Param::Authoritative,
                value: Value::Const(vec![u8::from(on)]),
            },
        );
        Ok(())
    }

    fn parse_include(&mut self, ctx: &Ctx) -> R<()> {
        let t = self.next()?;
        if t.kind != Kind::Str {
            return Err(self.err("filename string expected."));
        }
        let name = PathBuf::from(t.text());
        if !self.read_includes {
            self.warn(
                self.span_of(&t),
                format!("include \"{}\" not read (includes are off)", name.display()),
            );
            return self.semi();
        }
        if self.cursors.len() > MAX_INCLUDE_DEPTH {
            return Err(self.invalid(format!(
                "{}: includes nested more than {MAX_INCLUDE_DEPTH} deep",
                name.display()
            )));
        }
        // ISC opens the name as given: a relative path is relative to the
        // server's working directory, not to the including file.
        let text = std::fs::read(&name).map_err(|e| {
            self.err_at(
                self.span_of(&t),
                ErrorKind::Io,
                format!("Can't open {}: {e}", name.display()),
            )
        })?;
        self.push_file(name, text);
        // The included file's statements go in the same scope, with a fresh
        // declaration flag and no host (ISC's conf_file_subparse).
        let inner = Ctx { host: None, ..*ctx };
        let r = self.parse_statements_to_eof(&inner);
        self.cursors.pop();
        r?;
        self.semi()
    }

    // ---------------------------------------------------------------
    // Declarations
    // ---------------------------------------------------------------

    fn new_shared_network(&mut self, ctx: &Ctx, name: String, explicit: bool, span: Span) -> usize {
        let idx = self.cfg.shared_networks.len();
        let scope = self.new_scope(ctx.scope, ScopeKind::SharedNetwork(idx), span.clone());
        self.cfg.shared_networks.push(SharedNetwork {
            name,
            explicit,
            scope,
            subnets: Vec::new(),
            pools: Vec::new(),
            interface: None,
            span,
        });
        self.net_failover.push(None);
        idx
    }

    fn parse_shared_network(&mut self, ctx: &Ctx, first: &Token) -> R<()> {
        let t = self.peek()?;
        let name = if t.kind == Kind::Str {
            self.next()?;
            let v = t.text();
            if v.is_empty() {
                return Err(self.invalid("zero-length shared network name"));
            }
            v
        } else {
            match self.parse_host_name()? {
                Some(n) => n,
                None => return Err(self.err("expecting a name for shared-network")),
            }
        };
        let net = self.new_shared_network(ctx, name, true, self.span_of(first));
        self.lbrace()?;
        let scope = self.cfg.shared_networks[net].scope;
        let inner = Ctx {
            ty: DeclType::SharedNet,
            scope,
            shared: Some(net),
            net: Some(net),
            subnet: None,
            host: None,
        };
        let mut declaration = false;
        loop {
            let t = self.peek()?;
            if t.is_punct(b'}') {
                self.next()?;
                if self.cfg.shared_networks[net].subnets.is_empty() {
                    return Err(self.invalid("empty shared-network decl"));
                }
                return Ok(());
            }
            if t.kind == Kind::Eof {
                self.next()?;
                return Err(self.err("unexpected end of file"));
            }
            if t.is_kw("interface") {
                self.next()?;
                let name = self.next()?.text();
                self.set_interface(net, None, name)?;
                self.semi()?;
                continue;
            }
            declaration = self.parse_statement(&inner, declaration)?;
        }
    }

    fn set_interface(&mut self, net: usize, subnet: Option<usize>, name: String) -> R<()> {
        if self.cfg.shared_networks[net].interface.is_some() {
            return Err(
                self.invalid("A subnet or shared network can't be connected to two interfaces.")
            );
        }
        self.cfg.shared_networks[net].interface = Some(name.clone());
        if let Some(s) = subnet {
            self.cfg.subnets[s].interface = Some(name);
        }
        Ok(())
    }

    /// `subnet A netmask M { ... }` in shared network `net`.
    fn parse_subnet(&mut self, net: usize, first: &Token) -> R<usize> {
        let network = self.parse_ip_addr()?;
        let t = self.next()?;
        if !t.is_kw("netmask") {
            return Err(self.err("Expecting netmask"));
        }
        let netmask = self.parse_ip_addr()?;
        let (n, m) = (u32::from(network), u32::from(netmask));
        if n & !m != 0 {
            return Err(self.invalid(format!(
                "subnet {network} netmask {netmask}: bad subnet number/mask combination."
            )));
        }
        // Tandem needs a prefix length; ISC does not check this.
        let prefix_len = m.leading_ones() as u8;
        if m.checked_shl(u32::from(prefix_len)).unwrap_or(0) != 0 {
            return Err(self.invalid(format!(
                "subnet {network} netmask {netmask}: netmask is not contiguous."
            )));
        }
        let span = self.span_of(first);
        let parent = self.cfg.shared_networks[net].scope;
        let idx = self.cfg.subnets.len();
        let scope = self.new_scope(parent, ScopeKind::Subnet(idx), span.clone());
        for other in &self.cfg.subnets {
            let common = u32::from(other.netmask) & m;
            if u32::from(other.network) & common == n & common {
                let w = format!(
                    "Warning: subnet {network}/{prefix_len} overlaps subnet {}/{}",
                    other.network, other.prefix_len
                );
                self.cfg.warnings.push(Diagnostic {
                    span: span.clone(),
                    message: w,
                });
                break;
            }
        }
        self.cfg.subnets.push(Subnet {
            network,
            netmask,
            prefix_len,
            scope,
            shared_network: net,
            interface: None,
            span,
        });
        self.subnet_implicit_pool.push(None);
        self.cfg.shared_networks[net].subnets.push(idx);
        self.lbrace()?;
        let inner = Ctx {
            ty: DeclType::Subnet,
            scope,
            shared: None,
            net: Some(net),
            subnet: Some(idx),
            host: None,
        };
        let mut declaration = false;
        loop {
            let t = self.peek()?;
            if t.is_punct(b'}') {
                self.next()?;
                break;
            }
            if t.kind == Kind::Eof {
                self.next()?;
                return Err(self.err("unexpected end of file"));
            }
            if t.is_kw("interface") {
                self.next()?;
                let name = self.next()?.text();
                self.set_interface(net, Some(idx), name)?;
                self.semi()?;
                continue;
            }
            declaration = self.parse_statement(&inner, declaration)?;
        }
        Ok(idx)
    }

    fn parse_group(&mut self, ctx: &Ctx, first: &Token) -> R<()> {
        let t = self.peek()?;
        let mut name = None;
        if t.is_identifier() || t.kind == Kind::Str {
            self.next()?;
            name = Some(t.text());
        }
        let span = self.span_of(first);
        let scope = self.new_scope(ctx.scope, ScopeKind::Group, span);
        self.lbrace()?;
        let inner = Ctx {
            ty: DeclType::Group,
            scope,
            shared: None,
            host: None,
            ..*ctx
        };
        let mut declaration = false;
        loop {
            let t = self.peek()?;
            if t.is_punct(b'}') {
                self.next()?;
                break;
            }
            if t.kind == Kind::Eof {
                self.next()?;
                return Err(self.err("unexpected end of file"));
            }
            if t.is_kw("deleted") || t.is_kw("dynamic") || t.is_kw("static") {
                self.next()?;
                self.semi()?;
                self.warn(self.here(), format!("group: `{};` ignored", t.text()));
                continue;
            }
            declaration = self.parse_statement(&inner, declaration)?;
        }
        if let Some(n) = name {
            self.group_by_name.insert(n, scope);
        }
        Ok(())
    }

    fn parse_host(&mut self, ctx: &Ctx, first: &Token) -> R<()> {
        let Some(name) = self.parse_host_name()? else {
            return Err(self.err("expecting a name for host declaration."));
        };
        let span = self.span_of(first);
        let idx = self.cfg.hosts.len();
        let scope = self.new_scope(ctx.scope, ScopeKind::Host(idx), span.clone());
        self.cfg.hosts.push(Host {
            name: name.clone(),
            scope,
            hardware: None,
            client_id: None,
            host_identifier: None,
            fixed_addresses: Vec::new(),
            span,
        });
        self.lbrace()?;
        let inner = Ctx {
            ty: DeclType::Host,
            scope,
            shared: None,
            host: Some(idx),
            ..*ctx
        };
        let mut declaration = false;
        let mut deleted = false;
        loop {
            let t = self.peek()?;
            if t.is_punct(b'}') {
                self.next()?;
                break;
            }
            if t.kind == Kind::Eof {
                self.next()?;
                return Err(self.err("unexpected end of file"));
            }
            if t.is_kw("dynamic") || t.is_kw("deleted") {
                self.next()?;
                self.semi()?;
                deleted |= t.is_kw("deleted");
                self.warn(
                    self.span_of(&t),
                    format!("host {name}: `{};` ignored", t.text()),
                );
                continue;
            }
            if t.is_kw("group") {
                self.next()?;
                let g = self.next()?;
                if g.kind != Kind::Str && !g.is_identifier() {
                    return Err(self.err("expecting string or identifier."));
                }
                match self.group_by_name.get(&g.text()).copied() {
                    // ISC puts the named group above the host's own
                    // statements, in place of the enclosing scope.
                    Some(gs) => self.cfg.scopes[scope].parent = Some(gs),
                    None => {
                        return Err(
                            self.invalid(format!("unknown group {} in host {name}", g.text()))
                        )
                    }
                }
                self.semi()?;
                continue;
            }
            if t.is_kw("uid") {
                self.next()?;
                if let Some(old) = &self.cfg.hosts[idx].client_id {
                    let shown = String::from_utf8_lossy(old).into_owned();
                    return Err(self.invalid(format!("Host '{name}' already has a uid '{shown}'")));
                }
                let p = self.peek()?;
                let uid = if p.kind == Kind::Str {
                    self.next()?;
                    p.val.clone()
                } else {
                    match self.parse_numeric_aggregate(0, b':', 16, 8) {
                        Ok(v) => v,
                        Err(_) => return Err(self.err("expecting hex list.")),
                    }
                };
                self.cfg.hosts[idx].client_id = Some(uid);
                self.semi()?;
                continue;
            }
            if t.is_kw("host-identifier") {
                self.next()?;
                if self.cfg.hosts[idx].host_identifier.is_some() {
                    return Err(self.invalid("only one host-identifier allowed per host"));
                }
                let k = self.next()?;
                if k.is_kw("v6relopt") {
                    return Err(
                        self.unsupported("host-identifier v6relopt: DHCPv6 is not supported")
                    );
                }
                if !k.is_kw("option") {
                    return Err(self.err("host-identifier must be an option or v6relopt"));
                }
                let (def, known) = self.parse_option_name(true)?;
                if !known {
                    return Err(self.invalid(format!("unknown option {}.{}", def.space, def.name)));
                }
                let value = self.parse_option_data(&def)?;
                let Value::Const(bytes) = value else {
                    return Err(self.unsupported(
                        "host-identifier: the value must be a constant, not a host name",
                    ));
                };
                self.semi()?;
                self.cfg.hosts[idx].host_identifier = Some((
                    OptionCode {
                        space: def.space.clone(),
                        code: def.code,
                    },
                    bytes,
                ));
                continue;
            }
            declaration = self.parse_statement(&inner, declaration)?;
        }
        // ISC takes the client identifier from an unconditional
        // `option dhcp-client-identifier` in the host (find_uid_statement).
        if self.cfg.hosts[idx].client_id.is_none() {
            let uid = self.cfg.scopes[scope]
                .statements
                .iter()
                .find_map(|s| match s {
                    Stmt::Option {
                        code,
                        value: Value::Const(v),
                        ..
                    } if code.space == "dhcp" && code.code == 61 => Some(v.clone()),
                    _ => None,
                });
            self.cfg.hosts[idx].client_id = uid;
        }
        if deleted {
            return Ok(());
        }
        if self.host_by_name.contains_key(&name) {
            return Err(self.invalid(format!("host {name}: already exists")));
        }
        self.host_by_name.insert(name, idx);
        Ok(())
    }

    /// `hardware TYPE [xx:xx:...];`
    fn parse_hardware(&mut self) -> R<tandem_lease::Hardware> {
        let t = self.next()?;
        let htype: u8 = if t.is_kw("ethernet") {
            1
        } else if t.is_kw("token-ring") {
            6
        } else if t.is_kw("fddi") {
            8
        } else if t.is_kw("infiniband") {
            32
        } else if t.val.len() > 8 && t.val[..8].eq_ignore_ascii_case(b"unknown-") {
            let mut n: u32 = 0;
            for &d in t.val[8..].iter().take_while(|d| d.is_ascii_digit()) {
                n = n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'));
            }
            n as u8
        } else {
            return Err(self.err("expecting a network hardware type"));
        };
        let mut addr = Vec::new();
        if !self.peek()?.is_punct(b';') {
            addr = self.parse_numeric_aggregate(0, b':', 16, 8)?;
            // ISC's hbuf holds the type and 16 address bytes.
            if addr.len() > 16 {
                return Err(self.invalid("hardware address too long"));
            }
        }
        let t = self.next()?;
        if !t.is_punct(b';') {
            return Err(self.err("expecting semicolon."));
        }
        Ok(tandem_lease::Hardware { htype, addr })
    }

    /// `fixed-address A[, B ...];`: addresses or host names.
    fn parse_fixed_addresses(&mut self) -> R<Vec<HostAddr>> {
        let mut out = Vec::new();
        loop {
            out.push(self.parse_host_addr()?);
            if self.peek()?.is_punct(b',') {
                self.next()?;
                continue;
            }
            break;
        }
        self.semi()?;
        Ok(out)
    }

    /// An IPv4 address or a host name (ISC's parse_ip_addr_or_hostname).
    pub(crate) fn parse_host_addr(&mut self) -> R<HostAddr> {
        if self.looks_like_ip()? {
            return Ok(HostAddr::Ip(self.parse_ip_addr()?));
        }
        let t = self.peek()?;
        if t.is_identifier() || t.kind == Kind::Number {
            return match self.parse_host_name()? {
                Some(n) => Ok(HostAddr::Name(n)),
                None => Err(self.err("expecting IP address or hostname")),
            };
        }
        let t = self.next()?;
        Err(self.err(format!("{}: expecting IP address or hostname", t.text())))
    }

    fn parse_pool(&mut self, ctx: &Ctx, first: &Token) -> R<()> {
        let Some(net) = ctx.net else {
            return Err(self
                .err("Dynamic pools are only valid inside subnet or shared-network statements."));
        };
        let span = self.span_of(first);
        let idx = self.cfg.pools.len();
        let scope = self.new_scope(ctx.scope, ScopeKind::Pool(idx), span.clone());
        // ISC: a pool starts with its shared network's failover peer.
        let inherited = self.net_failover.get(net).cloned().flatten();
        self.cfg.pools.push(Pool {
            scope,
            shared_network: net,
            subnet: if ctx.ty == DeclType::Subnet {
                ctx.subnet
            } else {
                None
            },
            ranges: Vec::new(),
            implicit: false,
            permits: Vec::new(),
            failover_peer: inherited,
            span,
        });
        self.pool_dynamic_span.push(None);
        self.cfg.shared_networks[net].pools.push(idx);
        self.lbrace()?;
        let inner = Ctx {
            ty: DeclType::Pool,
            scope,
            shared: None,
            host: None,
            ..*ctx
        };
        let mut declaration = false;
        let mut after_seen = false;
        loop {
            let t = self.peek()?;
            if t.is_kw("no") {
                self.next()?;
                let f = self.next()?;
                let p = if f.is_kw("failover") {
                    Some(self.next()?)
                } else {
                    None
                };
                if !p.is_some_and(|p| p.is_kw("peer")) {
                    return Err(self.err("expecting \"failover peer\"."));
                }
                // ISC 4.4.3 forgets to read the `;` here (so it rejects
                // `no failover peer;`); Tandem accepts it.
                if self.peek()?.is_punct(b';') {
                    self.next()?;
                }
                self.cfg.pools[idx].failover_peer = None;
                continue;
            }
            if t.is_kw("failover") {
                self.next()?;
                if !self.next()?.is_kw("peer") {
                    return Err(self.err("expecting 'peer'."));
                }
                let n = self.next()?;
                if n.kind != Kind::Str {
                    return Err(self.err("expecting string."));
                }
                let name = n.text();
                match self.peer_by_name.get(&name).copied() {
                    Some(p) => {
                        if let Some(r) = self.peer_referenced.get_mut(p) {
                            *r = true;
                        }
                    }
                    None => {
                        return Err(self.invalid(format!("failover peer {name}: not found")));
                    }
                }
                self.cfg.pools[idx].failover_peer = Some(name);
                self.semi()?;
                continue;
            }
            if t.is_kw("range") {
                self.next()?;
                self.parse_range(ctx, Some(idx))?;
                continue;
            }
            if t.is_kw("allow") || t.is_kw("deny") {
                self.next()?;
                let permit = self.parse_permit(t.is_kw("allow"), &mut after_seen)?;
                self.cfg.pools[idx].permits.push(permit);
                continue;
            }
            if t.is_punct(b'}') {
                self.next()?;
                break;
            }
            if t.kind == Kind::Eof {
                return Err(self.err("unexpected end of file"));
            }
            declaration = self.parse_statement(&inner, declaration)?;
        }
        if self.cfg.pools[idx].ranges.is_empty() {
            return Err(self.invalid("Pool declaration with no address range."));
        }
        // confpars.c: the failover protocol has no dynamic BOOTP.
        if self.cfg.pools[idx].failover_peer.is_some() {
            if let Some(s) = self.pool_dynamic_span.get(idx).cloned().flatten() {
                return Err(self.err_at(
                    s,
                    ErrorKind::Invalid,
                    "dynamic-bootp flag is not permitted for address range declarations \
                     where there is a failover peer in scope",
                ));
            }
        }
        Ok(())
    }

    /// `allow|deny PERMIT;` inside a pool (ISC's get_permit).
    fn parse_permit(&mut self, allow: bool, after_seen: &mut bool) -> R<Permit> {
        let t = self.next()?;
        let mut need_clients = true;
        let kind = if t.is_kw("unknown") {
            PermitKind::UnknownClients
        } else if t.is_kw("known-clients") {
            need_clients = false;
            PermitKind::KnownClients
        } else if t.is_kw("unknown-clients") {
            need_clients = false;
            PermitKind::UnknownClients
        } else if t.is_kw("known") {
            PermitKind::KnownClients
        } else if t.is_kw("authenticated") {
            PermitKind::AuthenticatedClients
        } else if t.is_kw("unauthenticated") {
            PermitKind::UnauthenticatedClients
        } else if t.is_kw("all") {
            PermitKind::AllClients
        } else if t.is_kw("dynamic") {
            if !self.next()?.is_kw("bootp") {
                return Err(self.err("expecting \"bootp\""));
            }
            PermitKind::DynamicBootpClients
        } else if t.is_kw("members") {
            need_clients = false;
            if !self.next()?.is_kw("of") {
                return Err(self.err("expecting \"of\""));
            }
            let c = self.next()?;
            if c.kind != Kind::Str {
                return Err(self.err("expecting class name."));
            }
            let name = c.text();
            if !self.class_exists(&name) {
                return Err(self.invalid(format!("no such class: {name}")));
            }
            PermitKind::MembersOf(name)
        } else if t.is_kw("after") {
            need_clients = false;
            if *after_seen {
                return Err(self.invalid("duplicate \"after\" clause."));
            }
            *after_seen = true;
            PermitKind::After(self.parse_date_core()?)
        } else {
            return Err(self.err("expecting permit type."));
        };
        if need_clients && !self.next()?.is_kw("clients") {
            return Err(self.err("expecting \"clients\""));
        }
        self.semi()?;
        Ok(Permit { allow, kind })
    }

    /// `range [dynamic-bootp] LOW [HIGH];` in a subnet (or in `pool`).
    fn parse_range(&mut self, ctx: &Ctx, pool: Option<usize>) -> R<()> {
        let mut dynamic = false;
        if self.peek()?.is_kw("dynamic-bootp") {
            self.next()?;
            dynamic = true;
        }
        let low_span = self.span_of(&*self.peek()?);
        let low = self.parse_ip_addr()?;
        let (high, high_span) = if self.peek()?.is_punct(b';') {
            (low, low_span.clone())
        } else {
            let sp = self.span_of(&*self.peek()?);
            (self.parse_ip_addr()?, sp)
        };
        let t = self.next()?;
        if !t.is_punct(b';') {
            return Err(self.err("semicolon expected."));
        }
        let stmt_span = self.here();
        // Which subnet: the enclosing one, or (pool in a shared network)
        // the subnet of that network containing the low address.
        let subnet = if ctx.ty == DeclType::Subnet {
            ctx.subnet
        } else {
            let net = ctx.net.unwrap_or_default();
            let found = self.cfg.shared_networks.get(net).and_then(|n| {
                n.subnets
                    .iter()
                    .copied()
                    .find(|&s| self.cfg.subnets[s].contains(low))
            });
            if found.is_none() {
                let name = self
                    .cfg
                    .shared_networks
                    .get(net)
                    .map(|n| n.name.clone())
                    .unwrap_or_default();
                return Err(self.invalid(format!(
                    "address range not on network {name} (be sure to place pool statement after related subnet declarations)"
                )));
            }
            found
        };
        let Some(subnet) = subnet else {
            return Err(self.err("range declaration not allowed here."));
        };
        let s = &self.cfg.subnets[subnet];
        for (a, sp) in [(low, low_span), (high, high_span)] {
            if !s.contains(a) {
                return Err(self.err_at(
                    sp,
                    ErrorKind::Invalid,
                    format!(
                        "bad range, address {a} not in subnet {} netmask {}",
                        s.network, s.netmask
                    ),
                ));
            }
        }
        let (lo, hi) = if u32::from(low) <= u32::from(high) {
            (low, high)
        } else {
            (high, low)
        };
        let range = Range {
            start: lo,
            end: hi,
            dynamic_bootp: dynamic,
        };
        let pool_idx = match pool {
            Some(p) => p,
            None => match self.subnet_implicit_pool[subnet] {
                Some(p) => p,
                None => {
                    let net = self.cfg.subnets[subnet].shared_network;
                    let idx = self.cfg.pools.len();
                    let scope = self.new_scope(
                        self.cfg.subnets[subnet].scope,
                        ScopeKind::Pool(idx),
                        stmt_span.clone(),
                    );
                    self.cfg.pools.push(Pool {
                        scope,
                        shared_network: net,
                        subnet: Some(subnet),
                        ranges: Vec::new(),
                        implicit: true,
                        permits: Vec::new(),
                        failover_peer: None,
                        span: stmt_span.clone(),
                    });
                    self.pool_dynamic_span.push(None);
                    self.cfg.shared_networks[net].pools.push(idx);
                    self.subnet_implicit_pool[subnet] = Some(idx);
                    idx
                }
            },
        };
        // mdb.c: an address in two ranges is "declared twice".
        let (a, b) = (u32::from(lo), u32::from(hi));
        if let Some((x, _, _)) = self.range_spans.iter().find(|(x, y, _)| a <= *y && *x <= b) {
            let first = Ipv4Addr::from(a.max(*x));
            return Err(self.invalid(format!("lease {first} is declared twice!")));
        }
        self.range_spans.push((a, b, stmt_span.clone()));
        if dynamic {
            if let Some(slot) = self.pool_dynamic_span.get_mut(pool_idx) {
                slot.get_or_insert(stmt_span);
            }
        }
        self.cfg.pools[pool_idx].ranges.push(range);
        Ok(())
    }

    fn parse_class(&mut self, ctx: &Ctx, subclass: bool, first: &Token) -> R<()> {
        let t = self.next()?;
        if t.kind != Kind::Str {
            return Err(self.err("Expecting class name"));
        }
        let name = t.text();
        let span = self.span_of(first);
        let existing = self.class_by_name.get(&name).copied();
        // Where this declaration's statements go.
        let (scope, class_idx, is_sub) = if subclass {
            let Some(parent) = existing else {
                return Err(self.invalid(format!("no class named {name}")));
            };
            let k = self.peek()?;
            let key = if k.kind == Kind::Str {
                self.next()?;
                k.val.clone()
            } else if k.kind == Kind::Number || k.is_num_or_name() {
                self.parse_cshl()?
            } else {
                return Err(self.err("Expecting string or hex list."));
            };
            let pscope = self.cfg.classes[parent].scope;
            let found = self.cfg.classes[parent]
                .subclasses
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, s)| *s);
            let scope = match found {
                Some(s) => s,
                None => {
                    let s = self.new_scope(pscope, ScopeKind::Subclass(parent), span.clone());
                    self.cfg.classes[parent].subclasses.push((key, s));
                    s
                }
            };
            // A subclass may end right here.
            if self.peek()?.is_punct(b';') {
                self.next()?;
                return Ok(());
            }
            (scope, parent, true)
        } else {
            match existing {
                Some(c) => (self.cfg.classes[c].scope, c, false),
                None => {
                    let idx = self.cfg.classes.len();
                    let scope = self.new_scope(ctx.scope, ScopeKind::Class(idx), span.clone());
                    self.cfg.classes.push(Class {
                        name: name.clone(),
                        scope,
                        match_if: None,
                        match_value: None,
                        spawn_with: None,
                        lease_limit: None,
                        subclasses: Vec::new(),
                        span,
                    });
                    self.class_by_name.insert(name.clone(), idx);
                    (scope, idx, false)
                }
            }
        };
        self.lbrace()?;
        let inner = Ctx {
            ty: DeclType::Class,
            scope,
            shared: None,
            host: None,
            ..*ctx
        };
        let mut declaration = false;
        let mut matched_once = false;
        let mut submatched_once = false;
        loop {
            let t = self.peek()?;
            if t.is_punct(b'}') {
                self.next()?;
                return Ok(());
            }
            if t.kind == Kind::Eof {
                self.next()?;
                return Err(self.err("unexpected end of file"));
            }
            if t.is_kw("dynamic") || t.is_kw("deleted") {
                self.next()?;
                self.semi()?;
                self.warn(
                    self.span_of(&t),
                    format!("class {name}: `{};` ignored", t.text()),
                );
                continue;
            }
            if t.is_kw("match") {
                if is_sub {
                    return Err(self.invalid("invalid match in subclass."));
                }
                self.next()?;
                if self.peek()?.is_kw("if") {
                    self.next()?;
                    if matched_once {
                        return Err(self.invalid("A class may only have one 'match if' clause."));
                    }
                    matched_once = true;
                    let e = match self.parse_boolean_expression()? {
                        Some(e) => e,
                        None => return Err(self.err("expecting boolean expr.")),
                    };
                    self.semi()?;
                    self.cfg.classes[class_idx].match_if = Some(e);
                } else {
                    if submatched_once {
                        return Err(self.invalid("can't override existing submatch/spawn."));
                    }
                    submatched_once = true;
                    let e = match self.parse_data_expression()? {
                        Some(e) => e,
                        None => return Err(self.err("expecting data expr.")),
                    };
                    self.semi()?;
                    self.cfg.classes[class_idx].match_value = Some(e);
                }
                continue;
            }
            if t.is_kw("spawn") {
                self.next()?;
                if is_sub {
                    return Err(self.invalid("invalid spawn in subclass."));
                }
                if !self.next()?.is_kw("with") {
                    return Err(self.err("expecting with after spawn"));
                }
                if submatched_once {
                    return Err(self.invalid("can't override existing submatch/spawn."));
                }
                submatched_once = true;
                let e = match self.parse_data_expression()? {
                    Some(e) => e,
                    None => return Err(self.err("expecting data expr.")),
                };
                self.semi()?;
                self.cfg.classes[class_idx].spawn_with = Some(e);
                continue;
            }
            if t.is_kw("lease") {
                self.next()?;
                if !self.next()?.is_kw("limit") {
                    return Err(self.err("expecting \"limit\""));
                }
                let n = self.number_u32("expecting a number")?;
                self.semi()?;
                if is_sub {
                    self.warn(
                        self.span_of(&t),
                        format!("subclass of {name}: lease limit applies to the class"),
                    );
                }
                self.cfg.classes[class_idx].lease_limit = Some(n);
                continue;
            }
            declaration = self.parse_statement(&inner, declaration)?;
        }
    }

    fn parse_failover(&mut self, ctx: &Ctx, first: &Token) -> R<()> {
        if !self.next()?.is_kw("peer") {
            return Err(self.err("expecting \"peer\""));
        }
        let n = self.next()?;
        if !(n.is_identifier() || n.kind == Kind::Str) {
            return Err(self.err("expecting failover peer name."));
        }
        let name = n.text();
        let existing = self.peer_by_name.get(&name).copied();
        let t = self.next()?;
        if t.is_punct(b';') {
            if ctx.ty != DeclType::SharedNet {
                return Err(
                    self.invalid("failover peer reference not in shared-network declaration")
                );
            }
            if existing.is_none() {
                return Err(self.invalid(format!("reference to unknown failover peer {name}")));
            }
            if let Some(net) = ctx.shared {
                self.net_failover[net] = Some(name);
            }
            return Ok(());
        }
        if t.is_kw("state") {
            let Some(p) = existing else {
                return Err(self.invalid(format!(
                    "state declaration for unknown failover peer {name}"
                )));
            };
            return self.parse_failover_state(p, name, first);
        }
        if !t.is_punct(b'{') {
            return Err(self.err("expecting left brace"));
        }
        if existing.is_some() {
            return Err(self.invalid(format!("redeclaration of failover peer {name}")));
        }
        let span = self.span_of(first);
        let mut role = Role::Primary;
        let mut role_set = false;
        let (mut address, mut peer_address) = (None, None);
        let (mut port, mut peer_port) = (0u32, 0u32);
        let (mut mrd, mut mau) = (0u32, 0u32);
        let mut mclt = 0u32;
        let mut mclt_span = None;
        let mut split = None;
        let mut hba: Option<[u8; 32]> = None;
        let mut lb_max = 0u32;
        let (mut apd, mut mlm, mut mlo, mut minb, mut maxb) = (0u32, 0u32, 0u32, 0u32, 0u32);
        let mut ext = FailoverExtensions::default();
        loop {
            let mut partner = false;
            let mut t = self.next()?;
            if t.is_kw("peer") {
                partner = true;
                t = self.next()?;
            }
            if t.is_punct(b'}') {
                break;
            }
            let secondary_lb = "secondary may not define load balance settings.";
            if t.is_kw("primary") {
                role = Role::Primary;
                role_set = true;
            } else if t.is_kw("secondary") {
                role = Role::Secondary;
                role_set = true;
                if hba.is_some() {
                    return Err(self.invalid(secondary_lb));
                }
            } else if t.is_kw("address") {
                let a = self.parse_host_addr()?;
                if partner {
                    peer_address = Some(a);
                } else {
                    address = Some(a);
                }
            } else if t.is_kw("port") {
                let v = self.number_u32("expecting number")?;
                if partner {
                    peer_port = v;
                } else {
                    port = v;
                }
            } else if t.is_kw("max-response-delay") || t.is_kw("max-unacked-updates") {
                let v = self.number_u32("expecting number.")?;
                if partner {
                    self.warn(
                        self.span_of(&t),
                        format!(
                            "peer {}: the partner's value is not used; ignored",
                            t.text()
                        ),
                    );
                } else if t.is_kw("max-response-delay") {
                    mrd = v;
                } else {
                    mau = v;
                }
            } else if t.is_kw("mclt") {
                mclt = self.number_u32("expecting number.")?;
                mclt_span = Some(self.span_of(&t));
            } else if t.is_kw("auto-partner-down") {
                apd = self.number_u32("expecting number.")?;
            } else if t.is_kw("max-lease-misbalance") {
                mlm = self.number_u32("expecting number.")?;
            } else if t.is_kw("max-lease-ownership") {
                mlo = self.number_u32("expecting number.")?;
            } else if t.is_kw("min-balance") {
                minb = self.number_u32("expecting number.")?;
            } else if t.is_kw("max-balance") {
                maxb = self.number_u32("expecting number.")?;
            } else if t.is_kw("hba") {
                if role_set && role == Role::Secondary {
                    return Err(self.invalid(secondary_lb));
                }
                let v = self.parse_numeric_aggregate(32, b':', 16, 8)?;
                let h: [u8; 32] = v
                    .try_into()
                    .map_err(|_| self.invalid("HBA must be exactly 32 bytes."))?;
                hba = Some(h);
            } else if t.is_kw("split") {
                let n = self.next()?;
                if role_set && role == Role::Secondary {
                    return Err(self.invalid(secondary_lb));
                }
                if n.kind != Kind::Number {
                    return Err(self.err("expecting number"));
                }
                let v = Self::atoi(&n);
                if !(0..=256).contains(&v) {
                    return Err(self.invalid("split must be between 0 and 256, inclusive"));
                }
                // confpars.c: the first `split` buckets (bit i of byte
                // i/8) belong to the primary.
                let mut h = [0u8; 32];
                for i in 0..v as usize {
                    h[i / 8] |= 1 << (i & 7);
                }
                hba = Some(h);
                split = Some(v as u16);
            } else if t.is_kw("load") {
                if !self.next()?.is_kw("balance") {
                    return Err(self.err("expecting 'balance'"));
                }
                if !self.next()?.is_kw("max") {
                    return Err(self.err("expecting 'max'"));
                }
                if !self.next()?.is_kw("seconds") {
                    return Err(self.err("expecting 'secs'"));
                }
                lb_max = self.number_u32("expecting number")?;
            } else if t.is_plain_name() && t.val.eq_ignore_ascii_case(b"hot-standby") {
                // Tandem extension.
                ext.hot_standby = true;
            } else if t.is_plain_name() && t.val.eq_ignore_ascii_case(b"safe-partner-down") {
                // Tandem extension.
                ext.safe_partner_down = Some(self.number_u32("expecting number.")?);
            } else {
                return Err(self.err("invalid statement in peer declaration"));
            }
            self.semi()?;
        }
        if peer_address.is_none() {
            return Err(self.invalid("peer address may not be omitted"));
        }
        if role == Role::Primary {
            if hba.is_none() {
                return Err(self.invalid("primary failover server must have hba or split."));
            }
            if mclt == 0 {
                return Err(self.invalid("primary failover server must have mclt."));
            }
        }
        let mclt = if role == Role::Secondary && mclt != 0 {
            // ISC accepts and ignores it: the secondary learns the MCLT
            // from the primary's CONNECT.
            self.warn(
                mclt_span.unwrap_or_else(|| span.clone()),
                format!("failover peer {name}: mclt is only used on the primary; ignored"),
            );
            None
        } else if mclt == 0 {
            None
        } else {
            Some(mclt)
        };
        let or = |v: u32, d: u32| if v == 0 { d } else { v };
        let peer = FailoverPeer {
            name: name.clone(),
            role,
            address,
            port: or(port, 647) as u16,
            peer_address,
            peer_port: or(peer_port, 647) as u16,
            max_response_delay: or(mrd, 20),
            max_unacked_updates: or(mau, 100),
            mclt,
            split,
            hba,
            load_balance_max_seconds: lb_max,
            auto_partner_down: apd,
            max_lease_misbalance: or(mlm, 15),
            max_lease_ownership: or(mlo, 10),
            min_balance: or(minb, 60),
            max_balance: or(maxb, 3600),
            extensions: ext,
            span,
        };
        self.peer_by_name
            .insert(name.clone(), self.cfg.failover_peers.len());
        self.cfg.failover_peers.push(peer);
        self.peer_referenced.push(false);
        // A peer declared in a shared network is its pools' default.
        if ctx.ty == DeclType::SharedNet {
            if let Some(net) = ctx.shared {
                self.net_failover[net] = Some(name);
            }
        }
        Ok(())
    }

    /// `failover peer "NAME" state { my state S [at DATE]; ... }`
    fn parse_failover_state(&mut self, peer: usize, name: String, first: &Token) -> R<()> {
        let t = self.next()?;
        if !t.is_punct(b'{') {
            return Err(self.err("expecting left brace"));
        }
        let mut decl = FailoverStateDecl {
            peer: name,
            my_state: None,
            partner_state: None,
            mclt: None,
            span: self.span_of(first),
        };
        loop {
            let t = self.next()?;
            if t.is_punct(b'}') {
                break;
            }
            if t.is_kw("my") || t.is_kw("partner") {
                if !self.next()?.is_kw("state") {
                    return Err(self.err("expecting 'state'"));
                }
                let s = self.next()?;
                let state = if s.alpha {
                    tandem_lease::FailoverState::from_keyword(&s.text().to_ascii_lowercase())
                } else {
                    None
                };
                let Some(state) = state else {
                    return Err(self.err("unknown failover state"));
                };
                let at = self.next()?;
                let when = if at.is_punct(b';') {
                    None
                } else if at.is_kw("at") {
                    let d = self.parse_date_core()?;
                    self.semi()?;
                    Some(d)
                } else {
                    return Err(self.err("expecting \"at\""));
                };
                if t.is_kw("my") {
                    decl.my_state = Some((state, when));
                } else {
                    decl.partner_state = Some((state, when));
                }
            } else if t.is_kw("mclt") {
                if self.cfg.failover_peers[peer].role == Role::Primary {
                    return Err(self.invalid("mclt not valid for primary"));
                }
                decl.mclt = Some(self.number_u32("expecting a number.")?);
                self.semi()?;
            } else {
                return Err(self.err("expecting state setting."));
            }
        }
        self.cfg.failover_states.push(decl);
        Ok(())
    }

    // ---------------------------------------------------------------
    // Keys and zones
    // ---------------------------------------------------------------

    /// `key NAME { algorithm A; secret BASE64; }` (ISC's parse_key).
    pub(crate) fn parse_key(&mut self, first: &Token) -> R<()> {
        let t = self.peek()?;
        let name = if t.kind == Kind::Str {
            self.next()?;
            t.text()
        } else {
            match self.parse_host_name()? {
                Some(n) => n,
                None => return Err(self.err("expecting key name.")),
            }
        };
        if !self.next()?.is_punct(b'{') {
            return Err(self.err("expecting left brace"));
        }
        let mut algorithm: Option<String> = None;
        let mut secret: Option<Vec<u8>> = None;
        loop {
            let t = self.next()?;
            if t.is_kw("algorithm") {
                if algorithm.is_some() {
                    return Err(self.invalid(format!("key {name}: too many algorithms")));
                }
                match self.parse_host_name()? {
                    Some(a) => algorithm = Some(a),
                    None => return Err(self.err("expecting key algorithm name.")),
                }
                self.semi()?;
            } else if t.is_kw("secret") {
                if secret.is_some() {
                    return Err(self.invalid(format!("key {name}: too many secrets")));
                }
                let s = self.parse_base64()?;
                if s.is_empty() {
                    return Err(self.invalid(format!("key {name}: empty secret")));
                }
                secret = Some(s);
                self.semi()?;
            } else if t.is_punct(b'}') {
                break;
            } else {
                return Err(self.err("expecting right brace."));
            }
        }
        // BIND 8 syntax allows a `;` after the closing brace.
        if self.peek()?.is_punct(b';') {
            self.next()?;
        }
        let key = Key {
            name: name.clone(),
            algorithm: algorithm.unwrap_or_default(),
            secret: secret.unwrap_or_default(),
            span: self.span_of(first),
        };
        match self.key_by_name.get(&name).copied() {
            Some(i) => self.cfg.keys[i] = key,
            None => {
                self.key_by_name.insert(name, self.cfg.keys.len());
                self.cfg.keys.push(key);
            }
        }
        Ok(())
    }

    /// `zone NAME { primary A; secondary B; key K; }`: checked and kept as
    /// a DDNS statement (Tandem does not do DDNS).
    pub(crate) fn parse_zone(&mut self) -> R<Stmt> {
        let Some(mut name) = self.parse_host_name()? else {
            return Err(self.err("expecting hostname."));
        };
        if !name.ends_with('.') {
            name.push('.');
        }
        if !self.next()?.is_punct(b'{') {
            return Err(self.err("expecting left brace"));
        }
        let (mut primary, mut secondary, mut key) = (false, false, false);
        loop {
            let t = self.peek()?;
            if t.is_kw("primary") || t.is_kw("secondary") {
                let seen = if t.is_kw("primary") {
                    &mut primary
                } else {
                    &mut secondary
                };
                if *seen {
                    let which = t.text().to_ascii_lowercase();
                    return Err(self.invalid(format!("more than one {which}.")));
                }
                *seen = true;
                self.next()?;
                loop {
                    self.parse_host_addr()?;
                    let t = self.next()?;
                    if t.is_punct(b',') {
                        continue;
                    }
                    if !t.is_punct(b';') {
                        return Err(self.err("expecting semicolon."));
                    }
                    break;
                }
            } else if t.is_kw("primary6") || t.is_kw("secondary6") {
                self.next()?;
                loop {
                    self.parse_ip6_addr()?;
                    let t = self.next()?;
                    if t.is_punct(b',') {
                        continue;
                    }
                    if !t.is_punct(b';') {
                        return Err(self.err("expecting semicolon."));
                    }
                    break;
                }
            } else if t.is_kw("key") {
                self.next()?;
                let k = self.peek()?;
                let kname = if k.kind == Kind::Str {
                    self.next()?;
                    k.text()
                } else {
                    match self.parse_host_name()? {
                        Some(n) => n,
                        None => return Err(self.err("expecting key name.")),
                    }
                };
                if key {
                    return Err(self.invalid(format!("Multiple key definitions for zone {name}.")));
                }
                key = true;
                if !self.key_exists(&kname) {
                    return Err(self.invalid(format!("unknown key {kname}")));
                }
                self.semi()?;
            } else {
                break;
            }
        }
        if !self.next()?.is_punct(b'}') {
            return Err(self.err("expecting right brace."));
        }
        Ok(Stmt::Ddns {
            name: "zone".into(),
            value: Some(Value::Const(name.into_bytes())),
        })
    }

    // ---------------------------------------------------------------
    // Option spaces and definitions
    // ---------------------------------------------------------------

    /// `option space NAME [code width N] [length width N] [hash size N];`
    fn parse_option_space(&mut self) -> R<()> {
        let t = self.next()?;
        if !t.is_identifier() {
            return Err(self.err("expecting identifier."));
        }
        let name = t.text();
        let (mut cw, mut lw) = (1u8, 1u8);
        loop {
            let t = self.next()?;
            if t.is_punct(b';') {
                break;
            }
            if t.is_kw("code") {
                if !self.next()?.is_kw("width") {
                    return Err(self.err("expecting width token."));
                }
                let n = self.next()?;
                if n.kind != Kind::Number {
                    return Err(self.err("expecting number 1, 2, 4."));
                }
                let v = Self::atoi(&n);
                if ![1, 2, 4].contains(&v) {
                    return Err(
                        self.invalid(format!("invalid code width ({v}), expecting a 1, 2 or 4."))
                    );
                }
                cw = v as u8;
            } else if t.is_kw("length") {
                if !self.next()?.is_kw("width") {
                    return Err(self.err("expecting width token."));
                }
                let n = self.next()?;
                if n.kind != Kind::Number {
                    return Err(self.err("expecting number 1 or 2."));
                }
                let v = Self::atoi(&n);
                if ![1, 2].contains(&v) {
                    return Err(
                        self.invalid(format!("invalid length width ({v}) expecting 1 or 2."))
                    );
                }
                lw = v as u8;
            } else if t.is_kw("hash") {
                if !self.next()?.is_kw("size") {
                    return Err(self.err("expecting size token."));
                }
                let n = self.next()?;
                if n.kind != Kind::Number {
                    return Err(self.err("expecting a 10base number"));
                }
                if Self::atoi(&n) < 0 {
                    return Err(self.invalid(format!("invalid hash length: {}", Self::atoi(&n))));
                }
            } else {
                return Err(self.err("Unexpected token."));
            }
        }
        let space = OptionSpace {
            name: name.clone(),
            code_width: cw,
            length_width: lw,
            encapsulated_by: None,
        };
        // A redeclared space starts over, as ISC's new universe does.
        if let Some(old) = self
            .cfg
            .option_spaces
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(&name))
        {
            *old = space;
        } else {
            self.cfg.option_spaces.push(space);
        }
        Ok(())
    }

    /// After `option NAME code`: `N = TYPE;` (ISC's
    /// parse_option_code_definition).
    fn parse_option_code_definition(&mut self, def: &OptRef) -> R<()> {
        let n = self.next()?;
        if n.kind != Kind::Number {
            return Err(self.err("expecting option code number."));
        }
        let code = Self::atoi(&n) as u32;
        if !self.next()?.is_punct(b'=') {
            return Err(self.err("expecting \"=\""));
        }
        let mut fmt = String::new();
        // arrayp: 0 none, 1 array of the whole thing, recordp+1 array of
        // the item inside a record.
        let mut arrayp = 0u8;
        let mut recordp = false;
        let mut no_more_in_record = false;
        let mut has_encapsulation = false;
        let mut t = self.next()?;
        if t.is_kw("array") {
            if !self.next()?.is_kw("of") {
                return Err(self.err("expecting \"of\"."));
            }
            arrayp = 1;
            t = self.next()?;
        }
        if t.is_punct(b'{') {
            recordp = true;
            t = self.next()?;
        }
        loop {
            if has_encapsulation {
                return Err(self.invalid("encapsulate must always be the last item."));
            }
            if t.is_kw("array") {
                if arrayp != 0 {
                    return Err(self.invalid("no nested arrays."));
                }
                if !self.next()?.is_kw("of") {
                    return Err(self.err("expecting \"of\"."));
                }
                arrayp = u8::from(recordp) + 1;
                t = self.next()?;
                if recordp && t.is_punct(b'{') {
                    return Err(self.invalid("only uniform array inside record."));
                }
                continue;
            }
            let no_arrays = |p: &Self, arrayp: u8| -> R<()> {
                if arrayp != 0 {
                    Err(p.invalid("arrays of text strings not yet supported."))
                } else {
                    Ok(())
                }
            };
            let ty: String = if t.is_kw("boolean") {
                "f".into()
            } else if t.is_kw("integer") || t.is_kw("signed") || t.is_kw("unsigned") {
                let is_signed = !t.is_kw("unsigned");
                if !t.is_kw("integer") && !self.next()?.is_kw("integer") {
                    return Err(self.err("expecting \"integer\" keyword."));
                }
                let w = self.next()?;
                if w.kind != Kind::Number {
                    return Err(self.err("expecting number."));
                }
                match (Self::atoi(&w), is_signed) {
                    (8, true) => "b",
                    (8, false) => "B",
                    (16, true) => "s",
                    (16, false) => "S",
                    (32, true) => "l",
                    (32, false) => "L",
                    _ => {
                        return Err(
                            self.invalid(format!("{} bit precision is not supported.", w.text()))
                        )
                    }
                }
                .into()
            } else if t.is_kw("ip-address") {
                "I".into()
            } else if t.is_kw("ip6-address") {
                "6".into()
            } else if t.is_kw("domain-name") {
                no_arrays(self, arrayp)?;
                no_more_in_record = true;
                "d".into()
            } else if t.is_kw("domain-list") {
                let compressed = self.peek()?.is_kw("compressed");
                if compressed {
                    self.next()?;
                }
                no_arrays(self, arrayp)?;
                no_more_in_record = true;
                if compressed { "Dc" } else { "D" }.into()
            } else if t.is_kw("text") {
                no_arrays(self, arrayp)?;
                no_more_in_record = true;
                "t".into()
            } else if t.is_kw("string") {
                no_arrays(self, arrayp)?;
                no_more_in_record = true;
                "X".into()
            } else if t.is_kw("encapsulate") {
                let s = self.next()?;
                if !s.is_identifier() {
                    return Err(self.err("expecting option space identifier"));
                }
                let Some(space) = self.space_exists(&s.text()) else {
                    return Err(self.invalid(format!("unknown option space {}", s.text())));
                };
                has_encapsulation = true;
                format!("E{space}.")
            } else if t.is_kw("zerolen") {
                if arrayp != 0 {
                    return Err(self.invalid("array incompatible with zerolen."));
                }
                no_more_in_record = true;
                "Z".into()
            } else {
                return Err(self.invalid(format!("unknown data type {}", t.text())));
            };
            fmt.push_str(&ty);
            if !recordp {
                break;
            }
            t = self.next()?;
            if arrayp > u8::from(recordp) {
                arrayp = 0;
                fmt.push('a');
            }
            if t.is_punct(b',') {
                if no_more_in_record {
                    let what = if ty == "t" { "text" } else { "string" };
                    return Err(self.invalid(format!("{what} must be at end of record.")));
                }
                t = self.next()?;
                continue;
            }
            if !t.is_punct(b'}') {
                return Err(self.err("expecting right brace."));
            }
            break;
        }
        self.semi()?;
        if has_encapsulation && arrayp != 0 {
            return Err(self.invalid("Arrays of encapsulations don't make sense."));
        }
        if arrayp != 0 {
            fmt.push(if arrayp > u8::from(recordp) { 'a' } else { 'A' });
        }
        self.define_option(&def.space, &def.name, code, &fmt);
        if let Some(enc) = options::encapsulated_space(&fmt) {
            if let Some(sp) = self
                .cfg
                .option_spaces
                .iter_mut()
                .find(|s| s.name.eq_ignore_ascii_case(enc))
            {
                sp.encapsulated_by = Some(OptionCode {
                    space: def.space.clone(),
                    code,
                });
            }
        }
        Ok(())
    }

    /// ISC's parse_option_name: `NAME` or `SPACE.NAME`. With `allocate`,
    /// an unknown name is returned (not known) for a definition.
    pub(crate) fn parse_option_name(&mut self, allocate: bool) -> R<(OptRef, bool)> {
        let t = self.next()?;
        if !t.is_identifier() {
            return Err(self.err("expecting identifier after option keyword."));
        }
        let uname = t.text();
        let (space, name) = if self.peek()?.is_punct(b'.') {
            self.next()?;
            let n = self.next()?;
            if !n.is_identifier() {
                return Err(self.err("expecting identifier after '.'"));
            }
            let Some(space) = self.space_exists(&uname) else {
                return Err(self.invalid(format!("no option space named {uname}.")));
            };
            (space, n.text())
        } else {
            ("dhcp".to_string(), uname)
        };
        if let Some(d) = self.lookup_option(&space, &name) {
            return Ok((d, true));
        }
        if name.len() > 8 && name.as_bytes()[..8].eq_ignore_ascii_case(b"unknown-") {
            let code = Self::atoi(&Token {
                val: name.as_bytes()[8..].to_vec(),
                ..eof_token()
            }) as u32;
            let end = if space == "dhcp" { 255 } else { 0 };
            if code == 0 || code == end {
                return Err(self.invalid(format!(
                    "Option codes 0 and {end} are illegal in the {space} space."
                )));
            }
            let d = self.lookup_code(&space, code).unwrap_or(OptRef {
                space,
                name,
                code,
                format: "X".into(),
            });
            return Ok((d, true));
        }
        if allocate {
            return Ok((
                OptRef {
                    space,
                    name,
                    code: 0,
                    format: String::new(),
                },
                false,
            ));
        }
        Err(self.invalid(format!("no option named {name} in space {space}")))
    }

    // ---------------------------------------------------------------
    // The end: whole-config checks
    // ---------------------------------------------------------------

    fn finish(mut self) -> R<Config> {
        for (i, peer) in self.cfg.failover_peers.iter().enumerate() {
            if !self.peer_referenced.get(i).copied().unwrap_or(false) {
                self.cfg.warnings.push(Diagnostic {
                    span: peer.span.clone(),
                    message: format!(
                        "failover peer {} has no referring pools (ISC refuses to start)",
                        peer.name
                    ),
                });
            }
        }
        if let Some(k) = self.cfg.omapi_key.clone() {
            if !self.key_by_name.contains_key(&k) {
                self.cfg.warnings.push(Diagnostic {
                    span: self.cfg.scopes[0].span.clone(),
                    message: format!("omapi-key {k}: no key of that name is declared"),
                });
            }
        }
        // Keep the definitions a name or a code still refers to.
        let b = builtins();
        let mut defs = Vec::with_capacity(b.defs.len() + self.user_defs.len());
        for (i, d) in b.defs.iter().chain(self.user_defs.iter()).enumerate() {
            let sl = d.space.to_ascii_lowercase();
            let by_name = self.name_index(&(sl.clone(), d.name.to_ascii_lowercase())) == Some(i);
            if by_name || self.code_index(&(sl, d.code)) == Some(i) {
                defs.push(d.clone());
            }
        }
        self.cfg.option_defs = defs;
        Ok(self.cfg)
    }
}

/// ISC's built-in option definitions with their lookup maps, built once.
struct Builtins {
    defs: Vec<OptionDef>,
    by_name: HashMap<(String, String), usize>,
    by_code: HashMap<(String, u32), usize>,
}

fn builtins() -> &'static Builtins {
    static B: std::sync::OnceLock<Builtins> = std::sync::OnceLock::new();
    B.get_or_init(|| {
        let mut b = Builtins {
            defs: Vec::new(),
            by_name: HashMap::new(),
            by_code: HashMap::new(),
        };
        for (i, (space, name, code, format)) in BUILTIN_OPTIONS.iter().enumerate() {
            b.defs.push(OptionDef {
                space: (*space).to_string(),
                name: (*name).to_string(),
                code: *code,
                ty: options::format_to_type(format),
                format: (*format).to_string(),
            });
            b.by_name
                .insert((space.to_ascii_lowercase(), name.to_ascii_lowercase()), i);
            b.by_code.insert((space.to_ascii_lowercase(), *code), i);
        }
        b
    })
}

fn opt_ref(d: &OptionDef) -> OptRef {
    OptRef {
        space: d.space.clone(),
        name: d.name.clone(),
        code: d.code,
        format: d.format.clone(),
    }
}

pub(crate) fn eof_token() -> Token {
    Token {
        kind: Kind::Eof,
        val: Vec::new(),
        line: 0,
        col: 0,
        alpha: false,
        space_before: false,
        error: None,
    }
}

/// The context `case` statements are parsed in (ISC's case_context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaseCtx {
    /// Not in a switch (ISC's context_any).
    None,
    Data,
    Numeric,
}

/// Result of trying to read an executable statement.
pub(crate) enum Exec {
    /// The next token does not start one (nothing consumed).
    NotExec,
    /// Parsed; some statements (keys) leave nothing in the scope.
    Done(Option<(Stmt, Span)>),
}
