"""Small fake models for GUI and pipeline tests: they fit the Classifier/Segmenter protocols, need no
TensorFlow, and 'find' the bright lesion of tests.dicom_factory.phantom_slices exactly."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np

from brainscan.runtime.spec import ModelSpec

LESION_THRESHOLD = 800.0


def _spec(name: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        version="test-1",
        file=Path("/nonexistent"),
        sha256="f" * 64,
        input_shape=(64, 64, 1),
        labels=("glioma", "meningioma", "notumor", "pituitary"),
        preprocessing="none",
        card={"validation": {"accuracy": 1.0}},
    )


def write_card(path, **fields) -> Path:
    """A minimal classifier model card at ``path`` (fields override or extend it), for spec-reading tests."""
    card = {"name": "c", "version": "1", "file": "w.npz", "sha256": "0" * 64, "input_shape": [128, 128, 3],
            "labels": ["glioma", "meningioma", "notumor", "pituitary"], "preprocessing": "p", **fields}  # fmt: skip
    Path(path).write_text(json.dumps(card))
    return Path(path)


class FakeClassifier:
    """P(glioma) = 0.9 on slices with lesion pixels, else P(notumor) = 0.94. ``delay`` s per call."""

    temperature = 1.0

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.spec = _spec("fake-classifier")
        self.delay = delay
        self.fail = fail
        self.calls = 0
        self.threads: set[str] = set()

    def _one(self, pixels: np.ndarray) -> list[float]:
        if (np.asarray(pixels) > LESION_THRESHOLD).any():
            return [0.9, 0.05, 0.03, 0.02]
        return [0.02, 0.02, 0.94, 0.02]

    def predict(self, slices, batch_size: int = 32) -> np.ndarray:
        from brainscan.errors import InferenceError

        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise InferenceError("The fake classifier failed on purpose.")
        return np.array([self._one(s) for s in slices], dtype=np.float64).reshape(len(slices), 4)

    def raw_probabilities(self, batch: np.ndarray) -> np.ndarray:
        return self.predict(list(batch))

    def explain(self, pixels: np.ndarray, class_index: int | None = None) -> np.ndarray:
        p = np.asarray(pixels, dtype=np.float32)
        peak = float(p.max())
        return p / peak if peak > 0 else np.zeros_like(p)


class SurestOnLastLesion(FakeClassifier):
    """Like FakeClassifier, but surest (P(glioma) = 0.99) on the last lesion slice of each batch, so that slice
    leads the verdict's key slices although it is not the first tumour slice of the series."""

    def predict(self, slices, batch_size: int = 32) -> np.ndarray:
        out = super().predict(slices, batch_size)
        lesion = [i for i, s in enumerate(slices) if (np.asarray(s) > LESION_THRESHOLD).any()]
        if lesion:
            out[lesion[-1]] = [0.99, 0.005, 0.003, 0.002]
        return out


class FakeSegmenter:
    """Probability 1 on lesion pixels, 0 elsewhere, on each slice's own grid."""

    mask_threshold = 0.5

    def __init__(self, delay: float = 0.0):
        self.spec = _spec("fake-segmenter")
        self.delay = delay

    def predict(self, slices, batch_size: int = 16) -> list[np.ndarray]:
        if self.delay:
            time.sleep(self.delay)
        return [(np.asarray(s) > LESION_THRESHOLD).astype(np.float32) for s in slices]


class AlwaysTumour(FakeClassifier):
    """Meningioma with P 0.9 whatever it is shown, as an overconfident network answers on a blank image."""

    def _one(self, pixels):
        return [0.03, 0.9, 0.05, 0.02]
