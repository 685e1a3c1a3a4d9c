//! Executable statements and expressions (ISC `common/parse.c`:
//! parse_executable_statement, parse_non_binary, parse_expression).
//!
//! ISC's operator precedence is kept exactly, odd as it is: `=`/`!=`/`~=`
//! bind tightest (4), then `and`/`or` (3, left to right), then `+`/`-`
//! (2), then `*`/`/`/`%` (1); `&`, `|`, `^` bind tighter than all (100).
//! So `1 + 2 * 3` is `(1 + 2) * 3` in ISC.

use crate::lexer::{Kind, Token};
use crate::model::*;
use crate::parser::{CaseCtx, Exec, Parser, R};

/// ISC's expression contexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ECtx {
    Any,
    Data,
    Numeric,
    Boolean,
    DataOrNumeric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Eq,
    Ne,
    Regex { icase: bool },
    And,
    Or,
    Arith(ArithOp),
}

/// ISC's op_val: a lower value binds more loosely.
fn op_val(op: BinOp) -> i32 {
    match op {
        BinOp::Eq | BinOp::Ne | BinOp::Regex { .. } => 4,
        BinOp::And | BinOp::Or => 3,
        BinOp::Arith(ArithOp::Add | ArithOp::Sub) => 2,
        BinOp::Arith(ArithOp::Mul | ArithOp::Div | ArithOp::Rem) => 1,
        BinOp::Arith(ArithOp::BitAnd | ArithOp::BitOr | ArithOp::BitXor) => 100,
    }
}

/// ISC's op_context: the context the right-hand side is parsed in.
fn op_context(op: BinOp) -> ECtx {
    match op {
        BinOp::Eq | BinOp::Ne | BinOp::Regex { .. } => ECtx::Data,
        BinOp::And | BinOp::Or => ECtx::Boolean,
        BinOp::Arith(_) => ECtx::Numeric,
    }
}

/// Expressions that are a keyword alone (`hardware`, `leased-address`, ...).
const NULLARY: [(&str, Expr); 8] = [
    ("hardware", Expr::Hardware),
    ("leased-address", Expr::LeasedAddress),
    ("client-state", Expr::ClientState),
    ("filename", Expr::Filename),
    ("server-name", Expr::ServerName),
    ("lease-time", Expr::LeaseTime),
    ("null", Expr::Null),
    ("host-decl-name", Expr::HostDeclName),
];

pub(crate) fn is_boolean(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Exists(_)
            | Expr::VariableExists(_)
            | Expr::Equal(..)
            | Expr::NotEqual(..)
            | Expr::Regex { .. }
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Not(_)
            | Expr::Known
            | Expr::Static
            | Expr::True
            | Expr::False
    )
}

pub(crate) fn is_data(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Substring { .. }
            | Expr::Suffix { .. }
            | Expr::Lcase(_)
            | Expr::Ucase(_)
            | Expr::OptionValue(_)
            | Expr::Hardware
            | Expr::Const(_)
            | Expr::PacketBytes { .. }
            | Expr::Concat(_)
            | Expr::EncodeInt { .. }
            | Expr::GetdnsRecord(_)
            | Expr::BinaryToAscii { .. }
            | Expr::Filename
            | Expr::ServerName
            | Expr::Reverse { .. }
            | Expr::PickFirstValue(_)
            | Expr::HostDeclName
            | Expr::LeasedAddress
            | Expr::ConfigOption(_)
            | Expr::Null
    )
}

pub(crate) fn is_numeric(e: &Expr) -> bool {
    matches!(
        e,
        Expr::ExtractInt { .. }
            | Expr::Number(_)
            | Expr::LeaseTime
            | Expr::Arith { .. }
            | Expr::ClientState
    )
}

/// ISC's expression_context.
fn kind_of(e: &Expr) -> ECtx {
    if is_data(e) {
        ECtx::Data
    } else if is_numeric(e) {
        ECtx::Numeric
    } else if is_boolean(e) {
        ECtx::Boolean
    } else {
        ECtx::Any
    }
}

impl Parser {
    // ---------------------------------------------------------------
    // Executable statements
    // ---------------------------------------------------------------

