"""Interfaces the pipeline depends on; the real Keras models and the tests' fake models both fit them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from brainscan.runtime.spec import ModelSpec


class Classifier(Protocol):
    """Per-slice tumour classifier: raw 2D slices in, calibrated (n, 4) probabilities out."""

    spec: ModelSpec | None
    temperature: float

    def predict(self, slices: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray: ...

    def raw_probabilities(self, batch: np.ndarray) -> np.ndarray: ...

    def explain(self, pixels: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """Grad-CAM style heat map in [0, 1] with the shape of the 2D slice ``pixels``."""
        ...


class Segmenter(Protocol):
    """Per-slice tumour segmenter: raw 2D slices in, tumour probability maps on each slice's grid out.

    One with a slice gate (brainscan.runtime.batching.BatchedSegmenter) also offers ``predict_with_gate``: the
    ungated maps and whether the gate passed each slice (brainscan.pipeline.analyze.outline_maps reads either)."""

    spec: ModelSpec | None
    mask_threshold: float  # where brainscan.pipeline.masks.clean_mask cuts the maps (from the model card)

    def predict(self, slices: Sequence[np.ndarray], batch_size: int = 16) -> list[np.ndarray]: ...
