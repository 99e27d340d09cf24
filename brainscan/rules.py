"""The decision rules in one place: class order, P(tumour), the slice rule, the outline gate, default thresholds.

Evaluation, the series verdict (brainscan.pipeline.verdict), the outline gate, the app and the report all read
them from here. Depends on numpy only, so ``brainscan.types`` can use it without an import circle.

Slice rule:

* without a threshold (a model card with no ``decision``): the most probable class;
* with the card's ``decision.tumour_threshold`` t: a slice is *tumour* when its calibrated
  P(tumour) = 1 - P(notumor) is at least t, and is then called its most probable tumour type; otherwise it is
  *notumor*.

Why a threshold: a missed tumour costs far more than a second look at a healthy slice, and the most probable
class is not the best trade-off for a model whose errors lean one way. How t is chosen on the validation split
(never above ``DEFAULT_TUMOUR_THRESHOLD``) is offline work: brainscan.training.operating_point.

Outline gate: a slice is outlined only when the series verdict is tumour and that slice, assessed, reaches the
slice threshold, so no outline ever contradicts the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("glioma", "meningioma", "notumor", "pituitary")
"""Classifier output order, fixed in code (never taken from a directory listing)."""

NO_TUMOUR = "notumor"
NOTUMOR_INDEX = CLASS_NAMES.index(NO_TUMOUR)
TUMOUR_CLASS_INDICES: tuple[int, ...] = tuple(i for i in range(len(CLASS_NAMES)) if i != NOTUMOR_INDEX)

DEFAULT_TUMOUR_THRESHOLD = 0.5
"""Where the slice rule, the series verdict and the outline gate draw the line when a model card sets none."""

DEFAULT_MASK_THRESHOLD = 0.5
"""Segmenter probability at which a pixel is outlined when the card's ``postprocessing.threshold`` is absent."""

MIN_OUTLINE_AREA_MM2 = 10.0
"""Outline parts smaller than this are dropped (about a 3.5 mm disc: below what a clinician would outline)."""

MIN_OUTLINE_AREA_PX = 20
"""The same floor in pixels, for images without pixel spacing."""


def tumour_probability(probabilities) -> np.ndarray | float:
    """P(tumour) = 1 - P(notumor) of one probability vector (a float) or of each row of an (n, 4) array."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim == 1:
        return float(1.0 - probs[NOTUMOR_INDEX])
    return 1.0 - probs[..., NOTUMOR_INDEX]


def predicted_classes(probabilities: np.ndarray, tumour_threshold: float | None = None) -> np.ndarray:
    """Class index per row of an (n, 4) probability array, by the slice rule above."""
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(CLASS_NAMES))
    if tumour_threshold is None:
        return probs.argmax(axis=1)
    tumour_only = probs.copy()
    tumour_only[:, NOTUMOR_INDEX] = -np.inf
    is_tumour = tumour_probability(probs) >= tumour_threshold
    return np.where(is_tumour, tumour_only.argmax(axis=1), NOTUMOR_INDEX)


def slice_threshold(tumour_threshold: float | None) -> float:
    """The P(tumour) a slice needs to count as tumour-positive in the series verdict and the outline gate."""
    return DEFAULT_TUMOUR_THRESHOLD if tumour_threshold is None else float(tumour_threshold)


def tumour_threshold_of(model) -> float | None:
    """The operating point a model's card sets (None for models without a card or without a ``decision``)."""
    spec = getattr(model, "spec", None)
    return None if spec is None else spec.tumour_threshold


def outline_gate(predictions: Iterable, series_is_tumour: bool, threshold: float) -> list[int]:
    """Indices of the slices to outline: none unless the series is tumour, then each assessed slice whose
    P(tumour) reaches ``threshold``. ``predictions`` are brainscan.types.SlicePrediction objects."""
    if not series_is_tumour:
        return []
    return [p.index for p in predictions if p.assessed and p.tumour_probability >= threshold]


def describe_gate(threshold: float) -> str:
    """The gate in words, as the report and the JSON quote it."""
    return f"outline slices with P(tumour) >= {threshold:.3g} when the series verdict is tumour"


# ---------------------------------------------------------------- series rule (brainscan.pipeline.verdict)

MIN_ASSESSED_FRACTION = 0.25
MIN_ASSESSED = 3
MIN_TUMOUR_EXTENT_MM = 6.0
MAX_SPACING_MM = 50.0


def run_length(n_slices: int, slice_spacing_mm: float | None) -> int:
    """``w`` of rule 3: how many neighbouring slices a tumour call must be read over."""
    if n_slices <= 3:
        return 1
    if slice_spacing_mm is None or not (0 < slice_spacing_mm < MAX_SPACING_MM):
        return 2
    return max(2, math.ceil(MIN_TUMOUR_EXTENT_MM / slice_spacing_mm - 1e-9))


def assessed_runs(assessed: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each maximal run of consecutive assessed slices."""
    runs, start = [], None
    for i, ok in enumerate(list(assessed) + [False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            runs.append((start, i))
            start = None
    return runs


def strongest_window(tumour_p: np.ndarray, assessed: np.ndarray, w: int) -> tuple[float, tuple[int, int]]:
    """(highest P(tumour) a strict majority of ``w`` neighbouring assessed slices reach, (start, stop) of them).

    A series whose assessed runs are all shorter than ``w`` is read over its longest run.
    """
    runs = assessed_runs(assessed)
    w = min(w, max(stop - start for start, stop in runs))
    best, where = -1.0, (0, 0)
    for start, stop in runs:
        if stop - start < w:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(tumour_p[start:stop], w)
        majority = -np.sort(-windows, axis=1)[:, w // 2]
        i = int(np.argmax(majority))
        if majority[i] > best:
            best, where = float(majority[i]), (start + i, start + i + w)
    return best, where
