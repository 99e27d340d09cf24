"""Which slices the classifier may judge at all.

Why: the classifier answers for every image it is given, even a blank one, the neck, or the edge of the head
where an ear fills the picture. A second opinion must not guess there. A slice is *not assessed* (with the
reason shown to the clinician and the slice left out of the verdict) when:

1. it carries no usable signal: too small an image, mostly non-finite values, a flat image (no contrast), only
   noise, or, within a series, only background: its brightest pixels stay far below the series' brightest
   (the slices beyond the head at either end of a volume, which per-slice scaling would blow up into a
   "head" of noise);
2. it shows little or no head: the head covers less than ``MIN_HEAD_FRACTION`` of the square the model reads
   (vertex, lateral and outside-the-head slices, and slices of an image that is mostly empty);
3. the classifier card carries an applicability model (``applicability`` in the card) and the slice's
   features lie farther from everything it learned than ``max_distance`` (Mahalanobis distance of the
   penultimate-layer features to the nearest class, Lee et al. 2018); see
   brainscan.runtime or brainscan.runtime ``feature_distance``.

Thresholds for 2 and 3 are measured on the classifier's training slices (see the card), never on test series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from brainscan.runtime.preprocess import CLASSIFIER_SIZE, normalise_intensity, pad_to_square, resize_float

MIN_SIDE_PX = 16
"""Images smaller than this on either side carry no anatomy the model can read."""
MIN_FINITE_FRACTION = 0.5
MIN_DYNAMIC_RANGE = 1e-6
MIN_HEAD_FRACTION = 0.06
"""Default share of the model's square that the head must cover; a card's ``applicability.min_head_fraction``
(measured on training slices) replaces it."""
HEAD_LEVEL = 0.1
"""Head foreground: above this fraction of the slice's 0.5-99.5 percentile range."""
MIN_SERIES_SIGNAL = 0.15
"""A slice of a series whose 99th percentile is under this share of the series' 99.5th percentile shows only
background. Anatomy (scalp, brain) reaches 0.24 or more of the series' brightest on every slice of the
training normal volumes in all three planes; slices beyond the head reach 0.11 at most."""
MAX_NOISE_RATIO = 0.6
"""Neighbouring pixels of an image differ by about sqrt(2) of its spread when it holds only noise (ratio 1) and
far less when it shows anatomy; above this ratio the image is taken as noise."""


@dataclass(frozen=True)
class Assessment:
    """Whether one slice can be judged, and why not."""

    assessed: bool
    reason: str = ""
    head_fraction: float = 0.0
    readable: bool = True  # False: no usable signal, so the classifier is not even run on it


def signal_problem(pixels: np.ndarray) -> str:
    """Why a raw slice carries no usable signal ('' when it does)."""
    arr = np.asarray(pixels)
    if arr.ndim == 3:
        arr = arr[..., 0]
    if arr.ndim != 2 or arr.size == 0:
        return "not a 2D image"
    if min(arr.shape) < MIN_SIDE_PX:
        return f"image too small to read ({arr.shape[0]} x {arr.shape[1]} pixels)"
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if finite.mean() < MIN_FINITE_FRACTION:
        return "image holds mostly invalid (NaN or infinite) values"
    values = arr[finite]
    low, high = np.percentile(values, [0.5, 99.5])
    if not high - low > MIN_DYNAMIC_RANGE * max(1.0, abs(high), abs(low)):
        return "blank image (no contrast)"
    if noise_ratio(np.where(finite, arr, low)) > MAX_NOISE_RATIO:
        return "image holds only noise"
    return ""


def noise_ratio(arr: np.ndarray) -> float:
    """Variance of horizontal neighbour differences over twice the image variance: 1 for white noise, near 0
    for smooth anatomy."""
    clipped = np.clip(arr, *np.percentile(arr, [0.5, 99.5]))
    spread = float(clipped.var())
    if spread <= 0:
        return 0.0
    return float(np.diff(clipped, axis=1).var() / (2.0 * spread))


