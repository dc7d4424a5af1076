// The expression interpreter (libcudf's compute_column design): the host compiles an expression
// tree once into a linear register program (crates/ember-ops/src/expr/program.rs) that travels to
// the kernel by value; each thread runs it for its rows. One launch evaluates a whole tree without
// intermediate columns; a predicate followed by a reduction is one pass with no compaction.
//
// Semantics are those of the per-node CPU engine (crates/ember-ops/src/expr/types.rs): integers
// wrap at their width on + - *, division is checked; decimals are exact and checked; floats are
// IEEE (no FMA: NVRTC runs with --fmad=false) and compare in total order; AND/OR/NOT are Kleene;
// an error (overflow, division by zero) counts only on rows whose operands are all valid.
//
// Kernels, each specialised on whether any null can occur (`_nulls` or not):
//   expr_eval[_nulls]:            the output register of every row into a column (+ validity);
//   expr_reduce_partial[_nulls]:  sum/min/max of the output register over the rows where the
//                                 predicate register is a valid true, one partial per block,
//                                 folded by reduce.cu's reduce_final_* (deterministic order).
#include "common.cuh"

#define MAX_REGS EMBER_ABI_EXPR_MAX_REGS

struct EmberExprInstr {
    u8 op, ty, dst, a, b, aux;
    u16 imm;
};
struct EmberExprInput {
    const void* values;
    const u32* validity;  // null: no nulls
};
// Mirrored by `ExprProgram` in crates/ember-ops/src/expr/program.rs (sizes asserted on both sides).
struct EmberExprProgram {
    EmberExprInput inputs[EMBER_ABI_EXPR_MAX_INPUTS];
    u64 consts[EMBER_ABI_EXPR_MAX_CONSTS];
    EmberExprInstr code[EMBER_ABI_EXPR_MAX_INSTR];
    u32 n_instr;
    u8 out_reg, pred_reg, out_ty;
    u8 value_start;  // instructions before it compute the predicate, from it the value
};
static_assert(sizeof(EmberExprInstr) == 8, "instruction layout");
static_assert(sizeof(EmberExprProgram) == 16 * EMBER_ABI_EXPR_MAX_INPUTS + 8 * EMBER_ABI_EXPR_MAX_CONSTS +
                                              8 * EMBER_ABI_EXPR_MAX_INSTR + 8,
              "program layout");

struct ExprRegs {
    u64 lo[MAX_REGS];
    u64 hi[MAX_REGS];
    u32 valid;  // bit r: register r is valid
};

__device__ __forceinline__ bool ty_signed(u32 t) { return t <= EMBER_ABI_TY_I64; }
__device__ __forceinline__ bool ty_unsigned(u32 t) { return t >= EMBER_ABI_TY_U8 && t <= EMBER_ABI_TY_U64; }

// An integer of type t held in 64 bits: sign- or zero-extended from its width (wraps).
__device__ __forceinline__ u64 norm_int(u32 t, u64 x) {
    switch (t) {
        case EMBER_ABI_TY_I8: return (u64)(i64)(i8)(u8)x;
        case EMBER_ABI_TY_I16: return (u64)(i64)(i16)(u16)x;
        case EMBER_ABI_TY_I32: return (u64)(i64)(i32)(u32)x;
        case EMBER_ABI_TY_U8: return x & 0xffull;
        case EMBER_ABI_TY_U16: return x & 0xffffull;
        case EMBER_ABI_TY_U32: return x & 0xffffffffull;
        default: return x;
    }
}
__device__ __forceinline__ u64 int_min_bits(u32 t) {
    switch (t) {
        case EMBER_ABI_TY_I8: return (u64)(i64)-128;
        case EMBER_ABI_TY_I16: return (u64)(i64)-32768;
        case EMBER_ABI_TY_I32: return (u64)(i64)(i32)0x80000000u;
        default: return 0x8000000000000000ull;
    }
}
// The largest value of an unsigned type narrower than 64 bits.
__device__ __forceinline__ u64 uint_max(u32 t) {
    return t == EMBER_ABI_TY_U8 ? 0xffull : t == EMBER_ABI_TY_U16 ? 0xffffull : 0xffffffffull;
}

