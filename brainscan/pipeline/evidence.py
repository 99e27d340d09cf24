"""Series evidence a tumour has and a normal brain does not (issue 31), from what the slice models said.

Why: on a 150-slice volume a small per-slice false-positive rate on anatomy the 2D training slices rarely show
(vertex, skull base, lateral edges) becomes a run of positive slices, so the slice classifier alone calls normal
brains tumour. A tumour is also one compact 3D region, outlined alike from slice to slice, inside the head rather
than at its edge, and it breaks the brain's left-right symmetry. Each of those is measured here as a plain
number; how they are weighed is fitted across people (brainscan.training.series_folds) and applied by
brainscan.runtime.series_model. Depends on numpy and scipy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FEATURES: tuple[str, ...] = (
    "run_p",
    "positive_fraction",
    "log_region_ml",
    "region_share",
    "region_consistency",
    "region_depth",
    "region_edge",
    "region_asymmetry",
)
"""The order of SeriesEvidence.vector(), which the series model's weights follow."""

REGION_ML_CAP = 10.0
"""The region's volume counts up to this many mL only. Every tumour the folds could learn from is a large BraTS
glioma (10-180 mL) while outlines on normal brains reach 20 mL; uncapped, the model would learn "big means
tumour" and miss a small schwannoma or pituitary adenoma. Capped, size helps only as far as small tumours go."""
DEPTH_MM = 12.0
"""A region pixel is 'deep' when it lies at least this far inside the head's outline on its slice (past scalp,
skull and the outer cortex)."""
HEAD_LEVEL = 0.1
"""Head voxels: above this share of the series' 99th percentile."""


@dataclass(frozen=True)
class SeriesEvidence:
    """Per-series evidence; region_* describe the largest 3D region the segmenter outlined."""

    run_p: float  # the slice rule's series P(tumour) (brainscan.rules.strongest_window)
    positive_fraction: float  # share of assessed slices with P(tumour) at the slice threshold
    region_ml: float  # volume of the largest outlined 3D region (mL)
    region_share: float  # its share of everything outlined (1: one compact region)
    region_consistency: float  # mean Dice of its outlines on neighbouring slices
    region_depth: float  # share of its voxels at least DEPTH_MM inside the head
    region_edge: float  # head area on its slices relative to the series' largest head section (small: edge)
    region_asymmetry: float  # |its mean intensity - its mirror's across the midline| / the head's spread
    region_slices: tuple[int, ...] = ()  # its slices, largest outline first

    def values(self) -> dict[str, float]:
        """Feature name -> value, as the series model reads them."""
        return dict(zip(FEATURES, self.vector().tolist(), strict=True))

    def vector(self) -> np.ndarray:
        values = {name: getattr(self, name, None) for name in FEATURES}
        values["log_region_ml"] = float(np.log1p(min(self.region_ml, REGION_ML_CAP)))
        return np.asarray([values[name] for name in FEATURES], dtype=np.float64)


def left_right_axis(orientation) -> int | None:
    """Array axis (0 slices, 1 rows, 2 columns) closest to the patient's left-right direction, or None when
    the series has no orientation."""
    if orientation is None or not np.all(np.isfinite(orientation)):
        return None
    row_dir, col_dir = np.abs(np.asarray(orientation[:3])), np.abs(np.asarray(orientation[3:6]))
    normal = np.abs(np.cross(orientation[:3], orientation[3:6]))
    return int(np.argmax([normal[0], col_dir[0], row_dir[0]]))


def head_masks(pixels: np.ndarray) -> np.ndarray:
    """Per-slice head masks: voxels above HEAD_LEVEL of the series' 99th percentile, holes filled, the
    largest part of each slice."""
    level = HEAD_LEVEL * float(np.percentile(pixels, 99)) if pixels.size else 0.0
    masks = np.zeros(pixels.shape, dtype=bool)
    for i, image in enumerate(pixels):
        mask = ndimage.binary_fill_holes(image > level)
        labels, n = ndimage.label(mask)
        if n > 1:
            sizes = ndimage.sum(mask, labels, range(1, n + 1))
            mask = labels == (1 + int(np.argmax(sizes)))
        masks[i] = mask
    return masks