def head_fraction(pixels: np.ndarray, size: int = CLASSIFIER_SIZE) -> float:
    """Share of the model's square input covered by the head: the largest bright component, holes filled."""
    arr = np.nan_to_num(np.asarray(pixels, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if arr.ndim == 3:
        arr = arr.mean(axis=-1)
    normalised = normalise_intensity(arr)
    square, _ = pad_to_square(normalised)
    small = resize_float(square, size)
    mask = small > HEAD_LEVEL
    mask = ndimage.binary_opening(mask, iterations=1)
    labels, count = ndimage.label(mask)
    if count == 0:
        return 0.0
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    largest = labels == (int(np.argmax(sizes)) + 1)
    largest = ndimage.binary_fill_holes(ndimage.binary_closing(largest, iterations=3))
    return float(largest.mean())


def assess_slice(pixels: np.ndarray, min_head_fraction: float = MIN_HEAD_FRACTION) -> Assessment:
    """Steps 1 and 2 above for one raw slice (step 3 needs the classifier: ``mark_unfamiliar``)."""
    problem = signal_problem(pixels)
    if problem:
        return Assessment(False, problem, 0.0, readable=False)
    fraction = head_fraction(pixels)
    if fraction < min_head_fraction:
        return Assessment(False, f"little or no head in the image ({fraction:.0%} of the field)", fraction)
    return Assessment(True, "", fraction)


def assess_slices(slices, min_head_fraction: float = MIN_HEAD_FRACTION) -> list[Assessment]:
    """``assess_slice`` for each slice, then the series-level background check (series of 2 or more)."""
    out = [assess_slice(s, min_head_fraction) for s in slices]
    if len(out) < 2:
        return out
    levels = background_levels(slices)
    return [
        Assessment(False, "only background: no anatomy in this slice (outside the head)", 0.0, readable=False)
        if item.readable and level < MIN_SERIES_SIGNAL
        else item
        for item, level in zip(out, levels, strict=True)
    ]


def background_levels(slices) -> np.ndarray:
    """Each slice's 99th percentile over the series' 99.5th percentile (finite pixels; NaN-only slices 0)."""
    highs = []
    for s in slices:
        arr = np.asarray(s, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        highs.append(float(np.percentile(finite, 99.0)) if finite.size else 0.0)
    sample = np.concatenate([np.asarray(s, dtype=np.float64).ravel()[::7] for s in slices])
    sample = sample[np.isfinite(sample)]
    top = float(np.percentile(sample, 99.5)) if sample.size else 0.0
    if top <= 0:
        return np.ones(len(highs))  # no positive reference (all-negative or empty data): no background check
    return np.asarray(highs) / top


def mark_unfamiliar(assessments: list[Assessment], distances, max_distance: float | None) -> list[Assessment]:
    """Step 3: slices whose feature distance exceeds ``max_distance`` become not assessed (None: no check)."""
    if max_distance is None or distances is None:
        return assessments
    out = []
    for item, distance in zip(assessments, distances, strict=True):
        if item.assessed and not float(distance) <= max_distance:
            item = Assessment(False, "unlike the images the model learned from", item.head_fraction)
        out.append(item)
    return out


# ---- series level: is this a head at all? (issue 31, item 3) ----------------------------------------------------

MIN_INSIDE_VARIATION = 0.08
"""Coefficient of variation of the (lightly smoothed) signal inside the object on its largest sections. Heads show
anatomy: 0.14 or more on every series of ../shared/data/volumes (42 series, BraTS skull-stripped lowest) and 0.18
or more on 600 Training slices; a water phantom is uniform (0.04 for an ACR-like phantom made in code)."""
MAX_BORDER_SIGNAL = 0.1
"""Median signal along the image edges over the series' 99th percentile, for volumes: a head lies in air, so the
edges are dark (0.005 at most on the 42 real series); a photo, a stripe pattern or noise fill the frame
(0.39-0.74 on the test objects). Not applied to single 2D images, which are often cropped tight (up to 0.7 on a
few Training slices)."""


def not_a_head_reason(slices, is_volume: bool) -> str:
    """Why a series is not a head ('' when it may be one), from its largest sections (the top fifth by object
    area): uniform signal inside the object (a phantom), or, for volumes, signal along the image edges (a photo,
    a pattern, noise). Thresholds above, measured on every real series and Training slices here."""
    from brainscan.pipeline.evidence import head_masks

    pixels = np.nan_to_num(np.asarray(slices, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if pixels.ndim != 3 or pixels.size == 0 or min(pixels.shape[1:]) < 16:
        return ""
    heads = head_masks(pixels)
    area = heads.reshape(len(pixels), -1).sum(axis=1)
    if area.max() == 0:
        return ""
    largest = np.argsort(-area)[: max(1, len(pixels) // 5)]
    top = float(np.percentile(pixels, 99)) or 1.0
    variation, border = [], []
    for i in largest:
        inside = ndimage.gaussian_filter(pixels[i], 2.0)[ndimage.binary_erosion(heads[i], iterations=3)]
        if inside.size and inside.mean() > 0:
            variation.append(float(inside.std() / inside.mean()))
        edge = np.concatenate([pixels[i][:8].ravel(), pixels[i][-8:].ravel(), pixels[i][:, :8].ravel(),
                               pixels[i][:, -8:].ravel()])  # fmt: skip
        border.append(float(np.median(edge)) / top)
    if is_volume and np.median(border) > MAX_BORDER_SIGNAL:
        return "not a head: the image is filled to its edges (a head lies in dark air)"
    if variation and np.median(variation) < MIN_INSIDE_VARIATION:
        return "not a head: uniform signal inside the object, no anatomy (a test phantom?)"
    return ""


DAMAGED = "damaged slice: it holds NaN or infinite values"
