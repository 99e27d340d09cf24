"""The shipped series model: verified before use, fitted for the shipped slice models, and used by analyze() only
for volumes (image folders keep the slice rule)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from brainscan.errors import ModelError
from brainscan.runtime.series_model import SERIES_CARD, read_series_model, shipped_series_model
from brainscan.runtime.spec import shipped_classifier_spec, shipped_segmenter_spec


def test_the_shipped_series_model_suits_the_shipped_slice_models_and_has_its_folds():
    model = shipped_series_model()
    assert model.suits(shipped_classifier_spec().version, shipped_segmenter_spec().version)
    after = model.card["validation"]["after"]
    assert after["normal"]["series"] > 0 and after["tumour"]["series"] > 0
    assert 0 < model.tumour_threshold < 1 and 0 < model.abnormal_threshold < 1


def test_a_changed_weights_file_is_refused(tmp_path):
    from brainscan.config import models_dir

    card = json.loads((models_dir() / SERIES_CARD).read_text())
    shutil.copy(models_dir() / SERIES_CARD, tmp_path / SERIES_CARD)
    weights = json.loads((models_dir() / card["file"]).read_text())
    weights["tumour"]["bias"] += 5.0  # a tampered model that calls everything tumour
    (tmp_path / card["file"]).write_text(json.dumps(weights))
    with pytest.raises(ModelError, match="checksum"):
        read_series_model(tmp_path / SERIES_CARD)
    (tmp_path / card["file"]).unlink()
    with pytest.raises(ModelError, match="missing"):
        read_series_model(tmp_path / SERIES_CARD)


def test_more_tumour_like_evidence_raises_p_tumour():
    model = shipped_series_model()
    normal_like = {"run_p": 0.8, "positive_fraction": 0.1, "log_region_ml": np.log1p(3.0), "region_share": 0.4,
                   "region_consistency": 0.3, "region_depth": 0.7, "region_edge": 0.3,
                   "region_asymmetry": 0.03}  # fmt: skip
    tumour_like = {**normal_like, "region_share": 0.95, "region_consistency": 0.85, "region_edge": 0.9,
                   "log_region_ml": np.log1p(10.0), "region_asymmetry": 0.4}  # fmt: skip
    assert model.probability(normal_like) < model.tumour_threshold <= model.probability(tumour_like)
    with pytest.raises(ModelError):
        model.probability({"run_p": 0.5})
