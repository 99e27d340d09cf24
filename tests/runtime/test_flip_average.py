"""Left-right flip averaging at inference, as a model card prescribes, and weight re-export without churn."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.runtime.batching import BatchedClassifier


class LeftHeavyClassifier(BatchedClassifier):
    """One view: 'glioma' in proportion to how much brightness sits in the left half, else 'notumor'."""

    def __init__(self):
        self.views = 0

    def forward(self, batch):
        self.views += 1
        grey = batch[..., 0]
        left = grey[:, :, : grey.shape[2] // 2].sum((1, 2)) / np.maximum(grey.sum((1, 2)), 1e-9)
        probs = np.zeros((len(batch), 4))
        probs[:, 0], probs[:, 2] = left, 1.0 - left
        return probs


def left_bright_batch() -> np.ndarray:
    batch = np.zeros((2, 128, 128, 3), np.float32)
    batch[:, :, :40] = 1.0  # bright on the left only
    batch[:, :, 100:] = 0.25
    return batch


def test_single_view_by_default():
    classifier = LeftHeavyClassifier()
    probs = classifier.raw_probabilities(left_bright_batch())
    assert classifier.views == 1
    assert probs[0, 0] == pytest.approx(40 / (40 + 28 * 0.25))


def test_flip_average_is_the_mean_of_the_slice_and_its_mirror():
    classifier = LeftHeavyClassifier()
    batch = left_bright_batch()
    classifier.flip_average = True
    averaged = classifier.raw_probabilities(batch)
    expected = (classifier.forward(batch) + classifier.forward(batch[:, :, ::-1])) / 2
    assert np.allclose(averaged, expected)
    assert averaged[0, 0] == pytest.approx(0.5)  # a slice and its mirror have all the brightness on either side
    assert np.allclose(averaged.sum(1), 1.0)
    assert classifier.raw_probabilities(batch[:0]).shape == (0, 4)


def test_predict_calibrates_the_averaged_probabilities():
    classifier = LeftHeavyClassifier()
    classifier.flip_average = True
    slices = [np.pad(np.ones((60, 20)), ((0, 0), (0, 40))) for _ in range(3)]
    probs = classifier.predict(slices)
    assert probs.shape == (3, 4) and np.allclose(probs.sum(1), 1.0)
    assert probs[0, 0] == pytest.approx(0.5, abs=1e-6)


def test_card_switches_flip_average_on(tmp_path):
    from brainscan.runtime.spec import read_spec
    from tests.fakes import write_card

    assert read_spec(write_card(tmp_path / "card.json")).flip_average is False
    assert read_spec(write_card(tmp_path / "card.json", inference={"left_right_flip_average": True})).flip_average


@pytest.mark.slow
@pytest.mark.needs_tf
def test_reexporting_the_same_weights_keeps_the_file_bytes(tmp_path):
    import keras

    from brainscan.runtime.keras.weights import write_weights_if_changed
    from brainscan.training.export_classifier import load_checkpoint

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_initializer="he_normal")])
    target = tmp_path / "w.npz"
    assert write_weights_if_changed(model, target) is True
    before = target.read_bytes()
    other = keras.models.clone_model(model)
    load_checkpoint(other, target)  # the float16 file read back
    assert write_weights_if_changed(other, target) is False
    assert target.read_bytes() == before
    assert not (tmp_path / "w.npz.new").exists()
    other.set_weights([w + 1 for w in other.get_weights()])
    assert write_weights_if_changed(other, target) is True
    assert target.read_bytes() != before