    /// ISC's parse_executable_statement.
    pub(crate) fn parse_executable(&mut self, case_ctx: CaseCtx) -> R<Exec> {
        let t = self.peek()?;
        let span = self.span_of(&t);
        let done = |s: Stmt| Ok(Exec::Done(Some((s, span.clone()))));
        if t.is_kw("db-time-format") {
            self.next()?;
            let v = self.next()?;
            if !(v.is_kw("default") || v.is_kw("local")) {
                return Err(self.err("Expecting 'local' or 'default'."));
            }
            if !self.next()?.is_punct(b';') {
                return Err(self.err("Expecting a semicolon."));
            }
            self.warn(
                span,
                "db-time-format: Tandem writes lease times as ISC's default; ignored",
            );
            return Ok(Exec::Done(None));
        }
        if t.is_kw("if") {
            self.next()?;
            return done(self.parse_if()?);
        }
        if t.is_kw("add") {
            self.next()?;
            let c = self.next()?;
            if c.kind != Kind::Str {
                return Err(self.err("expecting class name."));
            }
            let name = c.text();
            if !self.class_exists(&name) {
                return Err(self.invalid(format!("class {name}: not found")));
            }
            self.semi()?;
            return done(Stmt::AddClass(name));
        }
        if t.is_kw("break") {
            self.next()?;
            self.semi()?;
            return done(Stmt::Break);
        }
        if t.is_kw("send") {
            self.next()?;
            return Err(self.unsupported("send: a dhclient statement, not supported in dhcpd.conf"));
        }
        let how = if t.is_kw("supersede") {
            Some(OptionHow::Supersede)
        } else if t.is_kw("option") {
            Some(OptionHow::Set)
        } else if t.is_kw("prepend") {
            Some(OptionHow::Prepend)
        } else if t.is_kw("append") {
            Some(OptionHow::Append)
        } else if t.is_kw("default") {
            Some(OptionHow::Default)
        } else {
            None
        };
        if let Some(how) = how {
            self.next()?;
            if how == OptionHow::Default && self.peek()?.is_punct(b':') {
                self.next()?;
                if case_ctx == CaseCtx::None {
                    return Err(self.err("switch default statement in inappropriate scope."));
                }
                return done(Stmt::DefaultCase);
            }
            let (def, _) = self.parse_option_name(false)?;
            return match self.parse_option_statement(&def, how)? {
                Some(s) => done(s),
                None => Ok(Exec::Done(None)),
            };
        }
        if t.is_kw("allow") || t.is_kw("deny") || t.is_kw("ignore") {
            self.next()?;
            let allow = if t.is_kw("allow") {
                AllowMode::Allow
            } else if t.is_kw("deny") {
                AllowMode::Deny
            } else {
                AllowMode::Ignore
            };
            let k = self.next()?;
            let what = if k.is_kw("bootp") {
                AccessFlag::Bootp
            } else if k.is_kw("booting") {
                AccessFlag::Booting
            } else if k.is_kw("dynamic-bootp") {
                AccessFlag::DynamicBootp
            } else if k.is_kw("unknown-clients") {
                AccessFlag::UnknownClients
            } else if k.is_kw("duplicates") {
                AccessFlag::Duplicates
            } else if k.is_kw("declines") {
                AccessFlag::Declines
            } else if k.is_kw("client-updates") {
                AccessFlag::ClientUpdates
            } else if k.is_kw("leasequery") {
                AccessFlag::Leasequery
            } else {
                return Err(self.err("expecting allow/deny key"));
            };
            self.semi()?;
            return done(Stmt::AccessControl { what, allow });
        }
        if t.is_kw("on") {
            self.next()?;
            return done(self.parse_on()?);
        }
        if t.is_kw("switch") {
            self.next()?;
            return done(self.parse_switch()?);
        }
        if t.is_kw("case") {
            self.next()?;
            let ctx = match case_ctx {
                CaseCtx::None => {
                    return Err(self.err("case statement in inappropriate scope."));
                }
                CaseCtx::Data => ECtx::Data,
                CaseCtx::Numeric => ECtx::Numeric,
            };
            let Some(e) = self.parse_expression(ctx, None, None)? else {
                let what = if ctx == ECtx::Data { "data" } else { "numeric" };
                return Err(self.err(format!("expecting {what} expression.")));
            };
            if !self.next()?.is_punct(b':') {
                return Err(self.err("colon expected."));
            }
            return done(Stmt::Case(e));
        }
        if t.is_kw("define") || t.is_kw("return") || t.is_kw("parse-vendor-option") {
            self.next()?;
            return Err(self.unsupported(format!(
                "{}: not supported by Tandem",
                t.text().to_ascii_lowercase()
            )));
        }
        if t.is_kw("set") {
            self.next()?;
            let v = self.next()?;
            if !(v.is_plain_name() || v.is_num_or_name()) {
                return Err(self.invalid(format!("{} can't be a variable name", v.text())));
            }
            let name = v.text();
            let eq = self.next()?;
            if eq.is_punct(b'(') {
                return Err(self
                    .unsupported("set NAME (...) { }: user-defined functions are not supported"));
            }
            if !eq.is_punct(b'=') {
                return Err(self.err("expecting '=' in set statement."));
            }
            let Some(expr) = self.parse_expression(ECtx::Any, None, None)? else {
                return Err(self.err("expecting expression."));
            };
            self.semi()?;
            return done(Stmt::SetVar { name, expr });
        }
        if t.is_kw("unset") {
            self.next()?;
            let v = self.next()?;
            if !(v.is_plain_name() || v.is_num_or_name()) {
                return Err(self.invalid(format!("{} can't be a variable name", v.text())));
            }
            self.semi()?;
            return done(Stmt::UnsetVar { name: v.text() });
        }
        if t.is_kw("eval") {
            self.next()?;
            let Some(e) = self.parse_expression(ECtx::Data, None, None)? else {
                return Err(self.err("expecting data expression."));
            };
            self.semi()?;
            return done(Stmt::Eval(e));
        }
        if t.is_kw("execute") {
            self.next()?;
            if !self.next()?.is_punct(b'(') {
                return Err(self.err("left parenthesis expected."));
            }
            let c = self.next()?;
            if c.kind != Kind::Str {
                return Err(self.err("Expecting a quoted string."));
            }
            let mut args = Vec::new();
            loop {
                let t = self.next()?;
                if !t.is_punct(b',') {
                    if !t.is_punct(b')') {
                        return Err(self.err("right parenthesis expected."));
                    }
                    break;
                }
                match self.parse_data_expression()? {
                    Some(e) => args.push(e),
                    None => return Err(self.err("expecting expression.")),
                }
            }
            self.semi()?;
            return done(Stmt::Execute {
                command: c.text(),
                args,
            });
        }
        if t.is_kw("log") {
            self.next()?;
            if !self.next()?.is_punct(b'(') {
                return Err(self.err("left parenthesis expected."));
            }
            let p = self.peek()?;
            let prio = if p.is_kw("fatal") {
                Some(LogPriority::Fatal)
            } else if p.is_kw("error") {
                Some(LogPriority::Error)
            } else if p.is_kw("debug") {
                Some(LogPriority::Debug)
            } else if p.is_kw("info") {
                Some(LogPriority::Info)
            } else {
                None
            };
            if prio.is_some() {
                self.next()?;
                if !self.next()?.is_punct(b',') {
                    return Err(self.err("comma expected."));
                }
            }
            let Some(expr) = self.parse_data_expression()? else {
                return Err(self.err("expecting data expression."));
            };
            if !self.next()?.is_punct(b')') {
                return Err(self.err("right parenthesis expected."));
            }
            if !self.next()?.is_punct(b';') {
                return Err(self.err("semicolon expected."));
            }
            return done(Stmt::Log {
                priority: prio.unwrap_or(LogPriority::Debug),
                expr,
            });
        }
        if t.is_kw("zone") {
            self.next()?;
            return done(self.parse_zone()?);
        }
        if t.is_kw("key") {
            self.next()?;
            self.parse_key(&t)?;
            return Ok(Exec::Done(None));
        }
        // A server parameter (ISC's config universe), by name.
        if t.is_identifier() {
            if let Some(def) = self.lookup_option("server", &t.text()) {
                self.next()?;
                return match self.parse_option_statement(&def, OptionHow::Set)? {
                    Some(s) => done(s),
                    None => Ok(Exec::Done(None)),
                };
            }
        }
        // ISC: "Since function calls are data expressions, fake up an
        // eval statement" for any other word.
        if t.is_plain_name() || t.is_num_or_name() {
            let Some(e) = self.parse_expression(ECtx::Data, None, None)? else {
                return Err(self.err("expecting function call."));
            };
            if let Err(mut err) = self.semi() {
                err.hint = Some(format!(
                    "`{}` is not a parameter or declaration dhcpd knows; ISC reads it as an expression",
                    t.text()
                ));
                return Err(err);
            }
            return done(Stmt::Eval(e));
        }
        Ok(Exec::NotExec)
    }

