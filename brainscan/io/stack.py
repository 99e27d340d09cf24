"""A volume filled slice by slice as files are decoded, then put in order without a second copy.

Why: decoding into a list and ``np.stack`` holds every slice twice at the end; filling one preallocated
float32 array and permuting it in place keeps the peak near the size of the volume itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from brainscan.io.values import replace_non_finite


class SliceStack:
    """Up to ``capacity`` slices of ``shape``, float32; NaN/inf are replaced by 0 and counted as they arrive."""

    def __init__(self, capacity: int, shape: tuple[int, int]):
        self.pixels = np.empty((max(capacity, 1), *shape), dtype=np.float32)
        self.count = 0
        self.non_finite = 0
        self.non_finite_slices = 0
        self.damaged: set[int] = set()  # indices (as added) of slices that held NaN/inf

    def add(self, image: np.ndarray) -> int:
        """Copy one 2D slice in and return its index."""
        if self.count == self.pixels.shape[0]:  # a file grew since the scan; the caller's budget check bounds this
            grown = np.empty((self.count * 2, *self.pixels.shape[1:]), dtype=np.float32)
            grown[: self.count] = self.pixels
            self.pixels = grown
        target = self.pixels[self.count]
        target[...] = image
        bad = replace_non_finite(target)
        if bad:
            self.non_finite += bad
            self.non_finite_slices += 1
            self.damaged.add(self.count)
        self.count += 1
        return self.count - 1

    def ordered(self, order: Sequence[int] | None = None) -> np.ndarray:
        """The filled slices, in ``order`` (indices returned by ``add``; default: as added)."""
        pixels = self.pixels[: self.count]
        if order is not None:
            permute_in_place(pixels, list(order))
        return pixels


def permute_in_place(array: np.ndarray, order: list[int]) -> None:
    """Reorder ``array`` along axis 0 so that ``array[i]`` becomes the old ``array[order[i]]``, one slice of
    scratch memory at a time (cycle by cycle)."""
    done = [False] * len(order)
    for start in range(len(order)):
        if done[start] or order[start] == start:
            done[start] = True
            continue
        saved = array[start].copy()
        i = start
        while True:
            done[i] = True
            j = order[i]
            if j == start:
                array[i] = saved
                break
            array[i] = array[j]
            i = j
