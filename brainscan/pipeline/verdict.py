"""Series verdict: one answer from per-slice calibrated probabilities.

Rule (documented in the README and the report):

1. A slice is *tumour-positive* when its tumour probability (1 - P(notumor)) is at least
   ``threshold`` (default 0.5; the app passes the model card's operating point, brainscan.models.decision).
2. The series is tumour-positive when at least ``min_slices`` slices are positive (default 1 for series
   of up to 3 slices, else 2: one isolated slice in a long series is more often noise than tumour).
3. The series tumour probability is the mean of the top-k slice tumour probabilities, k = min_slices.
4. The tumour type is the class with the highest summed probability over the positive slices (each slice
   weighted by its tumour probability); the reported class probabilities are the tumour-probability-weighted
   mean over positive slices. With no positive slice, the verdict is "notumor" and the probabilities are
   the mean over all slices.
5. Key slices: the positive slices with the highest tumour probability (up to 6), else the middle slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from brainscan.types import CLASS_NAMES, NO_TUMOUR, SeriesVerdict, SlicePrediction

NOTUMOR_INDEX = CLASS_NAMES.index(NO_TUMOUR)


def series_verdict(
    predictions: Sequence[SlicePrediction],
    threshold: float = 0.5,
    min_slices: int | None = None,
    max_key: int = 6,
) -> SeriesVerdict:
    """Apply the rule above.

    Raises:
        ValueError: when there are no slice predictions.
    """
    if not predictions:
        raise ValueError("a verdict needs at least one slice prediction")
    probs = np.asarray([p.probabilities for p in predictions], dtype=np.float64)
    tumour_p = 1.0 - probs[:, NOTUMOR_INDEX]
    need = min_slices if min_slices is not None else (1 if len(predictions) <= 3 else 2)
    positive = np.flatnonzero(tumour_p >= threshold)
    ranked = np.argsort(-tumour_p, kind="stable")
    series_tumour_p = float(tumour_p[ranked[:need]].mean())
    if len(positive) >= need:
        weights = tumour_p[positive][:, None]
        mean = (probs[positive] * weights).sum(axis=0) / weights.sum()
        tumour_classes = [i for i in range(len(CLASS_NAMES)) if i != NOTUMOR_INDEX]
        label = CLASS_NAMES[max(tumour_classes, key=lambda i: mean[i])]
        key = tuple(int(i) for i in ranked if i in set(positive))[:max_key]
        tumour = True
    else:
        mean = probs.mean(axis=0)
        label = NO_TUMOUR
        key = (len(predictions) // 2,)
        tumour = False
    rule = f"tumour if >= {need} slice(s) have P(tumour) >= {threshold:.3g}"
    return SeriesVerdict(
        tumour=tumour,
        label=label,
        probabilities={name: float(mean[i]) for i, name in enumerate(CLASS_NAMES)},
        tumour_probability=series_tumour_p,
        key_slices=key,
        rule=rule,
    )