__device__ __forceinline__ f32 as_f32(u64 x) { return __int_as_float((i32)(u32)x); }
__device__ __forceinline__ u64 f32_bits(f32 v) { return (u64)(u32)__float_as_int(v); }
__device__ __forceinline__ f64 as_f64(u64 x) { return __longlong_as_double((i64)x); }
__device__ __forceinline__ u64 f64_bits(f64 v) { return (u64)__double_as_longlong(v); }
__device__ __forceinline__ i128 as_i128(u64 lo, u64 hi) { return (i128)(((u128)hi << 64) | (u128)lo); }
__device__ __forceinline__ i128 const128(const EmberExprProgram& p, u32 k) { return as_i128(p.consts[k], p.consts[k + 1]); }

__device__ __forceinline__ void load_value(u32 t, const void* base, u64 row, u64& lo, u64& hi) {
    hi = 0;
    switch (t) {
        case EMBER_ABI_TY_I8: lo = (u64)(i64)((const i8*)base)[row]; break;
        case EMBER_ABI_TY_I16: lo = (u64)(i64)((const i16*)base)[row]; break;
        case EMBER_ABI_TY_I32: lo = (u64)(i64)((const i32*)base)[row]; break;
        case EMBER_ABI_TY_U8: lo = ((const u8*)base)[row]; break;
        case EMBER_ABI_TY_U16: lo = ((const u16*)base)[row]; break;
        case EMBER_ABI_TY_U32: case EMBER_ABI_TY_F32: lo = ((const u32*)base)[row]; break;
        case EMBER_ABI_TY_DEC: {
            const i128 v = ((const i128*)base)[row];
            lo = (u64)(u128)v;
            hi = (u64)((u128)v >> 64);
            break;
        }
        case EMBER_ABI_TY_BOOL: lo = ember_bit((const u32*)base, row) ? 1 : 0; break;
        default: lo = ((const u64*)base)[row]; break;  // i64, u64, f64
    }
}

// Three-way comparison of two values of type t.
__device__ __forceinline__ int cmp_values(u32 t, u64 alo, u64 ahi, u64 blo, u64 bhi) {
    if (ty_signed(t) || t == EMBER_ABI_TY_BOOL) {
        const i64 a = (i64)alo, b = (i64)blo;
        return a < b ? -1 : (b < a ? 1 : 0);
    }
    if (ty_unsigned(t)) return alo < blo ? -1 : (blo < alo ? 1 : 0);
    if (t == EMBER_ABI_TY_F32) {
        const i32 a = ember_total_key(as_f32(alo)), b = ember_total_key(as_f32(blo));
        return a < b ? -1 : (b < a ? 1 : 0);
    }
    if (t == EMBER_ABI_TY_F64) {
        const i64 a = ember_total_key(as_f64(alo)), b = ember_total_key(as_f64(blo));
        return a < b ? -1 : (b < a ? 1 : 0);
    }
    const i128 a = as_i128(alo, ahi), b = as_i128(blo, bhi);
    return a < b ? -1 : (b < a ? 1 : 0);
}


// Integer arithmetic of type t (wrapping + - *, checked /).
__device__ __forceinline__ u64 int_arith(u32 op, u32 t, u64 a, u64 b, u32& e) {
    switch (op) {
        case EMBER_ABI_OP_ADD: return norm_int(t, a + b);
        case EMBER_ABI_OP_SUB: return norm_int(t, a - b);
        case EMBER_ABI_OP_MUL: return norm_int(t, a * b);
        default:
            if (b == 0) { e |= EMBER_ABI_ERR_DIV_ZERO; return 0; }
            if (ty_signed(t)) {
                if (a == int_min_bits(t) && (i64)b == -1) { e |= EMBER_ABI_ERR_OVERFLOW; return 0; }
                return norm_int(t, (u64)((i64)a / (i64)b));
            }
            return a / b;
    }
}

template <typename F>
__device__ __forceinline__ F float_arith(u32 op, F a, F b) {
    switch (op) {
        case EMBER_ABI_OP_ADD: return a + b;
        case EMBER_ABI_OP_SUB: return a - b;
        case EMBER_ABI_OP_MUL: return a * b;
        default: return a / b;
    }
}

