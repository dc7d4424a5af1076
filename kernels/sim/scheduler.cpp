// The CUDA emulator's scheduler: runs the blocks of a launch on the calling OS thread, one block
// at a time, each CUDA thread as a fiber that switches only at barriers. Detects what would hang
// or misbehave on a GPU (divergent __syncthreads, deadlock, partial warp masks) and reports it as
// an error code instead (see EmberSimError in emu.h).
#include "emu.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

// ThreadSanitizer mode (EMBER_SIM_TSAN=1 at build time; see build.rs and scripts/racecheck.sh).
// The kernels are compiled with -fsanitize=thread, this file is not (the scheduler's own
// bookkeeping is not the program under test). Every fiber of a block is announced to TSan as
// its own fiber, created fresh per block, and switched to without synchronisation, so TSan sees
// exactly the ordering CUDA promises: each __syncthreads() is a release + acquire on the block's
// barrier object, each warp operation on its warp's object, atomics are atomics, and nothing
// orders two blocks of one launch. Shared memory and fiber stacks are freshly allocated per block
// so a block never appears to race with its predecessor on the same OS thread; launches are
// ordered one after the other through a process-wide object (the host waits for each launch).
#if defined(EMBER_SIM_TSAN)
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}
#define EMBER_TSAN(...) __VA_ARGS__
#else
#define EMBER_TSAN(...)
#endif

