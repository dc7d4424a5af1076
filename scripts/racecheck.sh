#!/usr/bin/env bash
# Race checks of the simulated device, in one command (scripts/test.sh runs it; see
# docs/architecture.md, "Race checks"):
#   1. every test of the workspace under each thread order of the emulator: forward (thread and
#      block index order), reverse, and seeded random (EMBER_SIM_ORDER; EMBER_RACE_SEED fixes the
#      seed, default: the day of the year). A kernel whose answer depends on the order fails here.
#   2. ThreadSanitizer: the kernels compiled with -fsanitize=thread (EMBER_SIM_TSAN=1, its own
#      target directory), each fiber its own TSan fiber, barriers and warp operations as
#      release/acquire. It must report every planted race of kernels/sim_checks.cu (tests/tsan.rs)
#      and nothing in the primitives, the emulator checks, Q6, the differential test at every
#      boundary size (the random-size ones take too long under TSan's ~100x slowdown), and the
#      sort, group-by, join, unique and concat tests on Sim, GBDT, the graph and the kNN kernels.
# Prints, last, how many kernel launches (and distinct kernels) ran under each mode and how many
# TSan reports there were. Extra arguments go to the three order passes' `cargo test` (e.g. `--release`).
set -euo pipefail
cd "$(dirname "$0")/.."
extra=("$@")
out="target/racecheck"
rm -rf "$out"
mkdir -p "$out"
seed="${EMBER_RACE_SEED:-$(date +%j)}"
modes=(forward reverse "random:$seed")

for mode in "${modes[@]}"; do
  echo "==> cargo test under EMBER_SIM_ORDER=$mode"
  targets=(--tests -q)
  [ "$mode" = forward ] && targets=()  # the first pass also runs the doc tests
  EMBER_SIM_ORDER="$mode" EMBER_SIM_LAUNCH_LOG="$PWD/$out/launches-${mode%%:*}" \
    cargo test --workspace "${targets[@]}" "${extra[@]}"
done

tsan_target="${CARGO_TARGET_DIR:-target}/tsan"
echo "==> ThreadSanitizer build of the simulated device ($tsan_target)"
if [ ! -f "$(${CXX:-c++} -print-file-name=libtsan.so)" ]; then
  echo "the C++ compiler has no libtsan; installing libtsan2" >&2
  sudo_="$([ "$(id -u)" = 0 ] || echo sudo)"
  $sudo_ apt-get install -y -q libtsan2 >/dev/null
fi
tsan_log="$PWD/$out/tsan"
mkdir -p "$tsan_log"
# ignore_interceptors_accesses: memcpy/free called from Rust's (uninstrumented) standard library
# would otherwise be checked against Rust's own atomics, which TSan cannot see.
export TSAN_OPTIONS="ignore_interceptors_accesses=1 halt_on_error=0 exitcode=0 log_path=$tsan_log/report"
# The planted races first (tests/tsan.rs asserts a report for each racy kernel, none for its fix;
# its children write their own logs), then the clean set, whose reports are counted.
CARGO_TARGET_DIR="$tsan_target" EMBER_SIM_TSAN=1 cargo test -q -p ember-gpu --features sim --test tsan
CARGO_TARGET_DIR="$tsan_target" EMBER_SIM_TSAN=1 EMBER_SIM_LAUNCH_LOG="$PWD/$out/launches-tsan" \
  cargo test -q -p ember-gpu --features sim --test primitives --test emulator -- --skip thread_orders_expose
CARGO_TARGET_DIR="$tsan_target" EMBER_SIM_TSAN=1 EMBER_SIM_LAUNCH_LOG="$PWD/$out/launches-tsan" \
  cargo test -q --test q6 -- sim
CARGO_TARGET_DIR="$tsan_target" EMBER_SIM_TSAN=1 EMBER_SIM_LAUNCH_LOG="$PWD/$out/launches-tsan" \
  cargo test -q --test differential -- gpu_equals_cpu_at_every_boundary_size
# The race-prone kernels of the relational ops: radix sort scatter, group folds, join searches.
CARGO_TARGET_DIR="$tsan_target" EMBER_SIM_TSAN=1 EMBER_SIM_LAUNCH_LOG="$PWD/$out/launches-tsan" \
  cargo test -q --test sort --test groupby --test join --test unique --test concat -- sim
# GBDT: gradients, quantisation and histogram kernels (shared-memory atomics), partitions, predict.
CARGO_TARGET_DIR="$tsan_target" EMBER_SIM_TSAN=1 EMBER_SIM_LAUNCH_LOG="$PWD/$out/launches-tsan" \
  cargo test -q --test gbdt -- model_bits predictions_are gpu_trace trains_from_a_frame
# Graphs: PageRank's three degree bins, BFS's CAS / atomicMin / bitmap kernels, Afforest's
# union-find links and compression (relaxed loads and stores of shared parents).
CARGO_TARGET_DIR="$tsan_target" EMBER_SIM_TSAN=1 EMBER_SIM_LAUNCH_LOG="$PWD/$out/launches-tsan" \
  cargo test -q --test graph -- gpu_matches_cpu_on_boundary_sizes sim_trace output_frames empty_graph
# Vector search: the exact kNN kernel's shared-memory candidate buffer and bitonic sorts; the
# graph search's shared visited hash (atomicCAS), parent marks and result buffer.
CARGO_TARGET_DIR="$tsan_target" EMBER_SIM_TSAN=1 EMBER_SIM_LAUNCH_LOG="$PWD/$out/launches-tsan" \
  cargo test -q --test ann -- sim_trace_of_a_batch gpu_graph_search_small_filtered_batch

echo
echo "==> race check summary (seed $seed)"
sum_mode() {
  local f="$out/launches-$1"
  if [ ! -f "$f" ]; then echo "0 0"; return; fi
  awk '{ n += $1; split($3, k, ","); for (i in k) if (k[i] != "") seen[k[i]] = 1 }
       END { c = 0; for (x in seen) c++; print n, c }' "$f"
}
reports=$(cat "$tsan_log"/report.* 2>/dev/null | grep -c "WARNING: ThreadSanitizer:" || true)
for m in forward reverse random tsan; do
  read -r n k < <(sum_mode "$m")
  printf '  %-8s %8s launches of %3s kernels\n' "$m" "$n" "$k"
done
printf '  tsan reports on the clean set: %s\n' "$reports"
if [ "$reports" != "0" ]; then
  echo "ThreadSanitizer reported races; the reports are in $tsan_log:" >&2
  grep -h "SUMMARY" "$tsan_log"/report.* | sort | uniq -c >&2
  exit 1
fi