    /// Statements until one that is not executable (ISC's
    /// parse_executable_statements); the caller checks what follows.
    fn parse_executable_statements(&mut self, case_ctx: CaseCtx) -> R<Vec<Stmt>> {
        let mut out = Vec::new();
        loop {
            match self.parse_executable(case_ctx)? {
                Exec::NotExec => return Ok(out),
                Exec::Done(None) => {}
                Exec::Done(Some((s, span))) => {
                    self.note_statement(&s, &span);
                    out.push(s);
                }
            }
        }
    }

    fn block_end(&mut self) -> R<()> {
        if !self.next()?.is_punct(b'}') {
            return Err(self.err("right brace expected."));
        }
        Ok(())
    }

    /// After `if`: `[(] BOOL [)] { ... } [elsif ... | else if ... | else { ... }]`.
    fn parse_if(&mut self) -> R<Stmt> {
        let mut branches = Vec::new();
        let mut otherwise = Vec::new();
        loop {
            let paren = self.peek()?.is_punct(b'(');
            if paren {
                self.next()?;
            }
            let Some(cond) = self.parse_boolean_expression()? else {
                return Err(self.err("boolean expression expected."));
            };
            if paren && !self.next()?.is_punct(b')') {
                return Err(self.err("expecting right paren."));
            }
            if !self.next()?.is_punct(b'{') {
                return Err(self.err("left brace expected."));
            }
            let body = self.parse_executable_statements(CaseCtx::None)?;
            self.block_end()?;
            branches.push((cond, body));
            let t = self.peek()?;
            if t.is_kw("elsif") {
                self.next()?;
                continue;
            }
            if t.is_kw("else") {
                self.next()?;
                let n = self.peek()?;
                if n.is_kw("if") {
                    self.next()?;
                    continue;
                }
                if !n.is_punct(b'{') {
                    return Err(self.err("left brace or if expected."));
                }
                self.next()?;
                otherwise = self.parse_executable_statements(CaseCtx::None)?;
                self.block_end()?;
            }
            break;
        }
        Ok(Stmt::If {
            branches,
            otherwise,
        })
    }