namespace ember_sim {

thread_local Thread* tls_cur = nullptr;

namespace {

constexpr size_t kStackBytes = 64 * 1024;  // usable stack per fiber, above one PROT_NONE guard page
constexpr unsigned kMaxThreads = 1024;
constexpr size_t kArenaBytes = 256 * 1024;  // TSan builds: a block's shared memory, static + dynamic

enum class State : uint8_t { Ready, AtBarrier, AtWarp, Done };

struct Fiber {
#if defined(__x86_64__)
    void* sp = nullptr;
#else
    ucontext_t ctx;
#endif
    char* stack = nullptr;
    Thread t{};
    State state = State::Ready;
    unsigned warp_ops = 0;  // parity selects the warp exchange buffer
    void* tsan = nullptr;   // the fiber's TSan identity (TSan builds only)
};

struct WarpState {
    uint64_t slots[2][32];
    unsigned arrived = 0;
    unsigned mask = 0;  // mask of the operation in progress (0 = none)
    const char* what = nullptr;
    const char* file = "";  // call site of the first lane to arrive
    unsigned line = 0;
};

struct Worker {
#if defined(__x86_64__)
    void* sched_sp = nullptr;
#else
    ucontext_t sched;
#endif
    std::vector<Fiber> fibers;
    WarpState warps[kMaxThreads / 32];
    Block block{};
    unsigned nthreads = 0;
    unsigned done = 0;
    unsigned at_barrier = 0;
    const char* barrier_file = nullptr;
    int barrier_line = 0;
    int reduce_acc[3] = {0, 1, 0};
    int reduce_result[3] = {0, 0, 0};
    Fiber* running = nullptr;
    uint32_t order = 0;  // EmberSimLaunch::order
    uint64_t rng = 0;    // random order's state
    std::vector<unsigned> perm;
    void (*body)(void*) = nullptr;
    void* ctx = nullptr;
    const char* kernel = "";
    // shared memory accounting
    std::vector<const void*> static_seen;
    size_t static_bytes = 0;
    uint32_t dyn_smem = 0, smem_limit = 0;
    std::vector<unsigned char> dyn_arena;
    // first error of the block
    int32_t code = 0;
    char message[256] = {0};
    // TSan builds: the host thread's identity, this block's sync objects (barrier, then one per
    // warp) and shared-memory arena, the static arrays carved from it, and the launch-end object.
    void* tsan_host = nullptr;
    char* block_sync = nullptr;
    std::vector<Fiber> other_fibers;  // the second set (see run_grid)
    unsigned set = 0;
    char* arena = nullptr;
    char* other_arena = nullptr;
    char start_sync = 0;
    size_t arena_used = 0;
    std::vector<std::pair<const void*, void*>> shared_keys;
    std::vector<void*> oversized;
    char end_sync = 0;
};

thread_local Worker* tls_worker = nullptr;

// Launch accounting for scripts/racecheck.sh: with EMBER_SIM_LAUNCH_LOG=<file> set, the process
// appends one line at exit: "<launches> <distinct kernels> <kernel>,<kernel>,...".
struct LaunchLog {
    const char* path = getenv("EMBER_SIM_LAUNCH_LOG");
    std::atomic<uint64_t> launches{0};
    std::mutex mu;
    std::set<std::string> kernels;
    void note(const char* name) {
        if (!path) return;
        launches.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard<std::mutex> g(mu);
        kernels.emplace(name);
    }
    ~LaunchLog() {
        if (!path || launches.load() == 0) return;
        FILE* f = fopen(path, "a");
        if (!f) return;
        std::lock_guard<std::mutex> g(mu);
        fprintf(f, "%llu %zu ", (unsigned long long)launches.load(), kernels.size());
        for (const auto& k : kernels) fprintf(f, "%s,", k.c_str());
        fprintf(f, "\n");
        fclose(f);
    }
};
LaunchLog launch_log;

#if defined(EMBER_SIM_TSAN)
// TSan's runtime has a bounded number of threads: a thread's fibers end with it.
struct FiberReaper {
    ~FiberReaper() {
        if (!tls_worker) return;
        for (auto* set : {&tls_worker->fibers, &tls_worker->other_fibers})
            for (Fiber& f : *set)
                if (f.tsan) __tsan_destroy_fiber(f.tsan);
    }
};
thread_local FiberReaper fiber_reaper;
#endif

Worker& worker() {
    if (!tls_worker) {
        tls_worker = new Worker();  // one per OS thread, kept for the thread's life
        EMBER_TSAN((void)&fiber_reaper);  // constructs it, so it runs at thread exit
    }
    return *tls_worker;
}

void fail(Worker& w, int32_t code, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void fail(Worker& w, int32_t code, const char* fmt, ...) {
    if (w.code != 0) return;
    w.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w.message, sizeof(w.message), fmt, ap);
    va_end(ap);
}

void fiber_main(Fiber* f);

// A fiber stack with a PROT_NONE page below it, so an overflowing kernel faults instead of
// silently corrupting a neighbouring stack. Returns the usable base (kStackBytes above it), or
// nullptr when out of memory. Stacks live as long as their OS thread's Worker (i.e. the thread).
char* alloc_stack() {
    static const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void* m = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    mprotect(m, page, PROT_NONE);
    return static_cast<char*>(m) + page;
}

// Ensures `fibers` holds at least `n` fibers with stacks; false when out of memory.
bool grow_fibers(std::vector<Fiber>& fibers, size_t n) {
    if (fibers.size() >= n) return true;
    const size_t old = fibers.size();
    fibers.resize(n);
    for (size_t i = old; i < n; ++i) fibers[i].stack = alloc_stack();
    for (size_t i = 0; i < n; ++i)
        if (!fibers[i].stack) return false;
    return true;
}

#if defined(__x86_64__)
extern "C" void ember_sim_switch(void** save_sp, void* new_sp);
extern "C" void ember_sim_trampoline();
// Saves the callee-saved registers on the current stack, stores the stack pointer in *save_sp,
// switches to new_sp and restores the registers saved there. A new fiber's stack is prepared so
// that the restore "returns" into ember_sim_trampoline with the Fiber* in r12.
asm(R"(
    .text
    .globl ember_sim_switch
    .type ember_sim_switch,@function
ember_sim_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ember_sim_switch,.-ember_sim_switch

    .globl ember_sim_trampoline
    .type ember_sim_trampoline,@function
ember_sim_trampoline:
    movq %r12, %rdi
    andq $-16, %rsp
    call ember_sim_fiber_entry
    ud2
    .size ember_sim_trampoline,.-ember_sim_trampoline
)");

extern "C" void ember_sim_fiber_entry(Fiber* f) { fiber_main(f); }

void prepare(Fiber& f) {
    uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack) + kStackBytes) & ~uintptr_t(15);
    uint64_t* sp = reinterpret_cast<uint64_t*>(top);
    *--sp = 0;                                                  // alignment slot
    *--sp = reinterpret_cast<uint64_t>(&ember_sim_trampoline);  // "return" address
    *--sp = 0;                                                  // rbp
    *--sp = 0;                                                  // rbx
    *--sp = reinterpret_cast<uint64_t>(&f);                     // r12 = Fiber*
    *--sp = 0;                                                  // r13
    *--sp = 0;                                                  // r14
    *--sp = 0;                                                  // r15
    f.sp = sp;
}
void to_fiber(Worker& w, Fiber& f) {
    EMBER_TSAN(__tsan_switch_to_fiber(f.tsan, 1));
    ember_sim_switch(&w.sched_sp, f.sp);
}
// Each switch back publishes what the fiber did so far to the host, which acquires it when the
// launch ends (and only then: blocks stay unordered). A fiber abandoned by a failed block is
// covered up to its last switch.
void to_scheduler(Worker& w, Fiber& f) {
    EMBER_TSAN(__tsan_release(&w.end_sync); __tsan_switch_to_fiber(w.tsan_host, 1));
    ember_sim_switch(&f.sp, w.sched_sp);
}
#else
void fiber_entry_uc(unsigned hi, unsigned lo) {
    fiber_main(reinterpret_cast<Fiber*>((uintptr_t(hi) << 32) | uintptr_t(lo)));
}
void prepare(Fiber& f) {
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = nullptr;
    uintptr_t p = reinterpret_cast<uintptr_t>(&f);
    makecontext(&f.ctx, reinterpret_cast<void (*)()>(&fiber_entry_uc), 2, unsigned(p >> 32), unsigned(p));
}
void to_fiber(Worker& w, Fiber& f) {
    EMBER_TSAN(__tsan_switch_to_fiber(f.tsan, 1));
    swapcontext(&w.sched, &f.ctx);
}
void to_scheduler(Worker& w, Fiber& f) {
    EMBER_TSAN(__tsan_release(&w.end_sync); __tsan_switch_to_fiber(w.tsan_host, 1));
    swapcontext(&f.ctx, &w.sched);
}
#endif

