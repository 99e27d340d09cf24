"""Inference-time input smoothing (card ``inference.input_smoothing_sigma``): the blur itself, the card field,
and that classification and Grad-CAM both read the smoothed input."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.runtime.batching import BatchedClassifier
from brainscan.runtime.preprocess import smooth_batch


def point_batch() -> np.ndarray:
    batch = np.zeros((2, 32, 32, 3), np.float32)
    batch[0, 16, 16, :] = 1.0  # image 0: one bright pixel; image 1: empty
    return batch


def test_zero_sigma_leaves_the_batch_alone():
    batch = point_batch()
    np.testing.assert_array_equal(smooth_batch(batch, 0.0), batch)


def test_smoothing_spreads_within_each_image_only():
    out = smooth_batch(point_batch(), 1.0)
    assert out.dtype == np.float32 and out.shape == (2, 32, 32, 3)
    assert out[0, 16, 16, 0] == pytest.approx(1 / (2 * np.pi), rel=0.02)  # a unit Gaussian's peak
    assert out[0, ..., 0].sum() == pytest.approx(1.0, rel=1e-4)  # brightness kept (far from the border)
    assert out[0, 16, 17, 0] == pytest.approx(out[0, 17, 16, 0])  # round, not stretched
    assert out[0, 16, 17, 0] < out[0, 16, 16, 0]
    np.testing.assert_array_equal(out[0, ..., 0], out[0, ..., 2])  # channels stay identical
    assert not out[1].any()  # nothing leaks from one image into the next


def test_card_sets_the_sigma(tmp_path):
    from brainscan.runtime.spec import read_spec
    from tests.fakes import write_card

    assert read_spec(write_card(tmp_path / "a.json")).input_smoothing == 0.0
    spec = read_spec(write_card(tmp_path / "b.json", inference={"input_smoothing_sigma": 0.7}))
    assert spec.input_smoothing == 0.7


class RecordingClassifier(BatchedClassifier):
    def __init__(self):
        self.inputs = []

    def forward(self, batch):
        self.inputs.append(np.array(batch))
        return np.full((len(batch), 4), 0.25)


def test_every_view_reads_the_smoothed_input():
    classifier = RecordingClassifier()
    classifier.flip_average = True
    classifier.input_smoothing = 1.0
    batch = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    classifier.raw_probabilities(batch)
    first, mirrored = classifier.inputs
    np.testing.assert_allclose(first, smooth_batch(batch, 1.0))
    np.testing.assert_allclose(mirrored, smooth_batch(batch[:, :, ::-1], 1.0), atol=1e-6)


def test_litert_heat_map_reuses_the_smoothed_activations():
    from brainscan.runtime.gradcam import grad_cam_from_activations
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.preprocess import preprocess_slice
    from tests.runtime.test_litert_activation_cache import CountingRunner, head, slices

    runner = CountingRunner()
    classifier = LiteRTClassifier(runner, head())
    classifier.input_smoothing = 1.5
    series = slices(3)
    classifier.predict(series)
    cam = classifier.explain(series[1], class_index=0)
    assert runner.rows_run == 3  # the smoothed input it classified is the one it explains (cache hit)
    conv, _ = CountingRunner().run(smooth_batch(preprocess_slice(series[1])[None], 1.5))
    np.testing.assert_array_equal(cam, grad_cam_from_activations(conv[0], head(), series[1].shape, 0))


class WantsSoftInput(BatchedClassifier):
    """Reads the class from an image's brightness, but only when its checkerboard texture has been softened
    about as much as a sigma-0.5 Gaussian does (to 10-60 % of its amplitude; 0.3 leaves 97 %, 0.7 3 %);
    otherwise says notumor."""

    LEVELS = (0.2, 0.4, 0.6, 0.8)

    def forward(self, batch):
        inner = batch[:, 8:-8, 8:-8, 0]
        texture = np.abs(np.diff(inner, axis=2)).mean(axis=(1, 2)) / (2 * TEXTURE)
        level = np.abs(inner.mean(axis=(1, 2))[:, None] - np.array(self.LEVELS)[None]).argmin(axis=1)
        called = np.where((texture > 0.1) & (texture < 0.6), level, 2)
        probs = np.full((len(batch), 4), 0.01)
        probs[np.arange(len(batch)), called] = 0.97
        return probs


TEXTURE = 0.05


def textured_batch(labels) -> np.ndarray:
    checker = (np.indices((32, 32)).sum(axis=0) % 2) * 2 * TEXTURE - TEXTURE
    images = [np.full((32, 32), WantsSoftInput.LEVELS[k]) + checker for k in labels]
    return np.repeat(np.stack(images)[..., None], 3, axis=-1).astype(np.float32)


def test_export_sweep_picks_the_sigma_the_model_reads_best():
    from brainscan.training.export_classifier import SMOOTHING_GRID, _smoothing_sweep

    labels = np.repeat(np.arange(4), 10)
    batch = textured_batch(labels)
    classifier = WantsSoftInput()
    classifier.flip_average = True
    sharp = classifier.raw_probabilities(batch)
    best, sweep, raw = _smoothing_sweep(classifier, batch, labels, 0.99, sharp)
    assert best == 0.5
    assert sweep["accuracy_by_sigma"]["0.5"] == 1.0
    assert sweep["accuracy_by_sigma"]["0.0"] == 0.25  # sharp: only the tumour-free images come out right
    assert set(sweep["accuracy_by_sigma"]) == {str(s) for s in SMOOTHING_GRID}
    assert sweep["picked_on_halves"] == {"0.5": 100} and sweep["unseen_estimate_accuracy"] == 1.0
    assert classifier.input_smoothing == 0.5
    np.testing.assert_array_equal(raw, classifier.raw_probabilities(batch))  # the chosen sigma's probabilities


def test_input_smoothing_option_parses_numbers_and_auto():
    import argparse

    from brainscan.training.export_classifier import _sigma_or_auto

    assert _sigma_or_auto("0.7") == 0.7 and _sigma_or_auto("auto") == "auto"
    for bad in ("-1", "soft"):
        with pytest.raises(argparse.ArgumentTypeError):
            _sigma_or_auto(bad)
