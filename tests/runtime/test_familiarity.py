"""Feature-distance applicability check: fit, distances, the sidecar, and the classifier's one-pass features."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.errors import ModelError
from brainscan.runtime.batching import BatchedClassifier
from brainscan.runtime.familiarity import FeatureDistance, fit_feature_distance
from brainscan.runtime.integrity import sha256_of


def clusters(rng, n=400):
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    labels = rng.integers(0, 3, n)
    return centres[labels] + rng.normal(0, 1.0, (n, 3)), labels


def test_training_points_are_near_and_far_points_are_far():
    rng = np.random.default_rng(0)
    features, labels = clusters(rng)
    distance = fit_feature_distance(features, labels)
    near = distance(features)
    assert np.percentile(near, 95) < 3.5
    far = distance(np.array([[5.0, 5.0, 30.0], [-40.0, 0.0, 0.0]]))
    assert far.min() > 10 * np.median(near)


def test_sidecar_is_verified(tmp_path):
    rng = np.random.default_rng(1)
    fitted = fit_feature_distance(*clusters(rng))
    path = tmp_path / "applicability.npz"
    np.savez(path, means=fitted.means, precision=fitted.precision)
    loaded = FeatureDistance.from_file(path, sha256_of(path))
    assert np.allclose(loaded(fitted.means), 0.0)
    with pytest.raises(ModelError):
        FeatureDistance.from_file(path, "0" * 64)


class TwoViews(BatchedClassifier):
    """Features = the mean grey level of the left and right image halves; probabilities fixed."""

    flip_average = True

    def forward_with_features(self, batch):
        left, right = batch[:, :, :64, 0].mean(axis=(1, 2)), batch[:, :, 64:, 0].mean(axis=(1, 2))
        return np.tile([0.1, 0.1, 0.7, 0.1], (len(batch), 1)), np.stack([left, right], axis=1)


def test_features_are_averaged_over_the_mirror_and_distances_returned():
    model = TwoViews()
    model.feature_distance = FeatureDistance(np.array([[0.25, 0.25]]), np.eye(2))
    image = np.zeros((128, 128), np.float32)
    image[:, :64] = 1.0  # bright left half: the mirror reads it on the right, the mean is symmetric
    image[0, 127] = 0.5
    probs, distances = model.predict_with_distance([image])
    assert probs.shape == (1, 4) and distances.shape == (1,)
    assert distances[0] == pytest.approx(np.hypot(0.25, 0.25), abs=0.01)
