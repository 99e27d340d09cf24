"""Training-time augmentation shared by the TensorFlow trainer and the backend-portable one.

Kept free of TensorFlow and of brainscan.io so it imports on a GPU machine that has only Keras 3 + JAX.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def augmenter(seed: int):
    """Classifier augmentation as Keras layers: left-right flip, small rotation/zoom/shift, contrast jitter.

    No vertical flips (heads are not upside down) and no colour changes (MRI is grey).
    """
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(0.03, fill_mode="constant", seed=seed + 1),
            keras.layers.RandomZoom((-0.12, 0.12), fill_mode="constant", seed=seed + 2),
            keras.layers.RandomTranslation(0.06, 0.06, fill_mode="constant", seed=seed + 3),
            keras.layers.RandomContrast(0.2, seed=seed + 4),
        ],
        name="augment",
    )


def augment_segmentation_batch(
    images: np.ndarray, masks: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Joint numpy augmentation of (n, h, w) slices in [0, 1] and their masks, as the TensorFlow trainer does:
    random left-right flip, a random number of 90-degree turns, gamma 0.8-1.25 on the slice only."""
    out_x = np.empty_like(images, dtype=np.float32)
    out_y = np.empty_like(masks, dtype=np.float32)
    for i in range(len(images)):
        x, y = images[i], masks[i]
        if rng.random() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        turns = int(rng.integers(0, 4))
        x, y = np.rot90(x, turns), np.rot90(y, turns)
        out_x[i] = np.clip(x, 0.0, 1.0) ** rng.uniform(0.8, 1.25)
        out_y[i] = y
    return out_x, out_y


def augment_classifier_batch(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Numpy/Pillow version of ``augmenter`` for (n, h, w) slices in [0, 1], run on the host.

    Why: on the JAX backend Keras' rotation/zoom/shift layers use a batched ``map_coordinates`` gather slow
    enough to cap GPU training (CHANGELOG.md, "Training on a lent GPU"). Same ranges:
    left-right flip (p 0.5), rotation +-0.03 turn, zoom 0.88-1.12, shift +-6 % per axis, contrast factor
    0.8-1.2 about the slice mean; one bilinear resampling with zeros outside.
    """
    n, height, width = images.shape
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    out = np.empty((n, height, width), np.float32)
    for i in range(n):
        angle = rng.uniform(-0.03, 0.03) * 2 * np.pi
        scale = rng.uniform(0.88, 1.12)
        shift = rng.uniform(-0.06, 0.06, size=2) * np.array([width, height])
        flip = np.diag([-1.0 if rng.random() < 0.5 else 1.0, 1.0])
        cos, sin = np.cos(-angle), np.sin(-angle)
        # Pillow maps each output pixel back to the input: input = B @ output + offset
        backward = flip @ (np.array([[cos, -sin], [sin, cos]]) / scale)
        offset = centre - backward @ (centre + shift)
        data = (backward[0, 0], backward[0, 1], offset[0], backward[1, 0], backward[1, 1], offset[1])
        warped = Image.fromarray(images[i].astype(np.float32), mode="F").transform(
            (width, height), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR, fillcolor=0.0
        )
        x = np.asarray(warped, dtype=np.float32)
        mean = x.mean()
        out[i] = (x - mean) * rng.uniform(0.8, 1.2) + mean
    return out
