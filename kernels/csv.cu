// CSV decoding on the device (host side: crates/ember-io/src/csv/gpu.rs).
//
// 1. Record boundaries, quote-aware and in parallel: the bytes are cut into chunks of
//    CSV_CHUNK; each chunk counts its quote characters (csv_quote_counts), a scan of the counts
//    gives every chunk's quote parity at its start, and with it each chunk finds its newlines
//    outside quotes (csv_count_records, then csv_write_records after a scan of those counts).
// 2. Fields: one thread per record walks it and records where each wanted field starts and how
//    long it is (csv_fields); a record with the wrong number of fields, or a blank one, raises
//    the error word and the host re-reads on the CPU path, which names the line.
// 3. Values: one thread per row parses its field into the column's type. Only forms the fast
//    paths below parse exactly as arrow-csv does are accepted here; any other form (exponents,
//    long mantissas, a '+' sign, more fraction digits than the scale, other date layouts) sets
//    CSV_HARD and the host parses that column on the CPU instead, so the bits always match.
#include "common.cuh"

#define CSV_CHUNK 256
#define CSV_ERR 1u   // malformed input: the host re-reads on the CPU path for the typed error
#define CSV_HARD 2u  // a form the fast path does not take: the host parses this column on the CPU

extern "C" __global__ void csv_quote_counts(const u8* data, u64 n, u32 quote, u32* counts, u64 chunks) {
    const u64 c = ember_gid();
    if (c >= chunks) return;
    const u64 b = c * CSV_CHUNK, e = b + CSV_CHUNK < n ? b + CSV_CHUNK : n;
    u32 k = 0;
    for (u64 i = b; i < e; ++i) k += data[i] == quote;
    counts[c] = k;
}
EMBER_SIM_EXPORT(csv_quote_counts)

// Newlines outside quotes in chunk c, given the quote count before it (`prefix`).
extern "C" __global__ void csv_count_records(const u8* data, u64 n, u32 quote, const u32* prefix, u32* counts,
                                             u64 chunks) {
    const u64 c = ember_gid();
    if (c >= chunks) return;
    const u64 b = c * CSV_CHUNK, e = b + CSV_CHUNK < n ? b + CSV_CHUNK : n;
    bool in_q = prefix[c] & 1;
    u32 k = 0;
    for (u64 i = b; i < e; ++i) {
        const u8 x = data[i];
        if (x == quote) in_q = !in_q;
        else if (x == '\n' && !in_q) ++k;
    }
    counts[c] = k;
}
EMBER_SIM_EXPORT(csv_count_records)

extern "C" __global__ void csv_write_records(const u8* data, u64 n, u32 quote, const u32* prefix, const u32* offsets,
                                             u64* ends, u64 chunks) {
    const u64 c = ember_gid();
    if (c >= chunks) return;
    const u64 b = c * CSV_CHUNK, e = b + CSV_CHUNK < n ? b + CSV_CHUNK : n;
    bool in_q = prefix[c] & 1;
    u64 at = offsets[c];
    for (u64 i = b; i < e; ++i) {
        const u8 x = data[i];
        if (x == quote) in_q = !in_q;
        else if (x == '\n' && !in_q) ends[at++] = i;
    }
}
EMBER_SIM_EXPORT(csv_write_records)

// Record r spans [r == 0 ? 0 : ends[r-1] + 1, ends[r]) (a trailing '\r' dropped). For each file
// column c with slot[c] >= 0, writes its field's start and length at [slot * rows + r].
extern "C" __global__ void csv_fields(const u8* data, const u64* ends, u64 rows, u32 quote, u32 delim, u32 ncols,
                                      const i32* slot, u64* fstart, u32* flen, u32* err) {
    const u64 r = ember_gid();
    if (r >= rows) return;
    u64 b = r == 0 ? 0 : ends[r - 1] + 1, e = ends[r];
    if (e > b && data[e - 1] == '\r') --e;
    if (e == b) {  // a blank line: csv-core skips it; the CPU path handles such files
        atomicOr(err, CSV_ERR);
        return;
    }
    u32 col = 0;
    u64 fs = b;
    bool in_q = false;
    for (u64 i = b; i <= e; ++i) {
        const bool end = i == e;
        const u8 x = end ? 0 : data[i];
        if (!end && x == quote) {
            // RFC 4180 only: a quote opens a field, closes it (before a delimiter or the end), or
            // is doubled inside it. Anything else (csv-core reads it some other way) goes to
            // the CPU path, so the device never disagrees with it.
            if (!in_q) {
                if (i != fs) {
                    atomicOr(err, CSV_ERR);
                    return;
                }
                in_q = true;
            } else if (i + 1 < e && data[i + 1] == quote) {
                ++i;
            } else if (i + 1 == e || data[i + 1] == delim) {
                in_q = false;
            } else {
                atomicOr(err, CSV_ERR);
                return;
            }
        } else if ((end && in_q) || (!end && !in_q && x == '\r')) {
            // An unterminated quote, or a bare carriage return (csv-core ends a record there).
            atomicOr(err, CSV_ERR);
            return;
        } else if (end || (x == delim && !in_q)) {
            if (col < ncols && slot[col] >= 0) {
                fstart[(u64)slot[col] * rows + r] = fs;
                flen[(u64)slot[col] * rows + r] = (u32)(i - fs);
            }
            ++col;
            fs = i + 1;
        }
    }
    if (col != ncols) atomicOr(err, CSV_ERR);
}
EMBER_SIM_EXPORT(csv_fields)

