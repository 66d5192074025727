#!/usr/bin/env bash
# The GPU check in one command, within 10 minutes (issue 19):
#
#   bash bench/gpu_check.sh            # figures into $OUT, else bench/gpu-results/
#
# 1. finds the GPU (nvidia-smi); without one it says "no GPU found" and exits 0;
# 2. makes a virtualenv with the CUDA build of the pinned torch (constraints/torch-cpu.txt:
#    a plain `pip install torch==PIN` on a CUDA Linux machine is the CUDA build) and the
#    project installed against that constraints file, or uses $GPU_CHECK_PYTHON, a Python
#    that already has both (a machine without network);
# 3. runs `pytest tests/test_cuda.py -q` and the benchmark suite's GPU rows
#    (`bench/run_suite.py --quick --skip ingest,scaling --with-gpu --device cuda`: the
#    R-GCN layer, AIFB+ and synth-nc node classification, synth-lp link prediction);
# 4. writes gpu-check.md (the summary), pytest.txt, suite.md and suite.json, and prints
#    the summary.
#
# Every step has its share of one deadline ($GPU_CHECK_SECONDS, default 570 s), so the
# whole check ends within 10 minutes. Exit status: 0 when everything ran and passed,
# 1 when a step failed, 124 when the deadline cut a step short.
#
# Settings (environment): OUT or GPU_CHECK_OUT (results folder), GPU_CHECK_VENV
# (default /tmp/rdf2mm-gpu-venv, reused when its torch sees the GPU), GPU_CHECK_PYTHON,
# GPU_CHECK_SECONDS, GPU_CHECK_NVIDIA_SMI (the nvidia-smi to ask; the tests point it at
# nothing to take the no-GPU path on any machine), RDF2MM_SHARED_DATA (the datasets).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMI=${GPU_CHECK_NVIDIA_SMI:-nvidia-smi}
if ! command -v "$SMI" >/dev/null 2>&1 || ! "$SMI" -L >/dev/null 2>&1 || [ -z "$("$SMI" -L 2>/dev/null)" ]; then
    echo "gpu_check: no GPU found ($SMI missing or lists no device): nothing to check, exiting cleanly"
    exit 0
fi

START=$(date +%s)
DEADLINE=$((START + ${GPU_CHECK_SECONDS:-570}))
RESULTS=${GPU_CHECK_OUT:-${OUT:-$ROOT/bench/gpu-results}}
mkdir -p "$RESULTS"
[ -e "$RESULTS/.gitignore" ] || [ -n "${OUT:-}${GPU_CHECK_OUT:-}" ] || echo '*' > "$RESULTS/.gitignore"
SUMMARY=$RESULTS/gpu-check.md
STATUS=0

