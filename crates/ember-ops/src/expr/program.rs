//! Compiles a [`TypedExpr`] into the register program that `kernels/expr.cu` interprets: one
//! instruction per node, registers reused as soon as their value is consumed (a tree needs about
//! its depth in registers), literals and decimal scale factors in constant slots, and each input
//! column once. The program is a `#[repr(C)]` value passed to the kernel by value.
use super::typed::TypedExpr;
use super::{BinaryOp, DatePart};
use ember_core::{DType, DeviceColumn, Error, Result, Scalar};
use ember_gpu::abi;
use std::collections::HashMap;

const MAX_INSTR: usize = abi::EXPR_MAX_INSTR as usize;
const MAX_REGS: usize = abi::EXPR_MAX_REGS as usize;
const MAX_INPUTS: usize = abi::EXPR_MAX_INPUTS as usize;
const MAX_CONSTS: usize = abi::EXPR_MAX_CONSTS as usize;

/// `EmberExprInstr` in `kernels/expr.cu`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Instr {
    op: u8,
    ty: u8,
    dst: u8,
    a: u8,
    b: u8,
    aux: u8,
    imm: u16,
}

impl Instr {
    fn new(op: u32, ty: u8, dst: u8, a: u8, b: u8) -> Self {
        Instr { op: op as u8, ty, dst, a, b, aux: 0, imm: 0 }
    }
    /// The auxiliary code (comparison, cast target) and the first constant slot.
    fn with(self, aux: u8, imm: u16) -> Self {
        Instr { aux, imm, ..self }
    }
}

/// `EmberExprInput` in `kernels/expr.cu`: device addresses of the values and the validity (0 = none).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Input {
    values: u64,
    validity: u64,
}

/// `EmberExprProgram` in `kernels/expr.cu` (the C side asserts the same size).
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ExprProgram {
    inputs: [Input; MAX_INPUTS],
    consts: [u64; MAX_CONSTS],
    code: [Instr; MAX_INSTR],
    n_instr: u32,
    out_reg: u8,
    pred_reg: u8,
    out_ty: u8,
    value_start: u8,
}

const _: () = assert!(std::mem::size_of::<ExprProgram>() == 16 * MAX_INPUTS + 8 * MAX_CONSTS + 8 * MAX_INSTR + 8);
const _: () = assert!(std::mem::size_of::<ExprProgram>() <= ember_gpu::MAX_PARAM_BYTES - 128);

impl ExprProgram {
    /// The program's bytes, as the kernel parameter.
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }
}

/// The interpreter's type code of `t` (`None` for utf8, which the interpreter does not hold).
pub fn type_code(t: DType) -> Option<u8> {
    Some(match t {
        DType::Int8 => abi::TY_I8,
        DType::Int16 => abi::TY_I16,
        DType::Int32 | DType::Date32 => abi::TY_I32,
        DType::Int64 | DType::Timestamp(_) => abi::TY_I64,
        DType::UInt8 => abi::TY_U8,
        DType::UInt16 => abi::TY_U16,
        DType::UInt32 => abi::TY_U32,
        DType::UInt64 => abi::TY_U64,
        DType::Float32 => abi::TY_F32,
        DType::Float64 => abi::TY_F64,
        DType::Decimal128 { .. } => abi::TY_DEC,
        DType::Bool => abi::TY_BOOL,
        DType::Utf8 => return None,
    } as u8)
}

fn code_of(t: DType) -> Result<u8> {
    type_code(t).ok_or_else(|| Error::Internal(format!("{t} value in an expression program")))
}

/// Why a tree did not fit one program.
#[derive(Debug)]
pub enum BuildError {
    /// Too many instructions, registers, inputs or constants: evaluate a subtree first.
    TooLarge,
    /// Anything else.
    Failed(Error),
}

impl From<Error> for BuildError {
    fn from(e: Error) -> Self {
        BuildError::Failed(e)
    }
}

type Build<T> = std::result::Result<T, BuildError>;

/// Subtrees evaluated before the program runs (string predicates, splits of a too-large tree),
/// keyed by node address; the program loads them like columns.
pub type Precomputed = HashMap<*const TypedExpr, DeviceColumn>;

/// Builds one program. Compile the predicate (if any) first, call [`Builder::start_value`], then
/// the value.
pub struct Builder<'a> {
    prog: ExprProgram,
    n_instr: usize,
    n_consts: usize,
    inputs: Vec<(u64, u64)>,
    free: Vec<u8>,
    next_reg: u8,
    nullable: bool,
    columns: &'a [&'a DeviceColumn],
    pre: &'a Precomputed,
}