// The field of row i without its quotes when it is quoted as a whole ("..."): [s, s + len).
// Doubled quotes inside are left to the string kernels; numbers holding them are CSV_HARD.
__device__ __forceinline__ void csv_unquote(const u8* data, u32 quote, u64& s, u32& len) {
    if (len >= 2 && data[s] == quote && data[s + len - 1] == quote) {
        s += 1;
        len -= 2;
    }
}

// Integers: [-]digits; `bits` 8/16/32/64, `is_signed`; overflow of the type is CSV_ERR (arrow-csv
// rejects it); empty is null.
extern "C" __global__ void csv_parse_int(const u8* data, const u64* fstart, const u32* flen, u32 quote, u32 bits,
                                         u32 is_signed, void* out, u32* valid, u32* err, u64 rows) {
    const u64 i = ember_gid();
    bool ok = false;
    if (i < rows) {
        u64 s = fstart[i];
        u32 len = flen[i];
        csv_unquote(data, quote, s, len);
        if (len > 0) {
            const bool neg = data[s] == '-';
            u32 k = neg ? 1 : 0;
            u64 mag = 0;
            bool bad = k == len || (neg && !is_signed), over = false;
            for (; k < len && !bad; ++k) {
                const u8 d = data[s + k];
                if (d < '0' || d > '9') bad = true;
                else {
                    if (mag > (~0ull - (d - '0')) / 10) over = true;
                    mag = mag * 10 + (d - '0');
                }
            }
            const u64 limit = is_signed ? (bits == 64 ? (1ull << 63) - (neg ? 0 : 1) : (1ull << (bits - 1)) - (neg ? 0 : 1))
                                        : (bits == 64 ? ~0ull : (1ull << bits) - 1);
            if (bad) atomicOr(err, CSV_HARD);
            else if (over || mag > limit) atomicOr(err, CSV_ERR);
            else {
                const u64 v = neg ? (u64)(-(i64)mag) : mag;
                if (bits == 8) ((u8*)out)[i] = (u8)v;
                else if (bits == 16) ((u16*)out)[i] = (u16)v;
                else if (bits == 32) ((u32*)out)[i] = (u32)v;
                else ((u64*)out)[i] = v;
                ok = true;
            }
        }
        if (!ok) {
            if (bits == 8) ((u8*)out)[i] = 0;
            else if (bits == 16) ((u16*)out)[i] = 0;
            else if (bits == 32) ((u32*)out)[i] = 0;
            else ((u64*)out)[i] = 0;
        }
    }
    const u32 word = __ballot_sync(0xffffffffu, ok);
    if ((threadIdx.x & 31) == 0 && i < rows) valid[i >> 5] = word;
}
EMBER_SIM_EXPORT(csv_parse_int)

// Exact powers of ten a double holds (Clinger's fast path needs up to 1e22).
__device__ __forceinline__ f64 csv_pow10(int e) {
    f64 p = 1.0;
    for (int k = 0; k < e; ++k) p *= 10.0;  // exact for e <= 22
    return p;
}

