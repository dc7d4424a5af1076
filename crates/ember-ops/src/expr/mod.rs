//! Expressions: column references, literals, arithmetic, comparisons, Kleene logic, null tests and
//! string predicates, evaluated column-at-a-time by the CPU engine ([`cpu`]) or on a GPU ([`gpu`]).
//!
//! Type rules live in [`types`] and are shared by both executors, so they agree on every result
//! type. `is_between` and `is_in` are sugar over comparisons and `and`/`or`, so their null
//! semantics are SQL's by construction:
//!
//! | `x` | `x.is_in([1, 2])` | `x.is_in([1, null])` | `x.is_between(1, 3)` |
//! |---|---|---|---|
//! | 1 | true | true | true |
//! | 5 | false | null | false |
//! | null | null | null | null |
//!
//! # Example
//! ```
//! use ember_ops::expr::{col, lit};
//! let pred = col("qty").lt(lit(24)).and(col("flag").eq(lit("R")));
//! assert_eq!(pred.to_string(), "((qty < 24) AND (flag = R))");
//! ```
pub mod cpu;
pub(crate) mod cse;
pub mod gpu;
pub mod program;
pub mod typed;
pub mod types;

use ember_core::{Column, DType, DataFrame, Result, Scalar};
use ember_gpu::ExecContext;
use std::fmt;

/// Evaluates `expr` over `df` to a column on `df`'s device (a literal-only expression is
/// broadcast to `df.num_rows()` rows; a bare untyped null to a null boolean column).
pub fn evaluate(df: &DataFrame, expr: &Expr) -> Result<Column> {
    evaluate_in(None, df, expr)
}

/// [`evaluate`] in the execution context `ctx` (GPU frames; `None`: a fresh one).
pub fn evaluate_in(ctx: Option<&ExecContext>, df: &DataFrame, expr: &Expr) -> Result<Column> {
    if let Expr::Column(name) = expr.unaliased() {
        return Ok(df.column(name)?.clone()); // zero-copy on every device
    }
    let typed = typed::resolve(expr, df.fields(), DType::Bool)?;
    crate::dispatch(
        df,
        ctx,
        "evaluate",
        |ctx| Ok(Column::Device(gpu::evaluate(ctx, df, &typed)?)),
        || Ok(Column::Host(cpu::evaluate(df, expr)?)),
    )
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `=`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// Kleene `AND`
    And,
    /// Kleene `OR`
    Or,
}

impl BinaryOp {
    /// Arithmetic operators.
    pub fn is_arithmetic(self) -> bool {
        matches!(self, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div)
    }
    /// Comparison operators.
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq)
    }
    /// `AND` / `OR`.
    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }
    /// SQL spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }
}

/// A string predicate against a literal pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StrOp {
    /// The string starts with the pattern.
    StartsWith,
    /// The string ends with the pattern.
    EndsWith,
    /// The pattern occurs in the string.
    Contains,
    /// SQL `LIKE`: `%` matches any run of characters, `_` exactly one character, `\` escapes the
    /// next pattern character; the whole string must match (case-sensitive).
    Like,
}

/// A part of a date ([`Expr::date_part`]), as an `Int32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DatePart {
    /// The proleptic Gregorian year.
    Year,
    /// 1..=12.
    Month,
    /// Day of the month, 1..=31.
    Day,
    /// ISO weekday: Monday 1 .. Sunday 7 (polars' `dt.weekday()`).
    Weekday,
}

