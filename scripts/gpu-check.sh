#!/usr/bin/env bash
# The run to make when a GPU is lent (see docs/gpu-runs.md). Two steps, so the short lent window is
# spent running, not building (the GPU machine has CUDA 13 and compute-sanitizer, but no Rust and
# no network):
#
#   bash scripts/gpu-check.sh build   # here: release test binaries, quickstart and ember-bench,
#                                     # stripped and xz-compressed into gpu-bundle/bundle.tar.xz
#                                     # (~58 MB; git-ignored; carry gpu-bundle)
#   bash scripts/gpu-check.sh run [main|profile|sanitize|all]
#                                     # on the GPU machine, from the repo root, with gpu-bundle/
#                                     # carried: writes $OUT/gpu-check.log (or ./gpu-check.log)
#
# `main`: the CUDA variant of every device test (`name::cuda`, EMBER_TEST_CUDA=1, which fails
# rather than skips without a GPU); the quickstart (Q6, SF 1, --device cuda) with EMBER_TRACE=1;
# GBDT, graph and exact-kNN examples on cuda and cpu with their outputs compared; ember-bench tpch
# and ops at SF 1 (reports under $OUT). `profile`: per-node profiles (EMBER_PROFILE=1) of the TPC-H
# queries on the CPU engine with every core and with 2 threads, and on cuda. `sanitize`: the same
# CUDA tests under compute-sanitizer (EMBER_SANITIZERS, default memcheck racecheck synccheck
# initcheck; four binaries at a time). `all` (the default): all three. Everything runs under
# one time budget, EMBER_GPU_BUDGET_S (default 480 s); steps past it are reported as SKIPPED.
# Every step's status is summarised at the end of the log; copy that summary into
# docs/gpu-runs.md with the date and the device.
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
        # The binaries with CUDA tests: the top-level tests (less the polars interop and the
        # distributed GBDT, which run no kernel of their own) and ember-gpu primitives and NVRTC.
        src = m["target"]["src_path"]
        top = "/tests/" in src and "/crates/" not in src and "/benches/" not in src
        skip = src.endswith(("/polars_interop.rs", "/gbdt_distributed.rs"))
        gpu = src.endswith(("/ember-gpu/tests/primitives.rs", "/ember-gpu/tests/kernels_nvrtc.rs"))
        if (top and not skip) or gpu:
            print(m["executable"])
' | while read -r exe; do
        # Stripped as they are copied: unstripped, the test binaries take ~6 GB.
        strip -o "$bundle/tests/$(basename "$exe")" "$exe"
    done
    cargo build --release --example quickstart --example gbdt --example graph --example ann -p ember
    cargo build --release -p ember-bench --bin ember-bench
    cp target/release/examples/quickstart target/release/examples/gbdt target/release/examples/graph target/release/examples/ann target/release/ember-bench "$bundle/"
    strip "$bundle"/quickstart "$bundle"/gbdt "$bundle"/graph "$bundle"/ann "$bundle"/ember-bench
    local n
    n="$(ls "$bundle/tests" | wc -l)"
    # The device tool carries at most 64 MiB: the binaries go compressed, with a dictionary that
    # spans the whole archive so the code they share (ember, arrow, polars) is stored once
    # (~500 MB of stripped binaries in ~58 MB; ~10 GB of memory and ~2 minutes here).
    tar -C "$bundle" -cf - tests quickstart gbdt graph ann ember-bench |
        xz -T1 --lzma2=preset=2,dict=1024MiB >"$bundle/bundle.tar.xz"
    local size
    size="$(stat -c %s "$bundle/bundle.tar.xz")"
    [ "$size" -lt 62000000 ] || echo "warning: the bundle is $size bytes; with the tree it may pass the 64 MiB the device tool carries" >&2
    rm -rf "$bundle/tests" "$bundle/quickstart" "$bundle/gbdt" "$bundle/graph" "$bundle/ann" "$bundle/ember-bench"
    du -sh "$bundle/bundle.tar.xz"
    echo "built $n test binaries into $bundle/bundle.tar.xz (carry it: run(carry=[\"$bundle\"]))"
}

