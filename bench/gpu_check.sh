#!/usr/bin/env bash
# The CUDA backend's checks on a lent GPU, in one command (the `device` tool's machine: nvcc,
# cuBLAS, PyTorch and Python 3.12 installed, no network). Builds fastnn with the CUDA backend
# on every core, prints what it sees, runs the CUDA tests (pytest -m cuda: every CUDA op
# against the CPU backend), the CPU tests of the devices, fastnn_bench --device cuda (every
# kernel checked against a double-precision reference, then timed against cuBLAS's sgemm and
# the GPU's copy bandwidth) and bench/gpu_side_by_side.py (every seed model against PyTorch
# eager and hand-graphed), keeping every log under $OUT.
#
# fastnn_bench comes from the same build as the package, not a second one: the pip install
# below passes -Ccmake.define.FASTNN_BENCH=ON (pyproject.toml turns it off for pip), so CMake
# builds the executable in the build directory build/gpu (it is not installed), beside
# build/gpu/cuda/libfastnn_cuda.so, the CUDA library that build made, which the step loads
# with --cuda-library. ~45 s: ~210 cases at --budget 0.1 (~25 s of timing) plus the
# host-side checks; cut off at 75 s.
#
# That machine has no scipy-openblas32 (the CPU backend's BLAS): carry its wheel in the
# working tree first, from the repository root here:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl scipy-openblas32
# then, with the device tool:  run  bench/gpu_check.sh  (timeout_s 540; it aims at < 8 min).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/fastnn-gpu-check}
mkdir -p "$OUT"
status=0
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }

log "$(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)"
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1

if [ -d .whl ]; then
  python3 -m pip install -q --no-index --find-links .whl scipy-openblas32 >>"$OUT/build.log" 2>&1
fi
python3 -c "import scipy_openblas32" 2>/dev/null || { log "no scipy-openblas32: carry its wheel (see this script's header)"; exit 1; }

start=$(date +%s)
export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
if python3 -m pip install -q --no-build-isolation --no-deps -Cbuild-dir=build/gpu \
     -Ccmake.define.FASTNN_CUDA=ON -Ccmake.define.FASTNN_BENCH=ON . >>"$OUT/build.log" 2>&1; then
  log "build: ok in $(( $(date +%s) - start )) s"
else
  log "build: FAILED (build.log)"; tail -40 "$OUT/build.log"; exit 1
fi

cd /tmp  # import the installed package, not the source tree
python3 -m fastnn info 2>&1 | tee -a "$OUT/summary.txt"
cd - >/dev/null

# Every step has its own time limit, so the whole script stays under ~8 minutes and the
# most important results come first: correctness, then the seed models, then the kernels.
timeout 150 python3 -m pytest -q -p no:cacheprovider -m cuda tests/ 2>&1 | tee "$OUT/pytest-cuda.log" | tail -30
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
log "pytest -m cuda: $(tail -1 "$OUT/pytest-cuda.log")"

timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_devices.py tests/test_capture.py 2>&1 | tee "$OUT/pytest-cpu.log" | tail -3
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
log "CPU device and capture tests: $(tail -1 "$OUT/pytest-cpu.log")"

# The seed models side by side with PyTorch eager and hand-graphed, fp32 then TF32.
timeout 150 python3 bench/gpu_side_by_side.py --repeats 3 --json "$OUT/side_by_side_fp32.json" 2>&1 \
  | tee "$OUT/side_by_side.txt" || status=1
timeout 60 python3 bench/gpu_side_by_side.py --tf32 --batches 1024 --repeats 3 2>&1 \
  | tee -a "$OUT/side_by_side.txt" || status=1
log "side by side: $OUT/side_by_side.txt"

# The C++ harness on the GPU (bench/README.md), from the build directory.
timeout 75 build/gpu/fastnn_bench --device cuda --budget 0.1 \
  --cuda-library build/gpu/cuda/libfastnn_cuda.so 2>&1 | tee "$OUT/fastnn_bench_cuda.txt" | tail -3
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
log "fastnn_bench --device cuda: $(tail -1 "$OUT/fastnn_bench_cuda.txt")"
log "total: $(( $(date +%s) - start )) s"
exit $status