/// An expression over the columns of a frame.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Expr {
    /// A column by name.
    Column(String),
    /// A constant.
    Literal(Scalar),
    /// `left op right`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// Kleene `NOT`.
    Not(Box<Expr>),
    /// True where the operand is null (never null itself).
    IsNull(Box<Expr>),
    /// True where the operand is not null (never null itself).
    IsNotNull(Box<Expr>),
    /// A string predicate against a literal pattern.
    Str {
        /// Which predicate.
        op: StrOp,
        /// The string operand.
        expr: Box<Expr>,
        /// The literal pattern.
        pattern: String,
    },
    /// `expr` under another name (the name of the column a projection produces).
    Alias(Box<Expr>, String),
    /// `CASE WHEN cond THEN then ELSE otherwise END`: `then` where `cond` is true, else
    /// `otherwise` (a null condition counts as false). Both branches are evaluated on every row,
    /// as polars does, so an error in either one fails the expression.
    When {
        /// The boolean condition.
        cond: Box<Expr>,
        /// The value where `cond` is true.
        then: Box<Expr>,
        /// The value elsewhere.
        otherwise: Box<Expr>,
    },
    /// A part of a date32 value, as `Int32`.
    DatePart {
        /// Which part.
        part: DatePart,
        /// The date operand.
        expr: Box<Expr>,
    },
    /// Characters `offset ..` (at most `length` of them) of a utf8 value, counted in Unicode
    /// scalar values from 0 (polars' `str.slice`; a negative offset counts from the end).
    StrSlice {
        /// The utf8 operand.
        expr: Box<Expr>,
        /// The first character (negative: from the end).
        offset: i64,
        /// At most this many characters (`None`: to the end).
        length: Option<u64>,
    },
    /// The number of characters of a utf8 value, as `UInt32` (polars' `str.len_chars`).
    StrLen(Box<Expr>),
    /// `expr` rounded to `decimals` digits after the point, half away from zero: floats as
    /// `(x * 10^d).round() / 10^d` in their type, decimals exactly (keeping their scale, one more
    /// digit of precision), integers unchanged.
    Round {
        /// The operand.
        expr: Box<Expr>,
        /// Digits kept after the point.
        decimals: u32,
    },
    /// `expr` as type `to`: the widening casts (to a type that holds every value of the
    /// operand's: wider integers, integers and decimals to floats or wider decimals), and any cast
    /// between integer and float types, checked (out of range or NaN: [`ember_core::Error::Overflow`] on every
    /// device; floats truncate toward zero). Other pairs (decimal narrowing, strings, dates) are
    /// a type error naming the pair.
    Cast {
        /// The operand.
        expr: Box<Expr>,
        /// The target type.
        to: DType,
    },
}

/// `when(cond).then(a).otherwise(b)`: polars' conditional, SQL's `CASE WHEN`.
///
/// ```
/// use ember_ops::expr::{col, lit, when};
/// let e = when(col("x").gt(lit(0))).then(col("x")).otherwise(lit(0));
/// assert_eq!(e.to_string(), "CASE WHEN (x > 0) THEN x ELSE 0 END");
/// ```
pub fn when(cond: Expr) -> When {
    When { cond }
}

/// The condition of a conditional being built ([`when`]).
#[derive(Debug, Clone)]
pub struct When {
    cond: Expr,
}

impl When {
    /// The value where the condition holds.
    pub fn then(self, value: Expr) -> Then {
        Then { cond: self.cond, then: value }
    }
}

/// A conditional waiting for its `otherwise` ([`when`]).
#[derive(Debug, Clone)]
pub struct Then {
    cond: Expr,
    then: Expr,
}

impl Then {
    /// The value where the condition does not hold (or is null).
    pub fn otherwise(self, value: Expr) -> Expr {
        Expr::When { cond: Box::new(self.cond), then: Box::new(self.then), otherwise: Box::new(value) }
    }
}

/// The first non-null of `exprs`, row by row (SQL `COALESCE`; null where all are null).
pub fn coalesce(exprs: impl IntoIterator<Item = Expr>) -> Expr {
    let mut exprs: Vec<Expr> = exprs.into_iter().collect();
    let mut acc = exprs.pop().unwrap_or(Expr::Literal(Scalar::Null));
    while let Some(e) = exprs.pop() {
        acc = when(e.clone().is_not_null()).then(e).otherwise(acc);
    }
    acc
}

/// A column reference.
pub fn col(name: &str) -> Expr {
    Expr::Column(name.to_string())
}

/// A literal: `lit(24)` (i32), `lit(24i64)`, `lit(0.5)` (f64), `lit("R")`, `lit(true)`,
/// `lit(Scalar::Null)`.
pub fn lit(v: impl Into<Scalar>) -> Expr {
    Expr::Literal(v.into())
}

/// An exact decimal literal, e.g. `dec("0.06")` is decimal128(2, 2).
pub fn dec(s: &str) -> Result<Expr> {
    Ok(Expr::Literal(Scalar::parse_decimal(s)?))
}

/// A date literal, `date("1994-01-01")`.
pub fn date(s: &str) -> Result<Expr> {
    Ok(Expr::Literal(Scalar::parse_date(s)?))
}

