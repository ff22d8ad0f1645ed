#!/usr/bin/env bash
# The CUDA backend's checks on a lent GPU, in one command (the `device` tool's machine: nvcc,
# cuBLAS, PyTorch and Python 3.12 installed, no network). Builds fastnn with the CUDA backend
# on every core, prints what it sees, runs the CUDA tests (pytest -m cuda: every CUDA op
# against the CPU backend), the CPU tests of the devices, and bench/gpu_side_by_side.py
# (every seed model against PyTorch eager and hand-graphed), keeping every log under $OUT.
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
     -Ccmake.define.FASTNN_CUDA=ON . >>"$OUT/build.log" 2>&1; then
  log "build: ok in $(( $(date +%s) - start )) s"
else
  log "build: FAILED (build.log)"; tail -40 "$OUT/build.log"; exit 1
fi

cd /tmp  # import the installed package, not the source tree
python3 -m fastnn info 2>&1 | tee -a "$OUT/summary.txt"
cd - >/dev/null

python3 -m pytest -q -p no:cacheprovider -m cuda tests/ -x --timeout=300 2>&1 | tee "$OUT/pytest-cuda.log" | tail -30
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
log "pytest -m cuda: $(tail -1 "$OUT/pytest-cuda.log")"

python3 -m pytest -q -p no:cacheprovider tests/test_devices.py tests/test_capture.py 2>&1 | tee "$OUT/pytest-cpu.log" | tail -3
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
log "CPU device and capture tests: $(tail -1 "$OUT/pytest-cpu.log")"
# The seed models side by side with PyTorch eager and hand-graphed, fp32 then TF32.
timeout 240 python3 bench/gpu_side_by_side.py --json "$OUT/side_by_side_fp32.json" 2>&1 \
  | tee "$OUT/side_by_side.txt" || status=1
timeout 120 python3 bench/gpu_side_by_side.py --tf32 --batches 1024 2>&1 \
  | tee -a "$OUT/side_by_side.txt" || status=1
log "side by side: $OUT/side_by_side.txt"
exit $status