    /// After `on`: `EVENT [or EVENT ...] { ... }` (or `;`).
    fn parse_on(&mut self) -> R<Stmt> {
        let mut events = Vec::new();
        loop {
            let t = self.next()?;
            let ev = if t.is_kw("commit") {
                LeaseEvent::Commit
            } else if t.is_kw("release") {
                LeaseEvent::Release
            } else if t.is_kw("expiry") {
                LeaseEvent::Expiry
            } else if t.is_kw("transmission") {
                return Err(self.unsupported("on transmission: a dhclient event, not supported"));
            } else {
                return Err(self.err("expecting a lease event type"));
            };
            if !events.contains(&ev) {
                events.push(ev);
            }
            let t = self.next()?;
            if t.is_kw("or") {
                continue;
            }
            if t.is_punct(b';') {
                return Ok(Stmt::On {
                    events,
                    body: Vec::new(),
                });
            }
            if !t.is_punct(b'{') {
                return Err(self.err("left brace expected."));
            }
            break;
        }
        let body = self.parse_executable_statements(CaseCtx::None)?;
        self.block_end()?;
        Ok(Stmt::On { events, body })
    }

    /// After `switch`: `(EXPR) { case V: ... default: ... }`.
    fn parse_switch(&mut self) -> R<Stmt> {
        if !self.next()?.is_punct(b'(') {
            return Err(self.err("expecting left brace."));
        }
        let Some(expr) = self.parse_expression(ECtx::DataOrNumeric, None, None)? else {
            return Err(self.err("expecting data or numeric expression."));
        };
        if !self.next()?.is_punct(b')') {
            return Err(self.err("right paren expected."));
        }
        if !self.next()?.is_punct(b'{') {
            return Err(self.err("left brace expected."));
        }
        let ctx = if is_data(&expr) {
            CaseCtx::Data
        } else {
            CaseCtx::Numeric
        };
        let body = self.parse_executable_statements(ctx)?;
        self.block_end()?;
        Ok(Stmt::Switch { expr, body })
    }