impl std::fmt::Debug for Builder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Builder({} instructions, {} inputs)", self.n_instr, self.inputs.len())
    }
}

impl<'a> Builder<'a> {
    /// A builder over the frame's device columns (indexed as in [`TypedExpr::Column`]).
    pub fn new(columns: &'a [&'a DeviceColumn], pre: &'a Precomputed) -> Self {
        Self {
            prog: bytemuck::Zeroable::zeroed(),
            n_instr: 0,
            n_consts: 0,
            inputs: Vec::new(),
            free: Vec::new(),
            next_reg: 0,
            nullable: false,
            columns,
            pre,
        }
    }

    fn reg(&mut self) -> Build<u8> {
        if let Some(r) = self.free.pop() {
            return Ok(r);
        }
        if self.next_reg as usize >= MAX_REGS {
            return Err(BuildError::TooLarge);
        }
        self.next_reg += 1;
        Ok(self.next_reg - 1)
    }

    fn release(&mut self, r: u8) {
        self.free.push(r);
    }

    fn emit(&mut self, i: Instr) -> Build<()> {
        if self.n_instr >= MAX_INSTR {
            return Err(BuildError::TooLarge);
        }
        self.prog.code[self.n_instr] = i;
        self.n_instr += 1;
        Ok(())
    }

    fn constant(&mut self, words: &[u64]) -> Build<u16> {
        // The same value (a scale factor, a precision limit) takes one slot range.
        if let Some(at) = (0..self.n_consts).find(|&i| self.prog.consts[i..self.n_consts].starts_with(words)) {
            return Ok(at as u16);
        }
        if self.n_consts + words.len() > MAX_CONSTS {
            return Err(BuildError::TooLarge);
        }
        let at = self.n_consts;
        self.prog.consts[at..at + words.len()].copy_from_slice(words);
        self.n_consts += words.len();
        Ok(at as u16)
    }

    /// Two i128 constants in consecutive slots (`k` and `k + 2`), as the kernel reads them.
    fn const128_pair(&mut self, a: i128, b: i128) -> Build<u16> {
        let w = |v: i128| [v as u128 as u64, (v as u128 >> 64) as u64];
        let (a, b) = (w(a), w(b));
        self.constant(&[a[0], a[1], b[0], b[1]])
    }

    fn input(&mut self, values: u64, validity: u64) -> Build<u8> {
        if validity != 0 {
            self.nullable = true;
        }
        if let Some(i) = self.inputs.iter().position(|&x| x == (values, validity)) {
            return Ok(i as u8);
        }
        if self.inputs.len() >= MAX_INPUTS {
            return Err(BuildError::TooLarge);
        }
        self.prog.inputs[self.inputs.len()] = Input { values, validity };
        self.inputs.push((values, validity));
        Ok(self.inputs.len() as u8 - 1)
    }

    fn load_column(&mut self, c: &DeviceColumn, t: DType) -> Build<u8> {
        let validity = c.validity().map_or(0, |v| v.device_ptr());
        let i = self.input(c.values().device_ptr(), validity)?;
        let r = self.reg()?;
        self.emit(Instr::new(abi::OP_LOAD, code_of(t)?, r, i, 0))?;
        Ok(r)
    }

    /// Marks the end of the predicate's instructions: errors from here on count only on the rows
    /// the predicate keeps.
    pub fn start_value(&mut self) {
        self.prog.value_start = self.n_instr as u8;
    }

    /// Emits `e`; returns the register holding its value.
    pub fn compile(&mut self, e: &TypedExpr) -> Build<u8> {
        if let Some(c) = self.pre.get(&(e as *const TypedExpr)) {
            return self.load_column(c, e.dtype());
        }
        match e {
            TypedExpr::Column { index, dtype, .. } => {
                let c = self.columns.get(*index).ok_or_else(|| Error::Internal(format!("column {index}")))?;
                self.load_column(c, *dtype)
            }
            TypedExpr::Literal { value, dtype } => self.literal(value, *dtype),
            TypedExpr::Cast { expr, to } => {
                let from = expr.dtype();
                let a = self.compile(expr)?;
                let imm = match (from, *to) {
                    (_, DType::Decimal128 { precision, scale }) => {
                        let from_scale = match from {
                            DType::Decimal128 { scale, .. } => scale,
                            _ => 0,
                        };
                        let up = (scale as i32 - from_scale as i32).max(0) as u32;
                        let mul = 10i128.checked_pow(up).ok_or(BuildError::Failed(Error::Overflow(format!(
                            "10^{up} in the cast from {from} to {to}"
                        ))))?;
                        let lim = 10i128.checked_pow(precision as u32).unwrap_or(i128::MAX);
                        self.const128_pair(mul, lim)?
                    }
                    (DType::Decimal128 { scale, .. }, DType::Float64) => {
                        // 10^|scale| as a double (exact up to 22) and the scale itself.
                        let p10 = 10f64.powi((scale as i32).abs());
                        self.constant(&[p10.to_bits(), scale as i64 as u64])?
                    }
                    _ => 0,
                };
                self.emit(Instr::new(abi::OP_CAST, code_of(from)?, a, a, 0).with(code_of(*to)?, imm))?;
                Ok(a)
            }
            TypedExpr::Binary { op, left, right, dtype, decimal_mul } => {
                let a = self.compile(left)?;
                let b = self.compile(right)?;
                let operand_ty = code_of(left.dtype())?;
                let (opcode, aux) = match op {
                    BinaryOp::Add => (abi::OP_ADD, 0),
                    BinaryOp::Sub => (abi::OP_SUB, 0),
                    BinaryOp::Mul => (abi::OP_MUL, 0),
                    BinaryOp::Div => (abi::OP_DIV, 0),
                    BinaryOp::And => (abi::OP_AND, 0),
                    BinaryOp::Or => (abi::OP_OR, 0),
                    BinaryOp::Eq => (abi::OP_CMP, abi::CMP_EQ),
                    BinaryOp::NotEq => (abi::OP_CMP, abi::CMP_NE),
                    BinaryOp::Lt => (abi::OP_CMP, abi::CMP_LT),
                    BinaryOp::LtEq => (abi::OP_CMP, abi::CMP_LE),
                    BinaryOp::Gt => (abi::OP_CMP, abi::CMP_GT),
                    BinaryOp::GtEq => (abi::OP_CMP, abi::CMP_GE),
                };
                let ty = if op.is_arithmetic() { code_of(*dtype)? } else { operand_ty };
                let imm = match (op, decimal_mul) {
                    (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Div, muls) if dtype.is_decimal() => {
                        let (l, r) = muls.unwrap_or((1, 1));
                        self.const128_pair(l, r)?
                    }
                    _ => 0,
                };
                self.emit(Instr::new(opcode, ty, a, a, b).with(aux as u8, imm))?;
                self.release(b);
                Ok(a)
            }
            TypedExpr::Not(inner) => {
                let a = self.compile(inner)?;
                self.emit(Instr::new(abi::OP_NOT, abi::TY_BOOL as u8, a, a, 0))?;
                Ok(a)
            }
            TypedExpr::IsNull(inner) | TypedExpr::IsNotNull(inner) => {
                let want_null = matches!(e, TypedExpr::IsNull(_));
                let a = self.null_test_operand(inner)?;
                let op = if want_null { abi::OP_IS_NULL } else { abi::OP_IS_NOT_NULL };
                self.emit(Instr::new(op, abi::TY_BOOL as u8, a, a, 0))?;
                Ok(a)
            }
            TypedExpr::When { cond, then, otherwise, dtype } => {
                if *dtype == DType::Utf8 {
                    return Err(BuildError::Failed(Error::Unsupported(
                        "when/then/otherwise with utf8 branches on the GPU".into(),
                    )));
                }
                let c = self.compile(cond)?;
                let a = self.compile(then)?;
                let b = self.compile(otherwise)?;
                self.emit(Instr::new(abi::OP_SELECT, code_of(*dtype)?, a, a, b).with(c, 0))?;
                self.release(b);
                self.release(c);
                Ok(a)
            }
            TypedExpr::Round { expr, decimals, dtype } => {
                let a = self.compile(expr)?;
                let imm = match *dtype {
                    DType::Decimal128 { precision, scale } => {
                        let digits = (scale as i64 - *decimals as i64).max(0) as u32;
                        let factor = 10i128.checked_pow(digits).unwrap_or(i128::MAX);
                        let lim = 10i128.checked_pow(precision as u32).unwrap_or(i128::MAX);
                        self.const128_pair(factor, lim)?
                    }
                    DType::Float32 | DType::Float64 => self.constant(&[10f64.powi(*decimals as i32).to_bits()])?,
                    _ => return Ok(a), // integers are whole already
                };
                self.emit(Instr::new(abi::OP_ROUND, code_of(*dtype)?, a, a, 0).with(0, imm))?;
                Ok(a)
            }
            TypedExpr::DatePart { part, expr } => {
                let a = self.compile(expr)?;
                let aux = match part {
                    DatePart::Year => abi::DATE_YEAR,
                    DatePart::Month => abi::DATE_MONTH,
                    DatePart::Day => abi::DATE_DAY,
                    DatePart::Weekday => abi::DATE_WEEKDAY,
                };
                self.emit(Instr::new(abi::OP_DATE_PART, abi::TY_I32 as u8, a, a, 0).with(aux as u8, 0))?;
                Ok(a)
            }
            TypedExpr::Str { .. } | TypedExpr::StrSlice { .. } | TypedExpr::StrLen(_) => {
                Err(BuildError::Failed(Error::Internal("string node not evaluated before the program".into())))
            }
        }
    }

    /// The operand of `IS [NOT] NULL`: utf8 values never enter a register, so a utf8 column is
    /// loaded as its validity bits (a register that is valid exactly where the string is).
    fn null_test_operand(&mut self, inner: &TypedExpr) -> Build<u8> {
        if inner.dtype() != DType::Utf8 || self.pre.contains_key(&(inner as *const TypedExpr)) {
            return self.compile(inner);
        }
        let validity = match inner {
            TypedExpr::Column { index, .. } => {
                let c = self.columns.get(*index).ok_or_else(|| Error::Internal(format!("column {index}")))?;
                c.validity().map(|v| v.device_ptr())
            }
            TypedExpr::Literal { value, .. } => {
                return if value.is_null() {
                    self.literal(&Scalar::Null, DType::Bool)
                } else {
                    self.literal(&Scalar::Bool(true), DType::Bool)
                };
            }
            other => return Err(BuildError::Failed(Error::Internal(format!("utf8 operand {other:?}")))),
        };
        match validity {
            None => self.literal(&Scalar::Bool(true), DType::Bool),
            Some(v) => {
                // values = validity bits, validity = the same bits: valid exactly where set
                let i = self.input(v, v)?;
                let r = self.reg()?;
                self.emit(Instr::new(abi::OP_LOAD, abi::TY_BOOL as u8, r, i, 0))?;
                Ok(r)
            }
        }
    }

    fn literal(&mut self, value: &Scalar, t: DType) -> Build<u8> {
        let r = self.reg()?;
        let ty = code_of(t)?;
        if value.is_null() {
            self.nullable = true;
            self.emit(Instr::new(abi::OP_NULL, ty, r, 0, 0))?;
            return Ok(r);
        }
        let words = scalar_words(value, t)?;
        let k = self.constant(&words)?;
        self.emit(Instr::new(abi::OP_CONST, ty, r, 0, 0).with(0, k))?;
        Ok(r)
    }

    /// Whether the program can produce a null (an input with a validity bitmap or a null literal):
    /// selects the `_nulls` kernel.
    pub fn nullable(&self) -> bool {
        self.nullable
    }

    /// Instructions so far.
    pub fn len(&self) -> usize {
        self.n_instr
    }

    /// Whether no instruction was emitted.
    pub fn is_empty(&self) -> bool {
        self.n_instr == 0
    }

    /// The finished program: `out` holds the value (of type `out_ty`), `pred` the predicate.
    pub fn finish(mut self, out: u8, out_ty: DType, pred: Option<u8>) -> Result<ExprProgram> {
        self.prog.n_instr = self.n_instr as u32;
        self.prog.out_reg = out;
        self.prog.pred_reg = pred.unwrap_or(abi::EXPR_NO_REG as u8);
        self.prog.out_ty = code_of(out_ty)?;
        Ok(self.prog)
    }
}

/// A literal's register words: integers sign- or zero-extended to 64 bits, floats as their bits,
/// decimals as two words, booleans 0 / 1.
fn scalar_words(value: &Scalar, t: DType) -> Result<Vec<u64>> {
    use arrow::array::AsArray;
    let arr = value.to_array(&t)?;
    if t == DType::Bool {
        return Ok(vec![arr.as_boolean().value(0) as u64]);
    }
    let w = t.prim().ok_or_else(|| Error::Internal(format!("literal of {t}")))?.width();
    let data = arr.to_data();
    let bytes = &data.buffers()[0].as_slice()[data.offset() * w..data.offset() * w + w];
    let mut b16 = [0u8; 16];
    b16[..w].copy_from_slice(bytes);
    let raw = u128::from_le_bytes(b16);
    let lo = match t {
        DType::Int8 => raw as u8 as i8 as i64 as u64,
        DType::Int16 => raw as u16 as i16 as i64 as u64,
        DType::Int32 | DType::Date32 => raw as u32 as i32 as i64 as u64,
        _ => raw as u64,
    };
    Ok(if t.is_decimal() { vec![lo, (raw >> 64) as u64] } else { vec![lo] })
}
