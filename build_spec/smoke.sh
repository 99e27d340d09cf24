#!/usr/bin/env bash
# Frozen-app smoke test: build dist/BrainScan, then run the frozen executable headless and offscreen.
#
#   build_spec/smoke.sh              # build (with the committed LiteRT models), test
#   build_spec/smoke.sh --no-build   # test the existing dist/BrainScan
#
# Steps: (1) check the committed LiteRT models against their cards (build.sh; a card without a current one is
# converted for this build only, with a warning: BRAINSCAN_BUILD_CONVERT_MISSING defaults to 1 here, so CI stays
# green between new weights and their committed export); (2) PyInstaller; (3) a 24-slice DICOM series written with pydicom (build_spec/make_series.py);
# (4) `dist/BrainScan/brainscan analyze SERIES --json out.json --no-history` in a clean environment (empty HOME,
# no BRAINSCAN_* variables, no network namespace where `unshare -n` works, under strace where installed);
# (5) the same series through the development install with the same LiteRT models, and build_spec/smoke_check.py:
# the JSON structure, model SHA-256s against the cards, and every probability within 1e-4 of that run; (6) the GUI
# started offscreen, timed to its first shown window, then closed; (7) `brainscan train` fails cleanly;
# (8) nothing written outside the per-user data folder (HOME/.local/share/BrainScan) and the requested output,
# no AF_INET/AF_INET6 socket. Exit status 0 when all pass. Takes about 2.5 minutes on 2 busy cores (mostly the
# build). Without trained models in resources/models (a checkout without them) it builds without them and
# checks everything else, with analyze expected to refuse clearly.
# Environment: PYTHON (default .venv/bin/python), BRAINSCAN_SMOKE_SLICES (24), BRAINSCAN_SMOKE_SERIES
# (make_series --source: auto, phantom or a folder), BRAINSCAN_SMOKE_KEEP=1 keeps the work folder,
# BRAINSCAN_SMOKE_DIST (with --no-build: test another built folder than dist/BrainScan).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DIST="${BRAINSCAN_SMOKE_DIST:-$ROOT/dist/BrainScan}"  # another folder only makes sense with --no-build
APP="$DIST/brainscan"
SLICES="${BRAINSCAN_SMOKE_SLICES:-24}"
failures=0

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

BUILD=1
[ "${1:-}" = "--no-build" ] && BUILD=0
if [ "$BUILD" = 1 ] && [ ! -f resources/models/classifier_vgg16.json ]; then
  # No trained models in this checkout: build and check everything that does not need them.
  step "1. LiteRT models: none installed"
  echo "warning: resources/models has no trained models; building without them (the analysis is not checked)"
  export BRAINSCAN_BUILD_WITHOUT_MODELS=1
fi
if [ "$BUILD" = 1 ]; then
  step "1-2. build_spec/build.sh (committed LiteRT models, PyInstaller)"
  PYTHON="$PY" BRAINSCAN_BUILD_CONVERT_MISSING="${BRAINSCAN_BUILD_CONVERT_MISSING:-1}" build_spec/build.sh