    // ---------------------------------------------------------------
    // Expressions
    // ---------------------------------------------------------------

    /// Data expressions separated by commas up to the closing parenthesis
    /// (`concat`, `pick-first-value`), appended to `parts`.
    fn data_args_to_close(&mut self, parts: &mut Vec<Expr>) -> R<()> {
        loop {
            parts.push(*self.data_arg()?);
            let t = self.next()?;
            if t.is_punct(b',') {
                continue;
            }
            if !t.is_punct(b')') {
                return Err(self.err("right parenthesis expected."));
            }
            return Ok(());
        }
    }

    pub(crate) fn parse_boolean_expression(&mut self) -> R<Option<Expr>> {
        self.parse_typed_expression(ECtx::Boolean, is_boolean, "Expecting a boolean expression.")
    }

    pub(crate) fn parse_data_expression(&mut self) -> R<Option<Expr>> {
        self.parse_typed_expression(ECtx::Data, is_data, "Expecting a data expression.")
    }

    pub(crate) fn parse_numeric_expression(&mut self) -> R<Option<Expr>> {
        self.parse_typed_expression(ECtx::Numeric, is_numeric, "Expecting a numeric expression.")
    }

    /// An expression of one kind (a variable may be of any kind, as in ISC);
    /// another kind is an error with ISC's wording.
    fn parse_typed_expression(
        &mut self,
        ctx: ECtx,
        is_kind: fn(&Expr) -> bool,
        wrong_kind: &str,
    ) -> R<Option<Expr>> {
        let Some(e) = self.parse_expression(ctx, None, None)? else {
            return Ok(None);
        };
        if !is_kind(&e) && !matches!(e, Expr::Variable(_)) {
            return Err(self.err(wrong_kind));
        }
        Ok(Some(e))
    }

    /// A binary operator at the next token, if any. `!` and `~` are
    /// consumed here; the `=`/`~` after them is left for the caller to eat,
    /// as in ISC.
    fn peek_binop(&mut self) -> R<Option<BinOp>> {
        let t = self.peek()?;
        let op = match t.kind {
            Kind::Punct(b'!') => {
                self.next()?;
                if !self.peek()?.is_punct(b'=') {
                    return Err(self.err("! in boolean context without ="));
                }
                BinOp::Ne
            }
            Kind::Punct(b'=') => BinOp::Eq,
            Kind::Punct(b'~') => {
                self.next()?;
                let n = self.peek()?;
                if n.is_punct(b'~') {
                    BinOp::Regex { icase: true }
                } else if n.is_punct(b'=') {
                    BinOp::Regex { icase: false }
                } else {
                    return Err(self.err("expecting ~= or ~~ operator"));
                }
            }
            Kind::Punct(b'+') => BinOp::Arith(ArithOp::Add),
            Kind::Punct(b'-') => BinOp::Arith(ArithOp::Sub),
            Kind::Punct(b'/') => BinOp::Arith(ArithOp::Div),
            Kind::Punct(b'*') => BinOp::Arith(ArithOp::Mul),
            Kind::Punct(b'%') => BinOp::Arith(ArithOp::Rem),
            Kind::Punct(b'&') => BinOp::Arith(ArithOp::BitAnd),
            Kind::Punct(b'|') => BinOp::Arith(ArithOp::BitOr),
            Kind::Punct(b'^') => BinOp::Arith(ArithOp::BitXor),
            _ if t.is_kw("and") => BinOp::And,
            _ if t.is_kw("or") => BinOp::Or,
            _ => return Ok(None),
        };
        Ok(Some(op))
    }

