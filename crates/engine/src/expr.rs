//! The one place the engine calls the config crate's expression evaluator
//! (ISC semantics: a missing operand makes the value `None`, which is false
//! in a boolean context).

use tandem_config::eval::{eval_bool, eval_data, eval_num, EvalContext};
use tandem_config::Expr;

/// A boolean expression; a missing operand is false (ISC).
pub(crate) fn truth(e: &Expr, ctx: &dyn EvalContext) -> bool {
    eval_bool(e, ctx).unwrap_or(false)
}

/// A data expression; `None` when an operand is missing.
pub(crate) fn data(e: &Expr, ctx: &dyn EvalContext) -> Option<Vec<u8>> {
    eval_data(e, ctx)
}

/// A numeric expression.
pub(crate) fn num(e: &Expr, ctx: &dyn EvalContext) -> Option<i64> {
    eval_num(e, ctx)
}
