"""A tumour's extent in a volume: the largest outlined region across slices, followed into the slices next to it.

Why: the segmenter outlines each slice on its own, and only the slices the classifier calls tumour. In a volume
a tumour is one region connected from slice to slice, so outlines apart from the largest region are most often
normal tissue (a bright vessel, the skull base), and a tumour's ends are often on slices the classifier does
not call tumour. Measured over the BraTS volumes with expert labels (docs/real-scans.md, "One tumour region"):
keeping the largest region and following it into neighbouring slices whose P(tumour) is at least
``FOLLOW_MIN_P`` raised the median 3D Dice against the tumour core from 0.76 to 0.85.

Outlines that are set aside are not lost: the caller reports them (``detached``), so a clinician can look at
those slices; a second, separate lesion is exactly what this rule cannot tell from normal tissue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FOLLOW_MIN_P = 0.3
"""A slice next to the region is outlined when its P(tumour) is at least this (chosen by leave-one-person-out
cross-validation over 0, 0.3 and no following; docs/real-scans.md)."""

ACROSS_SLICES = np.ones((3, 3, 3), dtype=bool)  # 26-connected: touching in-plane or diagonally across a slice


@dataclass(frozen=True)
class TumourRegion:
    """``kept``: the outline per slice that belongs to the region; ``detached``: what the first outlines held
    apart from it (whole or part of a slice's outline; a followed slice's outline apart from the region is not
    an outline at all, as before following); ``followed``: slices outlined only because they continue the
    region; ``tried``: every slice the segmenter ran on."""

    kept: dict[int, np.ndarray]
    detached: dict[int, np.ndarray]
    followed: frozenset[int]
    tried: frozenset[int]


def _stack(outlines: Mapping[int, np.ndarray]):
    """Outlines stacked on the span of their slices, cropped in-plane to what they cover (labelling is fast)."""
    first, last = min(outlines), max(outlines)
    union = np.zeros(next(iter(outlines.values())).shape, dtype=bool)
    for mask in outlines.values():
        union |= mask
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    stack = np.zeros((last - first + 1, rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1), dtype=bool)
    for index, mask in outlines.items():
        stack[index - first] = mask[window]
    labels, count = ndimage.label(stack, structure=ACROSS_SLICES)
    return first, window, stack, labels, count


def _split(outlines: Mapping[int, np.ndarray], first, window, labels, chosen) -> tuple[dict, dict]:
    kept, detached = {}, {}
    for index, mask in outlines.items():
        inside = np.zeros_like(mask)
        inside[window] = np.isin(labels[index - first], chosen)
        inside &= mask
        if inside.any():
            kept[index] = inside
        if (mask & ~inside).any():
            detached[index] = mask & ~inside
    return kept, detached


def _nonempty(outlines: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    return {i: np.asarray(m, dtype=bool) for i, m in outlines.items() if np.any(m)}


def largest_region(
    outlines: Mapping[int, np.ndarray], keep_share: float = 1.0
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Split per-slice outlines into the largest region connected across adjacent slices (26-connected: slices
    are adjacent when their indices differ by one) and the rest; of equal regions the first found is kept.

    ``keep_share`` below 1 also keeps every region at least that share of the largest (a rule the cross-validation
    in docs/volume_outlines.py compared; the app keeps the largest alone)."""
    outlines = _nonempty(outlines)
    if not outlines:
        return {}, {}
    first, window, stack, labels, count = _stack(outlines)
    sizes = ndimage.sum_labels(stack, labels, index=np.arange(1, count + 1))
    chosen = [1 + int(np.argmax(sizes))]
    if keep_share < 1.0:
        chosen = sorted(set(chosen) | {1 + int(k) for k in np.flatnonzero(sizes >= keep_share * sizes.max())})
    return _split(outlines, first, window, labels, chosen)


def connected_to(outlines: Mapping[int, np.ndarray], seed: Mapping[int, np.ndarray]):
    """Split ``outlines`` into the regions that overlap ``seed`` (a subset of them) and the rest."""
    outlines = _nonempty(outlines)
    if not outlines or not seed:
        return {}, outlines
    first, window, stack, labels, count = _stack(outlines)
    chosen = set()
    for index, mask in seed.items():
        chosen.update(np.unique(labels[index - first][np.asarray(mask, bool)[window]]).tolist())
    chosen.discard(0)
    return _split(outlines, first, window, labels, sorted(chosen))


def tumour_region(
    outlines: Mapping[int, np.ndarray],
    followable: np.ndarray,
    outline_more: Callable[[list[int]], Mapping[int, np.ndarray]],
    tried: set[int] | frozenset[int],
    keep_share: float = 1.0,
) -> TumourRegion:
    """The largest region of ``outlines``, followed slice by slice into its neighbours: a followed slice's outline
    joins when it connects to the region (and so may join outlines that were apart from it before).

    Args:
        outlines: the gated outlines of the slices outlined so far (index -> mask).
        followable: per slice of the volume, whether it may be followed into (assessed, P(tumour) at least
            ``FOLLOW_MIN_P``).
        outline_more: outlines (gated, cleaned) of the slices asked for; slices where nothing is outlined may be
            left out.
        tried: slices the segmenter already ran on (never asked for again).
        keep_share: see ``largest_region``.
    """
    pool = _nonempty(outlines)
    seed, _ = largest_region(pool, keep_share)
    kept, detached = connected_to(pool, seed)
    tried = set(tried)
    n = len(followable)
    while kept:
        frontier = sorted({j for i in kept for j in (i - 1, i + 1) if 0 <= j < n and followable[j] and j not in tried})
        if not frontier:
            break
        tried.update(frontier)
        found = _nonempty(outline_more(frontier))
        if not found:
            continue
        pool.update(found)
        kept, detached = connected_to(pool, seed)
    first = set(outlines)
    return TumourRegion(
        kept=kept,
        detached={i: m for i, m in detached.items() if i in first},
        followed=frozenset(set(kept) - first),
        tried=frozenset(tried),
    )
