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
from brainscan.types import (
    ABNORMAL,
    CANNOT_ASSESS,
    CLASS_NAMES,
    IMAGE_SET,
    NO_TUMOUR,
    SeriesVerdict,
    SlicePrediction,
)


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


def evidence_verdict(
    slice_verdict: SeriesVerdict,
    predictions: Sequence[SlicePrediction],
    evidence,
    p_tumour: float,
    p_abnormal: float | None,
    tumour_threshold: float,
    abnormal_threshold: float,
    max_key: int = 6,
) -> SeriesVerdict:
    """The verdict of a volume decided by the series model (brainscan.runtime.series_model) from its evidence
    (brainscan.pipeline.evidence.SeriesEvidence), replacing the slice rule's tumour call, label, probability and
    key slices:

    * tumour when P(tumour) reaches ``tumour_threshold``; the key slices are those of the largest outlined
      region (largest outline first), the type is read over the region's slices as in rule 5;
    * otherwise "abnormal, not typical of a tumour" when P(abnormal) reaches ``abnormal_threshold`` (key slices:
      the region's), else no tumour (key slice: the middle assessed slice).
    """
    probs = np.asarray([p.probabilities for p in predictions], dtype=np.float64)
    assessed = np.asarray([p.assessed for p in predictions], dtype=bool)
    region = [i for i in evidence.region_slices if assessed[i]]
    values = {k: round(float(v), 4) for k, v in evidence.values().items()}
    described = describe_evidence(evidence)
    if p_tumour >= tumour_threshold:
        chosen = region or [i for i in slice_verdict.key_slices if assessed[i]] or list(np.flatnonzero(assessed))
        weights = np.asarray(tumour_probability(probs[chosen]), dtype=np.float64)[:, None] + 1e-9
        mean = (probs[chosen] * weights).sum(axis=0) / weights.sum()
        label = CLASS_NAMES[max(TUMOUR_CLASSES, key=lambda i: mean[i])]
        key = tuple(int(i) for i in chosen[:max_key])
        basis = f"tumour-like evidence (series model P(tumour) {p_tumour:.2f}): {described}"
    else:
        mean = probs[assessed].mean(axis=0)
        order = np.flatnonzero(assessed)
        if p_abnormal is not None and p_abnormal >= abnormal_threshold:
            label = ABNORMAL
            key = tuple(int(i) for i in region[:max_key]) or (int(order[len(order) // 2]),)
            basis = (
                f"abnormal findings that do not look like a tumour (P(abnormal) {p_abnormal:.2f}, P(tumour) "
                f"{p_tumour:.2f}): {described}"
            )
        else:
            label = NO_TUMOUR
            key = (int(order[len(order) // 2]),)
            basis = f"no tumour-like evidence (series model P(tumour) {p_tumour:.2f}): {described}"
    return SeriesVerdict(
        tumour=bool(p_tumour >= tumour_threshold),
        label=label,
        probabilities={name: float(mean[i]) for i, name in enumerate(CLASS_NAMES)},
        tumour_probability=float(p_tumour),
        key_slices=key,
        rule=(
            f"volume: series model over the evidence (tumour if P(tumour) >= {tumour_threshold:.2g}; else abnormal, "
            f"not typical of a tumour, if P(abnormal) >= {abnormal_threshold:.2g}); slice rule P was "
            f"{slice_verdict.tumour_probability:.2f}"
        ),
        assessable=True,
        reason="",
        assessed_slices=slice_verdict.assessed_slices,
        positive_slices=slice_verdict.positive_slices,
        basis=basis,
        abnormal_probability=p_abnormal,
        evidence=values,
    )


TUMOUR_CLASSES = tuple(i for i in range(len(CLASS_NAMES)) if i != NOTUMOR_INDEX)


def describe_evidence(evidence) -> str:
    """The evidence in a clinician's words."""
    if evidence.region_ml <= 0:
        return "nothing outlined"
    parts = [
        f"largest outlined region {evidence.region_ml:.1f} mL on {len(evidence.region_slices)} slice(s)",
        f"{evidence.region_share:.0%} of all outlines",
        f"outline agreement between neighbouring slices {evidence.region_consistency:.2f}",
        f"{evidence.region_depth:.0%} of it deep inside the head",
        "on central sections" if evidence.region_edge >= 0.6 else "at the edge of the head",
        f"left-right difference {evidence.region_asymmetry:.2f}",
    ]
    return "; ".join(parts)


def image_set_verdict(
    predictions: Sequence[SlicePrediction], threshold: float = 0.5, max_key: int = 6
) -> SeriesVerdict:
    """The verdict of a set of unrelated images (``Volume.image_set``: a folder of images of different people,
    not one series): each image keeps its own verdict (its slice label), and the set gets none of its own.

    No series P(tumour) (``tumour_probability`` is None), no type (``probabilities`` is empty: the types of
    different people's images do not add up); ``tumour`` says whether any assessed image suggests a tumour
    (P(tumour) >= ``threshold``), ``positive_slices`` how many; the key images are those, most suspicious first.
    Cannot assess only when no image could be assessed.

    Raises:
        ValueError: when there are no predictions.
    """
    if not predictions:
        raise ValueError("a verdict needs at least one image prediction")
    n = len(predictions)
    assessed = np.asarray([p.assessed for p in predictions], dtype=bool)
    tumour_p = np.asarray([p.tumour_probability for p in predictions], dtype=np.float64)
    positive = np.flatnonzero(assessed & (tumour_p >= threshold))
    n_assessed = int(assessed.sum())
    rule = f"a set of unrelated images: each image is judged on its own (tumour if its P(tumour) >= {threshold:.3g})"
    if n_assessed == 0:
        return SeriesVerdict(
            tumour=False,
            label=CANNOT_ASSESS,
            probabilities={},
            tumour_probability=None,
            key_slices=(0,),
            rule=rule,
            assessable=False,
            reason=f"none of the {n} images could be assessed",
        )
    ranked = sorted(positive.tolist(), key=lambda i: (-tumour_p[i], i))
    key = tuple(int(i) for i in ranked[:max_key]) or (int(np.flatnonzero(assessed)[0]),)
    unassessed = n - n_assessed
    basis = f"{len(positive)} of {n} images suggest a tumour, each judged on its own" + (
        f"; {unassessed} could not be assessed" if unassessed else ""
    )
    return SeriesVerdict(
        tumour=bool(len(positive)),
        label=IMAGE_SET,
        probabilities={},
        tumour_probability=None,
        key_slices=key,
        rule=rule,
        assessable=True,
        assessed_slices=n_assessed,
        positive_slices=int(len(positive)),
        basis=basis,
    )
