"""Exported weights load with SHA checks; `evaluate classifier` writes the promised JSON.

Uses an untrained model (tests never train), so only structure and integrity are checked here; the
shipped model's accuracy is checked in test_shipped_classifier.py.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from brainscan.errors import ModelError
from brainscan.types import CLASS_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from brainscan.runtime.integrity import sha256_of
    from brainscan.runtime.keras.vgg16 import build_classifier
    from brainscan.runtime.keras.weights import save_float16_weights

    folder = tmp_path_factory.mktemp("model")
    model = build_classifier("scratch", seed=7)
    save_float16_weights(model, folder / "w.npz")
    card = {
        "name": "test classifier",
        "version": "t1",
        "file": "w.npz",
        "sha256": sha256_of(folder / "w.npz"),
        "input_shape": [128, 128, 3],
        "labels": list(CLASS_NAMES),
        "preprocessing": "preprocess_slice",
        "calibration": {"temperature": 1.5},
    }
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def test_float16_weights_round_trip_and_size(exported):
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.spec import read_spec

    spec = read_spec(exported / "card.json")
    assert (exported / "w.npz").stat().st_size <= 40 * 1024 * 1024
    classifier = KerasClassifier.from_spec(spec)
    probs = classifier.predict([np.random.default_rng(0).integers(0, 255, (90, 70)) for _ in range(3)])
    assert probs.shape == (3, 4) and np.allclose(probs.sum(1), 1.0)
    assert classifier.temperature == 1.5


def test_tampered_weights_refused(exported, tmp_path):
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.spec import read_spec

    shutil.copy(exported / "card.json", tmp_path / "card.json")
    data = bytearray((exported / "w.npz").read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / "w.npz").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        KerasClassifier.from_spec(read_spec(tmp_path / "card.json"))


def test_missing_card_is_a_model_error(tmp_path):
    from brainscan.runtime.spec import read_spec

    with pytest.raises(ModelError, match="missing"):
        read_spec(tmp_path / "nope.json")


def test_evaluate_cli_json(exported, tmp_path):
    from brainscan.cli import main

    rng = np.random.default_rng(1)
    for name in CLASS_NAMES:
        (tmp_path / "set" / name).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(rng.integers(0, 255, (64, 80), dtype=np.uint8)).save(tmp_path / "set" / name / f"{k}.jpg")
    out = tmp_path / "m.json"
    assert (
        main(
            [
                "evaluate",
                "classifier",
                str(tmp_path / "set"),
                "--card",
                str(exported / "card.json"),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    for key in (
        "n",
        "accuracy",
        "per_class",
        "confusion",
        "tumour_sensitivity",
        "tumour_specificity",
        "ece",
        "ms_per_image",
    ):
        assert key in report
    assert report["n"] == 8 and np.asarray(report["confusion"]).sum() == 8
    assert set(report["per_class"]) == set(CLASS_NAMES)