    /// ISC's parse_expression, with its precedence climbing. None when the
    /// next token does not start an expression (nothing consumed).
    pub(crate) fn parse_expression(
        &mut self,
        ctx: ECtx,
        plhs: Option<Expr>,
        binop: Option<BinOp>,
    ) -> R<Option<Expr>> {
        let mut lhs = plhs;
        let mut binop = binop;
        let mut context = ctx;
        loop {
            let Some(mut rhs) = self.parse_non_binary(context)? else {
                if lhs.is_some() {
                    return Err(self.err("expecting right-hand side."));
                }
                return Ok(None);
            };
            let mut next_op = self.peek_binop()?;
            if next_op.is_some() {
                context = kind_of(&rhs);
            }
            let Some(l) = lhs.take() else {
                let Some(op) = next_op else {
                    return Ok(Some(rhs));
                };
                lhs = Some(rhs);
                binop = Some(op);
                self.next()?;
                continue;
            };
            if let (Some(b), Some(n)) = (binop, next_op) {
                if op_val(b) < op_val(n) {
                    self.next()?;
                    rhs = match self.parse_expression(op_context(n), Some(rhs), Some(n))? {
                        Some(e) => e,
                        None => return Err(self.err("expecting a subexpression")),
                    };
                    next_op = None;
                }
            }
            let combined = match binop {
                Some(b) => self.combine(b, l, rhs)?,
                None => rhs,
            };
            if let Expr::Regex { pattern, icase, .. } = &combined {
                if crate::eval::compile_regex(pattern, *icase).is_none() {
                    let span = self.here();
                    self.warn(
                        span,
                        format!(
                            "regular expression {pattern:?} does not compile; it never matches"
                        ),
                    );
                }
            }
            let Some(n) = next_op else {
                return Ok(Some(combined));
            };
            self.next()?;
            lhs = Some(combined);
            binop = Some(n);
        }
    }

    /// Type-check and build `lhs OP rhs` (ISC's checks and messages).
    fn combine(&self, op: BinOp, lhs: Expr, rhs: Expr) -> R<Expr> {
        let (lc, rc) = (kind_of(&lhs), kind_of(&rhs));
        if rc != ECtx::Any && lc != ECtx::Any && rc != lc {
            return Err(self.err("illegal expression relating different types"));
        }
        let (l, r) = (Box::new(lhs), Box::new(rhs));
        Ok(match op {
            BinOp::Eq | BinOp::Ne => {
                if rc == ECtx::Boolean {
                    return Err(self.err("expecting data/numeric expression"));
                }
                if op == BinOp::Eq {
                    Expr::Equal(l, r)
                } else {
                    Expr::NotEqual(l, r)
                }
            }
            BinOp::Regex { icase } => {
                if rc != ECtx::Data {
                    return Err(self.err("expecting data expression"));
                }
                let Expr::Const(p) = *r else {
                    return Err(self.unsupported(
                        "the right side of ~= and ~~ must be a constant string in Tandem",
                    ));
                };
                Expr::Regex {
                    expr: l,
                    pattern: String::from_utf8_lossy(&p).into_owned(),
                    icase,
                }
            }
            BinOp::And | BinOp::Or => {
                if !matches!(rc, ECtx::Boolean | ECtx::Any) {
                    return Err(self.err("expecting boolean expressions"));
                }
                if op == BinOp::And {
                    Expr::And(l, r)
                } else {
                    Expr::Or(l, r)
                }
            }
            BinOp::Arith(op) => {
                if !matches!(rc, ECtx::Numeric | ECtx::Any) {
                    return Err(self.err("expecting numeric expressions"));
                }
                Expr::Arith { op, lhs: l, rhs: r }
            }
        })
    }

    fn open_paren(&mut self) -> R<()> {
        if !self.next()?.is_punct(b'(') {
            return Err(self.err("left parenthesis expected."));
        }
        Ok(())
    }

    fn close_paren(&mut self) -> R<()> {
        if !self.next()?.is_punct(b')') {
            return Err(self.err("right parenthesis expected."));
        }
        Ok(())
    }

