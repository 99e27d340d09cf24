#!/usr/bin/env bash
# Build the one-folder desktop app: dist/BrainScan/ (run from anywhere; uses the development install).
#
#   build_spec/build.sh
#
# 1. The bundle runs LiteRT models, which are derived from the Keras weights in git and not committed
#    themselves. When a model card's .tflite (or the classifier's Grad-CAM head file) is missing or does not
#    match the card, `brainscan export litert` converts again (needs TensorFlow, 1-2 min) and writes the
#    LiteRT entry to <card>.litert.json (gitignored, like the .tflite: the converter's bytes differ between
#    checkouts), so the committed cards never change.
# 2. PyInstaller with build_spec/brainscan.spec.
# Environment: PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$PWD/.venv/bin/python}"

if [ -f resources/models/classifier_vgg16.json ]; then
  if ! "$PY" - <<'PYEOF'
import hashlib, json, sys
from pathlib import Path
from brainscan.models.spec import litert_sidecar
models = Path("resources/models")
stale = []
for name in ("classifier_vgg16.json", "segmenter_unet.json"):
    card_path = models / name
    if not card_path.is_file():
        continue
    card = json.loads(card_path.read_text())
    sidecar = litert_sidecar(card_path)
    entry = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    for key, sha_key in (("file", "sha256"), ("head_file", "head_sha256")):
        if key not in entry and key == "head_file":
            continue
        path = models / entry.get(key, "-")
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry.get(sha_key):
            stale.append(f"{name} ({entry.get(key, 'no LiteRT entry')})")
    if entry.get("source_sha256", card["sha256"]) != card["sha256"]:
        stale.append(f"{name} (converted from other weights)")
print("LiteRT models to convert: " + ", ".join(stale) if stale else "LiteRT models match their cards")
sys.exit(1 if stale else 0)
PYEOF
  then
    "$PY" -m brainscan export litert
  fi
else
  echo "warning: resources/models has no trained classifier; the app will be built without models" >&2
  export BRAINSCAN_BUILD_WITHOUT_MODELS=1
fi
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --log-level ERROR build_spec/brainscan.spec
echo "built dist/BrainScan in $(( $(date +%s) - start )) s, $(du -sh dist/BrainScan | cut -f1)"