// Decimal arithmetic: a and b rescaled by const imm / imm+2 for + - / (see types.rs), checked.
__device__ __forceinline__ i128 dec_arith(const EmberExprProgram& p, u32 op, u32 imm, i128 a, i128 b, u32& e) {
    bool ovf = false;
    i128 r = 0;
    if (op == EMBER_ABI_OP_MUL) {
        r = ember_mul_ovf(a, b, ovf);
    } else {
        const i128 l = ember_mul_ovf(a, const128(p, imm), ovf);
        const i128 rr = ember_mul_ovf(b, const128(p, imm + 2), ovf);
        if (op == EMBER_ABI_OP_ADD) {
            r = ember_add_ovf(l, rr, ovf);
        } else if (op == EMBER_ABI_OP_SUB) {
            r = ember_sub_ovf(l, rr, ovf);
        } else if (rr == 0) {
            e |= EMBER_ABI_ERR_DIV_ZERO;
        } else if (l == (i128)(((u128)1) << 127) && rr == -1) {
            ovf = true;
        } else {
            r = l / rr;
        }
    }
    // At most 38 digits (decimal128's precision; results below 38 digits fit by construction).
    const i128 max38 = (i128)10000000000000000000ull * (i128)10000000000000000000ull;  // 10^38
    if (r >= max38 || r <= -max38) ovf = true;
    if (ovf) e |= EMBER_ABI_ERR_OVERFLOW;
    return r;
}