impl Expr {
    /// The operands of this node.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column(_) | Expr::Literal(_) => vec![],
            Expr::Binary { left, right, .. } => vec![left, right],
            Expr::Not(e)
            | Expr::IsNull(e)
            | Expr::IsNotNull(e)
            | Expr::Str { expr: e, .. }
            | Expr::Alias(e, _)
            | Expr::DatePart { expr: e, .. }
            | Expr::StrSlice { expr: e, .. }
            | Expr::StrLen(e)
            | Expr::Cast { expr: e, .. }
            | Expr::Round { expr: e, .. } => vec![e],
            Expr::When { cond, then, otherwise } => vec![cond, then, otherwise],
        }
    }

    /// This node with each operand replaced by `f(operand)`.
    pub fn try_map_children(self, mut f: impl FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
        let mut g = |e: Box<Expr>| f(*e).map(Box::new);
        Ok(match self {
            Expr::Column(_) | Expr::Literal(_) => self,
            Expr::Binary { op, left, right } => Expr::Binary { op, left: g(left)?, right: g(right)? },
            Expr::Not(e) => Expr::Not(g(e)?),
            Expr::IsNull(e) => Expr::IsNull(g(e)?),
            Expr::IsNotNull(e) => Expr::IsNotNull(g(e)?),
            Expr::Str { op, expr, pattern } => Expr::Str { op, expr: g(expr)?, pattern },
            Expr::Alias(e, name) => Expr::Alias(g(e)?, name),
            Expr::When { cond, then, otherwise } => {
                Expr::When { cond: g(cond)?, then: g(then)?, otherwise: g(otherwise)? }
            }
            Expr::DatePart { part, expr } => Expr::DatePart { part, expr: g(expr)? },
            Expr::StrSlice { expr, offset, length } => Expr::StrSlice { expr: g(expr)?, offset, length },
            Expr::StrLen(e) => Expr::StrLen(g(e)?),
            Expr::Cast { expr, to } => Expr::Cast { expr: g(expr)?, to },
            Expr::Round { expr, decimals } => Expr::Round { expr: g(expr)?, decimals },
        })
    }

    /// Whether the expression reads any column (else it is a constant).
    pub fn references_columns(&self) -> bool {
        matches!(self, Expr::Column(_)) || self.children().iter().any(|c| c.references_columns())
    }

    /// The columns the expression reads, each once, in order of first use.
    pub fn column_names(&self) -> Vec<&str> {
        fn walk<'e>(e: &'e Expr, out: &mut Vec<&'e str>) {
            if let Expr::Column(c) = e {
                if !out.contains(&c.as_str()) {
                    out.push(c);
                }
            }
            for c in e.children() {
                walk(c, out);
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// The name of the column the expression produces: its alias, a bare column's name, or its
    /// text.
    pub fn output_name(&self) -> String {
        match self {
            Expr::Alias(_, name) => name.clone(),
            Expr::Column(c) => c.clone(),
            other => other.to_string(),
        }
    }

    /// Names the column this expression produces (`select([(col("a") * lit(2)).alias("a2")])`).
    pub fn alias(self, name: &str) -> Expr {
        Expr::Alias(Box::new(self), name.into())
    }

    /// The expression without any alias at its root.
    pub fn unaliased(&self) -> &Expr {
        match self {
            Expr::Alias(e, _) => e.unaliased(),
            other => other,
        }
    }

    fn binary(self, op: BinaryOp, rhs: Expr) -> Expr {
        Expr::Binary { op, left: Box::new(self), right: Box::new(rhs) }
    }
    /// `self = rhs`
    pub fn eq(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::Eq, rhs)
    }
    /// `self != rhs`
    pub fn neq(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::NotEq, rhs)
    }
    /// `self < rhs`
    pub fn lt(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::Lt, rhs)
    }
    /// `self <= rhs`
    pub fn lt_eq(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::LtEq, rhs)
    }
    /// `self > rhs`
    pub fn gt(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::Gt, rhs)
    }
    /// `self >= rhs`
    pub fn gt_eq(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::GtEq, rhs)
    }
    /// Kleene `self AND rhs`.
    pub fn and(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::And, rhs)
    }
    /// Kleene `self OR rhs`.
    pub fn or(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::Or, rhs)
    }
    /// `low <= self AND self <= high` (both bounds inclusive, as SQL `BETWEEN`).
    pub fn is_between(self, low: Expr, high: Expr) -> Expr {
        self.clone().gt_eq(low).and(self.lt_eq(high))
    }
    /// `self = v1 OR self = v2 OR ...` (SQL `IN`; an empty list is `false`). The ORs form a
    /// balanced tree (depth log2 of the list), so long lists never recurse deeply.
    pub fn is_in(self, values: impl IntoIterator<Item = Scalar>) -> Expr {
        let mut level: Vec<Expr> = values.into_iter().map(|v| self.clone().eq(Expr::Literal(v))).collect();
        if level.is_empty() {
            return Expr::Literal(Scalar::Bool(false));
        }
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            let mut it = level.into_iter();
            while let Some(a) = it.next() {
                next.push(match it.next() {
                    Some(b) => a.or(b),
                    None => a,
                });
            }
            level = next;
        }
        level.pop().expect("one expression left")
    }
    /// True where `self` is null.
    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }
    /// True where `self` is not null.
    pub fn is_not_null(self) -> Expr {
        Expr::IsNotNull(Box::new(self))
    }
    /// The string starts with `pattern`.
    pub fn starts_with(self, pattern: &str) -> Expr {
        Expr::Str { op: StrOp::StartsWith, expr: Box::new(self), pattern: pattern.into() }
    }
    /// The string ends with `pattern`.
    pub fn ends_with(self, pattern: &str) -> Expr {
        Expr::Str { op: StrOp::EndsWith, expr: Box::new(self), pattern: pattern.into() }
    }
    /// `pattern` occurs in the string.
    pub fn contains(self, pattern: &str) -> Expr {
        Expr::Str { op: StrOp::Contains, expr: Box::new(self), pattern: pattern.into() }
    }
    /// SQL `self LIKE pattern` (see [`StrOp::Like`]); `NOT LIKE` is `!e.like(p)`.
    pub fn like(self, pattern: &str) -> Expr {
        Expr::Str { op: StrOp::Like, expr: Box::new(self), pattern: pattern.into() }
    }
    /// A part of a date.
    pub fn date_part(self, part: DatePart) -> Expr {
        Expr::DatePart { part, expr: Box::new(self) }
    }
    /// The year of a date.
    pub fn year(self) -> Expr {
        self.date_part(DatePart::Year)
    }
    /// The month of a date (1..=12).
    pub fn month(self) -> Expr {
        self.date_part(DatePart::Month)
    }
    /// The day of the month of a date (1..=31).
    pub fn day(self) -> Expr {
        self.date_part(DatePart::Day)
    }
    /// The ISO weekday of a date (Monday 1 .. Sunday 7).
    pub fn weekday(self) -> Expr {
        self.date_part(DatePart::Weekday)
    }
    /// Characters `offset..offset + length` of a string ([`Expr::StrSlice`]).
    pub fn str_slice(self, offset: i64, length: Option<u64>) -> Expr {
        Expr::StrSlice { expr: Box::new(self), offset, length }
    }
    /// The number of characters of a string ([`Expr::StrLen`]).
    pub fn str_len(self) -> Expr {
        Expr::StrLen(Box::new(self))
    }
    /// `self` rounded to `decimals` digits (see [`Expr::Round`]).
    pub fn round(self, decimals: u32) -> Expr {
        Expr::Round { expr: Box::new(self), decimals }
    }
    /// `self` as type `to` (see [`Expr::Cast`]).
    pub fn cast(self, to: DType) -> Expr {
        Expr::Cast { expr: Box::new(self), to }
    }
    /// `value` where `self` is null (polars' `fill_null`).
    pub fn fill_null(self, value: Expr) -> Expr {
        coalesce([self, value])
    }
    /// The absolute value (integers wrap at `MIN`, as polars).
    pub fn abs(self) -> Expr {
        when(self.clone().lt(lit(0))).then(lit(0) - self.clone()).otherwise(self)
    }
}

