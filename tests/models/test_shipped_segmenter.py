"""The shipped segmenter on real validation slices from ../shared (needs ../shared and a shipped model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from brainscan.config import models_dir
from brainscan.models.spec import SEGMENTER_CARD
from brainscan.pipeline.masks import clean_mask, dice

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_shipped_segmenter_outlines_real_tumours(shared_data):
    card = models_dir() / SEGMENTER_CARD
    if not card.exists():
        pytest.skip("no segmenter is shipped yet (resources/models/segmenter_unet.json absent)")
    from brainscan.models.keras_segmenter import KerasSegmenter
    from brainscan.models.spec import read_spec

    spec = read_spec(card)
    files = json.loads((card.parent / spec.card["split"]["validation_files"]).read_text())["files"]
    picked = [files[i] for i in np.random.default_rng(0).choice(len(files), 8, replace=False)]
    root = shared_data / "segmentation"
    images = [np.asarray(Image.open(root / "images" / name).convert("L")) for name in picked]
    truths = [np.asarray(Image.open(root / "masks" / name.replace(".png", "_mask.png")).convert("L")) > 127
              for name in picked]  # fmt: skip
    maps = KerasSegmenter.from_spec(spec).predict(images)
    masks = [clean_mask(m) for m in maps]
    assert all(m.shape == t.shape for m, t in zip(masks, truths, strict=True))
    assert sum(m.any() for m in masks) >= 6  # non-empty on (almost) every tumour slice
    assert np.mean([dice(m, t) for m, t in zip(masks, truths, strict=True)]) >= 0.7