void yield_to_scheduler() {
    Worker& w = worker();
    to_scheduler(w, *w.running);
}

unsigned lanes_of_warp(const Worker& w, unsigned warp) {
    const unsigned first = warp * 32;
    const unsigned n = w.nthreads - first < 32 ? w.nthreads - first : 32;
    return n == 32 ? 0xffffffffu : ((1u << n) - 1u);
}

void fiber_main(Fiber* f) {
    Worker& w = worker();
    EMBER_TSAN(__tsan_acquire(&w.start_sync));
    w.body(w.ctx);
    f->state = State::Done;
    ++w.done;
    if (w.at_barrier > 0)
        fail(w, 3, "%s: thread %u of block (%u,%u,%u) exited while others wait at __syncthreads() (%s:%d)", w.kernel,
             f->t.linear, w.block.idx.x, w.block.idx.y, w.block.idx.z, w.barrier_file, w.barrier_line);
    const WarpState& ws = w.warps[f->t.linear / 32];
    if (ws.arrived > 0)
        fail(w, 5, "%s: lane %u of warp %u in block (%u,%u,%u) exited while its warp waits in %s (%s:%u)", w.kernel,
             f->t.linear & 31, f->t.linear / 32, w.block.idx.x, w.block.idx.y, w.block.idx.z, ws.what, ws.file, ws.line);
    to_scheduler(w, *f);
    __builtin_trap();  // a finished fiber is never resumed
}

