#!/usr/bin/env bash
# ember's test command (the README's, and what CI runs via .ci/run). On a fresh machine it:
#   1. makes a Python venv with NVRTC + ptxas (CUDA 13.0 wheels; no GPU needed), duckdb, tpchgen-cli,
#      pyarrow + polars (they write the reader oracle files, tests/oracle/io_files.py) and networkx +
#      scipy (the graph oracle, tests/oracle/graph_networkx.py, which also fetches graph-tool's
#      collection with apt-get download);
#   2. checks formatting and clippy (-D warnings);
#   3. runs the whole test suite on the CPU engine and the simulated device, including the kernel
#      check that compiles every kernels/*.cu with NVRTC for sm_90 and assembles it with ptxas,
#      under each thread order of the simulated device, then the ThreadSanitizer race check
#      (scripts/racecheck.sh);
#   4. re-derives the TPC-H oracle answers (all 22 queries, SF 0.01 and 0.1) with duckdb and compares them with the stored ones;
#   5. builds the Python package with `pip install ./python` (maturin, release) into its own venv,
#      runs `pytest python/tests` (an empty or skipped run fails) and `mypy --strict` on the package
#      and a typing smoke file.
# Set EMBER_TEST_CUDA=1 on a GPU machine to also run every device test on CUDA (fails without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${EMBER_CACHE_DIR:-$HOME/.cache/ember-dev}"
venv="$cache/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
  echo "==> creating $venv (nvidia-cuda-nvrtc, nvidia-cuda-nvcc, duckdb, tpchgen-cli)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
"$venv/bin/pip" install -q "nvidia-cuda-nvrtc==13.0.*" "nvidia-cuda-nvcc==13.0.*" "duckdb" "tpchgen-cli==4.*" "pyarrow" "polars" "networkx" "scipy"
cu13="$("$venv/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')"
export LD_LIBRARY_PATH="$cu13/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export EMBER_PTXAS="$cu13/bin/ptxas"
export EMBER_REQUIRE_NVRTC=1        # the kernel check fails (not skips) when NVRTC or ptxas is missing
export EMBER_KERNEL_CACHE=""        # always compile for real in the kernel check
export PATH="$venv/bin:$PATH"
export EMBER_PYTHON="$venv/bin/python"   # the reader oracle test runs tests/oracle/io_files.py with it
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# The whole suite (CPU engine + simulated device + the NVRTC/ptxas kernel check) under each thread
# order of the simulated device, then the ThreadSanitizer build on the race-prone set: see
# scripts/racecheck.sh (the seed is printed; EMBER_RACE_SEED fixes it).
bash scripts/racecheck.sh
echo "==> TPC-H oracle answers (Q1-Q22) vs duckdb"
python tests/oracle/tpch_duckdb.py --check --sf 0.01 0.1
echo "==> Python package: pip install ./python, pytest, mypy --strict"
pyvenv="$cache/pyvenv"
if [ ! -x "$pyvenv/bin/python" ]; then
  python3 -m venv "$pyvenv"
  "$pyvenv/bin/pip" install -q --upgrade pip
fi
"$pyvenv/bin/pip" install -q pytest mypy numpy pandas pyarrow polars xgboost-cpu networkx scipy hnswlib dask distributed
"$pyvenv/bin/pip" install -q --force-reinstall --no-deps ./python
# Run from python/ so `import ember` finds the installed wheel, not a source tree.
(cd python && "$pyvenv/bin/python" -m pytest -q -rs -p no:cacheprovider tests | tee /tmp/ember-pytest.$$)
if ! grep -Eq "^[0-9]+ passed" /tmp/ember-pytest.$$ || grep -Eq "^0 passed|no tests ran" /tmp/ember-pytest.$$; then
  echo "pytest ran no tests" >&2
  exit 1
fi
rm -f /tmp/ember-pytest.$$
(cd python && "$pyvenv/bin/mypy" --strict src/ember tests/typing_smoke.py examples)
echo "==> all checks passed"
