"""Tumour measurements from masks: area, volume, longest diameter.

Physical units need spacing: area in mm2 from PixelSpacing (row, column), volume in mL from the slice
spacing measured between slice positions. When spacing is unknown (JPEG/PNG slices), areas are pixel
counts and volume and diameter in mm are None: never a made-up number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError


@dataclass(frozen=True)
class Area:
    value: float
    unit: str  # "mm2" or "px"


def area(mask: np.ndarray, pixel_spacing_mm: tuple[float, float] | None) -> Area:
    """Mask area in mm2, or in pixels when spacing is unknown."""
    pixels = float(np.count_nonzero(mask))
    if pixel_spacing_mm is None:
        return Area(pixels, "px")
    return Area(pixels * pixel_spacing_mm[0] * pixel_spacing_mm[1], "mm2")


def volume_ml(
    masks: Sequence[np.ndarray], pixel_spacing_mm: tuple[float, float] | None, slice_spacing_mm: float | None
) -> float | None:
    """Sum of slice areas times the slice spacing, in millilitres (1 mL = 1000 mm3); None without spacing."""
    if pixel_spacing_mm is None or slice_spacing_mm is None:
        return None
    total_mm2 = sum(area(m, pixel_spacing_mm).value for m in masks)
    return total_mm2 * slice_spacing_mm / 1000.0


def longest_diameter(mask: np.ndarray, pixel_spacing_mm: tuple[float, float] | None) -> float | None:
    """Longest distance across one outlined region (8-connected), the largest over the regions, in mm, or in
    pixels without spacing. Returns None for an empty mask.

    Why per region: a diameter is a lesion's size; measured across two separate outlines it would span the
    healthy brain between them (as RANO/RECIST measure each lesion on its own).
    """
    labels, count = ndimage.label(np.asarray(mask, dtype=bool), structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return None
    return max(_region_diameter(labels == k, pixel_spacing_mm) for k in range(1, count + 1))


def _region_diameter(mask: np.ndarray, pixel_spacing_mm: tuple[float, float] | None) -> float:
    """Longest distance across the region (between pixel corners): the convex hull of its pixel corners, so a
    single pixel measures its diagonal."""
    rows, cols = np.nonzero(mask)
    row_mm, col_mm = pixel_spacing_mm if pixel_spacing_mm is not None else (1.0, 1.0)
    corners = np.concatenate(
        [np.stack([(rows + dr) * row_mm, (cols + dc) * col_mm], axis=1) for dr in (0, 1) for dc in (0, 1)]
    )
    corners = np.unique(corners, axis=0)
    try:
        points = corners[ConvexHull(corners).vertices]
    except QhullError:  # collinear points (a one-pixel-wide line): the extremes suffice
        points = corners
    diffs = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((diffs**2).sum(-1)).max())
