"""Card fields of a classifier trained with a volume pack: applicability thresholds and held-out volume numbers."""

from __future__ import annotations

import numpy as np

from brainscan.runtime.familiarity import FeatureDistance
from brainscan.runtime.integrity import sha256_of
from brainscan.training.volume_card import APPLICABILITY_FILE, volume_card_fields
from tests.dicom_factory import phantom_slices


class MeanFeatures:
    """Tumour when the image is bright; features: mean and spread of the image (so a blank image is far off)."""

    def raw_probabilities_and_features(self, rgb):
        grey = rgb[..., 0]
        bright = grey.mean(axis=(1, 2)) > 0.3
        probs = np.where(bright[:, None], [0.8, 0.1, 0.05, 0.05], [0.05, 0.05, 0.85, 0.05])
        return probs, np.stack([grey.mean(axis=(1, 2)), grey.std(axis=(1, 2))], axis=1)


def heads(n, level, rng):
    base = phantom_slices(1, shape=(128, 128), lesion_slices=())[0].astype(np.float32) / 400.0
    return np.clip(base[None] * level + rng.normal(0, 0.02, (n, 128, 128)), 0, 1).astype(np.float16)


def test_fields_are_measured_on_training_slices_and_reported_on_held_out(tmp_path):
    rng = np.random.default_rng(0)
    train = np.concatenate([heads(20, 1.0, rng), heads(20, 0.4, rng)])
    train_labels = np.array([0] * 20 + [2] * 20)
    pack = {
        "images": np.concatenate([heads(10, 1.0, rng), heads(10, 0.4, rng), heads(6, 1.0, rng), heads(6, 0.4, rng)]),
        "labels": np.array([0] * 10 + [2] * 10 + [0] * 6 + [2] * 6),
        "split": np.array(["train"] * 20 + ["val"] * 12),
        "augmented": np.zeros(32, dtype=bool),
        "source": np.array(["a/t1ce"] * 20 + ["b/t1ce"] * 6 + ["c/t1"] * 6),
    }
    fields = volume_card_fields(MeanFeatures(), pack, train, train_labels, train[::2], tmp_path, 1.0, None)
    app = fields["applicability"]
    assert app["sha256"] == sha256_of(tmp_path / APPLICABILITY_FILE)
    assert app["max_distance"] > 0 and 0.2 < app["min_head_fraction"] < 0.9
    distance = FeatureDistance.from_file(tmp_path / APPLICABILITY_FILE, app["sha256"])
    assert distance(np.array([[0.0, 0.0]]))[0] > app["max_distance"]  # a blank image is unfamiliar
    held = fields["held_out_volumes"]
    assert held["sources"] == ["b/t1ce", "c/t1"] and held["all_slices"]["slices"] == 12
    assert held["all_slices"]["tumour_sensitivity"] == 1.0 and held["all_slices"]["tumour_specificity"] == 1.0