// Part `part` (EMBER_ABI_DATE_*) of a date32 (days since 1970-01-01): the civil-from-days
// algorithm of H. Hinnant's "chrono-compatible low-level date algorithms", exact for every i32.
__device__ __forceinline__ i32 date_part(u32 part, i64 days) {
    if (part == EMBER_ABI_DATE_WEEKDAY) {
        const i64 wd = ((days % 7) + 7) % 7;  // 0 = Thursday
        return (i32)((wd + 3) % 7 + 1);
    }
    const i64 z = days + 719468;
    const i64 era = (z >= 0 ? z : z - 146096) / 146097;
    const i64 doe = z - era * 146097;
    const i64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const i64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const i64 mp = (5 * doy + 2) / 153;
    const i64 d = doy - (153 * mp + 2) / 5 + 1;
    const i64 m = mp < 10 ? mp + 3 : mp - 9;
    if (part == EMBER_ABI_DATE_MONTH) return (i32)m;
    if (part == EMBER_ABI_DATE_DAY) return (i32)d;
    return (i32)(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

// Casts from type `from` to type `to` (the widening casts type coercion produces, and decimal
// rescale / decimal to f64). Decimal results are checked against the limit const imm + 2.
__device__ __forceinline__ void cast_value(const EmberExprProgram& p, u32 from, u32 to, u32 imm, u64& lo, u64& hi,
                                           u32& e) {
    if (to == EMBER_ABI_TY_DEC) {
        i128 v;
        if (from == EMBER_ABI_TY_DEC) v = as_i128(lo, hi);
        else if (ty_signed(from)) v = (i128)(i64)lo;
        else v = (i128)(u128)lo;
        bool ovf = false;
        v = ember_mul_ovf(v, const128(p, imm), ovf);
        const i128 lim = const128(p, imm + 2);
        if (ovf || v >= lim || v <= -lim) e |= EMBER_ABI_ERR_OVERFLOW;
        lo = (u64)(u128)v;
        hi = (u64)((u128)v >> 64);
        return;
    }
    if (to == EMBER_ABI_TY_F64) {
        f64 d;
        if (from == EMBER_ABI_TY_DEC) d = ember_dec_to_f64(as_i128(lo, hi), (int)(i64)p.consts[imm + 1], as_f64(p.consts[imm]));
        else if (from == EMBER_ABI_TY_F32) d = (f64)as_f32(lo);
        else if (ty_signed(from)) d = (f64)(i64)lo;
        else d = (f64)lo;
        lo = f64_bits(d);
        hi = 0;
        return;
    }
    hi = 0;
    if (to == EMBER_ABI_TY_F32) {
        if (from == EMBER_ABI_TY_F32) return;
        lo = f32_bits(from == EMBER_ABI_TY_F64 ? (f32)as_f64(lo) : ty_signed(from) ? (f32)(i64)lo : (f32)lo);
        return;
    }
    // To an integer: from a float, truncated toward zero (NaN or out of range: overflow, as
    // arrow's checked cast); from an integer, an error unless the value fits the target type.
    if (from == EMBER_ABI_TY_F32 || from == EMBER_ABI_TY_F64) {
        const f64 t = trunc(from == EMBER_ABI_TY_F32 ? (f64)as_f32(lo) : as_f64(lo));
        bool ok;
        if (ty_signed(to)) {
            const f64 min = (f64)(i64)int_min_bits(to);
            ok = t >= min && t < -min;  // [-2^(w-1), 2^(w-1)): both bounds exact in f64
            lo = ok ? (u64)(i64)t : 0;
        } else {
            const f64 lim = to == EMBER_ABI_TY_U64 ? 18446744073709551616.0 : (f64)(uint_max(to)) + 1.0;
            ok = t > -1.0 && t < lim;
            lo = ok ? (u64)t : 0;
        }
        if (!ok) e |= EMBER_ABI_ERR_OVERFLOW;
        return;
    }
    const u64 narrowed = norm_int(to, lo);
    // Fits iff the narrowed value reads back as the same number and no sign changed.
    const bool same = ty_signed(from) == ty_signed(to) ? narrowed == lo
                    : ty_signed(from) ? ((i64)lo >= 0 && narrowed == lo)
                                      : ((i64)narrowed >= 0 && narrowed == lo);
    if (!same) e |= EMBER_ABI_ERR_OVERFLOW;
    lo = narrowed;
}

// Runs the program for one row. NULLS: whether any input or constant can be null. An error
// becomes a key (abi.cuh: row, instruction, bit; overflow before division by zero when one
// instruction has both); the predicate's instructions fold theirs into key_pred, the value's into
// key_value, keeping the smallest.
template <bool NULLS>
__device__ __forceinline__ void expr_run(const EmberExprProgram& p, u64 row, ExprRegs& r, u64& key_pred,
                                         u64& key_value) {
    r.valid = 0;
    for (u32 pc = 0; pc < p.n_instr; ++pc) {
        const EmberExprInstr in = p.code[pc];
        const u32 d = in.dst, a = in.a, b = in.b, t = in.ty;
        const bool va = !NULLS || ((r.valid >> a) & 1u), vb = !NULLS || ((r.valid >> b) & 1u);
        bool v = true;
        u64 lo = 0, hi = 0;
        u32 e = 0;
        switch (in.op) {
            case EMBER_ABI_OP_LOAD: {
                const EmberExprInput& c = p.inputs[a];
                v = !NULLS || c.validity == 0 || ember_bit(c.validity, row);
                load_value(t, c.values, row, lo, hi);
                break;
            }
            case EMBER_ABI_OP_CONST: lo = p.consts[in.imm]; hi = t == EMBER_ABI_TY_DEC ? p.consts[in.imm + 1] : 0; break;
            case EMBER_ABI_OP_NULL: v = false; break;
            case EMBER_ABI_OP_CAST:
                lo = r.lo[a];
                hi = r.hi[a];
                v = va;
                cast_value(p, t, in.aux, in.imm, lo, hi, e);
                break;
            case EMBER_ABI_OP_ADD: case EMBER_ABI_OP_SUB: case EMBER_ABI_OP_MUL: case EMBER_ABI_OP_DIV:
                v = va && vb;
                if (t == EMBER_ABI_TY_DEC) {
                    const i128 x = dec_arith(p, in.op, in.imm, as_i128(r.lo[a], r.hi[a]), as_i128(r.lo[b], r.hi[b]), e);
                    lo = (u64)(u128)x;
                    hi = (u64)((u128)x >> 64);
                } else if (t == EMBER_ABI_TY_F32) {
                    lo = f32_bits(float_arith<f32>(in.op, as_f32(r.lo[a]), as_f32(r.lo[b])));
                } else if (t == EMBER_ABI_TY_F64) {
                    lo = f64_bits(float_arith<f64>(in.op, as_f64(r.lo[a]), as_f64(r.lo[b])));
                } else {
                    lo = int_arith(in.op, t, r.lo[a], r.lo[b], e);
                }
                break;
            case EMBER_ABI_OP_CMP:
                v = va && vb;
                lo = ember_cmp_holds(cmp_values(t, r.lo[a], r.hi[a], r.lo[b], r.hi[b]), in.aux) ? 1 : 0;
                break;
            case EMBER_ABI_OP_AND: {
                const bool x = r.lo[a] != 0, y = r.lo[b] != 0;
                v = (va && vb) || (va && !x) || (vb && !y);
                lo = (u64)(va && vb && x && y);
                break;
            }
            case EMBER_ABI_OP_OR: {
                const bool x = r.lo[a] != 0, y = r.lo[b] != 0;
                v = (va && vb) || (va && x) || (vb && y);
                lo = (u64)((x && va) || (y && vb));
                break;
            }
            case EMBER_ABI_OP_NOT: v = va; lo = r.lo[a] ? 0 : 1; break;
            case EMBER_ABI_OP_IS_NULL: lo = va ? 0 : 1; break;
            case EMBER_ABI_OP_SELECT: {
                const u32 c = in.aux;
                const bool take = r.lo[c] != 0 && (!NULLS || ((r.valid >> c) & 1u));
                lo = take ? r.lo[a] : r.lo[b];
                hi = take ? r.hi[a] : r.hi[b];
                v = take ? va : vb;
                break;
            }
            case EMBER_ABI_OP_ROUND:
                v = va;
                lo = r.lo[a];
                hi = r.hi[a];
                if (t == EMBER_ABI_TY_F64) {
                    const f64 p10 = as_f64(p.consts[in.imm]);
                    lo = f64_bits(round(as_f64(lo) * p10) / p10);
                } else if (t == EMBER_ABI_TY_F32) {
                    const f32 p10 = (f32)as_f64(p.consts[in.imm]);
                    lo = f32_bits(roundf(as_f32(lo) * p10) / p10);
                } else if (t == EMBER_ABI_TY_DEC) {
                    const i128 f = const128(p, in.imm), x = as_i128(lo, hi);
                    i128 q = x / f;
                    const i128 rem = x % f;
                    if ((rem < 0 ? -rem : rem) * 2 >= f) q += x < 0 ? -1 : 1;
                    bool ovf = false;
                    const i128 y = ember_mul_ovf(q, f, ovf);
                    const i128 lim = const128(p, in.imm + 2);
                    if (ovf || y >= lim || y <= -lim) e |= EMBER_ABI_ERR_OVERFLOW;
                    lo = (u64)(u128)y;
                    hi = (u64)((u128)y >> 64);
                }
                break;
            case EMBER_ABI_OP_DATE_PART:
                v = va;
                lo = (u64)(i64)date_part(in.aux, (i64)r.lo[a]);
                break;
            default: lo = va ? 1 : 0; break;  // IS_NOT_NULL
        }
        if (e && v) {
            const u64 bit = (e & EMBER_ABI_ERR_OVERFLOW) ? EMBER_ABI_ERR_OVERFLOW : EMBER_ABI_ERR_DIV_ZERO;
            const u64 key = (row << EMBER_ABI_ERR_KEY_ROW_SHIFT) | ((u64)pc << 2) | bit;
            u64& k = pc < p.value_start ? key_pred : key_value;
            if (key < k) k = key;
        }
        r.lo[d] = lo;
        r.hi[d] = hi;
        if (NULLS) r.valid = v ? (r.valid | (1u << d)) : (r.valid & ~(1u << d));
    }
}

// ---- Evaluate to a column ----

__device__ __forceinline__ void store_value(u32 t, void* base, u64 row, u64 lo, u64 hi) {
    switch (t) {
        case EMBER_ABI_TY_I8: case EMBER_ABI_TY_U8: ((u8*)base)[row] = (u8)lo; break;
        case EMBER_ABI_TY_I16: case EMBER_ABI_TY_U16: ((u16*)base)[row] = (u16)lo; break;
        case EMBER_ABI_TY_I32: case EMBER_ABI_TY_U32: case EMBER_ABI_TY_F32: ((u32*)base)[row] = (u32)lo; break;
        case EMBER_ABI_TY_DEC: ((i128*)base)[row] = as_i128(lo, hi); break;
        default: ((u64*)base)[row] = lo; break;
    }
}

// One thread per row. Booleans and validity are written a warp-ballot word at a time. With
// `mask_only` (filter predicates) a boolean output is written as "valid and true" and no validity.
template <bool NULLS>
__device__ void eval_rows(const EmberExprProgram& p, u64 n, void* out, u32* out_valid, u32 mask_only, u64* err_key) {
    const u64 i = ember_gid();
    ExprRegs r;
    u64 e = ~0ull;
    bool v = false;
    u64 lo = 0, hi = 0;
    if (i < n) {
        expr_run<NULLS>(p, i, r, e, e);
        lo = r.lo[p.out_reg];
        hi = r.hi[p.out_reg];
        v = !NULLS || ((r.valid >> p.out_reg) & 1u);
    }
    if (p.out_ty == EMBER_ABI_TY_BOOL) {
        const u32 word = __ballot_sync(0xffffffffu, (lo != 0) && (v || !mask_only));
        if ((threadIdx.x & 31) == 0 && i < n) ((u32*)out)[i >> 5] = word;
    } else if (i < n) {
        store_value(p.out_ty, out, i, lo, hi);
    }
    if (NULLS && !mask_only) {
        const u32 vword = __ballot_sync(0xffffffffu, v);
        if ((threadIdx.x & 31) == 0 && i < n) out_valid[i >> 5] = vword;
    }
    if (e != ~0ull) atomicMin((unsigned long long*)err_key, (unsigned long long)e);
}

extern "C" __global__ void __launch_bounds__(EMBER_BLOCK)
    expr_eval(const __grid_constant__ EmberExprProgram p, u64 n, void* out, u32* out_valid, u32 mask_only, u64* err_key) {
    eval_rows<false>(p, n, out, out_valid, mask_only, err_key);
}
EMBER_SIM_EXPORT(expr_eval)
extern "C" __global__ void __launch_bounds__(EMBER_BLOCK) expr_eval_nulls(const __grid_constant__ EmberExprProgram p,
                                                                          u64 n, void* out, u32* out_valid,
                                                                          u32 mask_only, u64* err_key) {
    eval_rows<true>(p, n, out, out_valid, mask_only, err_key);
}
EMBER_SIM_EXPORT(expr_eval_nulls)

// ---- Fused predicate + reduction ----

// The accumulator as two 64-bit words of type `t` (sum: i64/u64/f32/f64/decimal; min/max: the
// value's own type).
__device__ __forceinline__ void acc_combine(u32 op, u32 t, u64& alo, u64& ahi, u64 blo, u64 bhi, bool& ovf) {
    if (op == EMBER_ABI_RED_SUM) {
        if (t == EMBER_ABI_TY_DEC) {
            const i128 s = ember_add_ovf(as_i128(alo, ahi), as_i128(blo, bhi), ovf);
            alo = (u64)(u128)s;
            ahi = (u64)((u128)s >> 64);
        } else if (t == EMBER_ABI_TY_F32) {
            alo = f32_bits(as_f32(alo) + as_f32(blo));
        } else if (t == EMBER_ABI_TY_F64) {
            alo = f64_bits(as_f64(alo) + as_f64(blo));
        } else {
            alo = alo + blo;  // i64 / u64 wrap
        }
        return;
    }
    const int c = cmp_values(t, blo, bhi, alo, ahi);  // b vs a
    if ((op == EMBER_ABI_RED_MIN && c < 0) || (op == EMBER_ABI_RED_MAX && c > 0)) {
        alo = blo;
        ahi = bhi;
    }
}

__device__ __forceinline__ u32 acc_width(u32 t) {
    switch (t) {
        case EMBER_ABI_TY_I8: case EMBER_ABI_TY_U8: return 1;
        case EMBER_ABI_TY_I16: case EMBER_ABI_TY_U16: return 2;
        case EMBER_ABI_TY_I32: case EMBER_ABI_TY_U32: case EMBER_ABI_TY_F32: return 4;
        case EMBER_ABI_TY_DEC: return 16;
        default: return 8;
    }
}

// Grid-stride over rows; a row counts when the predicate (if any) is a valid true and the value
// is valid. Writes one partial (acc_ty's width) and one count per block; reduce.cu's
// reduce_final_* folds them. `ident` is the identity of the reduction for acc_ty.
template <bool NULLS>
__device__ void reduce_rows(const EmberExprProgram& p, u64 n, u32 op, u32 acc_ty, u64 ident_lo, u64 ident_hi,
                                    void* partials, u64* counts, u32* err, u64* err_keys) {
    EMBER_SHARED(u64, sh_lo, EMBER_BLOCK);
    EMBER_SHARED(u64, sh_hi, EMBER_BLOCK);
    EMBER_SHARED(u64, sh_n, EMBER_BLOCK);
    u64 alo = ident_lo, ahi = ident_hi, cnt = 0;
    u64 key_pred = ~0ull, key_value = ~0ull;
    bool ovf = false;
    ExprRegs r;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    for (u64 i = ember_gid(); i < n; i += stride) {
        u64 row_value_key = ~0ull;
        expr_run<NULLS>(p, i, r, key_pred, row_value_key);
        const bool keep = p.pred_reg == EMBER_ABI_EXPR_NO_REG ||
                          (r.lo[p.pred_reg] != 0 && (!NULLS || ((r.valid >> p.pred_reg) & 1u)));
        if (!keep) continue;  // the value's errors count on kept rows only (as filter, then reduce)
        if (row_value_key < key_value) key_value = row_value_key;
        if (NULLS && !((r.valid >> p.out_reg) & 1u)) continue;
        acc_combine(op, acc_ty, alo, ahi, r.lo[p.out_reg], r.hi[p.out_reg], ovf);
        ++cnt;
    }
    const unsigned t = threadIdx.x;
    sh_lo[t] = alo;
    sh_hi[t] = ahi;
    sh_n[t] = cnt;
    __syncthreads();
    for (unsigned s = EMBER_BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) {
            u64 xlo = sh_lo[t], xhi = sh_hi[t];
            acc_combine(op, acc_ty, xlo, xhi, sh_lo[t + s], sh_hi[t + s], ovf);
            sh_lo[t] = xlo;
            sh_hi[t] = xhi;
            sh_n[t] += sh_n[t + s];
        }
        __syncthreads();
    }
    if (t == 0) {
        const u32 w = acc_width(acc_ty);
        u8* dst = (u8*)partials + (u64)blockIdx.x * w;
        if (w == 16) *(i128*)dst = as_i128(sh_lo[0], sh_hi[0]);
        else if (w == 8) *(u64*)dst = sh_lo[0];
        else if (w == 4) *(u32*)dst = (u32)sh_lo[0];
        else if (w == 2) *(u16*)dst = (u16)sh_lo[0];
        else *dst = (u8)sh_lo[0];
        counts[blockIdx.x] = sh_n[0];
    }
    if (ovf) atomicOr(err, (u32)EMBER_ABI_ERR_OVERFLOW);
    if (key_pred != ~0ull) atomicMin((unsigned long long*)&err_keys[0], (unsigned long long)key_pred);
    if (key_value != ~0ull) atomicMin((unsigned long long*)&err_keys[1], (unsigned long long)key_value);
}

extern "C" __global__ void __launch_bounds__(EMBER_BLOCK)
    expr_reduce_partial(const __grid_constant__ EmberExprProgram p, u64 n, u32 op, u32 acc_ty, u64 ident_lo,
                        u64 ident_hi, void* partials, u64* counts, u32* err, u64* err_keys) {
    reduce_rows<false>(p, n, op, acc_ty, ident_lo, ident_hi, partials, counts, err, err_keys);
}
EMBER_SIM_EXPORT(expr_reduce_partial)
extern "C" __global__ void __launch_bounds__(EMBER_BLOCK)
    expr_reduce_partial_nulls(const __grid_constant__ EmberExprProgram p, u64 n, u32 op, u32 acc_ty, u64 ident_lo,
                              u64 ident_hi, void* partials, u64* counts, u32* err, u64* err_keys) {
    reduce_rows<true>(p, n, op, acc_ty, ident_lo, ident_hi, partials, counts, err, err_keys);
}
EMBER_SIM_EXPORT(expr_reduce_partial_nulls)
