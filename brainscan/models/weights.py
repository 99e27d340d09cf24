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