def largest_region(stack: np.ndarray, voxel_ml: float) -> tuple[np.ndarray, float, float]:
    """(mask of the largest 3D-connected region, its mL, its share of all outlined voxels)."""
    labels, n = ndimage.label(stack, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return np.zeros_like(stack), 0.0, 0.0
    sizes = ndimage.sum(stack, labels, range(1, n + 1))
    best = int(np.argmax(sizes))
    region = labels == best + 1
    return region, float(sizes[best] * voxel_ml), float(sizes[best] / max(1.0, sizes.sum()))


def consistency(region: np.ndarray) -> float:
    """Mean Dice between the region's outlines on neighbouring slices (a region on one slice: 0)."""
    on = [i for i in range(region.shape[0]) if region[i].any()]
    scores = []
    for a, b in zip(on, on[1:], strict=False):
        if b != a + 1:
            continue
        inter = np.logical_and(region[a], region[b]).sum()
        scores.append(2.0 * inter / (region[a].sum() + region[b].sum()))
    return float(np.mean(scores)) if scores else 0.0


def asymmetry(pixels: np.ndarray, head: np.ndarray, region: np.ndarray, axis: int | None) -> float:
    """How unlike its mirror image across the head's midline the region is (0 without an orientation)."""
    if axis is None or not region.any():
        return 0.0
    coords = np.nonzero(region)
    head_coords = np.nonzero(head)
    midline = float(np.mean(head_coords[axis])) if len(head_coords[axis]) else (pixels.shape[axis] - 1) / 2
    mirrored = list(coords)
    mirrored[axis] = np.clip(np.rint(2 * midline - coords[axis]).astype(int), 0, pixels.shape[axis] - 1)
    inside = pixels[coords]
    opposite = pixels[tuple(mirrored)]
    values = pixels[head]
    spread = float(np.percentile(values, 95) - np.percentile(values, 5)) if values.size else 0.0
    if spread <= 0:
        return 0.0
    return float(abs(np.median(inside) - np.median(opposite)) / spread)


def series_evidence(
    pixels: np.ndarray,
    pixel_spacing_mm,
    slice_spacing_mm,
    orientation,
    tumour_p: np.ndarray,
    assessed: np.ndarray,
    masks: dict[int, np.ndarray],
    threshold: float,
    run_p: float,
) -> SeriesEvidence:
    """Measure the evidence of one series.

    ``masks`` are the cleaned outlines of the slices that were outlined (assessed, P(tumour) at ``threshold``);
    slices without an entry count as outlined nowhere.
    """
    n_assessed = max(1, int(assessed.sum()))
    positive_fraction = float((assessed & (tumour_p >= threshold)).sum() / n_assessed)
    stack = np.zeros(pixels.shape, dtype=bool)
    for index, mask in masks.items():
        stack[index] = mask
    row_mm, col_mm = pixel_spacing_mm if pixel_spacing_mm is not None else (1.0, 1.0)
    gap_mm = slice_spacing_mm if slice_spacing_mm else 1.0
    region, region_ml, share = largest_region(stack, row_mm * col_mm * gap_mm / 1000.0)
    if region_ml == 0.0:
        return SeriesEvidence(run_p, positive_fraction, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    head = head_masks(pixels)
    on = [i for i in range(region.shape[0]) if region[i].any()]
    depth_voxels = 0
    for i in on:
        depth = ndimage.distance_transform_edt(head[i], sampling=(row_mm, col_mm))
        depth_voxels += int((depth[region[i]] >= DEPTH_MM).sum())
    head_area = head.reshape(len(head), -1).sum(axis=1)
    edge = float(np.mean(head_area[on]) / max(1, head_area.max()))
    areas = region.reshape(len(region), -1).sum(axis=1)
    ranked = tuple(int(i) for i in sorted(on, key=lambda i: (-areas[i], i)))
    return SeriesEvidence(
        run_p=run_p,
        positive_fraction=positive_fraction,
        region_ml=region_ml,
        region_share=share,
        region_consistency=consistency(region),
        region_depth=depth_voxels / max(1, int(region.sum())),
        region_edge=edge,
        region_asymmetry=asymmetry(pixels, head, region, left_right_axis(orientation)),
        region_slices=ranked,
    )


def volume_evidence(volume, tumour_p, assessed, masks: dict[int, np.ndarray], threshold: float, run_p: float):
    """``series_evidence`` of a brainscan.types.Volume (its pixels, spacings and orientation)."""
    return series_evidence(
        volume.pixels,
        volume.pixel_spacing_mm,
        volume.slice_spacing_mm,
        volume.orientation,
        np.asarray(tumour_p, dtype=np.float64),
        np.asarray(assessed, dtype=bool),
        masks,
        threshold,
        run_p,
    )
