"""Interfaces the pipeline depends on; the real Keras models and the tests' fake models both fit them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from brainscan.models.spec import ModelSpec


class Classifier(Protocol):
    """Per-slice tumour classifier: raw 2D slices in, calibrated (n, 4) probabilities out."""

    spec: ModelSpec | None
    temperature: float

    def predict(self, slices: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray: ...

    def raw_probabilities(self, batch: np.ndarray) -> np.ndarray: ...