// Floats: [-]digits[.digits]. Clinger's fast path: a mantissa of at most 2^53 (f64) / 2^24 (f32)
// times or divided by an exact power of ten is correctly rounded by one IEEE operation, so the
// bits equal the CPU parser's. Other forms are CSV_HARD.
extern "C" __global__ void csv_parse_float(const u8* data, const u64* fstart, const u32* flen, u32 quote,
                                           u32 is_f32, void* out, u32* valid, u32* err, u64 rows) {
    const u64 i = ember_gid();
    bool ok = false;
    f64 value = 0.0;
    if (i < rows) {
        u64 s = fstart[i];
        u32 len = flen[i];
        csv_unquote(data, quote, s, len);
        if (len > 0) {
            const bool neg = data[s] == '-';
            u32 k = neg ? 1 : 0;
            u64 mant = 0;
            int digits = 0, frac = 0, whole = 0;
            bool dot = false, bad = k == len;
            for (; k < len && !bad; ++k) {
                const u8 d = data[s + k];
                if (d == '.' && !dot) dot = true;
                else if (d >= '0' && d <= '9') {
                    if (mant != 0 || d != '0') ++digits;
                    if (digits > 19) bad = true;
                    mant = mant * 10 + (d - '0');
                    if (dot) ++frac;
                    else ++whole;
                } else bad = true;
            }
            const u64 max_mant = is_f32 ? (1ull << 24) : (1ull << 53);
            const int max_exp = is_f32 ? 10 : 22;
            // Only d+ or d+.d+ : other spellings ("5.", ".5") are left to the CPU parser.
            if (bad || whole == 0 || (dot && frac == 0) || mant > max_mant || frac > max_exp) {
                atomicOr(err, CSV_HARD);
            } else {
                if (is_f32) {
                    f32 m = (f32)mant, p = 1.0f;
                    for (int q = 0; q < frac; ++q) p *= 10.0f;
                    f32 v = frac ? m / p : m;
                    value = neg ? -(f64)v : (f64)v;
                } else {
                    f64 v = frac ? (f64)mant / csv_pow10(frac) : (f64)mant;
                    value = neg ? -v : v;
                }
                ok = true;
            }
        }
        if (is_f32) ((f32*)out)[i] = (f32)value;
        else ((f64*)out)[i] = value;
    }
    const u32 word = __ballot_sync(0xffffffffu, ok);
    if ((threadIdx.x & 31) == 0 && i < rows) valid[i >> 5] = word;
}
EMBER_SIM_EXPORT(csv_parse_float)

// Decimals: [-]digits[.digits] with at most `scale` fraction digits and `precision` digits.
extern "C" __global__ void csv_parse_decimal(const u8* data, const u64* fstart, const u32* flen, u32 quote,
                                             u32 precision, u32 scale, i128* out, u32* valid, u32* err, u64 rows) {
    const u64 i = ember_gid();
    bool ok = false;
    i128 value = 0;
    if (i < rows) {
        u64 s = fstart[i];
        u32 len = flen[i];
        csv_unquote(data, quote, s, len);
        if (len > 0) {
            const bool neg = data[s] == '-';
            u32 k = neg ? 1 : 0;
            i128 mant = 0;
            u32 digits = 0, frac = 0, whole = 0;
            bool dot = false, bad = k == len;
            for (; k < len && !bad; ++k) {
                const u8 d = data[s + k];
                if (d == '.' && !dot) dot = true;
                else if (d >= '0' && d <= '9') {
                    if (mant != 0 || d != '0') ++digits;
                    if (digits > 38) bad = true;
                    else mant = mant * 10 + (d - '0');
                    if (dot) ++frac;
                    else ++whole;
                } else bad = true;
            }
            if (bad || whole == 0 || (dot && frac == 0) || frac > scale || digits + (scale - frac) > precision) {
                atomicOr(err, CSV_HARD);
            } else {
                for (u32 q = frac; q < scale; ++q) mant *= 10;
                value = neg ? -mant : mant;
                ok = true;
            }
        }
        out[i] = value;
    }
    const u32 word = __ballot_sync(0xffffffffu, ok);
    if ((threadIdx.x & 31) == 0 && i < rows) valid[i >> 5] = word;
}
EMBER_SIM_EXPORT(csv_parse_decimal)

