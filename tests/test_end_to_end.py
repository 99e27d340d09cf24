"""End to end with the REAL shipped models: a generated DICOM series through `brainscan analyze`."""

from __future__ import annotations

import json

import pytest

from brainscan import cli
from brainscan.config import models_dir
from brainscan.runtime.spec import CLASSIFIER_CARD, read_spec
from brainscan.types import CLASS_NAMES
from tests.dicom_factory import write_phantom_series
from tests.shipped import shipped_spec

pytestmark = pytest.mark.slow


def test_real_models_analyse_a_generated_dicom_series(tmp_path):
    card = models_dir() / CLASSIFIER_CARD
    shipped_spec(CLASSIFIER_CARD)  # fails when absent, skips when no runtime can run it here
    write_phantom_series(tmp_path / "series", n=6, shape=(128, 128), lesion_slices=(2, 3), radius=12)
    out = tmp_path / "result.json"
    assert cli.main(["analyze", str(tmp_path / "series"), "--json", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    assert data["verdict"]["label"] in CLASS_NAMES
    assert sum(data["verdict"]["tumour_type_given_tumour"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 0.0 <= data["verdict"]["tumour_probability"] <= 1.0
    assert len(data["slices"]) == 6
    for entry in data["slices"]:
        if entry["assessed"]:
            assert sum(entry["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        else:  # a geometric phantom may be unlike anything the model learned from: said, never guessed
            assert entry["probabilities"] is None and entry["not_assessed_reason"]
        assert entry["tumour_area_mm2"] >= 0.0
    assert data["models"][0]["sha256"] == read_spec(card).sha256