// The order of one pass over the block's fibers: thread order, reversed, or a fresh random
// permutation (Fisher-Yates on xorshift64) per pass. Between barriers a GPU runs a block's threads
// in no fixed order; a kernel whose answer changes with this order has a race.
void pass_order(Worker& w) {
    w.perm.resize(w.nthreads);
    for (unsigned i = 0; i < w.nthreads; ++i) w.perm[i] = w.order == 1 ? w.nthreads - 1 - i : i;
    if (w.order != 2) return;
    for (unsigned i = w.nthreads; i > 1; --i) {
        w.rng ^= w.rng << 13;
        w.rng ^= w.rng >> 7;
        w.rng ^= w.rng << 17;
        const unsigned j = (unsigned)(w.rng % i);
        const unsigned t = w.perm[i - 1];
        w.perm[i - 1] = w.perm[j];
        w.perm[j] = t;
    }
}

// Runs every Ready fiber until it blocks or finishes, until all are done; returns false on error.
bool run_block(Worker& w) {
    for (;;) {
        bool ran = false;
        pass_order(w);
        for (unsigned k = 0; k < w.nthreads && w.code == 0; ++k) {
            Fiber& f = w.fibers[w.perm[k]];
            if (f.state != State::Ready) continue;
            ran = true;
            w.running = &f;
            tls_cur = &f.t;
            to_fiber(w, f);
        }
        if (w.code != 0) return false;
        if (w.done == w.nthreads) return true;
        if (!ran) {
            for (unsigned wi = 0; wi * 32 < w.nthreads; ++wi) {
                const WarpState& ws = w.warps[wi];
                if (ws.arrived == 0) continue;
                unsigned exited = 0;
                for (unsigned i = wi * 32; i < w.nthreads && i < wi * 32 + 32; ++i)
                    if (w.fibers[i].state == State::Done) exited |= 1u << (i & 31);
                if (exited)
                    fail(w, 5, "%s: block (%u,%u,%u): warp %u waits in %s (%s:%u) but lanes %#x of its mask have exited",
                         w.kernel, w.block.idx.x, w.block.idx.y, w.block.idx.z, wi, ws.what, ws.file, ws.line, exited);
                else
                    fail(w, 4,
                         "%s: deadlock in block (%u,%u,%u): warp %u waits in %s (%s:%u) while other lanes wait elsewhere",
                         w.kernel, w.block.idx.x, w.block.idx.y, w.block.idx.z, wi, ws.what, ws.file, ws.line);
                return false;
            }
            fail(w, 4, "%s: deadlock in block (%u,%u,%u): no thread can make progress", w.kernel, w.block.idx.x,
                 w.block.idx.y, w.block.idx.z);
            return false;
        }
    }
}

}  // namespace

void syncthreads(const char* file, int line) {
    Worker& w = worker();
    Fiber& f = *w.running;
    if (w.done > 0) {
        fail(w, 3, "%s: __syncthreads() at %s:%d in block (%u,%u,%u) after %u thread(s) of the block exited", w.kernel,
             file, line, w.block.idx.x, w.block.idx.y, w.block.idx.z, w.done);
        yield_to_scheduler();
        return;
    }
    if (w.at_barrier == 0) {
        w.barrier_file = file;
        w.barrier_line = line;
    } else if (w.barrier_line != line || std::strcmp(w.barrier_file, file) != 0) {
        fail(w, 3, "%s: divergent __syncthreads() in block (%u,%u,%u): %s:%d and %s:%d", w.kernel, w.block.idx.x,
             w.block.idx.y, w.block.idx.z, w.barrier_file, w.barrier_line, file, line);
        yield_to_scheduler();
        return;
    }
    EMBER_TSAN(__tsan_release(w.block_sync));
    if (++w.at_barrier == w.nthreads) {
        // Last to arrive: release everyone (they run again in the scheduler's next pass).
        w.at_barrier = 0;
        for (unsigned i = 0; i < w.nthreads; ++i)
            if (w.fibers[i].state == State::AtBarrier) w.fibers[i].state = State::Ready;
        EMBER_TSAN(__tsan_acquire(w.block_sync));
        return;  // the others run again in the scheduler's next pass
    }
    f.state = State::AtBarrier;
    yield_to_scheduler();
    EMBER_TSAN(__tsan_acquire(w.block_sync));
}

