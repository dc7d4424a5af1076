// Constants shared by the kernels and the Rust host code. build.rs turns every
// `#define EMBER_ABI_<NAME> <integer>` below into `ember_gpu::abi::<NAME>: u32` (the comment line
// just above becomes its doc), so each value is written once. Change them only here.
#pragma once

// Error bits kernels OR into an operation's error word (read once per operation).
// Overflow: decimal arithmetic, decimal rescale, a checked sum, integer MIN / -1.
#define EMBER_ABI_ERR_OVERFLOW 1
// Integer or decimal division by zero.
#define EMBER_ABI_ERR_DIV_ZERO 2
// An expression's error key (one u64, all ones = no error, folded with atomicMin so the first
// failing row wins, and within a row the first failing instruction, i.e. post-order as the CPU
// engine evaluates): row << ROW_SHIFT | instruction << 2 | error bit.
#define EMBER_ABI_ERR_KEY_ROW_SHIFT 16

// Comparison codes (compare.cu and the expression interpreter).
// a = b
#define EMBER_ABI_CMP_EQ 0
// a != b
#define EMBER_ABI_CMP_NE 1
// a < b
#define EMBER_ABI_CMP_LT 2
// a <= b
#define EMBER_ABI_CMP_LE 3
// a > b
#define EMBER_ABI_CMP_GT 4
// a >= b
#define EMBER_ABI_CMP_GE 5

// String predicates against a literal pattern (compare.cu, str_match).
// starts_with
#define EMBER_ABI_STR_STARTS_WITH 0
// ends_with
#define EMBER_ABI_STR_ENDS_WITH 1
// contains
#define EMBER_ABI_STR_CONTAINS 2
// A SQL LIKE pattern travels as u16 tokens (strings.cu, str_like): a byte is itself (0..=255),
// and these two are the wildcards (an escaped `%` or `_` is its byte).
// `%`: any run of characters
#define EMBER_ABI_LIKE_ANY 256
// `_`: exactly one character
#define EMBER_ABI_LIKE_ONE 257

// ---- The expression interpreter (kernels/expr.cu) ----
// Limits of one program (it travels to the kernel by value, well under CUDA's 4 KiB of parameters).
// Instructions per program.
#define EMBER_ABI_EXPR_MAX_INSTR 96
// Registers per program.
#define EMBER_ABI_EXPR_MAX_REGS 24
// Input columns per program.
#define EMBER_ABI_EXPR_MAX_INPUTS 16
// 64-bit constant slots per program (an i128 takes two).
#define EMBER_ABI_EXPR_MAX_CONSTS 128
// "No register" (e.g. no predicate in a fused filter + reduce).
#define EMBER_ABI_EXPR_NO_REG 255

// Register value types (`ty` of an instruction). Integers are held sign- or zero-extended in
// 64 bits and wrap at their own width; f32 is computed in f32; decimals are i128 (unscaled).
// i8
#define EMBER_ABI_TY_I8 0
// i16
#define EMBER_ABI_TY_I16 1
// i32 (also date32)
#define EMBER_ABI_TY_I32 2
// i64 (also timestamps)
#define EMBER_ABI_TY_I64 3
// u8
#define EMBER_ABI_TY_U8 4
// u16
#define EMBER_ABI_TY_U16 5
// u32
#define EMBER_ABI_TY_U32 6
// u64
#define EMBER_ABI_TY_U64 7
// f32
#define EMBER_ABI_TY_F32 8
// f64
#define EMBER_ABI_TY_F64 9
// decimal128 (i128)
#define EMBER_ABI_TY_DEC 10
// boolean (a bitmap in memory, 0/1 in a register)
#define EMBER_ABI_TY_BOOL 11

// Op codes. dst, a, b are registers; `imm` indexes the constant slots.
// dst = input column `a` at this row (type ty).
#define EMBER_ABI_OP_LOAD 0
// dst = constant at slots imm.. (type ty), valid.
#define EMBER_ABI_OP_CONST 1
// dst = null (type ty).
#define EMBER_ABI_OP_NULL 2
// dst = cast of a from type ty to type `aux` (decimal rescale: multiply by const imm, check |v| < const imm+2).
#define EMBER_ABI_OP_CAST 3
// dst = a + b (decimal: a times constant imm plus b times constant imm + 2, checked).
#define EMBER_ABI_OP_ADD 4
// dst = a - b
#define EMBER_ABI_OP_SUB 5
// dst = a * b
#define EMBER_ABI_OP_MUL 6
// dst = a / b (integers and decimals checked)
#define EMBER_ABI_OP_DIV 7
// dst = (a cmp b) with comparison code `aux`, operands of type ty.
#define EMBER_ABI_OP_CMP 8
// Kleene AND
#define EMBER_ABI_OP_AND 9
// Kleene OR
#define EMBER_ABI_OP_OR 10
// Kleene NOT
#define EMBER_ABI_OP_NOT 11
// dst = a is null (never null)
#define EMBER_ABI_OP_IS_NULL 12
// dst = a is not null (never null)
#define EMBER_ABI_OP_IS_NOT_NULL 13
// dst = (register aux is a valid true) ? a : b, with that operand's validity
#define EMBER_ABI_OP_SELECT 14
// dst = date part `aux` (EMBER_ABI_DATE_*) of the date32 in a, as i32
#define EMBER_ABI_OP_DATE_PART 15
// dst = a rounded half away from zero: floats by the power of ten in const imm (f64 bits);
// decimals to a multiple of the i128 const imm (checked against the limit const imm + 2)
#define EMBER_ABI_OP_ROUND 16

// Date parts (`aux` of OP_DATE_PART).
// proleptic Gregorian year
#define EMBER_ABI_DATE_YEAR 0
// month 1..=12
#define EMBER_ABI_DATE_MONTH 1
// day of the month 1..=31
#define EMBER_ABI_DATE_DAY 2
// ISO weekday, Monday 1 .. Sunday 7
#define EMBER_ABI_DATE_WEEKDAY 3

// Reductions (fused filter + reduce in expr.cu).
// sum
#define EMBER_ABI_RED_SUM 0
// min
#define EMBER_ABI_RED_MIN 1
// max
#define EMBER_ABI_RED_MAX 2

// ---- Rows keyed by their order-preserving key words (sort_keys.cu) ----
// Key parts one by-value `EmberKeyWords` table holds (join.cu, hash_table.cu, groupby.cu): a
// word array, or a whole utf8 column; a key column is one or two parts, plus a null word where it
// has nulls.
#define EMBER_ABI_KEY_MAX_WORDS 12
// The most groups the GPU group-by aggregates warp-cooperatively, a lane per group
// (groupby.cu, few_*); more groups are sorted by their dense group number instead.
#define EMBER_ABI_GROUPBY_FEW 32
// Blocks of the few-groups kernels at most (fixed by the row count only, so the order in which
// partial results combine, and so float sums, is the same on every run and device).
#define EMBER_ABI_GROUPBY_FEW_BLOCKS 1024
// The most groups ranked by one launch comparing every pair (gb_rank_small); more are ordered
// by a radix sort of their representatives' key words.
#define EMBER_ABI_GROUPBY_SMALL_RANK 2048