run() {
    # run [main|profile|sanitize|all]: `main` runs the CUDA tests, the quickstart, the examples
    # and the runner; `profile` the per-node profiles; `sanitize` the CUDA tests under
    # compute-sanitizer. The lent window is short, so the
    # steps run most-informative first under one time budget (EMBER_GPU_BUDGET_S, default 480 s):
    # each step gets what is left of it (at most its own cap) and a step that would start with
    # under 20 s left is recorded as SKIPPED, so the log and its summary always come back.
    local phase="${1:-all}"
    local out="${OUT:-.}"
    local log="$out/gpu-check.log"
    local budget="${EMBER_GPU_BUDGET_S:-480}"
    : >"$log"
    local summary=()
    local unpacked="${TMPDIR:-/tmp}/ember-gpu-bundle"
    rm -rf "$unpacked" && mkdir -p "$unpacked"
    xz -dc "$bundle/bundle.tar.xz" | tar -C "$unpacked" -xf - || {
        echo "no $bundle/bundle.tar.xz: run '$0 build' here first and carry $bundle" | tee -a "$log"
        return 1
    }
    bundle="$unpacked"
    step() { # step CAP_S NAME COMMAND...: runs it under a timeout, logs it, records pass/fail
        local cap="$1" name="$2"
        shift 2
        local left=$((budget - SECONDS))
        if [ "$left" -lt 20 ]; then
            summary+=("SKIPPED $name (budget spent)")
            return
        fi
        [ "$cap" -lt "$left" ] || cap="$left"
        echo "==> $name: $*" | tee -a "$log"
        local t0=$SECONDS rc=0
        timeout -k 5 "$cap" "$@" >>"$log" 2>&1 || rc=$?
        if [ "$rc" = 0 ]; then
            summary+=("PASS $name ($((SECONDS - t0)) s)")
        elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            summary+=("TIMEOUT $name (${cap} s)")
        else
            summary+=("FAIL($rc) $name ($((SECONDS - t0)) s)")
        fi
    }
    # fan_out DIR CAP END COMMAND...: runs COMMAND for every test binary ({} in it stands for the
    # binary), four at a time, each under CAP seconds and none past SECONDS = END; writes
    # DIR/NAME.log and DIR/NAME.rc (the exit status, or "skip" when no time was left).
    fan_out() {
        local dir="$1" cap_each="$2" end="$3"
        shift 3
        rm -rf "$dir" && mkdir -p "$dir"
        for t in "$bundle"/tests/*; do
            local name cap cmd=() a
            name="$(basename "$t")"
            cap=$((end - SECONDS))
            [ "$cap" -le "$cap_each" ] || cap="$cap_each"
            if [ "$cap" -lt 10 ]; then
                echo skip >"$dir/$name.rc"
                echo 'skipped (budget spent)' >"$dir/$name.log"
                continue
            fi
            for a in "$@"; do
                if [ "$a" = "{}" ]; then cmd+=("$t"); else cmd+=("$a"); fi
            done
            (
                rc=0
                timeout -k 5 "$cap" "${cmd[@]}" >"$dir/$name.log" 2>&1 || rc=$?
                echo "$rc" >"$dir/$name.rc"
            ) &
            while [ "$(jobs -rp | wc -l)" -ge 4 ]; do wait -n; done
        done
        wait
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
        echo "nvrtc: ${nvrtc:-not found}; cores: $(nproc); kernel: $(uname -r)"
    } >>"$log"
    # The CUDA part of every test binary, for the tests and the sanitizers alike: every test but
    # the CPU engine and Sim variants (`name::cpu`, `name::sim`), and with EMBER_TEST_CUDA_ONLY=1
    # the tests that loop over devices take CUDA alone (the rest ran in CI on every change). The
    # networkx oracle tests build their answers with a Debian package that `apt-get download`
    # fetches, and the GPU machine has no network.
    export EMBER_TEST_CUDA=1 EMBER_TEST_CUDA_ONLY=1 EMBER_CACHE_DIR="${TMPDIR:-/tmp}/ember-cache"
    local cuda_only=(--skip ::cpu --skip ::sim --skip networkx_oracle)
    summary+=("SKIPPED tests graph networkx_oracle_* (their oracle needs the network)")
    if [ "$phase" = all ] || [ "$phase" = main ]; then
        # Four binaries at a time, all within the first EMBER_GPU_TESTS_S seconds (default 200).
        local logs="${TMPDIR:-/tmp}/ember-test-logs"
        echo "==> tests (CUDA variants), 4 binaries at a time" | tee -a "$log"
        fan_out "$logs" 150 $((SECONDS + ${EMBER_GPU_TESTS_S:-200})) {} "${cuda_only[@]}" --test-threads=4
        for rcf in "$logs"/*.rc; do
            local name rc
            name="$(basename "$rcf" .rc)"
            rc="$(cat "$rcf")"
            { echo "==> tests $name (rc $rc)"; cat "$logs/$name.log"; } >>"$log"
            case "$rc" in
            0) summary+=("PASS tests $name ($(grep -o '[0-9]* passed' "$logs/$name.log" | awk '{s+=$1} END {print s+0}') passed)") ;;
            skip) summary+=("SKIPPED tests $name (budget spent)") ;;
            124 | 137) summary+=("TIMEOUT tests $name") ;;
            *) summary+=("FAIL($rc) tests $name: $(grep -E '^    [a-z_:0-9]+$' "$logs/$name.log" | tr -d ' ' | head -8 | tr '\n' ' ')") ;;
            esac
        done
        step 60 "quickstart sf1 cuda" env EMBER_TRACE=1 "$bundle/quickstart" --sf 1 --device cuda
        # The runner: the 22 TPC-H queries and the single operations, ember vs polars, answers checked.
        step 150 "ember-bench tpch sf1 cuda" "$bundle/ember-bench" tpch --sf 1 --device cuda --reps 3 \
            --markdown "$out/bench-tpch-cuda.md" --json "$out/bench.jsonl"
        # GBDT: 1M x 28 synthetic, 50 rounds; the CUDA model must be the CPU's, byte for byte.
        step 60 "gbdt 1M cuda" "$bundle/gbdt" --synthetic 1000000 --rounds 50 --eta 0.1 --metric auc --device cuda \
            --model-out "$out/gbdt-cuda.json"
        step 60 "gbdt 1M cpu" "$bundle/gbdt" --synthetic 1000000 --rounds 50 --eta 0.1 --metric auc --device cpu \
            --model-out "$out/gbdt-cpu.json"
        step 10 "gbdt cuda model == cpu model" cmp "$out/gbdt-cuda.json" "$out/gbdt-cpu.json"
        rm -f "$out"/gbdt-*.json
        # Graphs: R-MAT 21 (2M vertices, 33.5M edges); BFS and components must equal the CPU's exactly.
        # --repeat 2: the first run uploads the graph and loads the kernels, the second times them.
        for algo in "pagerank --l1-tol 1e-6" "bfs --sources 16" "cc"; do
            step 40 "graph $algo cuda" "$bundle/graph" $algo --rmat 21 --device cuda --repeat 2 --out "$out/graph-${algo%% *}-cuda.csv"
            step 40 "graph $algo cpu" "$bundle/graph" $algo --rmat 21 --device cpu --out "$out/graph-${algo%% *}-cpu.csv"
        done
        step 10 "graph bfs cuda == cpu" cmp "$out/graph-bfs-cuda.csv" "$out/graph-bfs-cpu.csv"
        step 10 "graph cc cuda == cpu" cmp "$out/graph-cc-cuda.csv" "$out/graph-cc-cpu.csv"
        rm -f "$out"/graph-*.csv
        # Exact kNN: 200k x 128 base, 2000 queries; the CUDA neighbours and distances must be the CPU's.
        for dev in cuda cpu; do
            step 40 "ann exact $dev" "$bundle/ann" exact --base synthetic:200000:128 --queries synthetic:2000:128:7 --k 10 \
                --device $dev --out "$out/ann-$dev.csv"
        done
        step 10 "ann cuda == cpu" cmp "$out/ann-cuda.csv" "$out/ann-cpu.csv"
        rm -f "$out"/ann-*.csv
        # Graph search: an HNSW index over 200k x 128, 2000 queries at ef 64 on cuda (CAGRA-style) and
        # cpu; each prints QPS and recall@10 against the exact answer (approximate: not compared).
        step 90 "ann hnsw build" "$bundle/ann" build --base synthetic:200000:128 --out "$out/hnsw.ember"
        for dev in cuda cpu; do
            step 40 "ann hnsw search $dev" "$bundle/ann" search --index "$out/hnsw.ember" --queries synthetic:2000:128:7 \
                --k 10 --ef 64 --device $dev --truth exact --base synthetic:200000:128
        done
        # The same over f16 storage (ann_graph_search_f16): half the bytes per distance; the index
        # file memory-mapped (the graph uploaded from the mapping).
        step 90 "ann hnsw build f16" "$bundle/ann" build --base synthetic:200000:128 --storage f16 --out "$out/hnsw.ember"
        step 40 "ann hnsw f16 search cuda (mapped)" "$bundle/ann" search --index "$out/hnsw.ember" --open mmap \
            --queries synthetic:2000:128:7 --k 10 --ef 64 --device cuda --truth exact --base synthetic:200000:128
        rm -f "$out/hnsw.ember"
        step 90 "ember-bench ops sf1 cuda" "$bundle/ember-bench" ops --sf 1 --device cuda --reps 3 \
            --markdown "$out/bench-ops-cuda.md" --json "$out/bench.jsonl"
        step 60 "ember-bench tpch sf1 cpu" "$bundle/ember-bench" tpch --sf 1 --device cpu --reps 3 \
            --markdown "$out/bench-tpch-cpu.md" --json "$out/bench.jsonl"
    fi
    if [ "$phase" = all ] || [ "$phase" = profile ]; then
        # Where the time goes on a many-core machine (the CPU machine has 2 cores): per-node
        # profiles (EMBER_PROFILE=1) of the CPU engine on every core and on 2, for the queries
        # slower than polars on 16 cores in the first run, and of the GPU path's slowest query.
        local q="${EMBER_PROFILE_QUERIES:-2,3,5,8,14,16,21,22}"
        step 90 "profile tpch cpu (all cores)" env EMBER_PROFILE=1 "$bundle/ember-bench" tpch --sf 1 --device cpu \
            --queries "$q" --reps 2 --markdown "$out/profile-cpu-all.md"
        step 90 "profile tpch cpu (2 threads)" env EMBER_PROFILE=1 RAYON_NUM_THREADS=2 POLARS_MAX_THREADS=2 \
            "$bundle/ember-bench" tpch --sf 1 --device cpu --queries "$q" --reps 2 --markdown "$out/profile-cpu-2.md"
        step 60 "profile tpch cuda" env EMBER_PROFILE=1 "$bundle/ember-bench" tpch --sf 1 --device cuda \
            --queries 2,21 --reps 2 --markdown "$out/profile-cuda.md"
    fi
    if [ "$phase" = all ] || [ "$phase" = sanitize ]; then
        if command -v compute-sanitizer >/dev/null; then
            # EMBER_SANITIZERS picks the tools (default: all four); each tool runs four binaries at
            # a time, each under EMBER_SANITIZE_CAP_S (default 120 s).
            local cap_each="${EMBER_SANITIZE_CAP_S:-120}" slogs="${TMPDIR:-/tmp}/ember-sanitize-logs"
            for tool in ${EMBER_SANITIZERS:-memcheck racecheck synccheck initcheck}; do
                local left=$((budget - SECONDS))
                if [ "$left" -lt 20 ]; then
                    summary+=("SKIPPED $tool (budget spent)")
                    continue
                fi
                echo "==> $tool, 4 binaries at a time" | tee -a "$log"
                fan_out "$slogs" "$cap_each" "$budget" compute-sanitizer --tool "$tool" --error-exitcode 3 \
                    {} "${cuda_only[@]}" --test-threads=1
                for rcf in "$slogs"/*.rc; do
                    local name rc
                    name="$(basename "$rcf" .rc)"
                    rc="$(cat "$rcf")"
                    { echo "==> $tool $name (rc $rc)"; tail -c 20000 "$slogs/$name.log"; } >>"$log"
                    case "$rc" in
                    0) summary+=("PASS $tool $name") ;;
                    skip) summary+=("SKIPPED $tool $name (budget spent)") ;;
                    124 | 137) summary+=("TIMEOUT $tool $name (${cap_each} s)") ;;
                    *) summary+=("FAIL($rc) $tool $name: $(grep -m1 -E 'ERROR SUMMARY|Uninitialized|Race|error' "$slogs/$name.log" | cut -c1-160)") ;;
                    esac
                done
            done
        else
            summary+=("SKIPPED compute-sanitizer (not on PATH)")
        fi
    fi
    {
        echo
        echo "== summary"
        printf '%s\n' "${summary[@]}"
    } | tee -a "$log"
}

case "${1:-}" in
build) build ;;
run)
    case "${2:-all}" in
    main | profile | sanitize | all) run "${2:-all}" ;;
    *)
        echo "usage: $0 run [main|profile|sanitize|all]" >&2
        exit 2
        ;;
    esac
    ;;
*)
    echo "usage: $0 build | run [main|profile|sanitize|all]" >&2
    exit 2
    ;;
esac