say() { echo "[gpu_check $(date +%H:%M:%S)] $*" >&2; }
left() { echo $((DEADLINE - $(date +%s))); }
# run_for SHARE_SECONDS CMD...: the command under `timeout`, at most SHARE or what is left
run_for() {
    local share=$1 budget
    shift
    budget=$(left)
    [ "$share" -lt "$budget" ] && budget=$share
    if [ "$budget" -le 5 ]; then
        say "no time left for: $*"
        return 124
    fi
    timeout --kill-after=10 "$budget" "$@"
}
note_rc() {  # note_rc RC WHAT: keep the worst status
    if [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; then
        STATUS=124
        echo "- $2: **stopped at its time limit**" >> "$SUMMARY"
    elif [ "$1" -ne 0 ]; then
        [ "$STATUS" -eq 0 ] && STATUS=1
        echo "- $2: **failed (exit $1)**" >> "$SUMMARY"
    else
        echo "- $2: ok" >> "$SUMMARY"
    fi
}

{
    echo "## GPU check ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "\`bash bench/gpu_check.sh\` at commit \`$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)\`."
    echo
    echo '```'
    "$SMI" --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || "$SMI" -L
    echo '```'
    echo
} > "$SUMMARY"

# ------------------------------------------------------------------ the environment
PIN=$(sed -n 's/^torch==\([^ ;#]*\).*/\1/p' "$ROOT/constraints/torch-cpu.txt" | head -n 1)
cuda_python() {  # true when $1's torch is $PIN (when pinned) and sees a GPU
    "$1" - "$PIN" <<'EOF' >/dev/null 2>&1
import sys, torch
pin = sys.argv[1]
sys.exit(0 if torch.cuda.is_available() and (not pin or torch.__version__.split("+")[0] == pin) else 1)
EOF
}
if [ -n "${GPU_CHECK_PYTHON:-}" ]; then
    PY=$GPU_CHECK_PYTHON
    say "using $PY (GPU_CHECK_PYTHON): nothing installed"
    echo "- environment: $PY as given (GPU_CHECK_PYTHON)" >> "$SUMMARY"
else
    VENV=${GPU_CHECK_VENV:-/tmp/rdf2mm-gpu-venv}
    PY=$VENV/bin/python
    if [ -x "$PY" ] && cuda_python "$PY" && "$PY" -c "import rdf2mm, pytest" >/dev/null 2>&1; then
        say "reusing $VENV"
        echo "- environment: $VENV, reused" >> "$SUMMARY"
    else
        say "virtualenv $VENV: torch==$PIN (the CUDA build) and rdf2mm -c constraints/torch-cpu.txt"
        # A venv holding a CPU torch of the same version would satisfy the pin as it is: start
        # it afresh (only a virtualenv is cleared, never another folder).
        CLEAR=
        [ -f "$VENV/pyvenv.cfg" ] && CLEAR=--clear
        python3 -m venv $CLEAR "$VENV" \
            && run_for 300 "$PY" -m pip install -q --disable-pip-version-check "torch==$PIN" \
            && run_for 240 "$PY" -m pip install -q --disable-pip-version-check \
                -c "$ROOT/constraints/torch-cpu.txt" -e "$ROOT" pytest pytest-timeout
        rc=$?
        note_rc "$rc" "install of torch==$PIN and rdf2mm into $VENV"
        if [ "$rc" -ne 0 ]; then
            echo "  (no network? set GPU_CHECK_PYTHON to a Python with a CUDA torch and rdf2mm's dependencies)" >> "$SUMMARY"
            cat "$SUMMARY"
            exit "$STATUS"
        fi
    fi
fi
if ! cuda_python "$PY"; then
    "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'available', torch.cuda.is_available())" \
        >> "$SUMMARY" 2>&1
    note_rc 1 "torch in $PY is not torch==$PIN with a usable GPU"
    cat "$SUMMARY"
    exit "$STATUS"
fi
"$PY" -c "import torch; print(f'- torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}')" \
    >> "$SUMMARY"

# ------------------------------------------------------------------------- the checks
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1
cd "$ROOT" || exit 1
say "pytest tests/test_cuda.py"
run_for 200 "$PY" -m pytest tests/test_cuda.py -q -p no:cacheprovider > "$RESULTS/pytest.txt" 2>&1
rc=$?
note_rc "$rc" "pytest tests/test_cuda.py -q: $(tail -n 1 "$RESULTS/pytest.txt")"
if grep -q " skipped" "$RESULTS/pytest.txt" && ! grep -q " passed" "$RESULTS/pytest.txt"; then
    note_rc 1 "tests/test_cuda.py skipped everything: torch saw no CUDA device"
fi

say "GPU rows of bench/run_suite.py"
run_for 100000 "$PY" bench/run_suite.py --quick --skip ingest,scaling --with-gpu --device cuda --timeout 150 \
    --json "$RESULTS/suite.json" > "$RESULTS/suite.md"
note_rc $? "bench/run_suite.py --quick --skip ingest,scaling --with-gpu --device cuda"

{
    echo
    echo "Took $(( $(date +%s) - START )) s (limit ${GPU_CHECK_SECONDS:-570} s). Figures: suite.md below, suite.json, pytest.txt."
    echo
    cat "$RESULTS/suite.md" 2>/dev/null
} >> "$SUMMARY"
cat "$SUMMARY"
exit "$STATUS"
