"""`evaluate segmenter --validation-split --views N`: the card's numbers re-measured on the listed slices only, at
another number of views (the committed LiteRT segmenter; no TensorFlow)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from brainscan.config import models_dir
from brainscan.runtime.spec import SEGMENTER_CARD
from tests.segmentation_set import write_segmentation_set


def test_validation_split_scores_only_the_listed_slices_at_the_asked_views(tmp_path, monkeypatch):
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    card = json.loads((models_dir() / SEGMENTER_CARD).read_text())
    if "litert" not in card:
        pytest.skip("the shipped segmenter card names no LiteRT model")
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(models_dir() / card["litert"]["file"], models / card["litert"]["file"])
    shutil.copy(models_dir() / card["file"], models / card["file"])
    if "slice_gate" in card:
        shutil.copy(models_dir() / card["slice_gate"]["file"], models / card["slice_gate"]["file"])
    card["split"]["validation_files"] = "val.json"
    (models / "val.json").write_text(json.dumps({"files": ["5.png", "9.png"]}))
    (models / SEGMENTER_CARD).write_text(json.dumps(card))

    box = (slice(100, 150), slice(90, 160))

    def image_of(rng):
        image = rng.integers(0, 60, (256, 256)).astype(np.uint8)
        image[box] = 230
        return image

    data = write_segmentation_set(tmp_path / "set", 256, image_of, box)
    monkeypatch.setenv("BRAINSCAN_DATA", str(tmp_path / "no-shared-data"))  # no tumour-free slices to add

    from brainscan.cli import main

    out = tmp_path / "r.json"
    args = ["evaluate", "segmenter", str(data), "--card", str(models / SEGMENTER_CARD), "--validation-split"]
    assert main([*args, "--views", "1", "--runtime", "litert", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 2 and report["views"] == 1 and set(report["dice_by_label"]) == {"meningioma", "glioma"}
    assert "no_tumour" not in report
    with pytest.raises(SystemExit):
        main([*args, "--views", "3"])
