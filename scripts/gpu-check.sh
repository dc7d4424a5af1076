#!/usr/bin/env bash
# The run to make when a GPU is lent (see docs/gpu-runs.md). Two steps, so the short lent window is
# spent running, not building (the GPU machine has CUDA 13 and compute-sanitizer, but no Rust and
# no network):
#
#   bash scripts/gpu-check.sh build   # here: release test binaries, quickstart and ember-bench,
#                                     # stripped and xz-compressed into gpu-bundle/bundle.tar.xz
#                                     # (~22 MB of 220; git-ignored; carry gpu-bundle)
#   bash scripts/gpu-check.sh run     # on the GPU machine, from the repo root, with gpu-bundle/
#                                     # carried: writes $OUT/gpu-check.log (or ./gpu-check.log)
#
# The run: every test binary with EMBER_TEST_CUDA=1 (each device test also on CUDA device 0, which
# fails rather than skips without a GPU); the CUDA tests again under compute-sanitizer's memcheck,
# racecheck, synccheck and initcheck; the quickstart (Q6, SF 1, --device cuda) with EMBER_TRACE=1;
# ember-bench tpch and ops at SF 1 on cuda and cpu (reports under $OUT). Every step's status is summarised at the end of the log;
# copy that summary into docs/gpu-runs.md with the date and the device.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=gpu-bundle

build() {
    set -e
    rm -rf "$bundle" && mkdir -p "$bundle/tests"
    cargo test --workspace --release --no-run --message-format=json 2>/dev/null |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])
