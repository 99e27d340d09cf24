"""LiteRTClassifier reuses the activations of slices it just classified for Grad-CAM (no second forward pass).

A counting stand-in for the LiteRT interpreter keeps this test free of TensorFlow and conversions.
"""

from __future__ import annotations

import numpy as np

from brainscan.runtime.gradcam import grad_cam_from_activations
from brainscan.runtime.litert_classifier import LiteRTClassifier
from brainscan.runtime.preprocess import preprocess_slice


class CountingRunner:
    """Outputs like the converted classifier: (n, 8, 8, 512) activations and (n, 4) probabilities."""

    def __init__(self):
        self.rows_run = 0
        self.num_threads = 1

    def output_ranks(self):
        return [4, 2]

    def run(self, batch):
        self.rows_run += len(batch)
        means = batch.reshape(len(batch), -1).mean(1)
        conv = np.stack([np.full((8, 8, 512), m, np.float32) + np.linspace(0, 1, 512, dtype=np.float32) for m in means])
        logits = np.stack([[m, 1 - m, 0.5, 0.25] for m in means]).astype(np.float32)
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        return [conv, probs]


def head(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "dense_1_kernel": rng.normal(0, 0.01, (4 * 4 * 512, 128)).astype(np.float32),
        "dense_1_bias": np.full(128, 0.1, np.float32),
        "probabilities_kernel": rng.normal(0, 0.1, (128, 4)).astype(np.float32),
        "probabilities_bias": np.zeros(4, np.float32),
    }


def slices(n, shape=(96, 80)):
    rng = np.random.default_rng(3)
    return [rng.integers(0, 4000, shape).astype(np.uint16) for _ in range(n)]


def test_heat_map_of_a_classified_slice_needs_no_second_forward_pass():
    runner = CountingRunner()
    classifier = LiteRTClassifier(runner, head())
    series = slices(5)
    classifier.predict(series)
    assert runner.rows_run == 5
    cam = classifier.explain(series[2], class_index=1)
    assert runner.rows_run == 5  # served from the activation cache
    conv, _ = CountingRunner().run(preprocess_slice(series[2])[None])
    expected = grad_cam_from_activations(conv[0], head(), series[2].shape, 1)
    np.testing.assert_array_equal(cam, expected)


def test_unseen_slice_runs_forward_and_the_cache_stays_bounded():
    runner = CountingRunner()
    classifier = LiteRTClassifier(runner, head())
    series = slices(LiteRTClassifier.ACTIVATION_CACHE + 3)
    classifier.predict(series)
    assert len(classifier._activations) == LiteRTClassifier.ACTIVATION_CACHE
    before = runner.rows_run
    classifier.explain(series[0])  # evicted (oldest): computed again
    assert runner.rows_run == before + 1
    classifier.explain(series[-1])  # recent: cached
    assert runner.rows_run == before + 1
