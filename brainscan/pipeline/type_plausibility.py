"""Whether the tumour type the classifier names fits where the outlined lesion lies.

Why: the classifier knows three tumour types and names one of them for any tumour, so a lesion of another
kind gets a confident wrong type (a vestibular schwannoma at the cerebellopontine angle called "pituitary").
Its features cannot tell: with one type left out of the feature-distance check (brainscan.runtime.familiarity)
0-18 % of that type's slices looked unfamiliar (docs/real-scans.md, "A type it never learned"). Anatomy can,
for one type: a pituitary tumour grows from the sella turcica, on the midline. A lesion "typed" pituitary whose
outline lies far off the midline is not recognised as any of the three types, and the headline says so.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from brainscan.pipeline.evidence import head_masks, largest_region, left_right_axis

PITUITARY = "pituitary"

PITUITARY_MAX_OFFSET = 0.15
"""Largest distance of a pituitary tumour's centre from the head's centre line, as a share of the head's width.
Measured on the 2802 figshare slices with expert masks (all planes; the image's x axis; the head mask below):
every one of the 856 pituitary slices lies within 0.144 (99th percentile 0.128), while 40 % of meningioma and
45 % of glioma slices lie further out (``python docs/type_location.py``)."""

NOT_AT_SELLA = "type not recognised: the lesion lies off the midline, where pituitary tumours do not grow"


def midline_offset(head: np.ndarray, lesion: np.ndarray, axis: int) -> float | None:
    """|lesion centre - head centre| / head extent along ``axis`` of a head mask and a lesion mask of the same
    shape (2D or 3D); None when either is empty."""
    if not lesion.any() or not head.any():
        return None
    others = tuple(a for a in range(head.ndim) if a != axis)
    present = np.flatnonzero(head.any(axis=others))
    extent = float(present[-1] - present[0] + 1)
    centre = (present[0] + present[-1]) / 2.0
    return abs(ndimage.center_of_mass(lesion)[axis] - centre) / extent


def main_lesion(mask: np.ndarray) -> np.ndarray:
    """The largest connected part of one slice's outline (a stray outline elsewhere must not move the lesion)."""
    return largest_region(np.asarray(mask, dtype=bool)[None], 1.0)[0][0]


def series_midline_offset(volume, masks: dict[int, np.ndarray], key_slices) -> float | None:
    """The lesion's offset from the midline: for a volume, of the largest 3D region of its outlines along the
    patient's left-right axis (the image's x axis when the orientation is unknown); for image folders, the
    median over the key slices' outlines, each against its own image."""
    if not masks:
        return None
    if volume.pixel_spacing_mm and volume.slice_spacing_mm and not volume.image_set:
        stack = np.zeros(volume.pixels.shape, dtype=bool)
        for index, mask in masks.items():
            stack[index] = mask
        region, _, _ = largest_region(stack, 1.0)
        axis = left_right_axis(volume.orientation)
        axis = 2 if axis is None else axis
        heads = head_masks(volume.pixels)
        if axis != 0:  # in-plane: the head's width on the lesion's own slices
            on = np.flatnonzero(region.any(axis=(1, 2)))
            return midline_offset(heads[on], region[on], axis)
        return midline_offset(heads, region, 0)
    offsets = [
        midline_offset(head_masks(volume.pixels[i : i + 1])[0], main_lesion(masks[i]), 1)
        for i in key_slices
        if i in masks
    ]
    offsets = [o for o in offsets if o is not None]
    return float(np.median(offsets)) if offsets else None


def type_doubt(label: str, offset: float | None) -> str:
    """Why the named type does not fit the lesion's place ("" when it fits or cannot be judged)."""
    if label == PITUITARY and offset is not None and offset > PITUITARY_MAX_OFFSET:
        return NOT_AT_SELLA
    return ""
