"""The committed LiteRT runtime models: listed in their cards, verified, small, and run without TensorFlow.

No TensorFlow needed: this is what a fresh clone with the README's install runs on.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from brainscan.config import PROJECT_ROOT, models_dir
from brainscan.runtime.spec import CLASSIFIER_CARD, SEGMENTER_CARD, read_spec

MAX_BYTES = 40 * 2**20


def _card_with_litert(card_name: str):
    card = models_dir() / card_name
    if not card.is_file():
        pytest.fail(f"{card} is missing: the model cards are committed with the code")
    spec = read_spec(card)
    if "litert" not in spec.card:
        pytest.skip(f"{card_name} names no LiteRT model yet: run `brainscan export litert` and commit what it writes")
    return spec


@pytest.mark.parametrize("card_name", [CLASSIFIER_CARD, SEGMENTER_CARD])
def test_committed_litert_files_match_their_card(card_name):
    from brainscan.runtime.litert_runtime import litert_problem

    spec = _card_with_litert(card_name)
    assert litert_problem(spec) is None
    entry = spec.card["litert"]
    assert entry["source_sha256"] == spec.sha256  # converted from the weights this card describes
    for key in ("file", "head_file"):
        if key in entry:
            assert (spec.file.parent / entry[key]).stat().st_size <= MAX_BYTES


@pytest.mark.parametrize("card_name", [CLASSIFIER_CARD, SEGMENTER_CARD])
def test_committed_litert_model_runs_without_tensorflow(card_name):
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    _card_with_litert(card_name)
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from brainscan.runtime.loading import load_classifier, load_segmenter\n"
        "from brainscan.runtime.spec import read_spec\n"
        "from brainscan.config import models_dir\n"
        f"spec = read_spec(models_dir() / {card_name!r})\n"
        f"load = load_classifier if {card_name!r} == {CLASSIFIER_CARD!r} else load_segmenter\n"
        "model = load(spec, 'litert')\n"
        "pixels = np.random.default_rng(0).integers(0, 4000, (200, 170)).astype(np.uint16)\n"
        "out = model.predict([pixels])\n"
        "shape = out.shape if hasattr(out, 'shape') else out[0].shape\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "print(type(model).__name__, shape, bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BRAINSCAN_RESOURCES"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LiteRT" in result.stdout and "[]" in result.stdout