// Dates: exactly YYYY-MM-DD (a valid day), as days since 1970-01-01 (days-from-civil).
extern "C" __global__ void csv_parse_date(const u8* data, const u64* fstart, const u32* flen, u32 quote, i32* out,
                                          u32* valid, u32* err, u64 rows) {
    const u64 i = ember_gid();
    bool ok = false;
    i32 value = 0;
    if (i < rows) {
        u64 s = fstart[i];
        u32 len = flen[i];
        csv_unquote(data, quote, s, len);
        if (len > 0) {
            const u8* p = data + s;
            bool form = len == 10 && p[4] == '-' && p[7] == '-';
            for (int k = 0; k < 10 && form; ++k)
                if (k != 4 && k != 7 && (p[k] < '0' || p[k] > '9')) form = false;
            if (form) {
                const i64 y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
                const u32 m = (p[5] - '0') * 10 + (p[6] - '0'), d = (p[8] - '0') * 10 + (p[9] - '0');
                const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
                const u32 mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
                form = m >= 1 && m <= 12 && d >= 1 && d <= (m == 2 && leap ? 29u : mdays[m - 1]);
                if (form) {
                    const i64 yy = m <= 2 ? y - 1 : y;
                    const i64 era = (yy >= 0 ? yy : yy - 399) / 400;
                    const i64 yoe = yy - era * 400;
                    const i64 doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
                    const i64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
                    value = (i32)(era * 146097 + doe - 719468);
                    ok = true;
                }
            }
            if (!form) atomicOr(err, CSV_HARD);
        }
        out[i] = value;
    }
    const u32 word = __ballot_sync(0xffffffffu, ok);
    if ((threadIdx.x & 31) == 0 && i < rows) valid[i >> 5] = word;
}
EMBER_SIM_EXPORT(csv_parse_date)

// Booleans: "true" / "false", any case (arrow-csv's rule); anything else is CSV_ERR.
extern "C" __global__ void csv_parse_bool(const u8* data, const u64* fstart, const u32* flen, u32 quote, u32* bits,
                                          u32* valid, u32* err, u64 rows) {
    const u64 i = ember_gid();
    bool ok = false, v = false;
    if (i < rows) {
        u64 s = fstart[i];
        u32 len = flen[i];
        csv_unquote(data, quote, s, len);
        if (len > 0) {
            const char* t = "true";
            const char* f = "false";
            bool is_t = len == 4, is_f = len == 5;
            for (u32 k = 0; k < len; ++k) {
                const u8 c = data[s + k] | 0x20;  // ASCII lower case
                if (is_t && c != (u8)t[k]) is_t = false;
                if (is_f && c != (u8)f[k]) is_f = false;
            }
            if (is_t || is_f) {
                ok = true;
                v = is_t;
            } else {
                atomicOr(err, CSV_ERR);
            }
        }
    }
    const u32 vw = __ballot_sync(0xffffffffu, v), ow = __ballot_sync(0xffffffffu, ok);
    if ((threadIdx.x & 31) == 0 && i < rows) {
        bits[i >> 5] = vw;
        valid[i >> 5] = ow;
    }
}
EMBER_SIM_EXPORT(csv_parse_bool)

// Strings: the unquoted length (a doubled quote inside a quoted field counts once); empty is null.
extern "C" __global__ void csv_str_lengths(const u8* data, const u64* fstart, const u32* flen, u32 quote,
                                           u64* lengths, u32* valid, u32* err, u64 rows) {
    const u64 i = ember_gid();
    bool ok = false;
    if (i < rows) {
        u64 s = fstart[i];
        u32 len = flen[i];
        u64 out = 0;
        if (!ember_utf8_valid(data + s, len)) atomicOr(err, CSV_ERR);
        if (len >= 2 && data[s] == quote && data[s + len - 1] == quote) {
            for (u32 k = 1; k + 1 < len; ++k) {
                ++out;
                if (data[s + k] == quote) ++k;  // "" is one quote
            }
        } else {
            out = len;
        }
        ok = out > 0;
        lengths[i] = out;
    }
    const u32 word = __ballot_sync(0xffffffffu, ok);
    if ((threadIdx.x & 31) == 0 && i < rows) valid[i >> 5] = word;
}
EMBER_SIM_EXPORT(csv_str_lengths)

extern "C" __global__ void csv_str_copy(const u8* data, const u64* fstart, const u32* flen, u32 quote,
                                        const u64* offsets, u8* out, u64 rows) {
    const u64 i = ember_gid();
    if (i >= rows) return;
    const u64 s = fstart[i];
    const u32 len = flen[i];
    u8* dst = out + offsets[i];
    if (len >= 2 && data[s] == quote && data[s + len - 1] == quote) {
        u64 o = 0;
        for (u32 k = 1; k + 1 < len; ++k) {
            dst[o++] = data[s + k];
            if (data[s + k] == quote) ++k;
        }
    } else {
        for (u32 k = 0; k < len; ++k) dst[k] = data[s + k];
    }
}
EMBER_SIM_EXPORT(csv_str_copy)
