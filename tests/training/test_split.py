"""The duplicate-aware stratified split."""

from __future__ import annotations

import numpy as np
from PIL import Image

from brainscan.training.dataset import duplicate_aware_split, file_md5, list_class_folders
from brainscan.types import CLASS_NAMES


def make_dataset(root, per_class=20, duplicates=4):
    rng = np.random.default_rng(0)
    for name in reversed(CLASS_NAMES):  # creation order must not matter
        folder = root / name
        folder.mkdir(parents=True)
        for k in range(per_class):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / f"{k}.png")
        for k in range(duplicates):
            (folder / f"dup{k}.png").write_bytes((folder / f"{k}.png").read_bytes())


def test_class_order_fixed_and_duplicates_on_one_side(tmp_path):
    make_dataset(tmp_path)
    data = list_class_folders(tmp_path)
    assert [data.paths[i].parent.name for i in (0, 30, 50, 75)] == list(CLASS_NAMES)
    train, val = duplicate_aware_split(data, 0.25, seed=1)
    assert not set(train) & set(val) and len(train) + len(val) == len(data.paths)
    side = {i: "val" if i in set(val) else "train" for i in range(len(data.paths))}
    by_md5 = {}
    for i, path in enumerate(data.paths):
        by_md5.setdefault(file_md5(path), set()).add(side[i])
    assert all(len(sides) == 1 for sides in by_md5.values())
    counts = np.bincount(data.labels[val], minlength=4)
    assert all(5 <= c <= 8 for c in counts)
    assert np.array_equal(val, duplicate_aware_split(data, 0.25, seed=1)[1])