int syncthreads_reduce(int pred, int kind, const char* file, int line) {
    Worker& w = worker();
    if (w.at_barrier == 0) {
        w.reduce_acc[0] = 0;
        w.reduce_acc[1] = 1;
        w.reduce_acc[2] = 0;
    }
    w.reduce_acc[0] += pred != 0;
    w.reduce_acc[1] &= pred != 0;
    w.reduce_acc[2] |= pred != 0;
    if (w.at_barrier + 1 == w.nthreads) {
        for (int k = 0; k < 3; ++k) w.reduce_result[k] = w.reduce_acc[k];
    }
    syncthreads(file, line);
    return w.reduce_result[kind];
}

unsigned existing_lanes() {
    Worker& w = worker();
    return lanes_of_warp(w, w.running->t.linear / 32);
}

const uint64_t* warp_exchange(unsigned mask, uint64_t v, const char* what, const std::source_location& loc) {
    Worker& w = worker();
    Fiber& f = *w.running;
    const unsigned warp = f.t.linear / 32, lane = f.t.linear & 31;
    const unsigned lanes = lanes_of_warp(w, warp);
    WarpState& ws = w.warps[warp];
    const unsigned buf = f.warp_ops++ & 1u;
    if (mask != 0xffffffffu && mask != lanes) {
        fail(w, 5,
             "%s: %s with mask %#x at %s:%u in warp %u of block (%u,%u,%u) (lanes present %#x): only full-warp masks "
             "are modelled",
             w.kernel, what, mask, loc.file_name(), (unsigned)loc.line(), warp, w.block.idx.x, w.block.idx.y,
             w.block.idx.z, lanes);
        yield_to_scheduler();
        return ws.slots[buf];
    }
    if (ws.arrived == 0) {
        ws.mask = mask;
        ws.what = what;
        ws.file = loc.file_name();
        ws.line = loc.line();
    } else if (ws.what != what && std::strcmp(ws.what, what) != 0) {
        fail(w, 5, "%s: lanes of warp %u of block (%u,%u,%u) are in different warp operations (%s at %s:%u, %s at %s:%u)",
             w.kernel, warp, w.block.idx.x, w.block.idx.y, w.block.idx.z, ws.what, ws.file, ws.line, what,
             loc.file_name(), (unsigned)loc.line());
        yield_to_scheduler();
        return ws.slots[buf];
    }
    ws.slots[buf][lane] = v;
    EMBER_TSAN(__tsan_release(w.block_sync + 1 + warp));
    const unsigned expected = (unsigned)__builtin_popcount(lanes);
    if (++ws.arrived == expected) {
        ws.arrived = 0;
        ws.mask = 0;
        for (unsigned i = warp * 32; i < warp * 32 + expected; ++i)
            if (w.fibers[i].state == State::AtWarp) w.fibers[i].state = State::Ready;
        EMBER_TSAN(__tsan_acquire(w.block_sync + 1 + warp));
        // The last lane continues without switching: the others run in the next pass, reading
        // this buffer before any of them can start the next operation (which uses the other one).
        return ws.slots[buf];
    }
    f.state = State::AtWarp;
    yield_to_scheduler();
    EMBER_TSAN(__tsan_acquire(w.block_sync + 1 + warp));
    return ws.slots[buf];
}

