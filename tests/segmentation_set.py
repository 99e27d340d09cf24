"""A tiny segmentation set in the shared data's layout (images/, masks/, labels.csv), made in code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

LABELLED = ((5, "meningioma"), (9, "glioma"), (12, "pituitary"))


def write_segmentation_set(
    root: Path, size: int, image_of: Callable[[np.random.Generator], np.ndarray], box: tuple[slice, slice]
) -> Path:
    """Write one slice per ``LABELLED`` entry: ``image_of(rng)`` as the image, ``box`` as its tumour mask."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = ["image,mask,label,label_name,original_width,original_height"]
    rng = np.random.default_rng(0)
    for n, name in LABELLED:
        Image.fromarray(image_of(rng)).save(root / "images" / f"{n}.png")
        mask = np.zeros((size, size), np.uint8)
        mask[box] = 255
        Image.fromarray(mask).save(root / "masks" / f"{n}_mask.png")
        rows.append(f"images/{n}.png,masks/{n}_mask.png,1,{name},{size},{size}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root
