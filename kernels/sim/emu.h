// The CUDA emulator's kernel-side header: makes a .cu file compile as C++20 for the host, with
// CUDA semantics provided by the fiber scheduler in scheduler.cpp. Only included when
// __CUDACC__ is not defined (see host.cuh).
//
// Model: one OS thread runs one block at a time; every CUDA thread of the block is a fiber;
// fibers switch only at barriers (__syncthreads, warp intrinsics). Shared memory is per block
// (thread_local storage of the OS thread running the block). Atomics are std::atomic_ref, so
// blocks running concurrently on several OS threads see real atomics.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <source_location>
#include <type_traits>
#include <utility>

extern "C" {
// Launch description passed by the Rust runtime (crates/ember-gpu/src/sim.rs, `SimLaunch`).
struct EmberSimLaunch {
    uint32_t grid[3];
    uint32_t block[3];
    uint32_t dyn_smem;
    uint32_t smem_limit;
    uint32_t block_begin;
    uint32_t block_end;
    // The launch's argument list as the host built it: count and byte size of each, checked
    // against the kernel's signature before it runs (cuLaunchKernel checks neither).
    uint32_t nargs;
    // The order fibers and blocks run in (issue: races the emulator hides): 0 thread order,
    // 1 reverse (threads of each pass and blocks of each range reversed), 2 seeded random.
    uint32_t order;
    const uint32_t* arg_sizes;
    uint64_t seed;
};
// codes: 0 ok, 1 invalid launch config, 2 shared memory exceeded, 3 divergent __syncthreads,
// 4 deadlock, 5 unsupported warp mask / lanes missing from a warp operation, 6 other,
// 7 the arguments do not match the kernel's signature (count, size, pointer alignment).
struct EmberSimError {
    int32_t code;
    char message[256];
};
}

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace ember_sim {

struct Block {
    uint3 idx;
    dim3 dim;
    dim3 grid;
};

struct Thread {
    uint3 tid;
    unsigned linear;
    const Block* block;
};

extern thread_local Thread* tls_cur;

// Scheduler entry points (scheduler.cpp).
void syncthreads(const char* file, int line);
int syncthreads_reduce(int pred, int kind, const char* file, int line);  // kind: 0 count, 1 and, 2 or
// Every lane of the warp deposits `v`; returns a pointer to the 32 deposited values (valid until
// this lane's next warp operation). `mask` is checked against the lanes that exist.
const uint64_t* warp_exchange(unsigned mask, uint64_t v, const char* what, const std::source_location& loc);
unsigned existing_lanes();
void note_static_shared(const void* addr, size_t bytes);
void* dynamic_shared();
// ThreadSanitizer builds only: the block's copy of the static shared array keyed by `key`.
void* block_shared(const void* key, size_t bytes, size_t align);
int32_t run_grid(const char* name, const EmberSimLaunch* l, void (*body)(void*), void* ctx, EmberSimError* err);

inline unsigned lane() { return tls_cur->linear & 31u; }

template <typename... A, size_t... I>
inline void call_with(void (*k)(A...), void** args, std::index_sequence<I...>) {
    k(*reinterpret_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
}

// Alignment a pointer parameter's target needs (0: not a pointer; void targets need none).
template <typename A>
constexpr size_t pointee_align() {
    using T = std::remove_cv_t<std::remove_reference_t<A>>;
    if constexpr (std::is_pointer_v<T>) {
        using P = std::remove_cv_t<std::remove_pointer_t<T>>;
        if constexpr (std::is_void_v<P>) return 1;
        else return alignof(P);
    } else {
        return 0;
    }
}

// Checks the host's argument list against the kernel's signature: count, size of each, and
// alignment of each pointer (a GPU faults on a misaligned 16-byte load that x86 tolerates).
template <typename... A>
inline int32_t check_args(const char* name, const EmberSimLaunch* l, void** args, EmberSimError* err) {
    constexpr size_t n = sizeof...(A);
    constexpr size_t sizes[] = {sizeof(std::remove_cv_t<std::remove_reference_t<A>>)..., 0};
    constexpr size_t aligns[] = {pointee_align<A>()..., 0};
    auto reject = [&](const char* fmt, size_t i, size_t x, size_t y) {
        err->code = 7;
        char what[160];
        snprintf(what, sizeof(what), fmt, i, x, y);
        snprintf(err->message, sizeof(err->message), "%s: %s", name, what);
        return 7;
    };
    if (l->nargs != n) return reject("argument %zu of %zu: the launch passed %zu arguments", n, n, l->nargs);
    for (size_t i = 0; i < n; ++i) {
        if (l->arg_sizes[i] != sizes[i])
            return reject("argument %zu: the kernel takes %zu bytes, the launch passed %zu", i, sizes[i], l->arg_sizes[i]);
        if (aligns[i] > 1) {
            uint64_t p;
            std::memcpy(&p, args[i], sizeof p);
            if (p % aligns[i]) return reject("argument %zu: pointer %#zx is not aligned to %zu bytes", i, p, aligns[i]);
        }
    }
    return 0;
}

// The body of EMBER_SIM_EXPORT: check and unpack CUDA-style kernelParams and run the grid.
template <typename... A>
inline int32_t launch(const char* name, void (*k)(A...), const EmberSimLaunch* l, void** args, EmberSimError* err) {
    if (int32_t bad = check_args<A...>(name, l, args, err)) return bad;
    struct Ctx {
        void (*k)(A...);
        void** args;
    } ctx{k, args};
    auto body = [](void* p) {
        Ctx* c = static_cast<Ctx*>(p);
        call_with(c->k, c->args, std::index_sequence_for<A...>{});
    };
    return run_grid(name, l, body, &ctx, err);
}

template <typename T>
inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp intrinsics take 4- and 8-byte values");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <typename T>
inline T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}

}  // namespace ember_sim