fi
[ -x "$APP" ] || { echo "no $APP; build it first" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/brainscan-smoke.XXXXXX")"
if [ "${BRAINSCAN_SMOKE_KEEP:-0}" = 1 ]; then echo "work folder: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
mkdir -p "$WORK/home" "$WORK/cwd" "$WORK/out"  # out/: the JSON, and the temporary file analyze writes it through

step "3. DICOM series"
"$PY" build_spec/make_series.py "$WORK/series" --slices "$SLICES" --source "${BRAINSCAN_SMOKE_SERIES:-auto}"

# The frozen app runs with an empty HOME and a minimal environment, in its own network namespace when possible.
ISOLATE=()
if unshare -n true 2>/dev/null; then ISOLATE=(unshare -n); elif unshare -rn true 2>/dev/null; then ISOLATE=(unshare -rn); fi
STRACE=()
if command -v strace >/dev/null 2>&1 && strace -f -qq -o /dev/null true 2>/dev/null; then
  STRACE=(strace -f -qq -e trace=%network,%file -o)
fi
frozen() {  # frozen TRACEFILE ARGS...: run the app in $WORK/cwd with a clean environment
  local trace="$1"; shift
  local tracer=()
  [ ${#STRACE[@]} -gt 0 ] && tracer=("${STRACE[@]}" "$trace")
  # shellcheck disable=SC2086 # EXTRA_ENV holds NAME=VALUE words
  (cd "$WORK/cwd" && timeout "${TIMEOUT:-600}" env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 \
      QT_QPA_PLATFORM=offscreen ${EXTRA_ENV:-} "${ISOLATE[@]}" "${tracer[@]}" "$APP" "$@")
}
touch "$WORK/marker"
echo "network namespace: ${ISOLATE[*]:-none (unshare unavailable)}; syscall trace: $([ ${#STRACE[@]} -gt 0 ] && echo strace || echo "none (strace unavailable)")"

step "4. frozen: brainscan analyze"
start=$(date +%s%N)
if [ ! -f "$DIST/_internal/resources/models/classifier_vgg16.json" ]; then
  NO_MODELS=1
  frozen "$WORK/analyze.trace" analyze "$WORK/series" --json "$WORK/out/frozen.json" --no-history --quiet \
      2>"$WORK/analyze.stderr" && rc=0 || rc=$?
  cat "$WORK/analyze.stderr"
  if [ "$rc" = 2 ] && grep -q "no trained model" "$WORK/analyze.stderr"; then
    echo "built without models: analyze refuses clearly (exit 2), as it should"
  else
    fail "without models, analyze should exit 2 saying no trained model is installed (exit $rc)"
  fi
elif frozen "$WORK/analyze.trace" analyze "$WORK/series" --json "$WORK/out/frozen.json" --no-history --quiet \
    --dicom-out "$WORK/out/dicom"; then
  echo "frozen analyze took $(( ($(date +%s%N) - start) / 1000000 )) ms (under strace when tracing: see bench_frozen.py for timings)"
  # DICOM results (highdicom and its bundled standard tables): the report always, the SEG when outlined
  ls "$WORK"/out/dicom/*-report.dcm >/dev/null 2>&1 || fail "frozen analyze --dicom-out wrote no Encapsulated PDF"
  echo "DICOM results: $(cd "$WORK/out/dicom" 2>/dev/null && ls | tr '\n' ' ')"
else
  fail "frozen brainscan analyze failed"
fi

step "4b. frozen: brainscan echo (pynetdicom loads; nothing listens, so it must fail with a clear message)"
frozen "$WORK/echo.trace" echo --to SMOKE@127.0.0.1:1 --timeout 3 2>"$WORK/echo.stderr" && rc=0 || rc=$?
cat "$WORK/echo.stderr"
if [ "$rc" != 2 ] || grep -q "Traceback" "$WORK/echo.stderr" || ! grep -q "127.0.0.1:1" "$WORK/echo.stderr"; then
  fail "frozen brainscan echo should exit 2 naming 127.0.0.1:1 (exit $rc)"
fi

step "4c. frozen: brainscan batch, two worker processes (the frozen executable must start its own workers)"
if [ -z "${NO_MODELS:-}" ]; then
  frozen "$WORK/batch.trace" batch "$WORK/series" --out "$WORK/out/batch" --workers 2 2>"$WORK/batch.stderr" \
      && rc=0 || rc=$?
  tail -3 "$WORK/batch.stderr"
  if [ "$rc" != 0 ] || grep -q "Traceback\|invalid choice" "$WORK/batch.stderr" \
      || ! grep -q "^[0-9a-f]*,.*,tumour,tumour," "$WORK/out/batch/results.csv"; then
    fail "frozen brainscan batch should analyse the series in a worker process (exit $rc)"
  fi
fi

step "5. result check (against the same LiteRT models in the development install)"
# The frozen app must give the development install's results from the same model files: that checks the
# packaging. LiteRT against Keras (within each card's bound, or its validation check for a quantised model) is
# the test suite's job (tests/runtime/test_litert.py).
REFERENCE=()
if [ -n "${NO_MODELS:-}" ]; then
  echo "skipped: no models"
elif "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('ai_edge_litert') is None)"; then
  BRAINSCAN_RUNTIME=litert BRAINSCAN_HOME="$WORK/devhome" "$PY" -m brainscan analyze "$WORK/series" \
      --json "$WORK/reference.json" --no-history --quiet && REFERENCE=(--reference "$WORK/reference.json") \
      || fail "the development LiteRT reference run failed"
else
  echo "warning: LiteRT is not installed here; checking the structure only (no reference run)"
fi
if [ -z "${NO_MODELS:-}" ] && [ -f "$WORK/out/frozen.json" ]; then
  # the bundled cards: the committed ones (build.sh checked the files against them), or a build-only conversion's
  "$PY" build_spec/smoke_check.py "$WORK/out/frozen.json" --slices "$SLICES" "${REFERENCE[@]}" \
      --models-dir "$DIST/_internal/resources/models" || fail "result check"
fi

step "6. frozen: GUI offscreen, first window, quit"
probe_out="$(EXTRA_ENV="BRAINSCAN_STARTUP_PROBE=$(date +%s.%N)" TIMEOUT=120 frozen "$WORK/gui.trace" 2>"$WORK/gui.stderr")" \
  && rc=0 || rc=$?
echo "$probe_out"
if [ "$rc" != 0 ] || ! grep -q '"launch_to_shown_s"' <<<"$probe_out"; then
  fail "GUI did not show its window and quit cleanly (exit $rc)"; tail -20 "$WORK/gui.stderr" >&2
fi

step "7. frozen: training is absent and says so"
if frozen "$WORK/train.trace" train classifier --out "$WORK/cwd/run" 2>"$WORK/train.stderr"; then
  fail "brainscan train should fail in the frozen app"
elif grep -q "needs TensorFlow" "$WORK/train.stderr"; then
  cat "$WORK/train.stderr"
else
  fail "brainscan train failed without the TensorFlow message"; cat "$WORK/train.stderr" >&2
fi

step "8. writes and network"
DATA="$WORK/home/.local/share/BrainScan"
outside="$(find "$WORK/home" "$WORK/cwd" -newer "$WORK/marker" ! -type d | grep -v "^$DATA/" || true)"
[ -z "$outside" ] || fail "files written outside $DATA: $outside"
changed="$(find "$DIST" -newer "$WORK/marker" | head -5)"
[ -z "$changed" ] || fail "the app wrote into its own folder: $changed"
echo "files in the per-user data folder: $(cd "$DATA" 2>/dev/null && find . -type f | tr '\n' ' ')"
if [ ${#STRACE[@]} -gt 0 ]; then
  for trace in "$WORK"/analyze.trace "$WORK"/gui.trace "$WORK"/train.trace; do
    [ -f "$trace" ] || continue
    echo "-- $(basename "$trace")"
    # only the data folder and the requested outputs may be written
    "$PY" build_spec/trace_check.py "$trace" --cwd "$WORK/cwd" --allow "$DATA" --allow "$WORK/out" \
        --allow "$WORK/cwd/run" || fail "$(basename "$trace"): network socket or write outside the data folder"
  done
fi

step "result"
if [ "$failures" = 0 ]; then echo "SMOKE TEST PASSED"; else echo "SMOKE TEST FAILED ($failures)"; exit 1; fi
