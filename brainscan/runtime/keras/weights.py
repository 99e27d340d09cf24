"""Weights storage without optimizer state: float16 .npz, small enough to ship (< 40 MB)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_float16_weights(model, path: Path) -> None:
    """Store every weight array as float16, in model.get_weights() order."""
    arrays = {f"w{i:03d}": np.asarray(w, dtype=np.float16) for i, w in enumerate(model.get_weights())}
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def load_float16_weights(model, path: Path) -> None:
    """Set a freshly built model's weights from save_float16_weights output (cast back to float32)."""
    with np.load(path) as data:
        arrays = [data[k].astype(np.float32) for k in sorted(data.files)]
    model.set_weights(arrays)


def write_weights_if_changed(model, path: Path) -> bool:
    """Write the float16 weights unless ``path`` already holds exactly these arrays.

    Why: .npz files carry write times, so re-exporting the same weights (say, to recalibrate) would otherwise
    change the file's bytes and SHA-256 and put a second copy into git history.
    """
    path = Path(path)
    fresh = path.with_name(path.name + ".new")
    save_float16_weights(model, fresh)
    if path.is_file() and _same_arrays(path, fresh):
        fresh.unlink()
        return False
    fresh.replace(path)
    return True


def _same_arrays(a: Path, b: Path) -> bool:
    with np.load(a) as left, np.load(b) as right:
        if sorted(left.files) != sorted(right.files):
            return False
        return all(np.array_equal(left[k], right[k]) and left[k].dtype == right[k].dtype for k in left.files)
