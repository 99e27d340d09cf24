"""Series verdict: one answer from per-slice calibrated probabilities (its parameters and run arithmetic live in
brainscan.rules).

Rule (the report and the docs quote it):

1. Only *assessed* slices count (brainscan.pipeline.assessability: slices with no usable signal, little or no
   head, or unlike the training images are "not assessed" and left out).
2. "Cannot assess" instead of a guess when fewer than ``MIN_ASSESSED_FRACTION`` of the slices, or fewer than
   ``MIN_ASSESSED`` slices in a series of 4 or more, can be assessed (no assessed slice at all in shorter ones).
3. A real tumour spans neighbouring slices: in a series of 4 or more slices the tumour evidence is read over
   runs of ``w`` neighbouring assessed slices, where ``w`` covers at least ``MIN_TUMOUR_EXTENT_MM`` (at least
   2 slices; 2 when the slice spacing is unknown). In series of 1-3 slices, ``w`` is 1.
4. Series P(tumour) = the highest level of slice P(tumour) (1 - P(notumor)) that a strict majority of some
   ``w`` neighbouring assessed slices reach (for ``w`` = 2: both slices; for 8: five of them). One confident
   slice among tumour-free neighbours does not make a tumour. The series is tumour-positive when this reaches
   ``threshold`` (the model card's operating point, else 0.5). It is the one series probability shown
   everywhere.
5. Tumour type (tumour series): the class with the highest P(tumour)-weighted mean over the positive slices
   (assessed slices with P(tumour) >= threshold); those class probabilities are the "tumour type" bars.
6. Key slices: the positive slices with the highest P(tumour) (up to 6); for a tumour-free series, the middle
   assessed slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from brainscan.rules import (
    MIN_ASSESSED,
    MIN_ASSESSED_FRACTION,
    NOTUMOR_INDEX,
    run_length,
    strongest_window,
    tumour_probability,
)
from brainscan.types import CANNOT_ASSESS, CLASS_NAMES, NO_TUMOUR, SeriesVerdict, SlicePrediction


def series_verdict(
    predictions: Sequence[SlicePrediction],
    threshold: float = 0.5,
    slice_spacing_mm: float | None = None,
    max_key: int = 6,
) -> SeriesVerdict:
    """Apply the rule above.

    Raises:
        ValueError: when there are no slice predictions.
    """
    if not predictions:
        raise ValueError("a verdict needs at least one slice prediction")
    n = len(predictions)
    probs = np.asarray([p.probabilities for p in predictions], dtype=np.float64)
    assessed = np.asarray([p.assessed for p in predictions], dtype=bool)
    tumour_p = np.asarray(tumour_probability(probs), dtype=np.float64)
    n_assessed = int(assessed.sum())
    w = run_length(n, slice_spacing_mm)
    rule = (
        f"tumour if most of {w} neighbouring assessed slice(s) reach P(tumour) {threshold:.3g} somewhere; "
        f"cannot assess if fewer than {MIN_ASSESSED_FRACTION:.0%} of slices (or fewer than {MIN_ASSESSED} in a "
        "series of 4 or more) can be assessed"
    )
    too_few = n_assessed == 0 or n_assessed < MIN_ASSESSED_FRACTION * n or (n >= 4 and n_assessed < MIN_ASSESSED)
    if too_few:
        reasons = sorted({p.reason for p in predictions if not p.assessed and p.reason})
        why = f"only {n_assessed} of {n} slices could be assessed" + (f" ({'; '.join(reasons[:3])})" if reasons else "")
        return SeriesVerdict(
            tumour=False,
            label=CANNOT_ASSESS,
            probabilities={},
            tumour_probability=None,
            key_slices=(n // 2,),
            rule=rule,
            assessable=False,
            reason=why,
            assessed_slices=n_assessed,
            positive_slices=0,
        )
    series_p, _ = strongest_window(tumour_p, assessed, w)
    positive = np.flatnonzero(assessed & (tumour_p >= threshold))
    tumour = series_p >= threshold and len(positive) > 0
    if tumour:
        weights = tumour_p[positive][:, None]
        mean = (probs[positive] * weights).sum(axis=0) / weights.sum()
        tumour_classes = [i for i in range(len(CLASS_NAMES)) if i != NOTUMOR_INDEX]
        label = CLASS_NAMES[max(tumour_classes, key=lambda i: mean[i])]
        ranked = sorted(positive.tolist(), key=lambda i: (-tumour_p[i], i))
        key = tuple(int(i) for i in ranked[:max_key])
    else:
        mean = probs[assessed].mean(axis=0)
        label = NO_TUMOUR
        order = np.flatnonzero(assessed)
        key = (int(order[len(order) // 2]),)
    return SeriesVerdict(
        tumour=bool(tumour),
        label=label,
        probabilities={name: float(mean[i]) for i, name in enumerate(CLASS_NAMES)},
        tumour_probability=float(series_p),
        key_slices=key,
        rule=rule,
        assessable=True,
        reason="",
        assessed_slices=n_assessed,
        positive_slices=int(len(positive)),
    )