    fn comma(&mut self) -> R<()> {
        if !self.next()?.is_punct(b',') {
            return Err(self.err("comma expected."));
        }
        Ok(())
    }

    fn data_arg(&mut self) -> R<Box<Expr>> {
        match self.parse_data_expression()? {
            Some(e) => Ok(Box::new(e)),
            None => Err(self.err("expecting data expression.")),
        }
    }

    fn num_arg(&mut self) -> R<Box<Expr>> {
        match self.parse_numeric_expression()? {
            Some(e) => Ok(Box::new(e)),
            None => Err(self.err("expecting numeric expression.")),
        }
    }

    /// `8`, `16` or `32` in extract-int / encode-int.
    fn int_width(&mut self) -> R<u8> {
        let t = self.next()?;
        if t.kind != Kind::Number {
            return Err(self.err("number expected."));
        }
        match Self::atoi(&t) {
            8 => Ok(8),
            16 => Ok(16),
            32 => Ok(32),
            n => Err(self.invalid(format!("unsupported integer size {n}"))),
        }
    }

    /// ISC's parse_non_binary: one operand. None when the next token does
    /// not start one (nothing consumed).
    fn parse_non_binary(&mut self, ctx: ECtx) -> R<Option<Expr>> {
        let t = self.peek()?;
        let kw = |k: &str| t.is_kw(k);
        let e = if kw("check") {
            self.next()?;
            return Err(self.unsupported("check: collections are not supported"));
        } else if kw("not") {
            self.next()?;
            let Some(inner) = self.parse_non_binary(ECtx::Boolean)? else {
                return Err(self.err("expression expected"));
            };
            if !is_boolean(&inner) {
                return Err(self.err("boolean expression expected"));
            }
            Expr::Not(Box::new(inner))
        } else if t.is_punct(b'(') {
            self.next()?;
            let Some(e) = self.parse_expression(ctx, None, None)? else {
                return Err(self.err("expression expected"));
            };
            if !self.next()?.is_punct(b')') {
                return Err(self.err("right paren expected"));
            }
            e
        } else if kw("exists") {
            self.next()?;
            let (def, _) = self.parse_option_name(false)?;
            Expr::Exists(OptionCode {
                space: def.space,
                code: def.code,
            })
        } else if kw("static") {
            self.next()?;
            Expr::Static
        } else if kw("known") {
            self.next()?;
            Expr::Known
        } else if kw("substring") {
            self.next()?;
            self.open_paren()?;
            let expr = self.data_arg()?;
            self.comma()?;
            let offset = self.num_arg()?;
            self.comma()?;
            let len = self.num_arg()?;
            self.close_paren()?;
            Expr::Substring { expr, offset, len }
        } else if kw("suffix") {
            self.next()?;
            self.open_paren()?;
            let expr = self.data_arg()?;
            self.comma()?;
            let len = self.num_arg()?;
            self.close_paren()?;
            Expr::Suffix { expr, len }
        } else if kw("lcase") || kw("ucase") {
            self.next()?;
            self.open_paren()?;
            let e = self.data_arg()?;
            self.close_paren()?;
            if kw("lcase") {
                Expr::Lcase(e)
            } else {
                Expr::Ucase(e)
            }
        } else if kw("concat") {
            self.next()?;
            self.open_paren()?;
            let mut parts = vec![*self.data_arg()?];
            self.comma()?;
            self.data_args_to_close(&mut parts)?;
            Expr::Concat(parts)
        } else if kw("binary-to-ascii") {
            self.next()?;
            self.open_paren()?;
            let base = self.num_arg()?;
            self.comma()?;
            let width = self.num_arg()?;
            self.comma()?;
            let separator = self.data_arg()?;
            self.comma()?;
            let expr = self.data_arg()?;
            self.close_paren()?;
            Expr::BinaryToAscii {
                base,
                width,
                separator,
                expr,
            }
        } else if kw("reverse") {
            self.next()?;
            self.open_paren()?;
            let width = self.num_arg()?;
            self.comma()?;
            let expr = self.data_arg()?;
            self.close_paren()?;
            Expr::Reverse { width, expr }
        } else if kw("pick") || kw("pick-first-value") {
            self.next()?;
            self.open_paren()?;
            let mut parts = Vec::new();
            self.data_args_to_close(&mut parts)?;
            Expr::PickFirstValue(parts)
        } else if kw("option") || kw("config-option") {
            self.next()?;
            let (def, _) = self.parse_option_name(false)?;
            let code = OptionCode {
                space: def.space,
                code: def.code,
            };
            if kw("option") {
                Expr::OptionValue(code)
            } else {
                Expr::ConfigOption(code)
            }
        } else if let Some(e) = NULLARY.iter().find(|(k, _)| kw(k)).map(|(_, e)| e.clone()) {
            self.next()?;
            e
        } else if kw("packet") {
            self.next()?;
            self.open_paren()?;
            let offset = self.num_arg()?;
            self.comma()?;
            let len = self.num_arg()?;
            self.close_paren()?;
            Expr::PacketBytes { offset, len }
        } else if t.kind == Kind::Str {
            self.next()?;
            Expr::Const(t.val.clone())
        } else if kw("extract-int") {
            self.next()?;
            self.open_paren()?;
            let expr = self.data_arg()?;
            self.comma()?;
            let bits = self.int_width()?;
            self.close_paren()?;
            Expr::ExtractInt { expr, bits }
        } else if kw("encode-int") {
            self.next()?;
            self.open_paren()?;
            let expr = self.num_arg()?;
            self.comma()?;
            let bits = self.int_width()?;
            self.close_paren()?;
            Expr::EncodeInt { expr, bits }
        } else if t.kind == Kind::Number && matches!(ctx, ECtx::Numeric | ECtx::DataOrNumeric) {
            self.next()?;
            Expr::Number(Self::atoi(&t))
        } else if t.kind == Kind::Number || t.is_num_or_name() {
            // Elsewhere a number is hex data: `option arch = 00:07`.
            Expr::Const(self.parse_cshl()?)
        } else if let Some(n) = client_state_constant(&t) {
            // dhclient state names (dhcpd.h enum dhcp_state).
            self.next()?;
            Expr::Number(n)
        } else if is_dns_rcode(&t) {
            self.next()?;
            return Err(self.unsupported(format!(
                "{}: DNS result codes are not supported (Tandem does not do DDNS)",
                t.text()
            )));
        } else if kw("defined") {
            self.next()?;
            self.open_paren()?;
            let v = self.next()?;
            if !(v.is_plain_name() || v.is_num_or_name()) {
                return Err(self.invalid(format!("{} can't be a variable name", v.text())));
            }
            self.close_paren()?;
            Expr::VariableExists(v.text())
        } else if kw("gethostbyname") {
            self.next()?;
            self.open_paren()?;
            let s = self.next()?;
            if s.kind != Kind::Str {
                return Err(self.err("Expecting quoted literal: \"foo.example.com\""));
            }
            self.close_paren()?;
            Expr::GetdnsRecord(Box::new(Expr::Const(s.val.clone())))
        } else if kw("gethostname") || kw("v6relay") {
            self.next()?;
            return Err(self.unsupported(format!("{}: not supported by Tandem", t.text())));
        } else if t.is_plain_name() {
            self.next()?;
            if self.peek()?.is_punct(b'(') {
                return Err(self.unsupported(format!(
                    "{}(...): user-defined functions are not supported",
                    t.text()
                )));
            }
            Expr::Variable(t.text())
        } else {
            return Ok(None);
        };
        Ok(Some(e))
    }
}

fn client_state_constant(t: &Token) -> Option<i64> {
    [
        ("reboot", 1),
        ("booting", 2),
        ("select", 3),
        ("request", 4),
        ("bound", 5),
        ("renew", 6),
        ("rebind", 7),
    ]
    .iter()
    .find(|(k, _)| t.is_kw(k))
    .map(|(_, v)| *v)
}

fn is_dns_rcode(t: &Token) -> bool {
    [
        "formerr", "noerror", "notauth", "notimp", "notzone", "nxdomain", "nxrrset", "refused",
        "servfail", "yxdomain", "yxrrset",
    ]
    .iter()
    .any(|k| t.is_kw(k))
}