#define EMBER_SIM_EXPORT(K)                                                                            \
    extern "C" int32_t ember_sim_entry_##K(const EmberSimLaunch* l, void** args, EmberSimError* err) { \
        return ::ember_sim::launch(#K, K, l, args, err);                                               \
    }

#define __global__
#define __device__ inline
#define __host__
#define __forceinline__ __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __grid_constant__
#define __align__(n) alignas(n)
// Raw __shared__ is not modelled: declare shared memory with EMBER_SHARED / EMBER_DYNAMIC_SHARED.
#define __constant__ inline
#define __shared__ static_assert(false, "use EMBER_SHARED(T, name, N) instead of __shared__");

#define threadIdx (::ember_sim::tls_cur->tid)
#define blockIdx (::ember_sim::tls_cur->block->idx)
#define blockDim (::ember_sim::tls_cur->block->dim)
#define gridDim (::ember_sim::tls_cur->block->grid)
constexpr int warpSize = 32;

#if defined(EMBER_SIM_TSAN)
// Under ThreadSanitizer every block gets fresh shared memory (carved from an arena the scheduler
// allocates per block), so one block's shared-memory accesses never look like races with the
// previous block's on the same OS thread. `name` is a pointer here, an array otherwise.
#define EMBER_SHARED(T, name, N)                                   \
    static const char ember_shared_key_##name = 0;                 \
    T* name = static_cast<T*>(::ember_sim::block_shared(&ember_shared_key_##name, sizeof(T) * (N), alignof(T)))
#else
#define EMBER_SHARED(T, name, N)   \
    static thread_local T name[N]; \
    ::ember_sim::note_static_shared(name, sizeof(name))
#endif
#define EMBER_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::ember_sim::dynamic_shared())

#define __syncthreads() ::ember_sim::syncthreads(__FILE__, __LINE__)
#define __syncthreads_count(p) ::ember_sim::syncthreads_reduce((p), 0, __FILE__, __LINE__)
#define __syncthreads_and(p) ::ember_sim::syncthreads_reduce((p), 1, __FILE__, __LINE__)
#define __syncthreads_or(p) ::ember_sim::syncthreads_reduce((p), 2, __FILE__, __LINE__)

// The trailing std::source_location parameter (defaulted at the call site) lets a rejected warp
// operation name the line that issued it.
#define EMBER_SIM_LOC const std::source_location& loc = std::source_location::current()
inline void __syncwarp(unsigned mask = 0xffffffffu, EMBER_SIM_LOC) { ::ember_sim::warp_exchange(mask, 0, "__syncwarp", loc); }
inline unsigned __activemask() { return ::ember_sim::existing_lanes(); }

inline unsigned __ballot_sync(unsigned mask, int pred, EMBER_SIM_LOC) {
    const uint64_t* all = ::ember_sim::warp_exchange(mask, pred ? 1 : 0, "__ballot_sync", loc);
    const unsigned lanes = ::ember_sim::existing_lanes() & mask;
    unsigned r = 0;
    for (unsigned i = 0; i < 32; ++i)
        if (((lanes >> i) & 1u) && all[i]) r |= 1u << i;
    return r;
}
inline int __any_sync(unsigned mask, int pred, EMBER_SIM_LOC) { return __ballot_sync(mask, pred, loc) != 0; }
inline int __all_sync(unsigned mask, int pred, EMBER_SIM_LOC) {
    return __ballot_sync(mask, pred, loc) == (::ember_sim::existing_lanes() & mask);
}

template <typename T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32, EMBER_SIM_LOC) {
    const uint64_t* all = ::ember_sim::warp_exchange(mask, ::ember_sim::to_bits(v), "__shfl_sync", loc);
    const unsigned lane = ::ember_sim::lane(), base = lane & ~(unsigned)(width - 1);
    return ::ember_sim::from_bits<T>(all[base + ((unsigned)src & (unsigned)(width - 1))]);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32, EMBER_SIM_LOC) {
    const uint64_t* all = ::ember_sim::warp_exchange(mask, ::ember_sim::to_bits(v), "__shfl_up_sync", loc);
    const unsigned lane = ::ember_sim::lane(), base = lane & ~(unsigned)(width - 1);
    return lane - base >= delta ? ::ember_sim::from_bits<T>(all[lane - delta]) : v;
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32, EMBER_SIM_LOC) {
    const uint64_t* all = ::ember_sim::warp_exchange(mask, ::ember_sim::to_bits(v), "__shfl_down_sync", loc);
    const unsigned lane = ::ember_sim::lane(), base = lane & ~(unsigned)(width - 1);
    return lane + delta < base + (unsigned)width ? ::ember_sim::from_bits<T>(all[lane + delta]) : v;
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32, EMBER_SIM_LOC) {
    const uint64_t* all = ::ember_sim::warp_exchange(mask, ::ember_sim::to_bits(v), "__shfl_xor_sync", loc);
    const unsigned lane = ::ember_sim::lane(), base = lane & ~(unsigned)(width - 1);
    const unsigned src = lane ^ (unsigned)lane_mask;
    return src >= base && src < base + (unsigned)width ? ::ember_sim::from_bits<T>(all[src]) : v;
}

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}
inline unsigned long long __brevll(unsigned long long x) {
    return ((unsigned long long)__brev((unsigned)x) << 32) | __brev((unsigned)(x >> 32));
}
template <typename T>
inline T __ldg(const T* p) { return *p; }
inline int __float_as_int(float x) { return ::ember_sim::from_bits<int>(::ember_sim::to_bits(x)); }
inline float __int_as_float(int x) { return ::ember_sim::from_bits<float>(::ember_sim::to_bits(x)); }
inline long long __double_as_longlong(double x) { return ::ember_sim::from_bits<long long>(::ember_sim::to_bits(x)); }
inline double __longlong_as_double(long long x) { return ::ember_sim::from_bits<double>(::ember_sim::to_bits(x)); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// Atomics on global or shared memory (CUDA's overload set).
#define EMBER_ATOMIC_RMW(fn, op, T)                                                        \
    inline T fn(T* p, T v) { return std::atomic_ref<T>(*p).op(v, std::memory_order_relaxed); }
EMBER_ATOMIC_RMW(atomicAdd, fetch_add, int)
EMBER_ATOMIC_RMW(atomicAdd, fetch_add, unsigned)
EMBER_ATOMIC_RMW(atomicAdd, fetch_add, unsigned long long)
EMBER_ATOMIC_RMW(atomicAdd, fetch_add, float)
EMBER_ATOMIC_RMW(atomicAdd, fetch_add, double)
EMBER_ATOMIC_RMW(atomicSub, fetch_sub, int)
EMBER_ATOMIC_RMW(atomicSub, fetch_sub, unsigned)
EMBER_ATOMIC_RMW(atomicAnd, fetch_and, int)
EMBER_ATOMIC_RMW(atomicAnd, fetch_and, unsigned)
EMBER_ATOMIC_RMW(atomicAnd, fetch_and, unsigned long long)
EMBER_ATOMIC_RMW(atomicOr, fetch_or, int)
EMBER_ATOMIC_RMW(atomicOr, fetch_or, unsigned)
EMBER_ATOMIC_RMW(atomicOr, fetch_or, unsigned long long)
EMBER_ATOMIC_RMW(atomicXor, fetch_xor, int)
EMBER_ATOMIC_RMW(atomicXor, fetch_xor, unsigned)
EMBER_ATOMIC_RMW(atomicXor, fetch_xor, unsigned long long)
EMBER_ATOMIC_RMW(atomicExch, exchange, int)
EMBER_ATOMIC_RMW(atomicExch, exchange, unsigned)
EMBER_ATOMIC_RMW(atomicExch, exchange, unsigned long long)
EMBER_ATOMIC_RMW(atomicExch, exchange, float)
#undef EMBER_ATOMIC_RMW

#define EMBER_ATOMIC_MINMAX(T)                                                              \
    inline T atomicMin(T* p, T v) {                                                         \
        std::atomic_ref<T> a(*p);                                                           \
        T old = a.load(std::memory_order_relaxed);                                          \
        while (v < old && !a.compare_exchange_weak(old, v, std::memory_order_relaxed)) {}   \
        return old;                                                                         \
    }                                                                                       \
    inline T atomicMax(T* p, T v) {                                                         \
        std::atomic_ref<T> a(*p);                                                           \
        T old = a.load(std::memory_order_relaxed);                                          \
        while (v > old && !a.compare_exchange_weak(old, v, std::memory_order_relaxed)) {}   \
        return old;                                                                         \
    }
EMBER_ATOMIC_MINMAX(int)
EMBER_ATOMIC_MINMAX(unsigned)
EMBER_ATOMIC_MINMAX(long long)
EMBER_ATOMIC_MINMAX(unsigned long long)
#undef EMBER_ATOMIC_MINMAX

#define EMBER_ATOMIC_CAS(T)                                                                 \
    inline T atomicCAS(T* p, T expected, T desired) {                                       \
        std::atomic_ref<T>(*p).compare_exchange_strong(expected, desired, std::memory_order_relaxed); \
        return expected;                                                                    \
    }
EMBER_ATOMIC_CAS(int)
EMBER_ATOMIC_CAS(unsigned)
EMBER_ATOMIC_CAS(unsigned long long)
EMBER_ATOMIC_CAS(unsigned short)
#undef EMBER_ATOMIC_CAS

// CUDA's global min/max overloads (integer pairs of equal width, mixed signedness -> unsigned;
// float/double as fminf/fmin: a NaN operand yields the other operand).
#define EMBER_MINMAX(R, A, B)                                            \
    inline R min(A a, B b) { return (R)a < (R)b ? (R)a : (R)b; }      \
    inline R max(A a, B b) { return (R)a > (R)b ? (R)a : (R)b; }
EMBER_MINMAX(int, int, int)
EMBER_MINMAX(unsigned, unsigned, unsigned)
EMBER_MINMAX(unsigned, int, unsigned)
EMBER_MINMAX(unsigned, unsigned, int)
EMBER_MINMAX(long, long, long)
EMBER_MINMAX(unsigned long, unsigned long, unsigned long)
EMBER_MINMAX(unsigned long, long, unsigned long)
EMBER_MINMAX(unsigned long, unsigned long, long)
EMBER_MINMAX(long long, long long, long long)
EMBER_MINMAX(unsigned long long, unsigned long long, unsigned long long)
EMBER_MINMAX(unsigned long long, long long, unsigned long long)
EMBER_MINMAX(unsigned long long, unsigned long long, long long)
#undef EMBER_MINMAX
#define EMBER_FMINMAX(R, A, B)                                                                      \
    inline R min(A a, B b) { return a != a ? (R)b : b != b ? (R)a : (R)a < (R)b ? (R)a : (R)b; } \
    inline R max(A a, B b) { return a != a ? (R)b : b != b ? (R)a : (R)a > (R)b ? (R)a : (R)b; }
EMBER_FMINMAX(float, float, float)
EMBER_FMINMAX(double, double, double)
EMBER_FMINMAX(double, float, double)
EMBER_FMINMAX(double, double, float)
#undef EMBER_FMINMAX
