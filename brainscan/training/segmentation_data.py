"""The segmentation set (images/<i>.png, masks/<i>_mask.png, labels.csv) and a leakage-limiting split.

The set has no patient IDs, but its file numbers keep the original figshare index, which runs patient by
patient (about 13 slices each). Splitting by contiguous blocks of file numbers (default 60) keeps almost
every patient's slices on one side; only patients that straddle a block edge can leak.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainscan.errors import SeriesLoadError


@dataclass(frozen=True)
class SegmentationItem:
    number: int
    image: Path
    mask: Path
    label_name: str


def read_segmentation_set(root: Path) -> list[SegmentationItem]:
    """Rows of labels.csv with absolute paths, sorted by file number.

    Raises:
        SeriesLoadError: when labels.csv is missing or malformed.
    """
    table = Path(root) / "labels.csv"
    try:
        with open(table, newline="") as handle:
            rows = list(csv.DictReader(handle))
        items = [
            SegmentationItem(
                int(Path(r["image"]).stem), Path(root) / r["image"], Path(root) / r["mask"], r["label_name"]
            )
            for r in rows
        ]
    except FileNotFoundError as exc:
        raise SeriesLoadError(f"{root} has no labels.csv; expected the layout of the segmentation set.") from exc
    except (KeyError, ValueError) as exc:
        raise SeriesLoadError(f"{table} is malformed ({exc}).") from exc
    return sorted(items, key=lambda item: item.number)


def block_split(
    items: list[SegmentationItem], val_fraction: float = 0.15, block: int = 60, seed: int = 1337
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): whole blocks of ``block`` consecutive file numbers go to validation."""
    blocks: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        blocks.setdefault(item.number // block, []).append(i)
    keys = sorted(blocks)
    random.Random(seed).shuffle(keys)
    quota = round(val_fraction * len(items))
    val: list[int] = []
    for key in keys:
        if len(val) >= quota:
            break
        val.extend(blocks[key])
    val_set = set(val)
    train = [i for i in range(len(items)) if i not in val_set]
    if not train or not val:
        raise ValueError(f"{len(items)} slices in blocks of {block} cannot be split into train and validation")
    return np.asarray(train, dtype=np.int64), np.asarray(sorted(val), dtype=np.int64)
