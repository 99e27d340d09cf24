"""The shipped segmenter reproduces its model card on real validation slices (needs ../shared).

Checks what the card claims, not the product target (Dice >= 0.80, issue 4, measured by
`brainscan evaluate segmenter`), so a shipped interim model cannot turn CI red by itself.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from brainscan.config import models_dir
from brainscan.pipeline.masks import clean_mask, dice
from brainscan.runtime.spec import SEGMENTER_CARD

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

SAMPLE = 24
# Per-slice Dice has a standard deviation of ~0.25; the mean of 24 slices ~0.05. Three of those below
# the card passes a model that matches its card and fails a wrong file or broken preprocessing.
TOLERANCE = 0.15


def test_shipped_segmenter_outlines_real_tumours(shared_data):
    from tests.shipped import shipped_model

    segmenter = shipped_model(SEGMENTER_CARD)  # LiteRT when the card names a .tflite, else Keras
    spec = segmenter.spec
    card = models_dir() / SEGMENTER_CARD
    files = json.loads((card.parent / spec.card["split"]["validation_files"]).read_text())["files"]
    picked = [files[i] for i in np.random.default_rng(0).choice(len(files), SAMPLE, replace=False)]
    root = shared_data / "segmentation"
    images = [np.asarray(Image.open(root / "images" / name).convert("L")) for name in picked]
    truths = [np.asarray(Image.open(root / "masks" / name.replace(".png", "_mask.png")).convert("L")) > 127
              for name in picked]  # fmt: skip
    maps = segmenter.predict(images)
    masks = [clean_mask(m) for m in maps]
    assert all(m.shape == t.shape for m, t in zip(masks, truths, strict=True))
    assert sum(m.any() for m in masks) >= 2 * SAMPLE // 3  # every validation slice shows a tumour
    claimed = spec.card["validation"]["dice_mean"]
    mean_dice = float(np.mean([dice(m, t) for m, t in zip(masks, truths, strict=True)]))
    assert mean_dice >= claimed - TOLERANCE, f"sample Dice {mean_dice:.3f}, card claims {claimed:.3f}"