void note_static_shared(const void* addr, size_t bytes) {
    Worker& w = worker();
    for (const void* p : w.static_seen)
        if (p == addr) return;
    w.static_seen.push_back(addr);
    w.static_bytes += bytes;
    if (w.static_bytes + w.dyn_smem > w.smem_limit)
        fail(w, 2, "%s: %zu bytes of static + %u bytes of dynamic shared memory exceed the %u-byte limit per block",
             w.kernel, w.static_bytes, w.dyn_smem, w.smem_limit);
}

void* dynamic_shared() {
    Worker& w = worker();
#if defined(EMBER_SIM_TSAN)
    return w.arena;
#else
    return w.dyn_arena.data();
#endif
}

void* block_shared(const void* key, size_t bytes, size_t align) {
    Worker& w = worker();
    for (const auto& [k, p] : w.shared_keys)
        if (k == key) return p;
    w.static_bytes += bytes;
    void* p;
    if (w.static_bytes + w.dyn_smem > w.smem_limit) {
        fail(w, 2, "%s: %zu bytes of static + %u bytes of dynamic shared memory exceed the %u-byte limit per block",
             w.kernel, w.static_bytes, w.dyn_smem, w.smem_limit);
        p = calloc(1, bytes + align);  // keeps the failing block's accesses in bounds until it stops
        w.oversized.push_back(p);
    } else {
        w.arena_used = (w.arena_used + align - 1) / align * align;
        p = w.arena + w.arena_used;
        w.arena_used += bytes;
    }
    w.shared_keys.emplace_back(key, p);
    return p;
}