macro_rules! arith_ops {
    ($($tr:ident $m:ident $op:ident),*) => {$(
        impl std::ops::$tr for Expr {
            type Output = Expr;
            fn $m(self, rhs: Expr) -> Expr {
                self.binary(BinaryOp::$op, rhs)
            }
        }
    )*};
}
arith_ops!(Add add Add, Sub sub Sub, Mul mul Mul, Div div Div);

impl std::ops::Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(c) => write!(f, "{c}"),
            Expr::Literal(s) => write!(f, "{s}"),
            Expr::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Not(e) => write!(f, "NOT {e}"),
            Expr::IsNull(e) => write!(f, "{e} IS NULL"),
            Expr::IsNotNull(e) => write!(f, "{e} IS NOT NULL"),
            Expr::Str { op, expr, pattern } => write!(f, "{expr}.{op:?}({pattern:?})"),
            Expr::Alias(e, name) => write!(f, "{e} AS {name}"),
            Expr::When { cond, then, otherwise } => write!(f, "CASE WHEN {cond} THEN {then} ELSE {otherwise} END"),
            Expr::DatePart { part, expr } => write!(f, "{expr}.{}()", format!("{part:?}").to_lowercase()),
            Expr::StrSlice { expr, offset, length } => match length {
                Some(l) => write!(f, "{expr}.str_slice({offset}, {l})"),
                None => write!(f, "{expr}.str_slice({offset})"),
            },
            Expr::StrLen(e) => write!(f, "{e}.str_len()"),
            Expr::Cast { expr, to } => write!(f, "CAST({expr} AS {to})"),
            Expr::Round { expr, decimals } => write!(f, "round({expr}, {decimals})"),
        }
    }
}
