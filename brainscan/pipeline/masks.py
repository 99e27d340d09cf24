"""Segmentation post-processing and overlap scores (numpy + scipy.ndimage).

Post-processing, in order:
1. threshold the tumour probability at ``threshold`` (default brainscan.rules.DEFAULT_MASK_THRESHOLD);
2. remove connected components (8-connectivity) smaller than ``min_area_mm2`` (default
   brainscan.rules.MIN_OUTLINE_AREA_MM2: below what a clinician would outline) or, when spacing is unknown,
   ``min_area_px`` (default brainscan.rules.MIN_OUTLINE_AREA_PX);
3. fill holes inside each remaining component (necrotic cores are part of the tumour outline).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from brainscan.rules import DEFAULT_MASK_THRESHOLD, MIN_OUTLINE_AREA_MM2, MIN_OUTLINE_AREA_PX

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def clean_mask(
    probability: np.ndarray,
    threshold: float = DEFAULT_MASK_THRESHOLD,
    pixel_spacing_mm: tuple[float, float] | None = None,
    min_area_mm2: float = MIN_OUTLINE_AREA_MM2,
    min_area_px: int = MIN_OUTLINE_AREA_PX,
) -> np.ndarray:
    """Binary tumour mask from a probability map, after the three steps above."""
    mask = np.asarray(probability) >= threshold
    if not mask.any():
        return mask
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    if pixel_spacing_mm is not None:
        min_pixels = min_area_mm2 / (pixel_spacing_mm[0] * pixel_spacing_mm[1])
    else:
        min_pixels = min_area_px
    keep = np.zeros(count + 1, dtype=bool)
    keep[1:] = sizes >= min_pixels
    return ndimage.binary_fill_holes(keep[labels])


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Dice = 2|A and B| / (|A| + |B|); two empty masks agree perfectly (1.0)."""
    a, b = np.asarray(prediction, bool), np.asarray(truth, bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(a, b).sum() / total)


def iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union; two empty masks give 1.0."""
    a, b = np.asarray(prediction, bool), np.asarray(truth, bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
