#!/usr/bin/env bash
# Build the one-folder desktop app: dist/BrainScan/ (run from anywhere; uses the development install).
#
#   build_spec/build.sh
#
# 1. The bundle runs the LiteRT models committed beside their cards (resources/models/*.tflite, the classifier's
#    Grad-CAM head .npz), each checked against the SHA-256 in its card's "litert" entry. Nothing is converted:
#    conversion is the explicit `brainscan export litert` step, run (and committed) when the weights change.
#    A card without a current committed LiteRT model stops the build, unless BRAINSCAN_BUILD_CONVERT_MISSING=1:
#    then only that model is converted (needs the [train] extra) into a temporary copy of resources/models used
#    for this bundle alone, with a warning; resources/models is left untouched.
# 2. PyInstaller with build_spec/brainscan.spec (BRAINSCAN_BUILD_MODELS tells it which models folder to bundle).
# Environment: PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$PWD/.venv/bin/python}"

if [ -f resources/models/classifier_vgg16.json ]; then
  # Prints one line per card whose committed LiteRT model cannot run as it is (nothing when all are current).
  stale="$("$PY" - <<'PYEOF'
from pathlib import Path
from brainscan.runtime.litert_runtime import litert_problem
from brainscan.runtime.spec import read_spec
for name in ("classifier_vgg16.json", "segmenter_unet.json"):
    card = Path("resources/models") / name
    if card.is_file() and (problem := litert_problem(read_spec(card))):
        print(f"{name}: {problem}")
PYEOF
)"
  if [ -n "$stale" ]; then
    echo "LiteRT models not committed or not current:" >&2
    echo "$stale" >&2
    if [ "${BRAINSCAN_BUILD_CONVERT_MISSING:-0}" != 1 ]; then
      echo "error: run '$PY -m brainscan export litert' (needs pip install -e '.[train]'), commit the card and the" \
           "files its \"litert\" entry names, then build again (or set BRAINSCAN_BUILD_CONVERT_MISSING=1)" >&2
      exit 1
    fi
    STAGE="$(mktemp -d "${TMPDIR:-/tmp}/brainscan-models.XXXXXX")"
    trap 'rm -rf "$STAGE"' EXIT
    cp -a resources/models/. "$STAGE/"
    echo "warning: BRAINSCAN_BUILD_CONVERT_MISSING=1: converting in $STAGE for this build only; this bundle's" \
         "LiteRT files for the models above are NOT the committed ones" >&2
    "$PY" -m brainscan export litert --models-dir "$STAGE" >/dev/null
    export BRAINSCAN_BUILD_MODELS="$STAGE"
  else
    echo "LiteRT models: the committed files match their cards"
  fi
else
  echo "warning: resources/models has no trained classifier; the app will be built without models" >&2
  export BRAINSCAN_BUILD_WITHOUT_MODELS=1
fi
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --log-level ERROR build_spec/brainscan.spec
echo "built dist/BrainScan in $(( $(date +%s) - start )) s, $(du -sh dist/BrainScan | cut -f1)"