' | while read -r exe; do
        cp "$exe" "$bundle/tests/"
    done
    cargo build --release --example quickstart --example gbdt --example graph --example ann -p ember
    cargo build --release -p ember-bench --bin ember-bench
    cp target/release/examples/quickstart target/release/examples/gbdt target/release/examples/graph target/release/examples/ann target/release/ember-bench "$bundle/"
    strip "$bundle"/tests/* "$bundle"/quickstart "$bundle"/gbdt "$bundle"/graph "$bundle"/ann "$bundle"/ember-bench
    local n
    n="$(ls "$bundle/tests" | wc -l)"
    # The device tool carries at most 64 MiB: the binaries go compressed.
    tar -C "$bundle" -cf - tests quickstart gbdt graph ann ember-bench | xz -T0 -6 >"$bundle/bundle.tar.xz"
    rm -rf "$bundle/tests" "$bundle/quickstart" "$bundle/gbdt" "$bundle/graph" "$bundle/ann" "$bundle/ember-bench"
    du -sh "$bundle/bundle.tar.xz"
    echo "built $n test binaries into $bundle/bundle.tar.xz (carry it: run(carry=[\"$bundle\"]))"
}

run() {
    local out="${OUT:-.}"
    local log="$out/gpu-check.log"
    : >"$log"
    local summary=()
    local unpacked="${TMPDIR:-/tmp}/ember-gpu-bundle"
    rm -rf "$unpacked" && mkdir -p "$unpacked"
    xz -dc "$bundle/bundle.tar.xz" | tar -C "$unpacked" -xf - || {
        echo "no $bundle/bundle.tar.xz: run '$0 build' here first and carry $bundle" | tee -a "$log"
        return 1
    }
    bundle="$unpacked"
    step() { # step NAME COMMAND...: runs it, logs it, records pass/fail
        local name="$1"
        shift
        echo "==> $name: $*" | tee -a "$log"
        local t0=$SECONDS
        if "$@" >>"$log" 2>&1; then
            summary+=("PASS $name ($((SECONDS - t0)) s)")
        else
            summary+=("FAIL($?) $name ($((SECONDS - t0)) s)")
        fi
    }
    # NVRTC (and its builtins) from the CUDA toolkit or the pip wheel on the machine.
    local nvrtc
    nvrtc="$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so\.13 /{print $NF; exit}')"
    [ -n "$nvrtc" ] || nvrtc="$(find /usr/local/cuda*/ /opt /usr/lib -name 'libnvrtc.so.13*' 2>/dev/null | head -1)"
    [ -n "$nvrtc" ] || nvrtc="$(python3 -c 'import nvidia.cu13, os; print(os.path.join(list(nvidia.cu13.__path__)[0], "lib", "libnvrtc.so.13"))' 2>/dev/null)"
    [ -n "$nvrtc" ] && export LD_LIBRARY_PATH="$(dirname "$nvrtc")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    {
        date -u
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
        echo "nvrtc: ${nvrtc:-not found}"
    } >>"$log"
    export EMBER_TEST_CUDA=1 EMBER_CACHE_DIR="${TMPDIR:-/tmp}/ember-cache"
    for t in "$bundle"/tests/*; do
        step "test $(basename "$t")" "$t" --test-threads=4
    done
    if command -v compute-sanitizer >/dev/null; then
        for tool in memcheck racecheck synccheck initcheck; do
            for t in "$bundle"/tests/*; do
                # Only binaries with CUDA test variants; each sanitizer run takes the cuda ones.
                "$t" --list 2>/dev/null | grep -q 'cuda: test' || continue
                step "$tool $(basename "$t")" compute-sanitizer --tool "$tool" --error-exitcode 3 \
                    "$t" cuda --test-threads=1
            done
        done
    else
        summary+=("SKIPPED compute-sanitizer (not on PATH)")
    fi
    step "quickstart sf1 cuda" env EMBER_TRACE=1 "$bundle/quickstart" --sf 1 --device cuda
    # GBDT: 1M x 28 synthetic, 200 rounds; the CUDA model must be the CPU's, byte for byte.
    step "gbdt 1M cuda" "$bundle/gbdt" --synthetic 1000000 --rounds 200 --eta 0.1 --metric auc --device cuda \
        --model-out "$out/gbdt-cuda.json"
    step "gbdt 1M cpu" "$bundle/gbdt" --synthetic 1000000 --rounds 200 --eta 0.1 --metric auc --device cpu \
        --model-out "$out/gbdt-cpu.json"
    step "gbdt cuda model == cpu model" cmp "$out/gbdt-cuda.json" "$out/gbdt-cpu.json"
    # Graphs: R-MAT 21 (2M vertices, 33.5M edges); BFS and components must equal the CPU's exactly.
    for algo in "pagerank --l1-tol 1e-6" "bfs --sources 16" "cc"; do
        step "graph $algo cuda" "$bundle/graph" $algo --rmat 21 --device cuda --out "$out/graph-${algo%% *}-cuda.csv"
        step "graph $algo cpu" "$bundle/graph" $algo --rmat 21 --device cpu --out "$out/graph-${algo%% *}-cpu.csv"
    done
    step "graph bfs cuda == cpu" cmp "$out/graph-bfs-cuda.csv" "$out/graph-bfs-cpu.csv"
    step "graph cc cuda == cpu" cmp "$out/graph-cc-cuda.csv" "$out/graph-cc-cpu.csv"
    rm -f "$out"/graph-*.csv
    # Exact kNN: 200k x 128 base, 2000 queries; the CUDA neighbours and distances must be the CPU's.
    for dev in cuda cpu; do
        step "ann exact $dev" "$bundle/ann" exact --base synthetic:200000:128 --queries synthetic:2000:128:7 --k 10 \
            --device $dev --out "$out/ann-$dev.csv"
    done
    step "ann cuda == cpu" cmp "$out/ann-cuda.csv" "$out/ann-cpu.csv"
    rm -f "$out"/ann-*.csv
    # Graph search: an HNSW index over 200k x 128, 2000 queries at ef 64 on cuda (CAGRA-style) and
    # cpu; each prints QPS and recall@10 against the exact answer (approximate: not compared).
    step "ann hnsw build" "$bundle/ann" build --base synthetic:200000:128 --out "$out/hnsw.ember"
    for dev in cuda cpu; do
        step "ann hnsw search $dev" "$bundle/ann" search --index "$out/hnsw.ember" --queries synthetic:2000:128:7 \
            --k 10 --ef 64 --device $dev --truth exact --base synthetic:200000:128
    done
    rm -f "$out/hnsw.ember"
    # The runner: the 22 TPC-H queries and the single operations, ember vs polars, answers checked.
    for dev in cuda cpu; do
        step "ember-bench tpch sf1 $dev" "$bundle/ember-bench" tpch --sf 1 --device $dev --reps 5 \
            --markdown "$out/bench-tpch-$dev.md" --plot "$out/bench-tpch-$dev.svg" --json "$out/bench.jsonl"
        step "ember-bench ops sf1 $dev" "$bundle/ember-bench" ops --sf 1 --device $dev --reps 5 \
            --markdown "$out/bench-ops-$dev.md" --json "$out/bench.jsonl"
    done
    {
        echo
        echo "== summary"
        printf '%s\n' "${summary[@]}"
    } | tee -a "$log"
}

case "${1:-}" in
build) build ;;
run) run ;;
*)
    echo "usage: $0 build|run" >&2
    exit 2
    ;;
esac