int32_t run_grid(const char* name, const EmberSimLaunch* l, void (*body)(void*), void* ctx, EmberSimError* err) {
    Worker& w = worker();
    w.code = 0;
    w.message[0] = 0;
    w.kernel = name;
    const uint64_t bx = l->block[0], by = l->block[1], bz = l->block[2];
    const uint64_t threads = bx * by * bz;
    auto reject = [&](int32_t code, const char* msg) {
        err->code = code;
        snprintf(err->message, sizeof(err->message), "%s: %s (grid %u,%u,%u block %u,%u,%u, %u bytes dynamic shared)",
                 name, msg, l->grid[0], l->grid[1], l->grid[2], l->block[0], l->block[1], l->block[2], l->dyn_smem);
        return code;
    };
    if (bx == 0 || by == 0 || bz == 0 || l->grid[0] == 0 || l->grid[1] == 0 || l->grid[2] == 0)
        return reject(1, "zero grid or block dimension");
    if (bx > 1024 || by > 1024 || bz > 64 || threads > kMaxThreads)
        return reject(1, "more than 1024 threads per block (or a block dimension over its limit)");
    if (l->grid[0] > 0x7fffffffu || l->grid[1] > 65535 || l->grid[2] > 65535) return reject(1, "grid too large");
    const uint64_t nblocks = uint64_t(l->grid[0]) * l->grid[1] * l->grid[2];
    if (l->block_begin > l->block_end || l->block_end > nblocks)
        return reject(1, "block range [block_begin, block_end) outside the grid");
    if (l->dyn_smem > l->smem_limit) return reject(2, "dynamic shared memory over the per-block limit");

    if (l->block_begin == 0) launch_log.note(name);  // once per launch, not per block range
    w.nthreads = (unsigned)threads;
    w.body = body;
    w.ctx = ctx;
    w.dyn_smem = l->dyn_smem;
    w.smem_limit = l->smem_limit;
    if (w.dyn_arena.size() < l->dyn_smem + 16) w.dyn_arena.resize(l->dyn_smem + 16);
    if (!grow_fibers(w.fibers, threads)) return reject(6, "out of host memory for fiber stacks");
#if defined(EMBER_SIM_TSAN)
    if (!grow_fibers(w.other_fibers, threads)) return reject(6, "out of host memory for fiber stacks");
    const size_t dyn_round = (l->dyn_smem + 255) / 256 * 256;
    if (dyn_round + l->smem_limit + 256 > kArenaBytes) return reject(2, "shared memory over the TSan arena");
    auto map_arena = [](char* at) {
        void* m = mmap(at, kArenaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);
        return m == MAP_FAILED ? nullptr : static_cast<char*>(m);
    };
    if (!w.arena) {
        w.arena = map_arena(nullptr);
        w.other_arena = map_arena(nullptr);
        if (!w.arena || !w.other_arena) return reject(6, "out of host memory for shared memory");
    }
#endif
    w.block.dim = dim3(l->block[0], l->block[1], l->block[2]);
    w.block.grid = dim3(l->grid[0], l->grid[1], l->grid[2]);
    const uint64_t gx = l->grid[0], gxy = gx * l->grid[1];
    Thread* saved = tls_cur;
    w.order = l->order;
    EMBER_TSAN(static char launch_sync; w.tsan_host = __tsan_get_current_fiber(); __tsan_acquire(&launch_sync));
    for (uint64_t k = l->block_begin; k < l->block_end; ++k) {
        const uint64_t b = l->order == 0 ? k : l->block_end - 1 - (k - l->block_begin);
        w.rng = (l->seed ^ (b * 0x9E3779B97F4A7C15ull)) | 1;
        w.block.idx = uint3{(unsigned)(b % gx), (unsigned)((b / gx) % l->grid[1]), (unsigned)(b / gxy)};
        w.done = 0;
        w.at_barrier = 0;
        w.static_seen.clear();
        w.static_bytes = 0;
        for (unsigned wi = 0; wi * 32 < threads; ++wi) {
            w.warps[wi].arrived = 0;
            w.warps[wi].mask = 0;
        }
#if defined(EMBER_SIM_TSAN)
        // Creating TSan fibers costs ~1 ms each (gcc 12's runtime zeroes a large ThreadState),
        // so each OS thread keeps two sets of fibers, with their own stacks and shared-memory
        // arena, and alternates them by block parity: neighbouring blocks never share a TSan
        // identity, so nothing but CUDA's rules orders them. (Blocks 2 apart reuse a set, whose
        // history orders them; a race only between such blocks is missed.) Fresh sync objects
        // per block, shared memory mapped afresh; the fibers acquire the host's state at the start of
        // each block.
        if ((b & 1) != w.set) {
            std::swap(w.fibers, w.other_fibers);
            std::swap(w.arena, w.other_arena);
            w.set ^= 1;
        }
        w.block_sync = static_cast<char*>(calloc(1, 1 + kMaxThreads / 32));
        // A new mapping: TSan forgets what the set's previous block did in its shared memory.
        if (!map_arena(w.arena)) return reject(6, "out of host memory for shared memory");
        w.arena_used = dyn_round;
        w.shared_keys.clear();
        __tsan_release(&w.start_sync);
#endif
        for (unsigned i = 0; i < threads; ++i) {
            Fiber& f = w.fibers[i];
            f.state = State::Ready;
            f.warp_ops = 0;
            f.t.linear = i;
            f.t.tid = uint3{(unsigned)(i % bx), (unsigned)((i / bx) % by), (unsigned)(i / (bx * by))};
            f.t.block = &w.block;
            EMBER_TSAN(if (!f.tsan) f.tsan = __tsan_create_fiber(0));
            prepare(f);
        }
        const bool ok = run_block(w);
#if defined(EMBER_SIM_TSAN)
        for (void* p : w.oversized) free(p);
        w.oversized.clear();
        free(w.block_sync);
        w.block_sync = nullptr;
#endif
        if (!ok) break;
    }
    EMBER_TSAN(__tsan_acquire(&w.end_sync); __tsan_release(&launch_sync));
    tls_cur = saved;
    err->code = w.code;
    std::memcpy(err->message, w.message, sizeof(err->message));
    return w.code;
}

}  // namespace ember_sim
