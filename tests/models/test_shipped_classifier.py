"""The shipped classifier on 40 of its own validation images (needs ../shared and a shipped model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainscan.config import models_dir
from brainscan.models.spec import CLASSIFIER_CARD
from brainscan.types import CLASS_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_shipped_model_on_validation_sample(shared_data):
    card = models_dir() / CLASSIFIER_CARD
    if not card.exists():
        pytest.skip("no classifier is shipped yet (resources/models/classifier_vgg16.json absent)")
    from brainscan.models.keras_classifier import KerasClassifier
    from brainscan.models.spec import read_spec
    from brainscan.models.training.dataset import read_image

    spec = read_spec(card)
    files = json.loads((card.parent / spec.card["split"]["validation_files"]).read_text())["files"]
    picked = [files[i] for i in np.random.default_rng(0).choice(len(files), 40, replace=False)]
    root = shared_data / "classification" / "Training"
    labels = np.array([CLASS_NAMES.index(f.split("/")[0]) for f in picked])
    probs = KerasClassifier.from_spec(spec).predict([read_image(root / f) for f in picked])
    assert (probs.argmax(1) == labels).mean() >= 0.9
