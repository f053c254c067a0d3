#!/usr/bin/env bash
# One run on a GPU machine that proves and measures cnnkit's GPU path; everything it learns lands in $OUT.
#
#   OUT=/some/folder bash benchmarks/gpu_check.sh          # on the GPU machine: ~5.5 min, at most ~7.5
#   OUT=/tmp/gpuout PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh --cpu   # rehearsal on a CPU
#
# Phases, each under its own `timeout` (a stuck phase cannot eat the others' time):
#   0  environment: nvidia-smi, versions, compilers; an offline editable install where setuptools allows
#   2  benchmarks/gpu_check.py: fit vs a plain loop, per setting (runs alone, so its timings are clean)
#   1  pytest: the gpu-marked tests (tests/test_gpu.py, tests/test_train.py) plus the CPU tests of
#      test_models / test_train / test_gpu_check        } 1 and 3 run side by side:
#   3  lecture 07 and a4_resnet_gpu, small and full size } neither is timed
#      (full: CNNKIT_SYNTHETIC_DATA=1280 synthetic CIFAR-10, the notebooks' own epochs and settings)
# $OUT holds 8 files at most: summary.txt (read this first), bench.log, gpu_bench.json, gpu_bench.md,
# gpu_profile.txt, tests.log, notebooks_small.log, notebooks_full.log. Each is written as its phase
# runs, so a run stopped from outside still returns what it got to.
set -u -o pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MODE=gpu
[ "${1:-}" = "--cpu" ] && MODE=cpu
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu_check_out}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
T0=$(date +%s)

export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"  # the working tree's cnnkit, installed or not
export MPLBACKEND=Agg PYTHONUNBUFFERED=1 TQDM_MININTERVAL=10 PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export CNNKIT_OFFLINE=1 CNNKIT_DATA=/tmp/cnnkit-gpu-check-data  # never download; nothing is cached there

# Per-mode sizes and limits (seconds). The CPU rehearsal only proves the plumbing.
if [ "$MODE" = gpu ]; then
    BENCH_ARGS=(--budget 160); BENCH_LIMIT=200
    TEST_ARGS=(tests/test_gpu.py tests/test_train.py tests/test_models.py tests/test_gpu_check.py); TEST_LIMIT=170
    JOBS=5; SYNTHETIC=1280
    SMALL_LIMITS=(130 60); FULL_LIMITS=(110 60)  # lecture 07, a4: expected ~50 + 15 s small, ~60 + 30 s full
else
    BENCH_ARGS=(--device cpu --quick --images 128 --test-images 32 --epochs 1 --settings fp32 --profile-steps 1
                --budget 100); BENCH_LIMIT=150
    TEST_ARGS=(tests/test_gpu.py tests/test_gpu_check.py); TEST_LIMIT=200
    JOBS=2; SYNTHETIC=128
    SMALL_LIMITS=(150 60); FULL_LIMITS=(40 40)  # full size on a CPU: only the time limits are proven
fi

note() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$SUMMARY"; }

# run NAME LIMIT LOG CMD...: CMD under `timeout`, output appended to LOG; notes the exit status and time.
run() {
    local name=$1 limit=$2 log=$3 start rc
    shift 3
    start=$(date +%s)
    echo "=== $name: $* (limit ${limit} s)" >> "$log"
    timeout -k 10 "$limit" "$@" >> "$log" 2>&1
    rc=$?
    [ $rc -eq 124 ] && echo "=== $name: STOPPED by the ${limit} s limit" >> "$log"
    note "$name: exit $rc in $(( $(date +%s) - start )) s (limit $limit s)$([ $rc -eq 124 ] && echo ', TIMED OUT')"
    return $rc
}

# ---------------------------------------------------------------- phase 0: environment
note "cnnkit gpu_check, mode $MODE, repo $REPO, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
{
    echo "--- nvidia-smi"
    timeout 30 nvidia-smi 2>&1 || echo "nvidia-smi not available"
    echo "--- python and packages"
    timeout 60 "$PY" - <<'EOF' 2>&1
import importlib, importlib.util, platform, shutil, sys
print("python", platform.python_version(), sys.executable)
import torch
print("torch", torch.__version__, "| CUDA", torch.version.cuda, "| available", torch.cuda.is_available(),
      "| devices", torch.cuda.device_count(), "| cudnn", torch.backends.cudnn.version())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), "| bf16", torch.cuda.is_bf16_supported())
