"""Which class a slice is called: the operating point between a missed tumour and a false alarm.

Rule, shared by evaluation, the series verdict, the app and the report:

* without a threshold (a model card with no ``decision``): the most probable class;
* with the card's ``decision.tumour_threshold`` t: a slice is *tumour* when its calibrated
  P(tumour) = 1 - P(notumor) is at least t, and is then called its most probable tumour type; otherwise it is
  *notumor*.

Why a threshold: a missed tumour costs far more than a second look at a healthy slice, and the most probable
class is not the best trade-off for a model whose errors lean one way. t is chosen on the validation split as the
highest value that still keeps tumour sensitivity at the target (``choose_tumour_threshold``), but never above
0.5: the operating point may give up specificity for sensitivity, never the reverse; because choosing
and measuring on the same slices flatters the result, ``cross_validate_threshold`` also reports what the rule
achieves on slices it was not chosen on.
"""

from __future__ import annotations

import numpy as np

from brainscan.types import CLASS_NAMES, NO_TUMOUR

NOTUMOR_INDEX = CLASS_NAMES.index(NO_TUMOUR)
DEFAULT_TUMOUR_THRESHOLD = 0.5
"""Where the series verdict and the outline gate draw the line when a model card sets no threshold."""


def predicted_classes(probabilities: np.ndarray, tumour_threshold: float | None = None) -> np.ndarray:
    """Class index per row of an (n, 4) probability array, by the rule above."""
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(CLASS_NAMES))
    if tumour_threshold is None:
        return probs.argmax(axis=1)
    tumour_only = probs.copy()
    tumour_only[:, NOTUMOR_INDEX] = -np.inf
    is_tumour = 1.0 - probs[:, NOTUMOR_INDEX] >= tumour_threshold
    return np.where(is_tumour, tumour_only.argmax(axis=1), NOTUMOR_INDEX)


def slice_threshold(tumour_threshold: float | None) -> float:
    """The P(tumour) a slice needs to count as tumour-positive in the series verdict and the outline gate."""
    return DEFAULT_TUMOUR_THRESHOLD if tumour_threshold is None else float(tumour_threshold)


def tumour_threshold_of(model) -> float | None:
    """The operating point a model's card sets (None for models without a card or without a ``decision``)."""
    spec = getattr(model, "spec", None)
    return None if spec is None else spec.tumour_threshold


def choose_tumour_threshold(labels: np.ndarray, probabilities: np.ndarray, min_sensitivity: float) -> float:
    """The highest P(tumour) threshold at which at least ``min_sensitivity`` of the tumour slices are caught,
    capped at 0.5 (``DEFAULT_TUMOUR_THRESHOLD``).

    The threshold sits halfway between the lowest tumour probability that must still count and the next lower
    P(tumour) of any slice (tumour-free, or a tumour allowed to be missed), so the line keeps a margin on both
    sides instead of touching a slice. Why the cap: when a model already catches more than the target at 0.5,
    a higher line would trade caught tumours for fewer false alarms, the wrong way round for this tool.

    Raises:
        ValueError: when there are no tumour slices or the target is not in (0, 1].
    """
    if not 0.0 < min_sensitivity <= 1.0:
        raise ValueError(f"min_sensitivity must be in (0, 1], not {min_sensitivity}")
    labels = np.asarray(labels)
    tumour_p = 1.0 - np.asarray(probabilities, dtype=np.float64)[:, NOTUMOR_INDEX]
    positives = np.sort(tumour_p[labels != NOTUMOR_INDEX])
    if len(positives) == 0:
        raise ValueError("choosing a tumour threshold needs tumour slices")
    allowed_misses = int(np.floor((1.0 - min_sensitivity) * len(positives) + 1e-9))
    lowest_caught = positives[allowed_misses]
    lower = tumour_p[tumour_p < lowest_caught]
    below = float(lower.max()) if len(lower) else 0.0
    return float(min(DEFAULT_TUMOUR_THRESHOLD, (lowest_caught + below) / 2.0))


def cross_validate_threshold(
    labels: np.ndarray, probabilities: np.ndarray, min_sensitivity: float, repeats: int = 50, seed: int = 0
) -> dict:
    """Choose the threshold on one half of the slices (stratified by class), measure on the other half, and
    the other way round, ``repeats`` times: an estimate of the rule on unseen slices.

    Returns mean accuracy, tumour sensitivity and specificity over the held-out halves, the lowest held-out
    sensitivity, and the mean and range of the chosen thresholds.
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    rows, thresholds = [], []
    for fit, test in stratified_halves(labels, repeats, seed):
        t = choose_tumour_threshold(labels[fit], probabilities[fit], min_sensitivity)
        thresholds.append(t)
        predicted = predicted_classes(probabilities[test], t)
        rows.append((float((predicted == labels[test]).mean()), *tumour_rates(labels[test], predicted)))
    table = np.asarray(rows)
    return {
        "method": f"stratified 2-fold, {repeats} repeats (seed {seed}): choose on one half, measure on the other",
        "accuracy": float(table[:, 0].mean()),
        "tumour_sensitivity": float(table[:, 1].mean()),
        "tumour_sensitivity_min": float(table[:, 1].min()),
        "tumour_specificity": float(table[:, 2].mean()),
        "threshold_mean": float(np.mean(thresholds)),
        "threshold_range": [float(np.min(thresholds)), float(np.max(thresholds))],
    }


def stratified_halves(labels: np.ndarray, repeats: int = 50, seed: int = 0):
    """(fit, test) boolean masks: ``repeats`` random halvings stratified by class, each used both ways round."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        half = np.zeros(len(labels), dtype=bool)
        for k in range(len(CLASS_NAMES)):
            members = rng.permutation(np.flatnonzero(labels == k))
            half[members[: len(members) // 2]] = True
        yield half, ~half
        yield ~half, half


def tumour_rates(labels: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Tumour sensitivity and specificity (tumour = any class but notumor) of predicted class indices; NaN
    where the labels hold no tumour (sensitivity) or no tumour-free slice (specificity)."""
    truth, called = np.asarray(labels) != NOTUMOR_INDEX, np.asarray(predicted) != NOTUMOR_INDEX
    sensitivity = (truth & called).sum() / truth.sum() if truth.any() else float("nan")
    specificity = (~truth & ~called).sum() / (~truth).sum() if (~truth).any() else float("nan")
    return float(sensitivity), float(specificity)