for name in ("numpy", "sklearn", "matplotlib", "tqdm", "pytest", "xdist", "hypothesis", "psutil", "PIL",
             "triton", "setuptools", "ipywidgets", "IPython", "nbclient", "ipykernel", "nbgrader"):
    try:
        print(f"  {name:11s}", getattr(importlib.import_module(name), "__version__", "present"))
    except Exception as err:
        print(f"  {name:11s} ABSENT ({type(err).__name__})")
print("C compiler for torch.compile:", shutil.which("gcc") or shutil.which("cc") or "NONE")
EOF
} >> "$SUMMARY"
# An editable install needs setuptools>=77 already present (no network for build isolation);
# PYTHONPATH above makes the working tree's cnnkit importable either way.
if [ "$MODE" = cpu ]; then
    note "CPU rehearsal: no editable install (it would change this machine's environment), PYTHONPATH=$REPO"
elif "$PY" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' 2>/dev/null; then
    run "pip install -e (offline, no build isolation)" 60 "$SUMMARY" \
        "$PY" -m pip install -q --no-deps --no-build-isolation --no-index -e . \
        || note "editable install failed: PYTHONPATH=$REPO is used"
else
    note "setuptools>=77 absent: no editable install, PYTHONPATH=$REPO is used"
fi
"$PY" -c 'import cnnkit, cnnkit.data, cnnkit.train; print("cnnkit from", cnnkit.__file__)' >> "$SUMMARY" 2>&1

# ---------------------------------------------------------------- phase 2: benchmark (alone)
run "phase 2 benchmark" "$BENCH_LIMIT" "$OUT/bench.log" "$PY" benchmarks/gpu_check.py --out "$OUT" "${BENCH_ARGS[@]}"

# ---------------------------------------------------------------- phases 1 and 3, side by side
XDIST=()
"$PY" -c 'import xdist' 2>/dev/null && XDIST=(-n "$JOBS")
run "phase 1 tests" "$TEST_LIMIT" "$OUT/tests.log" env OMP_NUM_THREADS=2 "$PY" -m pytest -p no:cacheprovider "${XDIST[@]}" \
    -m "gpu or not slow" --durations=15 -q "${TEST_ARGS[@]}" &
TESTS=$!

# notebooks SIZE LOG LIMIT_07 LIMIT_A4 [VAR=VALUE ...]: lecture 07, then a4, each under its own limit; the
# runner's own --time-limit ends first, so the log names the cell that was running.
notebooks() {
    local size=$1 log=$2 limits=("$3" "$4") i=0 nb
    shift 4
    for nb in lectures/07_depth_gradients_and_residuals.ipynb solutions/a4_resnet_gpu/a4_resnet_gpu.ipynb; do
        run "phase 3 $(basename "$nb" .ipynb) $size" "${limits[$i]}" "$log" env CNNKIT_SIZE="$size" "$@" \
            "$PY" benchmarks/run_notebook.py "$nb" --keep-going --time-limit $(( ${limits[$i]} - 12 ))
        i=$(( i + 1 ))
    done
}
notebooks small "$OUT/notebooks_small.log" "${SMALL_LIMITS[@]}" OMP_NUM_THREADS=4 &
SMALL=$!
notebooks full "$OUT/notebooks_full.log" "${FULL_LIMITS[@]}" CNNKIT_SYNTHETIC_DATA="$SYNTHETIC" &
FULL=$!
wait $TESTS $SMALL $FULL

# ---------------------------------------------------------------- summary
{
    echo "--- tests (tail of tests.log)"
    grep -E "^(FAILED|ERROR)|[0-9]+ (passed|failed|error|skipped)" "$OUT/tests.log" | tail -40
    echo "--- notebooks"
    grep -hE "^(OK|FAILED) " "$OUT"/notebooks_*.log
    echo "--- benchmark"
    cat "$OUT/gpu_bench.md" 2>/dev/null || echo "no gpu_bench.md: see bench.log"
} >> "$SUMMARY"
note "done"
